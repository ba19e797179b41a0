// The whole sampling job behind sample(): model lock, sampler, start states, results on the CPU.
#include <torch/torch.h>

#include "errors.h"
#include "samplers/sampler.h"
#include "tensor_util.h"
#include "threads.h"

namespace ebm {

SampleResult sampleModel(EnergyModel& model, const json::Value& samplerConfig, const at::Tensor& initIn, int64_t n,
                         uint64_t seed, SampleOptions options) {
  ModelLock lock(model);
  std::unique_ptr<Sampler> sampler = makeSampler(samplerConfig, "sampler");
  if (options.thin < 1) throw ConfigError("thin must be an integer >= 1");
  at::Generator gen = makeGenerator(model.device(), seed);
  at::Tensor init;
  if (initIn.defined()) {
    init = model.prepareInput(initIn, "init");
    requireFinite(init, "init");
  } else {
    if (n < 1 || n > 100000000) throw ConfigError("n must be an integer >= 1, got " + std::to_string(n));
    init = sampler->defaultInit(model, n, gen);
  }
  if (options.t.defined()) {
    options.t = model.prepareTime(options.t, init.size(0));
    requireFinite(options.t, "t");
  } else if (model.timeConditioned() && json::member(samplerConfig, "kind").get<std::string>() != "annealed") {
    throw ConfigError("t is required to sample a time-conditioned model with '" +
                      json::member(samplerConfig, "kind").get<std::string>() + "' (or use the annealed sampler)");
  }
  applyJobThreads(preferenceForWork(model, init.size(0)));
  SampleResult r = sampler->run(model, init, gen, options);
  r.x = r.x.to(torch::kCPU);
  r.energy = r.energy.to(torch::kCPU);
  if (r.acceptRate.defined()) r.acceptRate = r.acceptRate.to(torch::kCPU);
  if (r.stepSize.defined()) r.stepSize = r.stepSize.to(torch::kCPU);
  for (auto& t : r.trajectory) t = t.to(torch::kCPU);
  if (r.energyTrace.defined()) r.energyTrace = r.energyTrace.to(torch::kCPU);
  return r;
}

}  // namespace ebm
