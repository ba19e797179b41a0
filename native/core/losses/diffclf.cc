// Diffusive classification (OuYang, Grenioux, Hernández-Lobato, 2026), combined with DSM.
// Levels t_1 < .. < t_L on the noising path; learnable offsets f (one per level, re-centred so
// f_L = 0 after every step); logits l_i(x) = -E(x, t_i) - f_i. Each data point gets K distinct
// levels and a noisy copy x_j at each; every copy is classified among the K candidates:
//   L_CLF = -(1/K) sum_j [ l_j(x_j) - logsumexp_{i in K} l_i(x_j) ]     (K^2 energies per point)
// K = 2 is the bi-level form 1/2 softplus(l_t(x_s) - l_s(x_s)) + 1/2 softplus(l_s(x_t) - l_t(x_t)).
// Objective: dsmWeight * DSM + clfWeight * L_CLF, DSM only during the first warmupSteps.
#include <torch/torch.h>

#include <cmath>
#include <optional>

#include "errors.h"
#include "losses/batch_noise.h"
#include "losses/loss_registry.h"
#include "losses/score_matching.h"

namespace ebm {
namespace {

struct DiffClfOptions {
  PathKind path{};
  PathDsmOptions onPath;
  int64_t levels{};
  int64_t k{};
  double clfWeight{};
  double dsmWeight = 1.0;
  int64_t warmupSteps = 0;                     // DSM-only steps before the classification term
  std::optional<double> offsetLr;              // the offsets' own learning rate; absent: the optimiser's
  std::optional<std::vector<double>> offsets;  // starting offsets, one per level; absent: zeros
};
template <typename Fields>
void describe(Fields& f, DiffClfOptions& o) {
  f.required("path", o.path);
  describe(f, o.onPath);
  f.required("levels", o.levels);
  f.required("k", o.k);
  f.required("clfWeight", o.clfWeight);
  f.optional("dsmWeight", o.dsmWeight);
  f.optional("warmupSteps", o.warmupSteps);
  f.optional("offsetLr", o.offsetLr);
  f.optional("offsets", o.offsets);
}

class DiffusiveClassification : public Loss {
 public:
  DiffusiveClassification(const DiffClfOptions& o, const EnergyModel& model)
      : dsm_(o.onPath),
        levels_(o.levels),
        k_(o.k),
        clfWeight_(o.clfWeight),
        dsmWeight_(o.dsmWeight),
        warmupSteps_(o.warmupSteps),
        offsetLr_(o.offsetLr.value_or(0.0)) {
    dsm_.path.kind = o.path;
    at::Tensor start = o.offsets ? torch::tensor(*o.offsets, torch::kFloat64).to(torch::kFloat32)
                                 : torch::zeros({levels_}, torch::kFloat32);
    offsets_ = start.to(model.device()).set_requires_grad(true);
    grid_ = dsm_.path.grid(levels_, model.device());
  }

  EnergyModel::TrainingGrid trainingGrid() const override { return {levels_, dsm_.path.tMin}; }

  // The offsets are re-centred after every step so the last level's is 0.
  LossParameters parameters() const override {
    at::Tensor offsets = offsets_;
    const int64_t last = levels_ - 1;
    return {{{"diffclf.offsets", offsets_}}, offsetLr_, [offsets, last]() mutable {
              torch::NoGradGuard noGrad;
              offsets.sub_(offsets[last].clone());
            }};
  }

  int64_t rowsPerExample() const override { return k_ * k_; }

  LossOutput compute(EnergyModel& model, const StepContext& step) override {
    const at::Tensor& x = step.batch;
    at::Generator& gen = step.gen;
    const int64_t n = x.size(0);
    // K distinct levels per point: the first K of a random permutation of the L levels.
    at::Tensor idx =
        batchRand({n, levels_}, gen, x.options()).argsort(/*dim=*/1, /*descending=*/false).narrow(1, 0, k_);
    LossOutput out;
    at::Tensor dsm = pathDsmPerRow(model, x, grid_.index_select(0, idx.select(1, 0)), dsm_, gen).mean();
    out.metrics["dsm"] = dsm.detach();
    if (step.step < warmupSteps_ || clfWeight_ == 0) {
      out.loss = dsmWeight_ * dsm;
      return out;
    }
    at::Tensor clf = classificationLoss(model, x, idx, gen, out);
    out.metrics["clf"] = clf.detach();
    out.loss = dsmWeight_ * dsm + clfWeight_ * clf;
    return out;
  }

  // The classification term for the levels idx [n, K].
  at::Tensor classificationLoss(EnergyModel& model, const at::Tensor& x, const at::Tensor& idx, at::Generator& gen,
                                LossOutput& out) {
    const int64_t n = x.size(0);
    std::vector<int64_t> event(x.sizes().begin() + 1, x.sizes().end());
    at::Tensor t = grid_.index_select(0, idx.reshape({-1})).reshape({n, k_});  // [n, K]
    std::vector<int64_t> copyShape{n, k_};
    copyShape.insert(copyShape.end(), event.begin(), event.end());
    std::vector<int64_t> bshape{n, k_};
    bshape.insert(bshape.end(), event.size(), 1);
    at::Tensor xj = dsm_.path.alpha(t).reshape(bshape) * x.unsqueeze(1) +
                    dsm_.path.gamma(t).reshape(bshape) * batchRandn(copyShape, gen, x.options());  // [n, K(j), ...]
    // E(x_j, t_i) for every pair: rows ordered (n, j, i).
    std::vector<int64_t> pairShape{n, k_, k_};
    pairShape.insert(pairShape.end(), event.begin(), event.end());
    at::Tensor xs = xj.unsqueeze(2).expand(pairShape);
    at::Tensor ts = t.unsqueeze(1).expand({n, k_, k_});
    std::vector<int64_t> flat{n * k_ * k_};
    flat.insert(flat.end(), event.begin(), event.end());
    at::Tensor e = model.energy(xs.reshape(flat), ts.reshape({-1})).reshape({n, k_, k_});
    at::Tensor logits = -e - offsets_.index_select(0, idx.reshape({-1})).reshape({n, 1, k_});
    at::Tensor own = logits.diagonal(0, 1, 2);  // l_j(x_j): [n, K]
    at::Tensor clf = -(own - torch::logsumexp(logits, 2)).mean();
    at::Tensor eye = torch::arange(k_, idx.options()).unsqueeze(0);
    out.metrics["clfAccuracy"] = (logits.detach().argmax(2) == eye).to(x.scalar_type()).mean();
    return clf;
  }

 private:
  PathDsmOptions dsm_;
  int64_t levels_, k_;
  double clfWeight_, dsmWeight_;
  int64_t warmupSteps_;
  double offsetLr_;
  at::Tensor offsets_, grid_;
};

}  // namespace

// Gradient clip 1.0 unless train.gradClip says otherwise: the recipe in METHODS.md.
const LossKind& diffusiveClassificationKind() {
  static const LossKind kind = lossKind<DiffClfOptions, DiffusiveClassification>(
      "diffclf", {LossTime::Always, false, nullptr, false, {"dsm", "clf", "clfAccuracy"}}, /*recommendedGradClip=*/1.0);
  return kind;
}

}  // namespace ebm
