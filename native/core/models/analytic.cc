// Analytic energies with the same interface as the networks, so samplers and metrics can be
// checked against known answers:
//   gaussian:   E = 1/2 (x-mu)^T S^-1 (x-mu) + 1/2 log det(2 pi S)        (exactly -log p)
//   gmm:        E = -log sum_k w_k N(x; mu_k, diag(s_k^2)), optionally along a noising path,
//               where it stays a mixture: means alpha_t mu_k, variances alpha_t^2 s_k^2 + gamma_t^2
//   doublewell: E = barrier (x_0^2 - 1)^2 + 1/2 |x_{1:}|^2                 (unnormalised)
// Their constants are buffers (saved with the model), never trained.
#include <torch/torch.h>

#include <cmath>
#include <optional>

#include "errors.h"
#include "io/fields.h"
#include "models/model_registry.h"
#include "noise_path.h"
#include "tensor_util.h"

namespace ebm {
namespace {

struct GaussianOptions {
  std::vector<double> mean;
  std::optional<std::vector<std::vector<double>>> cov;  // full covariance; absent: std^2 I
  double std = 1.0;                                     // sigma of sigma^2 I, when cov is absent
};
template <typename Fields>
void describe(Fields& f, GaussianOptions& o) {
  f.required("mean", o.mean);
  f.optional("cov", o.cov);
  f.optional("std", o.std);
}

// A mixture's path parameters (read when `path` makes it time-conditioned); its means, stds and
// weights are read with their checks in makeMixture.
struct MixtureOptions {
  NoisePath path;
};
template <typename Fields>
void describe(Fields& f, MixtureOptions& o) {
  describe(f, o.path);
}

struct DoubleWellOptions {
  int64_t dim = 1;
  double barrier = 1.0;
};
template <typename Fields>
void describe(Fields& f, DoubleWellOptions& o) {
  f.optional("dim", o.dim);
  f.optional("barrier", o.barrier);
}

at::Tensor fromRows(const std::vector<std::vector<double>>& rows) {
  const int64_t n = static_cast<int64_t>(rows.size()), d = static_cast<int64_t>(rows[0].size());
  at::Tensor t = torch::empty({n, d}, torch::kFloat64);
  auto a = t.accessor<double, 2>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) a[i][j] = rows[static_cast<size_t>(i)][static_cast<size_t>(j)];
  return t;
}

at::Tensor fromVector(const std::vector<double>& v) { return torch::tensor(at::ArrayRef<double>(v), torch::kFloat64); }

class Gaussian : public EnergyModel {
 public:
  Gaussian(const json::Value& cfg, c10::Device device, const at::Tensor& mean, const at::Tensor& cov)
      : EnergyModel(cfg, {mean.size(0)}, device) {
    at::Tensor chol;
    try {
      chol = at::linalg_cholesky(cov);
    } catch (const c10::Error&) {
      throw ConfigError("model.cov must be symmetric positive definite");
    }
    const double d = static_cast<double>(mean.size(0));
    const double logDet = 2 * torch::log(torch::diagonal(chol)).sum().item<double>();
    mean_ = addBuffer("mean", mean);
    precision_ = addBuffer("precision", torch::cholesky_inverse(chol));
    logNorm_ = addBuffer("log_norm", torch::full({1}, 0.5 * (d * std::log(2 * M_PI) + logDet), torch::kFloat64));
  }

  at::Tensor energy(const at::Tensor& x, const at::Tensor&) override {
    at::Tensor z = x - mean_;
    return 0.5 * (torch::matmul(z, precision_) * z).sum(1) + logNorm_;
  }

 private:
  at::Tensor mean_, precision_, logNorm_;
};

class Mixture : public EnergyModel {
 public:
  Mixture(const json::Value& cfg, c10::Device device, const at::Tensor& means, const at::Tensor& stds,
          const at::Tensor& weights, bool onPath)
      : EnergyModel(cfg, {means.size(1)}, device), onPath_(onPath) {
    means_ = addBuffer("means", means);
    variances_ = addBuffer("variances", stds.pow(2));
    logWeights_ = addBuffer("log_weights", torch::log(weights));
    if (onPath_) {
      path_ = readOptions<MixtureOptions>(cfg, "model").path;
      path_.kind = oneOf<PathKind>(json::getString(cfg, "path", "model"), "model.path");
    }
  }

  bool timeConditioned() const override { return onPath_; }

  at::Tensor energy(const at::Tensor& x, const at::Tensor& t) override {
    at::Tensor means = means_.unsqueeze(0);    // [1, K, D]
    at::Tensor var = variances_.unsqueeze(0);  // [1, K, D]
    if (onPath_) {
      at::Tensor a = path_.alpha(t).reshape({-1, 1, 1}), g = path_.gamma(t).reshape({-1, 1, 1});
      means = a * means;
      var = a * a * var + g * g;
    }
    at::Tensor z = x.unsqueeze(1) - means;  // [N, K, D]
    at::Tensor logN = -0.5 * (z * z / var + torch::log(2 * M_PI * var)).sum(2);
    return -torch::logsumexp(logN + logWeights_.unsqueeze(0), 1);
  }

  // Samplers' drift of the untimed mixture by two products over [N, D] x [D, K] and no [N, K, D]
  // temporaries: sum_d (x_d - mu_kd)^2 / var_kd = x^2 . (1/var_k) - 2 x . (mu_k/var_k) + sum_d mu_kd^2/var_kd,
  // and grad E = sum_k r_k (x - mu_k) / var_k with r the responsibilities. The expansion loses
  // about 1e-7 of the quadratic term to rounding, well under the samplers' noise; energy() keeps
  // the direct form for evaluation.
  at::Tensor energyAndGrad(const at::Tensor& x, const at::Tensor& t, at::Tensor* energyOut) override {
    if (onPath_ || x.dim() != 2) return EnergyModel::energyAndGrad(x, t, energyOut);
    torch::NoGradGuard noGrad;
    at::Tensor invVar = variances_.reciprocal();  // [K, D]
    at::Tensor meanOverVar = means_ * invVar;
    at::Tensor perComponent = logWeights_ - 0.5 * ((means_ * meanOverVar) + torch::log(2 * M_PI * variances_)).sum(1);
    at::Tensor xs = x.detach();
    at::Tensor logN = perComponent.unsqueeze(0) - 0.5 * torch::matmul(xs * xs, invVar.t()) +
                      torch::matmul(xs, meanOverVar.t());  // [N, K]
    at::Tensor lse = torch::logsumexp(logN, 1, /*keepdim=*/true);
    if (energyOut) *energyOut = -lse.squeeze(1);
    at::Tensor r = torch::exp(logN - lse);
    return xs * torch::matmul(r, invVar) - torch::matmul(r, meanOverVar);
  }

 private:
  bool onPath_;
  NoisePath path_;
  at::Tensor means_, variances_, logWeights_;
};

class DoubleWell : public EnergyModel {
 public:
  DoubleWell(const json::Value& cfg, c10::Device device, int64_t dim, double barrier)
      : EnergyModel(cfg, {dim}, device) {
    barrier_ = addBuffer("barrier", torch::full({1}, barrier, torch::kFloat64));
  }

  at::Tensor energy(const at::Tensor& x, const at::Tensor&) override {
    at::Tensor x0 = x.select(1, 0);
    at::Tensor e = barrier_ * (x0 * x0 - 1).pow(2);
    if (x.size(1) > 1) e = e + 0.5 * x.narrow(1, 1, x.size(1) - 1).pow(2).sum(1);
    return e;
  }

 private:
  at::Tensor barrier_;
};

}  // namespace

std::shared_ptr<EnergyModel> makeGaussian(const json::Value& cfg, c10::Device device) {
  const GaussianOptions o = readOptions<GaussianOptions>(cfg, "model");
  const std::vector<double>& mean = o.mean;
  const int64_t d = static_cast<int64_t>(mean.size());
  if (d < 1) throw ConfigError("model.mean must not be empty");
  at::Tensor cov;
  if (o.cov) {
    cov = fromRows(json::getNumberMatrix(cfg, "cov", "model"));
    if (cov.size(0) != d || cov.size(1) != d)
      throw ConfigError("model.cov must be " + std::to_string(d) + " x " + std::to_string(d));
    if (!torch::allclose(cov, cov.t())) throw ConfigError("model.cov must be symmetric");
  } else {
    const double std = o.std;
    if (!(std > 0)) throw ConfigError("model.std must be > 0");
    cov = torch::eye(d, torch::kFloat64) * (std * std);
  }
  return std::make_shared<Gaussian>(cfg, device, fromVector(mean), cov);
}

std::shared_ptr<EnergyModel> makeMixture(const json::Value& cfg, c10::Device device) {
  at::Tensor means = fromRows(json::getNumberMatrix(cfg, "means", "model"));
  const int64_t k = means.size(0), d = means.size(1);
  if (d < 1) throw ConfigError("model.means rows must not be empty");
  std::vector<double> w = json::getNumberArray(cfg, "weights", "model");
  if (static_cast<int64_t>(w.size()) != k)
    throw ConfigError("model.weights must have one entry per component (" + std::to_string(k) + ")");
  double total = 0;
  for (double v : w) {
    if (!(v > 0)) throw ConfigError("model.weights must be > 0");
    total += v;
  }
  if (std::fabs(total - 1) > 1e-6) throw ConfigError("model.weights must sum to 1, got " + std::to_string(total));
  at::Tensor stds;
  const json::Value& s = json::member(cfg, "stds");
  if (s.is_array() && !s.empty() && s[0].is_array()) {
    stds = fromRows(json::getNumberMatrix(cfg, "stds", "model"));
    if (stds.size(0) != k || stds.size(1) != d) throw ConfigError("model.stds must be [components, dim]");
  } else {
    std::vector<double> iso = json::getNumberArray(cfg, "stds", "model");
    if (static_cast<int64_t>(iso.size()) != k) throw ConfigError("model.stds must have one entry per component");
    stds = fromVector(iso).unsqueeze(1).expand({k, d}).contiguous();
  }
  if (!(stds.min().item<double>() > 0)) throw ConfigError("model.stds must be > 0");
  return std::make_shared<Mixture>(cfg, device, means, stds, fromVector(w) / total, cfg.contains("path"));
}

std::shared_ptr<EnergyModel> makeDoubleWell(const json::Value& cfg, c10::Device device) {
  const DoubleWellOptions o = readOptions<DoubleWellOptions>(cfg, "model");
  const int64_t dim = o.dim;
  if (dim < 1 || dim > 65536) throw ConfigError("model.dim must be an integer >= 1");
  const double barrier = o.barrier;
  if (!(barrier > 0)) throw ConfigError("model.barrier must be > 0");
  return std::make_shared<DoubleWell>(cfg, device, dim, barrier);
}

json::Value gaussianDefaults() { return defaultsOf<GaussianOptions>(); }
json::Value mixtureDefaults() { return defaultsOf<MixtureOptions>(); }
json::Value doubleWellDefaults() { return defaultsOf<DoubleWellOptions>(); }

}  // namespace ebm
