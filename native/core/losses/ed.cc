// Energy Discrepancy (Schröder et al., 2023). t is a variance: the noise std is sqrt(t).
//   y = x + sqrt(t) xi,  x'_j = y + sqrt(t) xi'_j,  v_j = E(x) - E(x'_j)
//   loss = mean_i logsumexp_j([v_i1 .. v_iM, log w]) - log M   (no log w entry when w = 0)
// Bernoulli perturbation flips each bit with probability epsilon, twice (x -> y -> x'_j).
#include <torch/torch.h>

#include <cmath>

#include "errors.h"
#include "losses/batch_noise.h"
#include "losses/loss_registry.h"

namespace ebm {
namespace {

class EnergyDiscrepancy : public Loss {
 public:
  explicit EnergyDiscrepancy(const json::Value& cfg)
      : perturbation_(json::getString(cfg, "perturbation", "loss", "gaussian")),
        t_(json::getNumber(cfg, "t", "loss", 1.0)),
        m_(json::getInt(cfg, "m", "loss", 16)),
        w_(json::getNumber(cfg, "w", "loss", 1.0)),
        epsilon_(json::getNumber(cfg, "epsilon", "loss", 0.1)) {
    if (perturbation_ != "gaussian" && perturbation_ != "bernoulli")
      throw ConfigError("loss.perturbation must be 'gaussian' or 'bernoulli', got '" + perturbation_ + "'");
    if (!(t_ > 0)) throw ConfigError("loss.t (noise variance) must be > 0, got " + std::to_string(t_));
    if (m_ < 1 || m_ > 4096) throw ConfigError("loss.m must be an integer in [1, 4096], got " + std::to_string(m_));
    if (!(w_ >= 0)) throw ConfigError("loss.w must be >= 0, got " + std::to_string(w_));
    if (!(epsilon_ > 0 && epsilon_ < 1)) throw ConfigError("loss.epsilon must be in (0, 1)");
  }

  LossOutput compute(EnergyModel& model, const at::Tensor& x, at::Generator& gen) override {
    const int64_t n = x.size(0);
    std::vector<int64_t> negShape{n, m_};
    for (int64_t d = 1; d < x.dim(); ++d) negShape.push_back(x.size(d));
    const auto opts = x.options();

    at::Tensor negatives;
    if (perturbation_ == "gaussian") {
      const double std = std::sqrt(t_);
      at::Tensor y = x + std * batchRandn(x.sizes(), gen, opts);
      negatives = y.unsqueeze(1) + std * batchRandn(negShape, gen, opts);
    } else {
      at::Tensor y = torch::abs(x - (batchRand(x.sizes(), gen, opts) < epsilon_).to(opts.dtype()));
      at::Tensor flips = (batchRand(negShape, gen, opts) < epsilon_).to(opts.dtype());
      negatives = torch::abs(y.unsqueeze(1) - flips);
    }
    std::vector<int64_t> flatNeg{n * m_};
    for (int64_t d = 1; d < x.dim(); ++d) flatNeg.push_back(x.size(d));
    // Positives and negatives in one forward pass.
    at::Tensor energies = model.energy(torch::cat({x, negatives.reshape(flatNeg)}, 0), at::Tensor());
    at::Tensor ePos = energies.narrow(0, 0, n);
    at::Tensor eNeg = energies.narrow(0, n, n * m_).reshape({n, m_});
    at::Tensor v = ePos.unsqueeze(1) - eNeg;
    if (w_ > 0) v = torch::cat({v, torch::full({n, 1}, std::log(w_), opts)}, 1);
    at::Tensor loss = torch::logsumexp(v, 1).mean() - std::log(static_cast<double>(m_));

    LossOutput out{loss, {}};
    at::Tensor pos = ePos.detach().mean(), neg = eNeg.detach().mean();
    out.metrics["energyPos"] = pos;
    out.metrics["energyNeg"] = neg;
    out.metrics["gap"] = neg - pos;
    return out;
  }

 private:
  std::string perturbation_;
  double t_;
  int64_t m_;
  double w_;
  double epsilon_;
};

}  // namespace

std::unique_ptr<Loss> makeEnergyDiscrepancy(const json::Value& cfg, const EnergyModel& model) {
  if (model.timeConditioned()) throw ConfigError("loss.kind 'ed' needs a model that is not time-conditioned");
  return std::make_unique<EnergyDiscrepancy>(cfg);
}

}  // namespace ebm
