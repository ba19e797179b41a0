// Metropolis-corrected samplers; each chain (row) accepts or rejects on its own.
//   MALA: y = x - eta grad E(x) + sqrt(2 eta) xi, accepted with prob
//         min(1, exp(E(x) - E(y) + log q(x|y) - log q(y|x))), q(b|a) = N(b; a - eta grad E(a), 2 eta I).
//   HMC:  p ~ N(0, I), L leapfrog steps of size eps on H = E(x) + |p|^2 / 2, accepted with
//         prob min(1, exp(H_0 - H_L)). Each chain's eps is jittered every iteration by a factor
//         U(1 - jitter, 1 + jitter): a fixed trajectory length can sit near a half-period of some
//         direction and then barely moves along it.
// Optional adaptation during the first adaptSteps steps moves each chain's log step size by
// adaptRate * (acceptance probability - targetAccept); acceptRate reports the steps after it.
#include <torch/torch.h>

#include <cmath>

#include "errors.h"
#include "samplers/sampler_registry.h"

namespace ebm {
namespace {

// Step-size adaptation during the first adaptSteps steps; targetAccept's default is per sampler.
struct Adaptation {
  int64_t steps = 0;
  double target;
  double rate = 0.05;

  // Updates log step sizes in place while adapting; returns whether this step counts for acceptRate.
  bool update(int64_t k, at::Tensor& logStep, const at::Tensor& acceptProb) const {
    if (k >= steps) return true;
    logStep.add_(rate * (acceptProb - target));
    return false;
  }
};

at::Tensor rowSum(const at::Tensor& v) { return v.reshape({v.size(0), -1}).sum(1); }

// Chain states with their energies, gradients and step sizes, and the shared accept step.
struct Chains {
  at::Tensor x, energy, grad, logStep, accepted;
  int64_t counted = 0;
  int64_t total;
  std::vector<int64_t> bshape;

  Chains(EnergyModel& model, const at::Tensor& x0, double stepSize, const SampleOptions& o, int64_t totalSteps)
      : x(x0.detach().clone()), total(totalSteps), bshape(chainShape(x0)) {
    if (o.start) {
      energy = o.start->energy;
      grad = o.start->grad;
    } else {
      grad = model.energyAndGrad(x, o.t, &energy);
    }
    logStep = torch::full({x.size(0)}, std::log(stepSize), x.options());
    accepted = torch::zeros({x.size(0)}, x.options());
  }

  // Accepts the proposal y (energy ey, gradient gy) per chain with log-probability logA, then
  // adapts, records and reports step k.
  void acceptStep(int64_t k, const at::Tensor& y, const at::Tensor& ey, const at::Tensor& gy, at::Tensor logA,
                  at::Generator& gen, const Adaptation& adapt, const SampleOptions& o, SampleResult& r) {
    logA = logA.nan_to_num(-INFINITY);
    at::Tensor accept = torch::log(torch::rand({x.size(0)}, gen, x.options())) < logA;
    at::Tensor keep = accept.reshape(bshape);
    x = torch::where(keep, y, x);
    grad = torch::where(keep, gy, grad);
    energy = torch::where(accept, ey, energy);
    recordEnergy(r, k + 1, total, energy);
    if (adapt.update(k, logStep, torch::exp(torch::clamp_max(logA, 0.0)))) {
      accepted += accept.to(x.scalar_type());
      ++counted;
    }
    if (o.returnTrajectory && (k + 1) % o.thin == 0) r.trajectory.push_back(x);
    stepDone(o, k + 1);
  }

  void finish(SampleResult& r) const {
    r.x = x;
    r.energy = energy;
    r.grad = grad;
    r.acceptRate = accepted / static_cast<double>(std::max<int64_t>(1, counted));
    r.stepSize = logStep.exp();
  }
};

template <typename Fields>
void describe(Fields& f, Adaptation& a) {
  f.optional("adaptSteps", a.steps);
  f.optional("targetAccept", a.target);
  f.optional("adaptRate", a.rate);
}

struct MalaOptions : ChainOptions {
  Adaptation adapt{0, 0.574};
};
template <typename Fields>
void describe(Fields& f, MalaOptions& o) {
  describe(f, static_cast<ChainOptions&>(o));
  describe(f, o.adapt);
}

struct HmcOptions : ChainOptions {
  int64_t leapfrogSteps = 10;
  double jitter = 0.2;
  Adaptation adapt{0, 0.65};
};
template <typename Fields>
void describe(Fields& f, HmcOptions& o) {
  describe(f, static_cast<ChainOptions&>(o));
  f.optional("leapfrogSteps", o.leapfrogSteps);
  f.optional("jitter", o.jitter);
  describe(f, o.adapt);
}

class Mala : public Sampler {
 public:
  explicit Mala(const MalaOptions& o) : steps_(o.steps), stepSize_(o.stepSize), adapt_(o.adapt) {}

  int64_t steps() const override { return steps_; }

  SampleResult run(EnergyModel& model, const at::Tensor& x0, at::Generator& gen, const SampleOptions& o) override {
    torch::NoGradGuard noGrad;
    Chains c(model, x0, stepSize_, o, steps_);
    const int64_t n = x0.size(0);
    SampleResult r;
    for (int64_t k = 0; k < steps_; ++k) {
      at::Tensor eta = c.logStep.exp().reshape(c.bshape);
      at::Tensor y = c.x - eta * c.grad + torch::sqrt(2 * eta) * torch::randn(c.x.sizes(), gen, c.x.options());
      at::Tensor ey, gy = model.energyAndGrad(y, o.t, &ey);
      at::Tensor logQyx = -rowSum((y - c.x + eta * c.grad).pow(2)) / (4 * eta.reshape({n}));
      at::Tensor logQxy = -rowSum((c.x - y + eta * gy).pow(2)) / (4 * eta.reshape({n}));
      c.acceptStep(k, y, ey, gy, c.energy - ey + logQxy - logQyx, gen, adapt_, o, r);
    }
    c.finish(r);
    return r;
  }

 private:
  int64_t steps_;
  double stepSize_;
  Adaptation adapt_;
};

class Hmc : public Sampler {
 public:
  explicit Hmc(const HmcOptions& o)
      : steps_(o.steps), stepSize_(o.stepSize), leapfrog_(o.leapfrogSteps), jitter_(o.jitter), adapt_(o.adapt) {}

  int64_t steps() const override { return steps_; }

  SampleResult run(EnergyModel& model, const at::Tensor& x0, at::Generator& gen, const SampleOptions& o) override {
    torch::NoGradGuard noGrad;
    Chains c(model, x0, stepSize_, o, steps_);
    const int64_t n = x0.size(0);
    SampleResult r;
    for (int64_t k = 0; k < steps_; ++k) {
      at::Tensor eps = c.logStep.exp();
      if (jitter_ > 0) eps = eps * (1 + jitter_ * (2 * torch::rand({n}, gen, c.x.options()) - 1));
      eps = eps.reshape(c.bshape);
      at::Tensor p = torch::randn(c.x.sizes(), gen, c.x.options());
      at::Tensor h0 = c.energy + 0.5 * rowSum(p * p);
      at::Tensor y = c.x, gy = c.grad, ey;
      p = p - 0.5 * eps * gy;
      for (int64_t l = 0; l < leapfrog_; ++l) {
        y = y + eps * p;
        gy = model.energyAndGrad(y, o.t, &ey);
        p = p - (l + 1 < leapfrog_ ? 1.0 : 0.5) * eps * gy;
      }
      c.acceptStep(k, y, ey, gy, h0 - (ey + 0.5 * rowSum(p * p)), gen, adapt_, o, r);
    }
    c.finish(r);
    return r;
  }

 private:
  int64_t steps_;
  double stepSize_;
  int64_t leapfrog_;
  double jitter_;
  Adaptation adapt_;
};

}  // namespace

const SamplerKind& malaKind() {
  static const SamplerKind kind = samplerKind<MalaOptions, Mala>("mala");
  return kind;
}

const SamplerKind& hmcKind() {
  static const SamplerKind kind = samplerKind<HmcOptions, Hmc>("hmc");
  return kind;
}

}  // namespace ebm
