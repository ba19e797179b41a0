// Annealed Langevin over the levels of a time-conditioned model: t from 1 down to tMin in
// `levels` steps, `steps` Langevin updates at each. stepSize is the step at the last (least
// noisy) level; level t uses stepSize * gamma_t^2 / gamma_tMin^2 (Song & Ermon's scaling).
#include <torch/torch.h>

#include <cmath>

#include "errors.h"
#include "noise_path.h"
#include "samplers/sampler_registry.h"

namespace ebm {
namespace {

struct AnnealedOptions : ChainOptions {
  int64_t levels = 10;
  NoisePath path;  // its kind under "path" (default 'vp'), its parameters flat
};
template <typename Fields>
void describe(Fields& f, AnnealedOptions& o) {
  describe(f, static_cast<ChainOptions&>(o));
  f.optional("levels", o.levels);
  f.optional("path", o.path.kind);
  describe(f, o.path);
}

class AnnealedLangevin : public Sampler {
 public:
  explicit AnnealedLangevin(const AnnealedOptions& o)
      : steps_(o.steps), stepSize_(o.stepSize), levels_(o.levels), path_(o.path) {}

  int64_t steps() const override { return steps_ * levels_; }

  at::Tensor defaultInit(EnergyModel& model, int64_t n, at::Generator& gen) const override {
    // The t = 1 marginal of a standardised data set: N(0, (alpha_1^2 + gamma_1^2) I).
    at::Tensor one = torch::ones({1}, torch::kFloat64);
    const double std = torch::sqrt(path_.alpha(one).pow(2) + path_.gamma(one).pow(2)).item<double>();
    return std * Sampler::defaultInit(model, n, gen);
  }

  SampleResult run(EnergyModel& model, const at::Tensor& x0, at::Generator& gen, const SampleOptions& o) override {
    if (!model.timeConditioned()) throw ConfigError("the annealed sampler needs a time-conditioned model");
    torch::NoGradGuard noGrad;
    at::Tensor x = x0.detach().clone();
    const int64_t n = x.size(0);
    at::Tensor times = levelSchedule(model, path_, levels_);
    at::Tensor gammas = path_.gamma(times);
    const double gammaLast = gammas[levels_ - 1].item<double>();
    SampleResult r;
    int64_t done = 0;
    at::Tensor t;
    for (int64_t level = 0; level < levels_; ++level) {
      const double tl = times[level].item<double>();
      const double eta = stepSize_ * std::pow(gammas[level].item<double>() / gammaLast, 2);
      t = torch::full({n}, tl, x.options());
      for (int64_t k = 0; k < steps_; ++k) {
        at::Tensor e, g = model.energyAndGrad(x, t, &e);
        recordEnergy(r, done + 1, steps(), e);
        x = x - eta * g + std::sqrt(2 * eta) * torch::randn(x.sizes(), gen, x.options());
        ++done;
        if (o.returnTrajectory && done % o.thin == 0) r.trajectory.push_back(x);
        stepDone(o, done);
      }
    }
    r.x = x;
    r.levelTimes = times;
    r.energy = model.energy(x, t).detach();
    r.stepSize = torch::full({}, stepSize_, x.options());
    return r;
  }

 private:
  int64_t steps_;
  double stepSize_;
  int64_t levels_;
  NoisePath path_;
};

}  // namespace

at::Tensor levelSchedule(const EnergyModel& model, const NoisePath& path, int64_t levels) {
  if (levels == 1) return torch::full({1}, path.tMin, torch::kFloat64);
  const EnergyModel::TrainingGrid& grid = model.trainingGrid();
  if (grid.levels < 2 || std::abs(grid.tMin - path.tMin) > 1e-12 * std::max(1.0, path.tMin))
    return torch::linspace(1.0, path.tMin, levels, torch::kFloat64);
  at::Tensor onGrid = path.grid(grid.levels, c10::Device(c10::kCPU)).to(torch::kFloat64);
  at::Tensor index = torch::round(torch::linspace(static_cast<double>(grid.levels - 1), 0.0, levels, torch::kFloat64))
                         .to(torch::kLong);
  return onGrid.index_select(0, index);
}

const SamplerKind& annealedLangevinKind() {
  static const SamplerKind kind =
      samplerKind<AnnealedOptions, AnnealedLangevin>("annealed", {SamplerTime::Levels, /*stepsPer=*/"levels"});
  return kind;
}

}  // namespace ebm
