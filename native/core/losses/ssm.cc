// Sliced score matching, variance-reduced: loss = mean[ 1/2 ||s||^2 + v^T grad_x(v^T s) ],
// s = -grad_x E, v ~ N(0, I) (one or more projections per point).
#include <torch/torch.h>

#include "errors.h"
#include "losses/batch_noise.h"
#include "losses/loss_registry.h"

namespace ebm {
namespace {

class SlicedScoreMatching : public Loss {
 public:
  explicit SlicedScoreMatching(int64_t projections) : projections_(projections) {}

  LossOutput compute(EnergyModel& model, const at::Tensor& x, at::Generator& gen) override {
    const int64_t n = x.size(0);
    at::Tensor xg = x.detach().requires_grad_(true);
    at::Tensor e = model.energy(xg, at::Tensor());
    at::Tensor s = -torch::autograd::grad({e.sum()}, {xg}, {}, true, true)[0];
    at::Tensor norm = 0.5 * s.pow(2).reshape({n, -1}).sum(1);
    at::Tensor trace = torch::zeros({n}, x.options());
    for (int64_t p = 0; p < projections_; ++p) {
      at::Tensor v = batchRandn(x.sizes(), gen, x.options());
      at::Tensor jvp = torch::autograd::grad({(s * v).sum()}, {xg}, {}, true, true)[0];
      trace = trace + (v * jvp).reshape({n, -1}).sum(1);
    }
    LossOutput out{(norm + trace / static_cast<double>(projections_)).mean(), {}};
    out.metrics["scoreNorm"] = s.detach().reshape({n, -1}).norm(2, 1).mean();
    return out;
  }

 private:
  int64_t projections_;
};

}  // namespace

std::unique_ptr<Loss> makeSlicedScoreMatching(const json::Value& cfg, const EnergyModel& model) {
  if (model.timeConditioned()) throw ConfigError("loss.kind 'ssm' needs a model that is not time-conditioned");
  const int64_t projections = json::getInt(cfg, "projections", "loss", 1);
  if (projections < 1 || projections > 64) throw ConfigError("loss.projections must be an integer in [1, 64]");
  return std::make_unique<SlicedScoreMatching>(projections);
}

}  // namespace ebm
