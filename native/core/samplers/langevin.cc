// Unadjusted Langevin (ULA) at temperature T:  x <- x - eta grad E(x) + sqrt(2 eta T) xi.
// Step and noise stay tied (exact invariant density exp(-E/T) as eta -> 0) unless noiseScale
// is given, which replaces sqrt(2 eta T) (the usual short-run CD recipe).
#include <torch/torch.h>

#include <cmath>
#include <optional>

#include "errors.h"
#include "samplers/sampler_registry.h"

namespace ebm {

namespace {

struct LangevinOptions : ChainOptions {
  double temperature = 1.0;
  std::optional<double> noiseScale;  // replaces sqrt(2 eta T) when given
};
template <typename Fields>
void describe(Fields& f, LangevinOptions& o) {
  describe(f, static_cast<ChainOptions&>(o));
  f.optional("temperature", o.temperature);
  f.optional("noiseScale", o.noiseScale);
}

class Langevin : public Sampler {
 public:
  explicit Langevin(const LangevinOptions& o)
      : steps_(o.steps),
        stepSize_(o.stepSize),
        noise_(o.noiseScale.value_or(std::sqrt(2 * o.stepSize * o.temperature))) {}

  int64_t steps() const override { return steps_; }

  SampleResult run(EnergyModel& model, const at::Tensor& x0, at::Generator& gen, const SampleOptions& o) override {
    at::Tensor x = x0.detach().clone();
    SampleResult r;
    for (int64_t k = 0; k < steps_; ++k) {
      at::Tensor e, g;
      if (k == 0 && o.start) {
        e = o.start->energy;
        g = o.start->grad;
      } else {
        g = model.energyAndGrad(x, o.t, &e);
      }
      recordEnergy(r, k + 1, steps_, e);
      torch::NoGradGuard noGrad;
      x = x - stepSize_ * g + noise_ * torch::randn(x.sizes(), gen, x.options());
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
  double stepSize_, noise_;
};

}  // namespace

const SamplerKind& langevinKind() {
  static const SamplerKind kind = samplerKind<LangevinOptions, Langevin>("langevin");
  return kind;
}

}  // namespace ebm
