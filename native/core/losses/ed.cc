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

struct EdOptions {
  double t{};  // a variance: the noise std is sqrt(t)
  int64_t m{};
  double w{};
  std::string perturbation = "gaussian";  // or "bernoulli"
  double epsilon = 0.1;                   // bit-flip probability (Bernoulli)
};
template <typename Fields>
void describe(Fields& f, EdOptions& o) {
  f.required("t", o.t);
  f.required("m", o.m);
  f.required("w", o.w);
  f.optional("perturbation", o.perturbation);
  f.optional("epsilon", o.epsilon);
}

class EnergyDiscrepancy : public Loss {
 public:
  EnergyDiscrepancy(const EdOptions& o, const EnergyModel&)
      : perturbation_(o.perturbation), t_(o.t), m_(o.m), w_(o.w), epsilon_(o.epsilon) {}

  int64_t rowsPerExample() const override { return 1 + m_; }

  LossOutput compute(EnergyModel& model, const StepContext& step) override {
    const at::Tensor& x = step.batch;
    at::Generator& gen = step.gen;
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

const LossKind& energyDiscrepancyKind() {
  static const LossKind kind = lossKind<EdOptions, EnergyDiscrepancy>("ed");
  return kind;
}

}  // namespace ebm
