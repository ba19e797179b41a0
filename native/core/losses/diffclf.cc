// Diffusive classification (OuYang, Grenioux, Hernández-Lobato, 2026), combined with DSM.
// Levels t_1 < .. < t_L on the noising path; learnable offsets f (one per level, re-centred so
// f_L = 0 after every step); logits l_i(x) = -E(x, t_i) - f_i. Each data point gets K distinct
// levels and a noisy copy x_j at each; every copy is classified among the K candidates:
//   L_CLF = -(1/K) sum_j [ l_j(x_j) - logsumexp_{i in K} l_i(x_j) ]     (K^2 energies per point)
// K = 2 is the bi-level form 1/2 softplus(l_t(x_s) - l_s(x_s)) + 1/2 softplus(l_s(x_t) - l_t(x_t)).
// Objective: dsmWeight * DSM + clfWeight * L_CLF, DSM only during the first warmupSteps.
#include <torch/torch.h>

#include <cmath>

#include "errors.h"
#include "losses/batch_noise.h"
#include "losses/loss_registry.h"
#include "losses/score_matching.h"

namespace ebm {
namespace {

class DiffusiveClassification : public Loss {
 public:
  DiffusiveClassification(const json::Value& cfg, const EnergyModel& model)
      : dsm_(pathDsmOptionsFromConfig(cfg, "loss")),
        levels_(json::getInt(cfg, "levels", "loss", 128)),
        k_(json::getInt(cfg, "k", "loss", 4)),
        clfWeight_(json::getNumber(cfg, "clfWeight", "loss", 1.0)),
        dsmWeight_(json::getNumber(cfg, "dsmWeight", "loss", 1.0)),
        warmupSteps_(json::getInt(cfg, "warmupSteps", "loss", 0)),
        offsetLr_(json::getNumber(cfg, "offsetLr", "loss", 0.0)) {
    if (!(offsetLr_ >= 0)) throw ConfigError("loss.offsetLr must be > 0 (or absent: the optimiser's lr)");
    if (levels_ < 2 || levels_ > 100000) throw ConfigError("loss.levels must be an integer in [2, 100000]");
    if (k_ < 2 || k_ > levels_)
      throw ConfigError("loss.k must be an integer in [2, levels = " + std::to_string(levels_) + "], got " +
                        std::to_string(k_));
    if (!(clfWeight_ >= 0) || !(dsmWeight_ >= 0)) throw ConfigError("loss.clfWeight and loss.dsmWeight must be >= 0");
    if (warmupSteps_ < 0) throw ConfigError("loss.warmupSteps must be >= 0");
    // Starting offsets (a run resumed from learned ones) or zeros.
    at::Tensor start = torch::zeros({levels_}, torch::kFloat32);
    if (cfg.has("offsets")) {
      std::vector<double> f = json::getNumberArray(cfg, "offsets", "loss");
      if (static_cast<int64_t>(f.size()) != levels_)
        throw ConfigError("loss.offsets must hold one number per level (" + std::to_string(levels_) + "), got " +
                          std::to_string(f.size()));
      for (size_t i = 0; i < f.size(); ++i)
        if (!std::isfinite(f[i])) throw ConfigError("loss.offsets[" + std::to_string(i) + "] must be finite");
      start = torch::tensor(f, torch::kFloat64).to(torch::kFloat32);
    }
    offsets_ = start.to(model.device()).set_requires_grad(true);
    grid_ = dsm_.path.grid(levels_, model.device());
  }

  EnergyModel::TrainingGrid trainingGrid() const override { return {levels_, dsm_.path.tMin}; }

  std::vector<NamedTensor> parameters() const override { return {{"diffclf.offsets", offsets_}}; }
  double defaultGradClip() const override { return 1.0; }
  double parameterLr() const override { return offsetLr_; }
  void beginStep(int64_t step) override { step_ = step; }

  void afterStep() override {
    torch::NoGradGuard noGrad;
    offsets_.sub_(offsets_[levels_ - 1].clone());
  }

  LossOutput compute(EnergyModel& model, const at::Tensor& x, at::Generator& gen) override {
    const int64_t n = x.size(0);
    // K distinct levels per point: the first K of a random permutation of the L levels.
    at::Tensor idx =
        batchRand({n, levels_}, gen, x.options()).argsort(/*dim=*/1, /*descending=*/false).narrow(1, 0, k_);
    LossOutput out;
    at::Tensor dsm = pathDsmPerRow(model, x, grid_.index_select(0, idx.select(1, 0)), dsm_, gen).mean();
    out.metrics["dsm"] = dsm.detach();
    if (step_ < warmupSteps_ || clfWeight_ == 0) {
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
  int64_t step_ = 0;
  at::Tensor offsets_, grid_;
};

}  // namespace

std::unique_ptr<Loss> makeDiffusiveClassification(const json::Value& cfg, const EnergyModel& model) {
  if (!model.timeConditioned()) throw ConfigError("loss.kind 'diffclf' needs a time-conditioned model");
  return std::make_unique<DiffusiveClassification>(cfg, model);
}

}  // namespace ebm
