// Particle scheme for the Wasserstein gradient flow of KL(rho || exp(-E)) (METHODS.md §4): the
// regularised ("blob") Fokker-Planck velocity of Carrillo, Craig & Patacchini (2019),
//   v_i = -grad E(x_i) + sum_j K_ij (x_i - x_j) / (h^2 D_i) + sum_j K_ij (x_i - x_j) / (h^2 D_j),
// K_ij = exp(-|x_i - x_j|^2 / 2h^2), D_i = sum_j K_ij; the last (blob) term removes the h^2
// bias of the plain kernel estimate of grad log rho. Heun (default) or Euler steps of size tau.
// Bandwidth: a fixed number, or 'auto' = bandwidthScale (default 2.5) x the median distance
// from a particle to its nearest neighbour, recomputed at every step. The median heuristic
// over all pairs is deliberately not offered: it is far too wide and collapses every mode.
// Cost O(n^2 d) per velocity; the kernel is built in row blocks, so memory stays O(block * n).
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "errors.h"
#include "samplers/sampler_registry.h"

namespace ebm {
namespace {

// Rows per kernel block: at most 2048, and at most 2^26 kernel entries (256 MB) per block.
int64_t blockRows(int64_t n) { return std::max<int64_t>(1, std::min<int64_t>(2048, (int64_t{1} << 26) / n)); }

enum class Integrator { Heun, Euler };
const std::vector<Choice<Integrator>>& choicesOf(Integrator) {
  static const std::vector<Choice<Integrator>> c{{"heun", Integrator::Heun}, {"euler", Integrator::Euler}};
  return c;
}

struct WgfOptions : ChainOptions {
  json::Value bandwidth = "auto";  // a number, or 'auto': bandwidthScale x median nearest-neighbour distance
  double bandwidthScale = 2.5;
  bool blob = true;       // the blob correction term
  bool repulsion = true;  // the kernel repulsion terms (off: plain gradient descent)
  Integrator integrator = Integrator::Heun;
};
template <typename Fields>
void describe(Fields& f, WgfOptions& o) {
  describe(f, static_cast<ChainOptions&>(o));
  f.optional("bandwidth", o.bandwidth);
  f.optional("bandwidthScale", o.bandwidthScale);
  f.optional("blob", o.blob);
  f.optional("repulsion", o.repulsion);
  f.optional("integrator", o.integrator);
}

class GradientFlow : public Sampler {
 public:
  explicit GradientFlow(const WgfOptions& o)
      : steps_(o.steps),
        stepSize_(o.stepSize),
        blob_(o.blob),
        repulsion_(o.repulsion),
        scale_(o.bandwidthScale),
        integrator_(o.integrator),
        bandwidth_(o.bandwidth.is_number() ? o.bandwidth.get<double>() : -1) {}

  int64_t steps() const override { return steps_; }

  SampleResult run(EnergyModel& model, const at::Tensor& x0, at::Generator&, const SampleOptions& o) override {
    torch::NoGradGuard noGrad;
    at::Tensor x = x0.detach().clone();
    if (repulsion_ && x.size(0) < 2) throw ConfigError("the gradient-flow sampler needs at least 2 particles");
    SampleResult r;
    // The bandwidth stays a device scalar: no host sync per step.
    at::Tensor h = torch::full({}, bandwidth_, x.options());
    for (int64_t k = 0; k < steps_; ++k) {
      // The centred cloud and (when it fits one block) its distance matrix serve both the
      // bandwidth and the first velocity.
      at::Tensor xc, d2;
      if (repulsion_) {
        xc = centred(x);
        d2 = fullDistances(xc);
        if (bandwidth_ <= 0) h = autoBandwidth(xc, d2);
      }
      at::Tensor e, v = velocity(model, x, h, o.t, &e, xc, d2);
      recordEnergy(r, k + 1, steps_, e);
      if (integrator_ == Integrator::Euler) {
        x = x + stepSize_ * v;
      } else {
        at::Tensor xe = x + stepSize_ * v;
        x = x + 0.5 * stepSize_ * (v + velocity(model, xe, h, o.t));
      }
      if (o.returnTrajectory && (k + 1) % o.thin == 0) r.trajectory.push_back(x);
      stepDone(o, k + 1);
    }
    r.x = x;
    r.energy = model.energy(x, o.t).detach();
    r.stepSize = repulsion_ ? h : torch::zeros({}, x.options());  // for this sampler: the last bandwidth
    return r;
  }

 private:
  // Rows [n, d] relative to their mean: every term of the flow depends only on differences, and
  // |a|^2 + |b|^2 - 2ab loses the distances to rounding when the cloud sits far from the origin.
  static at::Tensor centred(const at::Tensor& xIn) {
    at::Tensor x = xIn.reshape({xIn.size(0), -1});
    return x - x.mean(0, true);
  }

  // Squared distances between rows a [b, d] and all rows x [n, d]: one [b, n] allocation (the
  // product), the rest in place (at n = 2000 each extra temporary is 16 MB of peak memory).
  static at::Tensor squaredDistances(const at::Tensor& a, const at::Tensor& x) {
    at::Tensor d2 = torch::mm(a, x.t()).mul_(-2);
    d2.add_(a.pow(2).sum(1, true)).add_(x.pow(2).sum(1).unsqueeze(0));
    return d2.clamp_min_(0);
  }

  // All squared distances of a centred cloud x [n, D] when they fit one block (self-pairs exactly
  // 0); undefined otherwise, and the callers go block by block.
  static at::Tensor fullDistances(const at::Tensor& x) {
    const int64_t n = x.size(0);
    return n <= blockRows(n) ? blockDistances(x, 0, n) : at::Tensor();
  }

  // Median over particles of the distance to the nearest distinct particle (exact duplicates,
  // e.g. CD chains started from resampled data, are skipped; 0 when all coincide). d2full: the
  // full distance matrix when the caller has it.
  static at::Tensor medianNearest(const at::Tensor& x, const at::Tensor& d2full) {
    const int64_t n = x.size(0), block = blockRows(n);
    std::vector<at::Tensor> nearest;
    for (int64_t s = 0; s < n; s += block) {
      const int64_t b = std::min(block, n - s);
      at::Tensor d2 = d2full.defined() ? d2full : blockDistances(x, s, b);
      // itself (zeroed by index) and exact twins; out of place, the caller's matrix is reused
      nearest.push_back(std::get<0>(d2.masked_fill(d2 <= 0, INFINITY).min(1)));
    }
    at::Tensor all = torch::cat(nearest);
    // nanmedian skips the particles with no distinct neighbour; NaN (all coincide) becomes 0.
    at::Tensor med = all.masked_fill(torch::isinf(all), NAN).nanmedian().sqrt();
    return torch::nan_to_num(med, 0.0);
  }

  // Squared distances of rows [s, s + b) to all rows, with exact zeros on the self-pairs.
  static at::Tensor blockDistances(const at::Tensor& x, int64_t s, int64_t b) {
    at::Tensor d2 = squaredDistances(x.narrow(0, s, b), x);
    d2.narrow(1, s, b).diagonal().zero_();
    return d2;
  }

  // Floored relative to the ensemble's spread, so a collapsed ensemble still gets a usable kernel.
  // x: the centred cloud; d2full as for medianNearest.
  at::Tensor autoBandwidth(const at::Tensor& x, const at::Tensor& d2full) const {
    at::Tensor floor = (1e-3 * x.var(0).mean().sqrt()).clamp_min(1e-6);
    return torch::maximum(scale_ * medianNearest(x, d2full), floor);
  }

  // The right-hand side [x, 1/D, x/D] of the one product with each kernel block.
  at::Tensor kernelOperand(const at::Tensor& x, const at::Tensor& d) const {
    return blob_ ? torch::cat({x, d.reciprocal().unsqueeze(1), x / d.unsqueeze(1)}, 1) : x;
  }

  // Repulsion terms for the rows xb [b, D] given the kernel block k [b, n], their D_i and the
  // kernel operand. sum_j K_ij (x_i - x_j) = x_i D_i - (K x)_i, and the same with K_ij / D_j.
  at::Tensor repulsionBlock(const at::Tensor& xb, const at::Tensor& k, const at::Tensor& operand,
                            const at::Tensor& db) const {
    const int64_t dim = xb.size(1);
    at::Tensor kr = torch::matmul(k, operand);
    at::Tensor r = xb - kr.narrow(1, 0, dim) / db.unsqueeze(1);
    if (blob_) r = r + xb * kr.narrow(1, dim, 1) - kr.narrow(1, dim + 1, dim);
    return r;
  }

  // energyOut (optional) receives E at xIn; xc and d2full (optional) are centred(xIn) and its
  // full distance matrix when the caller has them. d2full is consumed: it becomes the kernel.
  at::Tensor velocity(EnergyModel& model, const at::Tensor& xIn, const at::Tensor& h, const at::Tensor& t,
                      at::Tensor* energyOut = nullptr, const at::Tensor& xc = {}, const at::Tensor& d2full = {}) const {
    at::Tensor drift = -model.energyAndGrad(xIn, t, energyOut);
    if (!repulsion_) return drift;
    at::Tensor x = xc.defined() ? xc : centred(xIn);
    const int64_t n = x.size(0);
    const at::Tensor invH2 = (h * h).reciprocal(), negInv2h2 = -0.5 * invH2;
    at::Tensor repulsion;
    const int64_t block = blockRows(n);
    if (n <= block) {
      // One kernel matrix serves both passes; its diagonal is exactly exp(0) = 1. The caller's
      // distance matrix becomes the kernel in place: its last use, and 16 MB less at n = 2000.
      at::Tensor k = (d2full.defined() ? d2full : blockDistances(x, 0, n)).mul_(negInv2h2).exp_();
      at::Tensor d = k.sum(1);
      repulsion = repulsionBlock(x, k, kernelOperand(x, d), d);
    } else {
      // Pass 1: D_i = sum_j K_ij; pass 2: the repulsion, one row block of the kernel at a time.
      std::vector<at::Tensor> dParts, parts;
      for (int64_t s = 0; s < n; s += block) {
        const int64_t b = std::min(block, n - s);
        dParts.push_back(blockDistances(x, s, b).mul_(negInv2h2).exp_().sum(1));
      }
      at::Tensor d = torch::cat(dParts);
      at::Tensor operand = kernelOperand(x, d);
      for (int64_t s = 0; s < n; s += block) {
        const int64_t b = std::min(block, n - s);
        at::Tensor k = blockDistances(x, s, b).mul_(negInv2h2).exp_();
        parts.push_back(repulsionBlock(x.narrow(0, s, b), k, operand, d.narrow(0, s, b)));
      }
      repulsion = torch::cat(parts);
    }
    return drift + (repulsion * invH2).reshape(xIn.sizes());
  }

  int64_t steps_;
  double stepSize_;
  bool blob_, repulsion_;
  double scale_;
  Integrator integrator_;
  double bandwidth_;  // <= 0: automatic
};

}  // namespace

const SamplerKind& gradientFlowKind() {
  static const SamplerKind kind = samplerKind<WgfOptions, GradientFlow>("wgf");
  return kind;
}

}  // namespace ebm
