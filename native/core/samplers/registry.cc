#include <torch/torch.h>

#include "errors.h"
#include "kinds.h"
#include "samplers/sampler_registry.h"
#include "tensor_util.h"

namespace ebm {

namespace {
// The sampler kinds: adding one is its .cc and one line here (and its TS schema member).
const KindTable<std::unique_ptr<Sampler> (*)(const json::Value&, const std::string&)> kSamplers = {
    {"langevin", makeLangevin},         {"mala", makeMala},        {"hmc", makeHmc},
    {"annealed", makeAnnealedLangevin}, {"wgf", makeGradientFlow},
};
}  // namespace

std::vector<std::string> samplerKinds() { return kindNames(kSamplers); }

std::unique_ptr<Sampler> makeSampler(const json::Value& config, const std::string& where) {
  if (!config.isObject()) throw ConfigError(where + " must be an object");
  const std::string kind = json::getString(config, "kind", where);
  for (const auto& entry : kSamplers)
    if (kind == entry.kind) return entry.make(config, where);
  throw ConfigError(where + ".kind must be one of " + joinKinds(kSamplers) + "; got '" + kind + "'");
}

at::Tensor Sampler::defaultInit(EnergyModel& model, int64_t n, at::Generator& gen) const {
  std::vector<int64_t> shape{n};
  shape.insert(shape.end(), model.eventShape().begin(), model.eventShape().end());
  return torch::randn(shape, gen, torch::TensorOptions().device(model.device()).dtype(torch::kFloat32));
}

void checkSteps(int64_t steps, const std::string& where) {
  if (steps < 1 || steps > 10000000)
    throw ConfigError(where + ".steps must be an integer in [1, 1e7], got " + std::to_string(steps));
}

double checkStepSize(const json::Value& cfg, const std::string& where) {
  const double step = json::getNumber(cfg, "stepSize", where);
  if (!(step > 0)) throw ConfigError(where + ".stepSize must be > 0, got " + std::to_string(step));
  return step;
}

void throwIfCancelled(const SampleOptions& o) {
  if (o.cancel && o.cancel->load(std::memory_order_relaxed)) throw AbortedError("sampling was aborted");
}

void stepDone(const SampleOptions& o, int64_t done) {
  throwIfCancelled(o);
  if (o.onStep && o.progressEvery > 0 && done % o.progressEvery == 0) o.onStep(done);
}

void recordEnergy(SampleResult& r, int64_t done, int64_t total, const at::Tensor& energies) {
  constexpr int64_t kMaxTrace = 100000;
  const int64_t every = (total + kMaxTrace - 1) / kMaxTrace;
  if (done % every != 0) return;
  if (!r.energyTrace.defined()) r.energyTrace = torch::zeros({total / every}, energies.options());
  const int64_t slot = done / every - 1;
  if (slot >= 0 && slot < r.energyTrace.size(0)) r.energyTrace.select(0, slot).copy_(energies.detach().mean());
}

std::vector<int64_t> chainShape(const at::Tensor& x) {
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[0] = x.size(0);
  return shape;
}

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
  } else if (model.timeConditioned() && samplerConfig["kind"].asString() != "annealed") {
    throw ConfigError("t is required to sample a time-conditioned model with '" + samplerConfig["kind"].asString() +
                      "' (or use the annealed sampler)");
  }
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
