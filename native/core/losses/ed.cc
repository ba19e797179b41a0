// Energy Discrepancy (Schröder et al., 2023). t is a variance: the noise std is sqrt(t).
//   y = x + sqrt(t) xi,  x'_j = y + sqrt(t) xi'_j,  v_j = E(x) - E(x'_j)
//   loss = mean_i logsumexp_j([v_i1 .. v_iM, log w]) - log M   (no log w entry when w = 0)
// Bernoulli perturbation flips each bit with probability epsilon, twice (x -> y -> x'_j).
#include <torch/torch.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "errors.h"
#include "losses/batch_noise.h"
#include "losses/loss_registry.h"
#include "models/fused_activation.h"

namespace ebm {
namespace {

// The loss from the energies [n + n M] (positives, then each example's M negatives) as one autograd
// node with a hand-written backward, for float32 CPU energies: the expression it replaces is a
// dozen small kernels forward and as many backward, which at ED's usual sizes cost more than the
// arithmetic. With p_ij the softmax weight of v_ij in row i, dL/dE(x_i) = sum_j p_ij / n and
// dL/dE(x'_ij) = -p_ij / n.
class EdHead : public torch::autograd::Function<EdHead> {
 public:
  // logW: log w, or -inf for no w entry.
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& energies, int64_t n, int64_t m,
                            double logW) {
    const bool withW = std::isfinite(logW);
    const int64_t cols = m + (withW ? 1 : 0);
    at::Tensor weights = torch::empty({n, cols}, energies.options());
    const float* e = energies.data_ptr<float>();
    float* v = weights.data_ptr<float>();
    for (int64_t i = 0; i < n; ++i) {
      const float* neg = e + n + i * m;
      float* row = v + i * cols;
      for (int64_t j = 0; j < m; ++j) row[j] = e[i] - neg[j];
      if (withW) row[m] = static_cast<float>(logW);
    }
    const double lseSum = softmaxRows(v, n, cols);
    ctx->save_for_backward({weights});
    ctx->saved_data["m"] = m;
    return torch::scalar_tensor(lseSum / static_cast<double>(n) - std::log(static_cast<double>(m)), energies.options());
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list gradOutputs) {
    if (at::GradMode::is_enabled())
      throw std::runtime_error("ED's hand-written loss head cannot be differentiated twice");
    const at::Tensor weights = ctx->get_saved_variables()[0];
    const int64_t m = ctx->saved_data["m"].toInt();
    const int64_t n = weights.size(0), cols = weights.size(1);
    const float scale = gradOutputs[0].item<float>() / static_cast<float>(n);
    at::Tensor grad = torch::empty({n + n * m}, weights.options());
    const float* p = weights.data_ptr<float>();
    float* g = grad.data_ptr<float>();
    for (int64_t i = 0; i < n; ++i) {
      const float* row = p + i * cols;
      float* neg = g + n + i * m;
      // minus the sum of the row's negative terms, so each row's gradient sums to zero as exactly
      // as floats allow (the loss does not change when every energy shifts by a constant)
      float sum = 0;
      for (int64_t j = 0; j < m; ++j) {
        neg[j] = -scale * row[j];
        sum += neg[j];
      }
      g[i] = -sum;
    }
    return {grad, at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

// EBM_TORCH_FUSED_LOSSES=0 keeps ED on LibTorch's operations, the reference the head is tested against.
bool fusedLossHeads() {
  const char* v = std::getenv("EBM_TORCH_FUSED_LOSSES");
  return v == nullptr || std::strcmp(v, "0") != 0;
}

enum class Perturbation { Gaussian, Bernoulli };
const std::vector<Choice<Perturbation>>& choicesOf(Perturbation) {
  static const std::vector<Choice<Perturbation>> c{{"gaussian", Perturbation::Gaussian},
                                                   {"bernoulli", Perturbation::Bernoulli}};
  return c;
}

struct EdOptions {
  double t{};  // a variance: the noise std is sqrt(t)
  int64_t m{};
  double w{};
  Perturbation perturbation = Perturbation::Gaussian;
  double epsilon = 0.1;  // bit-flip probability (Bernoulli)
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
      : perturbation_(o.perturbation), t_(o.t), m_(o.m), w_(o.w), epsilon_(o.epsilon), fusedHead_(fusedLossHeads()) {}

  int64_t rowsPerExample() const override { return 1 + m_; }

  LossOutput compute(EnergyModel& model, const StepContext& step) override {
    const at::Tensor& x = step.batch;
    at::Generator& gen = step.gen;
    const int64_t n = x.size(0);
    std::vector<int64_t> negShape{n, m_};
    for (int64_t d = 1; d < x.dim(); ++d) negShape.push_back(x.size(d));
    const auto opts = x.options();

    // Positives and negatives in one buffer, one forward pass: rows [0, n) are x, then each
    // example's M negatives.
    std::vector<int64_t> rowsShape{n * (1 + m_)};
    for (int64_t d = 1; d < x.dim(); ++d) rowsShape.push_back(x.size(d));
    at::Tensor input = torch::empty(rowsShape, opts);
    input.narrow(0, 0, n).copy_(x);
    at::Tensor negatives = input.narrow(0, n, n * m_).view(negShape);
    if (perturbation_ == Perturbation::Gaussian) {
      const double std = std::sqrt(t_);
      at::Tensor y = at::add(x, batchRandn(x.sizes(), gen, opts), std);
      at::add_out(negatives, y.unsqueeze(1), batchRandn(negShape, gen, opts), std);
    } else {
      at::Tensor y = torch::abs(x - (batchRand(x.sizes(), gen, opts) < epsilon_).to(opts.dtype()));
      at::Tensor flips = (batchRand(negShape, gen, opts) < epsilon_).to(opts.dtype());
      at::abs_out(negatives, y.unsqueeze(1) - flips);
    }
    at::Tensor energies = model.energy(input, at::Tensor());
    at::Tensor ePos = energies.narrow(0, 0, n);
    at::Tensor eNeg = energies.narrow(0, n, n * m_).reshape({n, m_});
    at::Tensor loss;
    const bool onePass =
        fusedHead_ && energies.device().is_cpu() && energies.scalar_type() == at::kFloat && energies.dim() == 1;
    (onePass ? headSteps_ : opsSteps_)++;
    if (onePass) {
      loss =
          EdHead::apply(energies.contiguous(), n, m_, w_ > 0 ? std::log(w_) : -std::numeric_limits<double>::infinity());
    } else {
      at::Tensor v = ePos.unsqueeze(1) - eNeg;
      if (w_ > 0) v = torch::cat({v, torch::full({n, 1}, std::log(w_), opts)}, 1);
      loss = torch::logsumexp(v, 1).mean() - std::log(static_cast<double>(m_));
    }

    LossOutput out{loss, {}};
    at::Tensor pos = ePos.detach().mean(), neg = eNeg.detach().mean();
    out.metrics["energyPos"] = pos;
    out.metrics["energyNeg"] = neg;
    out.metrics["gap"] = neg - pos;
    return out;
  }

  bool onePassHeadOnly() const override { return headSteps_ > 0 && opsSteps_ == 0; }

 private:
  Perturbation perturbation_;
  double t_;
  int64_t m_;
  double w_;
  double epsilon_;
  bool fusedHead_;
  int64_t headSteps_ = 0, opsSteps_ = 0;
};

}  // namespace

const LossKind& energyDiscrepancyKind() {
  static const LossKind kind = lossKind<EdOptions, EnergyDiscrepancy>(
      "ed", {LossTime::Never, false, nullptr, /*latentPrior=*/true, {"energyPos", "energyNeg", "gap"}});
  return kind;
}

}  // namespace ebm
