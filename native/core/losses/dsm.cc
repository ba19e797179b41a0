// Denoising score matching. Single level:  x~ = x + sigma eps,
//   loss = 1/2 mean_i || sigma s(x~) + eps ||^2   (= 1/2 ||sigma^2 s + sigma eps||^2 / sigma^2, summed over dims)
// On a path (time-conditioned models): see score_matching.h.
#include <torch/torch.h>

#include "errors.h"
#include "losses/batch_noise.h"
#include "losses/loss_registry.h"
#include "losses/score_matching.h"

namespace ebm {

PathDsmOptions pathDsmOptionsFromConfig(const json::Value& cfg, const std::string& where) {
  PathDsmOptions o;
  o.path = NoisePath::fromConfig(cfg, where);
  o.weighting = json::getString(cfg, "weighting", where, "noise");
  if (o.weighting != "noise" && o.weighting != "edm")
    throw ConfigError(where + ".weighting must be 'noise' or 'edm', got '" + o.weighting + "'");
  o.sigmaData = json::getNumber(cfg, "sigmaData", where, 1.0);
  if (!(o.sigmaData > 0)) throw ConfigError(where + ".sigmaData must be > 0");
  return o;
}

at::Tensor pathDsmPerRow(EnergyModel& model, const at::Tensor& x0, const at::Tensor& t, const PathDsmOptions& o,
                         at::Generator& gen) {
  std::vector<int64_t> bshape(static_cast<size_t>(x0.dim()), 1);
  bshape[0] = x0.size(0);
  at::Tensor alpha = o.path.alpha(t), gamma = o.path.gamma(t);
  at::Tensor eps = batchRandn(x0.sizes(), gen, x0.options());
  at::Tensor xt = alpha.reshape(bshape) * x0 + gamma.reshape(bshape) * eps;
  at::Tensor s = scoreOf(model, xt, t, /*createGraph=*/true);
  at::Tensor err = (eps + gamma.reshape(bshape) * s).pow(2).reshape({x0.size(0), -1}).mean(1);
  if (o.weighting == "edm") {
    at::Tensor sigma2 = (gamma / alpha).pow(2);
    err = err * (sigma2 + o.sigmaData * o.sigmaData) / (o.sigmaData * o.sigmaData);
  }
  return err;
}

namespace {

class SingleLevelDsm : public Loss {
 public:
  explicit SingleLevelDsm(double sigma) : sigma_(sigma) {}

  LossOutput compute(EnergyModel& model, const at::Tensor& x, at::Generator& gen) override {
    at::Tensor eps = batchRandn(x.sizes(), gen, x.options());
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

  LossOutput compute(EnergyModel& model, const at::Tensor& x, at::Generator& gen) override {
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

std::unique_ptr<Loss> makeDenoisingScoreMatching(const json::Value& cfg, const EnergyModel& model) {
  if (cfg.has("sigma")) {
    if (cfg.has("path"))
      throw ConfigError("loss: give either sigma (single level) or path (time-conditioned), not both");
    const double sigma = json::getNumber(cfg, "sigma", "loss");
    if (!(sigma > 0)) throw ConfigError("loss.sigma must be > 0, got " + std::to_string(sigma));
    if (model.timeConditioned())
      throw ConfigError("loss.sigma (single-level DSM) needs a model that is not time-conditioned; use loss.path");
    return std::make_unique<SingleLevelDsm>(sigma);
  }
  if (!cfg.has("path")) throw ConfigError("loss: DSM needs sigma (single level) or path: 'vp' | 've'");
  if (!model.timeConditioned()) throw ConfigError("loss.path needs a time-conditioned model (timeConditioned: true)");
  const int64_t levels = json::getInt(cfg, "levels", "loss", 0);
  if (levels < 0 || levels == 1 || levels > 100000)
    throw ConfigError("loss.levels must be >= 2 (or absent for continuous time), got " + std::to_string(levels));
  return std::make_unique<PathDsm>(pathDsmOptionsFromConfig(cfg, "loss"), levels);
}

}  // namespace ebm
