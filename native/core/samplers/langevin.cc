// Unadjusted Langevin (ULA) at temperature T:  x <- x - eta grad E(x) + sqrt(2 eta T) xi.
// Step and noise stay tied (exact invariant density exp(-E/T) as eta -> 0) unless noiseScale
// is given, which replaces sqrt(2 eta T) (the usual short-run CD recipe).
#include <torch/torch.h>

#include <cmath>

#include "errors.h"
#include "samplers/sampler_registry.h"

namespace ebm {

at::Tensor energyGrad(EnergyModel& model, const at::Tensor& x, const at::Tensor& t, at::Tensor* energyOut) {
  torch::AutoGradMode gradOn(true);
  at::Tensor xg = x.detach().requires_grad_(true);
  at::Tensor e = model.energy(xg, t);
  at::Tensor g = torch::autograd::grad({e.sum()}, {xg})[0];
  if (energyOut) *energyOut = e.detach();
  return g.detach();
}

namespace {

class Langevin : public Sampler {
 public:
  explicit Langevin(const json::Value& cfg, const std::string& where)
      : steps_(json::getInt(cfg, "steps", where)),
        stepSize_(checkStepSize(cfg, where)),
        temperature_(json::getNumber(cfg, "temperature", where, 1.0)),
        noiseScale_(json::getNumber(cfg, "noiseScale", where, -1.0)) {
    checkSteps(steps_, where);
    if (!(temperature_ > 0)) throw ConfigError(where + ".temperature must be > 0");
    if (cfg.has("noiseScale") && !(noiseScale_ >= 0)) throw ConfigError(where + ".noiseScale must be >= 0");
  }

  int64_t steps() const override { return steps_; }

  SampleResult run(EnergyModel& model, const at::Tensor& x0, at::Generator& gen, const SampleOptions& o) override {
    const double noise = noiseScale_ >= 0 ? noiseScale_ : std::sqrt(2 * stepSize_ * temperature_);
    at::Tensor x = x0.detach().clone();
    SampleResult r;
    for (int64_t k = 0; k < steps_; ++k) {
      at::Tensor e, g = energyGrad(model, x, o.t, &e);
      recordEnergy(r, k + 1, steps_, e);
      torch::NoGradGuard noGrad;
      x = x - stepSize_ * g + noise * torch::randn(x.sizes(), gen, x.options());
      if (o.returnTrajectory && (k + 1) % o.thin == 0) r.trajectory.push_back(x);
      stepDone(o, k + 1);
    }
    {
      torch::NoGradGuard noGrad;
      r.energy = model.energy(x, o.t).detach();
    }
    r.x = x;
    r.stepSize = torch::full({}, stepSize_, x.options());
    return r;
  }

 private:
  int64_t steps_;
  double stepSize_, temperature_, noiseScale_;
};

}  // namespace

std::unique_ptr<Sampler> makeLangevin(const json::Value& cfg, const std::string& where) {
  return std::make_unique<Langevin>(cfg, where);
}

}  // namespace ebm
