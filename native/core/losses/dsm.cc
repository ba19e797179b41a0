// Denoising score matching. Single level:  x~ = x + sigma eps,
//   loss = 1/2 mean_i || sigma s(x~) + eps ||^2   (= 1/2 ||sigma^2 s + sigma eps||^2 / sigma^2, summed over dims)
// On a path (time-conditioned models): see score_matching.h.
#include <torch/torch.h>

#include <optional>

#include "errors.h"
#include "losses/batch_noise.h"
#include "losses/loss_registry.h"
#include "losses/score_matching.h"

namespace ebm {

at::Tensor pathDsmPerRow(EnergyModel& model, const at::Tensor& x0, const at::Tensor& t, const PathDsmOptions& o,
                         at::Generator& gen) {
  std::vector<int64_t> bshape(static_cast<size_t>(x0.dim()), 1);
  bshape[0] = x0.size(0);
  at::Tensor alpha = o.path.alpha(t), gamma = o.path.gamma(t);
  at::Tensor eps = batchRandn(x0.sizes(), gen, x0.options());
  at::Tensor xt = alpha.reshape(bshape) * x0 + gamma.reshape(bshape) * eps;
  at::Tensor s = scoreOf(model, xt, t, /*createGraph=*/true);
  at::Tensor err = (eps + gamma.reshape(bshape) * s).pow(2).reshape({x0.size(0), -1}).mean(1);
  if (o.weighting == DsmWeighting::Edm) {
    at::Tensor sigma2 = (gamma / alpha).pow(2);
    err = err * (sigma2 + o.sigmaData * o.sigmaData) / (o.sigmaData * o.sigmaData);
  }
  return err;
}

namespace {

// Either sigma (one noise level, E(x)) or path (a noising path, E(x, t)); TS checks which.
struct DsmOptions {
  std::optional<double> sigma;
  std::optional<PathKind> path;
  PathDsmOptions onPath;
  std::optional<int64_t> levels;  // a grid of levels; absent: continuous time
};
template <typename Fields>
void describe(Fields& f, DsmOptions& o) {
  f.optional("sigma", o.sigma);
  f.optional("path", o.path);
  describe(f, o.onPath);
  f.optional("levels", o.levels);
}

class SingleLevelDsm : public Loss {
 public:
  explicit SingleLevelDsm(double sigma) : sigma_(sigma) {}

  LossOutput compute(EnergyModel& model, const StepContext& step) override {
    const at::Tensor& x = step.batch;
    at::Tensor eps = batchRandn(x.sizes(), step.gen, x.options());
    at::Tensor s = scoreOf(model, x + sigma_ * eps, at::Tensor(), /*createGraph=*/true);
    at::Tensor perRow = (sigma_ * s + eps).pow(2).reshape({x.size(0), -1}).sum(1);
    LossOutput out{0.5 * perRow.mean(), {}};
    out.metrics["scoreNorm"] = s.detach().reshape({x.size(0), -1}).norm(2, 1).mean();
    return out;
  }

 private:
  double sigma_;
};

class PathDsm : public Loss {
 public:
  PathDsm(PathDsmOptions options, int64_t levels) : options_(std::move(options)), levels_(levels) {}

  LossOutput compute(EnergyModel& model, const StepContext& step) override {
    const at::Tensor& x = step.batch;
    at::Generator& gen = step.gen;
    const int64_t n = x.size(0);
    at::Tensor t;
    if (levels_ > 0) {
      at::Tensor grid = options_.path.grid(levels_, x.device());
      t = grid.index_select(
          0, batchRandint(levels_, {n}, gen, torch::TensorOptions().device(x.device()).dtype(torch::kLong)));
    } else {
      t = options_.path.tMin + (1 - options_.path.tMin) * batchRand({n}, gen, x.options());
    }
    return {pathDsmPerRow(model, x, t, options_, gen).mean(), {}};
  }

  EnergyModel::TrainingGrid trainingGrid() const override {
    return levels_ > 0 ? EnergyModel::TrainingGrid{levels_, options_.path.tMin} : EnergyModel::TrainingGrid{};
  }

 private:
  PathDsmOptions options_;
  int64_t levels_;
};

}  // namespace

const LossKind& denoisingScoreMatchingKind() {
  static const LossKind kind{"dsm",
                             [](const json::Value& config, const EnergyModel&) -> std::unique_ptr<Loss> {
                               const DsmOptions o = readOptions<DsmOptions>(config, "loss");
                               if (o.sigma) return std::make_unique<SingleLevelDsm>(*o.sigma);
                               PathDsmOptions onPath = o.onPath;
                               if (!o.path)
                                 throw ConfigError("loss: DSM needs sigma (single level) or path: 'vp' | 've'");
                               onPath.path.kind = *o.path;
                               return std::make_unique<PathDsm>(onPath, o.levels.value_or(0));
                             },
                             defaultsOf<DsmOptions>,
                             fieldNamesOf<DsmOptions>,
                             0.0,
                             {LossTime::WithPath, false, nullptr, false, {"scoreNorm"}}};
  return kind;
}

}  // namespace ebm
