// Sequential Monte Carlo sampler (Del Moral, Doucet & Jasra 2006), which with resampling switched
// off is annealed importance sampling (Neal 2001). Particles start from a base q and are carried
// through densities pi_1 .. pi_K:
//   - a time-conditioned model: pi_k ∝ exp(-E(x, t_k)) on its own levels from t = 1 to tMin (the
//     grid levels, as the annealed sampler picks them); q = N(0, (alpha_1^2 + gamma_1^2) I), the
//     t = 1 marginal of standardised data, and the first weight is -E(x, t_1) - log q(x);
//   - an untimed energy: the geometric bridge pi_b ∝ q^(1-b) exp(-b E) from q = N(0, std^2 I) at
//     b = 0, with b_k = (k / K)^4 (dense near the base, where the bridge changes fastest).
// At each level the particles are reweighted by pi_k / pi_{k-1} at their current positions,
// resampled when the ESS falls under essThreshold · n, then moved by `steps` MCMC steps that
// leave pi_k invariant (any sampler of the registry, run on pi_k as the model). The step size
// starts at stepSize on the first level, is fixed within a level and adapted between levels
// towards targetAccept, so every move is an exact pi_k-invariant kernel and the weights stay
// valid. (No annealed-style gamma_t^2 scaling: for data whose modes have a width of their own it
// makes the late levels' steps far too small; the marginal variance along a VP path stays ~1.)
// The moves hand their final energies and gradients on (ChainState): the bridge's next level
// follows from them with no evaluation, a timed model's by one evaluation at the next t.
// log Z accumulates the mean weight at each resampling and at the end; with a `target` the final
// particles are reweighted by exp(-E_target) / exp(-E_K) (the Boltzmann-generator correction) and
// log Z is the target's.
#include <torch/torch.h>

#include <cmath>

#include "errors.h"
#include "samplers/sampler_registry.h"

namespace ebm {
namespace {

enum class Move { Mala, Langevin, Hmc };
const std::vector<Choice<Move>>& choicesOf(Move) {
  static const std::vector<Choice<Move>> c{{"mala", Move::Mala}, {"langevin", Move::Langevin}, {"hmc", Move::Hmc}};
  return c;
}
enum class Resampling { Systematic, Multinomial };
const std::vector<Choice<Resampling>>& choicesOf(Resampling) {
  static const std::vector<Choice<Resampling>> c{{"systematic", Resampling::Systematic},
                                                 {"multinomial", Resampling::Multinomial}};
  return c;
}

struct BaseOptions {
  double std = 1.0;
};
template <typename Fields>
void describe(Fields& f, BaseOptions& o) {
  f.optional("std", o.std);
}

struct SmcOptions : ChainOptions {
  int64_t levels = 100;
  Move mcmc = Move::Mala;
  int64_t leapfrogSteps = 5;  // hmc moves
  double targetAccept = 0.65;
  double adaptRate = 0.5;  // log step += adaptRate · (mean acceptance - targetAccept) after each level
  double essThreshold = 0.5;
  Resampling resampling = Resampling::Systematic;
  BaseOptions base;  // the untimed bridge's base N(0, std^2 I)
  NoisePath path;    // a time-conditioned model's path (its kind under "path")
};
template <typename Fields>
void describe(Fields& f, SmcOptions& o) {
  describe(f, static_cast<ChainOptions&>(o));
  f.optional("levels", o.levels);
  f.optional("mcmc", o.mcmc);
  f.optional("leapfrogSteps", o.leapfrogSteps);
  f.optional("targetAccept", o.targetAccept);
  f.optional("adaptRate", o.adaptRate);
  f.optional("essThreshold", o.essThreshold);
  f.optional("resampling", o.resampling);
  f.optional("base", o.base);
  f.optional("path", o.path.kind);
  describe(f, o.path);
}

at::Tensor rowSquares(const at::Tensor& x) { return x.pow(2).reshape({x.size(0), -1}).sum(1); }

// pi_b's energy b E(x) + (1 - b) |x|^2 / (2 std^2) as a model, so the registry's samplers move
// particles on it with the inner model's own (fused) gradient.
class BridgeEnergy : public EnergyModel {
 public:
  BridgeEnergy(EnergyModel& inner, double beta, double baseStd)
      : EnergyModel(inner.config(), inner.eventShape(), inner.device()),
        inner_(inner),
        beta_(beta),
        invVar_(1.0 / (baseStd * baseStd)) {}

  at::Tensor energy(const at::Tensor& x, const at::Tensor& t) override {
    return beta_ * inner_.energy(x, t) + (1 - beta_) * 0.5 * invVar_ * rowSquares(x);
  }
  at::Tensor energyAndGrad(const at::Tensor& x, const at::Tensor& t, at::Tensor* energyOut) override {
    at::Tensor e, g = inner_.energyAndGrad(x, t, &e);
    if (energyOut) *energyOut = beta_ * e + (1 - beta_) * 0.5 * invVar_ * rowSquares(x);
    return beta_ * g + (1 - beta_) * invVar_ * x;
  }

 private:
  EnergyModel& inner_;
  double beta_, invVar_;
};

double logSumExp(const at::Tensor& v) { return torch::logsumexp(v.to(torch::kFloat64), 0).item<double>(); }

// Indices of n draws from the normalised weights exp(logw).
at::Tensor resampleIndices(const at::Tensor& logw, Resampling how, at::Generator& gen) {
  const int64_t n = logw.size(0);
  at::Tensor w = torch::softmax(logw.to(torch::kFloat64), 0);
  if (how == Resampling::Multinomial) return torch::multinomial(w, n, /*replacement=*/true, gen);
  // Systematic: one uniform offset, n evenly spaced points through the cumulative weights.
  at::Tensor u = (torch::arange(n, w.options()) + torch::rand({1}, gen, w.options())) / static_cast<double>(n);
  at::Tensor cdf = torch::cumsum(w, 0);
  cdf.select(0, n - 1).fill_(1.0);  // rounding must not leave the last point past the end
  return torch::searchsorted(cdf, u).clamp_max(n - 1);
}

class Smc : public Sampler {
 public:
  explicit Smc(const SmcOptions& o) : o_(o) {}

  int64_t steps() const override { return o_.steps * o_.levels; }

  at::Tensor defaultInit(EnergyModel& model, int64_t n, at::Generator& gen) const override {
    return baseStd(model) * Sampler::defaultInit(model, n, gen);
  }

  SampleResult run(EnergyModel& model, const at::Tensor& x0, at::Generator& gen, const SampleOptions& so) override {
    torch::NoGradGuard noGrad;
    const bool timed = model.timeConditioned();
    const int64_t n = x0.size(0);
    const double s = baseStd(model);
    at::Tensor x = x0.detach().clone();
    const int64_t d = x.numel() / std::max<int64_t>(1, n);
    const double logNorm = 0.5 * static_cast<double>(d) * std::log(2 * M_PI * s * s);     // q's normaliser
    auto quadratic = [&](const at::Tensor& v) { return 0.5 * rowSquares(v) / (s * s); };  // -log q(v) - logNorm
    at::Tensor times = timed ? levelSchedule(model, o_.path, o_.levels) : at::Tensor();
    auto timeAt = [&](int64_t k) { return torch::full({n}, times[k].item<double>(), x.options()); };
    auto beta = [&](int64_t k) { return std::pow(static_cast<double>(k + 1) / static_cast<double>(o_.levels), 4); };
    // pi_k's energy and gradient at v, as the moves see them (timed: E(v, t_k); the bridge:
    // b_k E(v) + (1 - b_k) |v|^2 / (2 s^2)), by one evaluation of the model.
    auto evaluate = [&](int64_t k, const at::Tensor& v) -> ChainState {
      ChainState st;
      if (timed) {
        st.grad = model.energyAndGrad(v, timeAt(k), &st.energy);
        return st;
      }
      at::Tensor e, g = model.energyAndGrad(v, at::Tensor(), &e);
      const double b = beta(k);
      st.energy = b * e + (1 - b) * quadratic(v);
      st.grad = b * g + ((1 - b) / (s * s)) * v;
      return st;
    };
    // -log pi_k(v) up to the level's normaliser: the bridge's energy plus q's share of log Z_0
    auto unnormalised = [&](int64_t k, const at::Tensor& energy) {
      return timed ? energy : energy + (1 - beta(k)) * logNorm;
    };

    SampleResult r;
    at::Tensor logw = torch::zeros({n}, x.options().dtype(torch::kFloat64));
    at::Tensor previous = quadratic(x) + logNorm;  // level "0": the base itself, normalised (Z_0 = 1)
    ChainState state;                              // pi_k's energy and gradient at x
    bool carried = false;                          // state holds the previous level's moves' values
    double logZ = 0, logStep = std::log(o_.stepSize);
    std::vector<at::Tensor> levelEnergies;
    for (int64_t k = 0; k < o_.levels; ++k) {
      if (carried) {
        // The bridge is linear in b, so pi_k's energy and gradient follow from pi_{k-1}'s and x with
        // no evaluation: U_k = rho U_{k-1} + (1 - rho) |x|^2 / (2 s^2), rho = b_k / b_{k-1} <= 16.
        const double rho = beta(k) / beta(k - 1);
        state.energy = rho * state.energy + (1 - rho) * quadratic(x);
        state.grad = rho * state.grad + ((1 - rho) / (s * s)) * x;
      } else {
        state = evaluate(k, x);
      }
      at::Tensor current = unnormalised(k, state.energy);
      at::Tensor delta = (previous - current).to(torch::kFloat64);
      if (torch::isnan(delta).any().item<bool>())
        throw NumericsError("smc: the energy is NaN at level " + std::to_string(k + 1) + " of " +
                            std::to_string(o_.levels) + levelWhere(times, k));
      logw = logw + delta.nan_to_num(-INFINITY, -INFINITY, -INFINITY);
      const double lse = logSumExp(logw);
      if (!std::isfinite(lse))
        throw NumericsError("smc: every particle's weight underflowed at level " + std::to_string(k + 1) + " of " +
                            std::to_string(o_.levels) + levelWhere(times, k) +
                            "; use more levels or a base closer to the model");
      const double ess = effectiveSize(logw);
      r.essPerLevel.push_back(ess);
      if (ess < o_.essThreshold) {
        logZ += lse - std::log(static_cast<double>(n));
        at::Tensor idx = resampleIndices(logw, o_.resampling, gen).to(x.device());
        x = x.index_select(0, idx);
        state.energy = state.energy.index_select(0, idx);
        state.grad = state.grad.index_select(0, idx);
        logw = torch::zeros_like(logw);
        r.resampledAt.push_back(k);
      }
      // the moves: pi_k-invariant, with this level's step size fixed, from the state just computed
      SampleResult moved =
          moveParticles(model, x, timed ? timeAt(k) : at::Tensor(), beta(k), s, std::exp(logStep), gen, so, k, state);
      x = moved.x;
      double accept = std::nan("");  // unadjusted Langevin accepts every move
      if (moved.acceptRate.defined()) {
        accept = moved.acceptRate.mean().item<double>();
        logStep += o_.adaptRate * (accept - o_.targetAccept);
      }
      r.levelAccept.push_back(accept);
      previous = unnormalised(k, moved.energy);
      // a timed model's next level is at another t, which needs an evaluation
      carried = !timed && moved.grad.defined();
      if (carried) state = ChainState{moved.energy, moved.grad};
      if (so.returnTrajectory && (k + 1) % so.thin == 0) r.trajectory.push_back(x);
      levelEnergies.push_back(previous.mean().reshape({1}));
      reportProgress(so, (k + 1) * o_.steps);
    }
    // the last level is the model itself (timed: t = tMin; the bridge: b = 1), whose energies the
    // moves returned
    at::Tensor finalEnergy = previous;
    if (so.target) {
      at::Tensor targetEnergy = so.target->energy(x, at::Tensor());
      logw = logw + (finalEnergy - targetEnergy).to(torch::kFloat64);
      if (torch::isnan(logw).any().item<bool>()) throw NumericsError("smc: the target's energy is NaN at a particle");
      finalEnergy = targetEnergy;
    }
    const double lse = logSumExp(logw);
    if (!std::isfinite(lse))
      throw NumericsError("smc: every particle's weight underflowed in the final reweighting against the target");
    r.logZ = logZ + lse - std::log(static_cast<double>(n));
    r.logWeights = (logw - lse).to(torch::kFloat32);
    r.ess = effectiveSize(logw);
    r.x = x;
    r.energy = finalEnergy.detach();
    r.stepSize = torch::full({}, std::exp(logStep), x.options());
    r.energyTrace = torch::cat(levelEnergies);
    if (timed) r.levelTimes = times;
    return r;
  }

 private:
  double baseStd(const EnergyModel& model) const {
    if (!model.timeConditioned()) return o_.base.std;
    at::Tensor one = torch::ones({1}, torch::kFloat64);
    return torch::sqrt(o_.path.alpha(one).pow(2) + o_.path.gamma(one).pow(2)).item<double>();
  }

  static std::string levelWhere(const at::Tensor& times, int64_t k) {
    return times.defined() ? " (t = " + std::to_string(times[k].item<double>()) + ")" : "";
  }

  // (sum w)^2 / sum w^2 / n, from log weights
  static double effectiveSize(const at::Tensor& logw) {
    at::Tensor l = logw.to(torch::kFloat64);
    return std::exp(2 * torch::logsumexp(l, 0).item<double>() - torch::logsumexp(2 * l, 0).item<double>()) /
           static_cast<double>(l.size(0));
  }

  // `steps` moves of the chosen kernel at one level, through the sampler registry.
  SampleResult moveParticles(EnergyModel& model, const at::Tensor& x, const at::Tensor& t, double beta, double baseStd,
                             double stepSize, at::Generator& gen, const SampleOptions& so, int64_t level,
                             const ChainState& start) const {
    json::Value config = {{"kind", nameOf(o_.mcmc)}, {"steps", o_.steps}, {"stepSize", stepSize}};
    if (o_.mcmc == Move::Hmc) config["leapfrogSteps"] = o_.leapfrogSteps;
    std::unique_ptr<Sampler> kernel = makeSampler(config, "sampler.mcmc (level " + std::to_string(level + 1) + ")");
    SampleOptions inner;
    inner.t = t;
    inner.cancel = so.cancel;
    inner.start = &start;
    if (model.timeConditioned()) return kernel->run(model, x, gen, inner);
    BridgeEnergy bridge(model, beta, baseStd);
    return kernel->run(bridge, x, gen, inner);
  }

  static void reportProgress(const SampleOptions& so, int64_t done) {
    throwIfCancelled(so);
    if (so.onStep && so.progressEvery > 0) so.onStep(done);
  }

  SmcOptions o_;
};

}  // namespace

const SamplerKind& smcKind() {
  static const SamplerKind kind =
      samplerKind<SmcOptions, Smc>("smc", {SamplerTime::Path, /*stepsPer=*/"levels", /*weighted=*/true});
  return kind;
}

}  // namespace ebm
