// Sliced score matching, variance-reduced: loss = mean[ 1/2 ||s||^2 + v^T grad_x(v^T s) ],
// s = -grad_x E, v ~ N(0, I) (one or more projections per point).
#include <torch/torch.h>

#include "errors.h"
#include "losses/batch_noise.h"
#include "losses/loss_registry.h"

namespace ebm {
namespace {

struct SsmOptions {
  int64_t projections = 1;  // random projections per point
};
template <typename Fields>
void describe(Fields& f, SsmOptions& o) {
  f.optional("projections", o.projections);
}

class SlicedScoreMatching : public Loss {
 public:
  SlicedScoreMatching(const SsmOptions& o, const EnergyModel&) : projections_(o.projections) {}

  LossOutput compute(EnergyModel& model, const StepContext& step) override {
    const at::Tensor& x = step.batch;
    at::Generator& gen = step.gen;
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

const LossKind& slicedScoreMatchingKind() {
  static const LossKind kind =
      lossKind<SsmOptions, SlicedScoreMatching>("ssm", {LossTime::Never, false, nullptr, false, {"scoreNorm"}});
  return kind;
}

}  // namespace ebm
