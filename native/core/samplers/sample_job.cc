// The whole sampling job behind sample(): model lock, sampler, start states, results on the CPU.
#include <torch/torch.h>

#include "errors.h"
#include "samplers/sampler.h"
#include "tensor_util.h"
#include "threads.h"

namespace ebm {

SampleResult sampleModel(EnergyModel& model, const json::Value& samplerConfig, const at::Tensor& initIn, int64_t n,
                         uint64_t seed, SampleOptions options) {
  ModelLock lock(model, options.target);
  const SamplerKind& kind = samplerKindOf(samplerConfig, "sampler");
  if (options.target && !kind.traits.weighted)
    throw ConfigError(std::string("target applies only to a sampler of weighted particles, not '") + kind.kind + "'");
  if (options.target) {
    if (options.target->eventShape() != model.eventShape())
      throw ShapeError("target takes rows of shape " + shapeString(options.target->eventShape()) +
                       " but the model takes " + shapeString(model.eventShape()));
    if (options.target->timeConditioned()) throw ConfigError("target must be an energy E(x), not time-conditioned");
  }
  std::unique_ptr<Sampler> sampler = kind.make(samplerConfig, "sampler");
  const bool followsLevels = kind.traits.time != SamplerTime::Fixed;
  at::Generator gen = makeGenerator(model.device(), seed);
  at::Tensor init;
  if (initIn.defined()) {
    init = model.prepareInput(initIn, "init");
    requireFinite(init, "init");
  } else {
    init = sampler->defaultInit(model, n, gen);
  }
  if (followsLevels && options.t.defined()) {
    throw ConfigError(std::string("t does not apply to the ") + kind.kind + " sampler (it runs over the levels of t)");
  } else if (options.t.defined()) {
    options.t = model.prepareTime(options.t, init.size(0));
    requireFinite(options.t, "t");
  } else if (model.timeConditioned() && !followsLevels) {
    throw ConfigError(std::string("t is required to sample a time-conditioned model with '") + kind.kind +
                      "' (or use a sampler that follows the model's levels)");
  }
  applyJobThreads(preferenceForWork(model, init.size(0)));
  SampleResult r = sampler->run(model, init, gen, options);
  r.x = r.x.to(torch::kCPU);
  r.energy = r.energy.to(torch::kCPU);
  if (r.acceptRate.defined()) r.acceptRate = r.acceptRate.to(torch::kCPU);
  if (r.stepSize.defined()) r.stepSize = r.stepSize.to(torch::kCPU);
  for (auto& t : r.trajectory) t = t.to(torch::kCPU);
  if (r.energyTrace.defined()) r.energyTrace = r.energyTrace.to(torch::kCPU);
  if (r.logWeights.defined()) r.logWeights = r.logWeights.to(torch::kCPU);
  return r;
}

}  // namespace ebm
