// The one sampler interface: chains are the batch dimension; diagnostics are tensors read once
// per call, never per step.
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "io/json.h"
#include "models/energy_model.h"

namespace ebm {

// The model's energies [chains] and gradients at the chains' states, carried from one kernel run
// into the next (SMC's levels) so that a kernel does not evaluate again what the caller has.
struct ChainState {
  at::Tensor energy, grad;
};

struct SampleOptions {
  at::Tensor t;  // fixed time for time-conditioned models (undefined otherwise)
  bool returnTrajectory = false;
  int64_t thin = 1;                           // keep every thin-th state in the trajectory
  const std::atomic<bool>* cancel = nullptr;  // checked every step; throws AbortedError when set
  std::function<void(int64_t step)> onStep;   // called after every progressEvery-th step
  int64_t progressEvery = 0;                  // 0: no progress calls
  EnergyModel* target = nullptr;              // SMC: the energy the final particles are reweighted against
  const ChainState* start = nullptr;          // the energy and gradient at x0 (at t), where the caller has them
};

struct SampleResult {
  at::Tensor x;           // final states [chains, ...]
  at::Tensor energy;      // final energies [chains]
  at::Tensor grad;        // the gradient at the final states, for the kernels that keep it (MALA, HMC)
  at::Tensor acceptRate;  // per chain, for samplers with an accept step (else undefined)
  at::Tensor stepSize;    // per chain final step size (adaptive samplers) or scalar
  std::vector<at::Tensor> trajectory;
  // Mean energy over the chains per recorded step (at most kMaxTrace entries), on the device
  // until sampleModel moves it.
  at::Tensor energyTrace;
  // The annealed sampler: the time of each level it ran, from the noisiest (float64, CPU).
  at::Tensor levelTimes;
  // SMC: normalised log importance weights [n] (logsumexp 0), the estimate of log Z, the final
  // ESS (fraction of n), the ESS after each level's reweighting, the levels it resampled after
  // (0-based), and each level's mean acceptance rate of the moves.
  at::Tensor logWeights;
  double logZ = 0, ess = 0;
  std::vector<double> essPerLevel, levelAccept;
  std::vector<int64_t> resampledAt;
};

class Sampler {
 public:
  virtual ~Sampler() = default;
  virtual SampleResult run(EnergyModel& model, const at::Tensor& x0, at::Generator& gen,
                           const SampleOptions& options) = 0;
  virtual int64_t steps() const = 0;
  // Where chains start when the caller gives no init: N(0, I) unless the sampler knows better.
  virtual at::Tensor defaultInit(EnergyModel& model, int64_t n, at::Generator& gen) const;
};

// One sampler kind: its name, a factory from its config (`where` names it in errors, e.g.
// "loss.sampler"), and the defaults of its optional fields.
// What a sampler kind does with time, declared once with the kind; the TS façade, the CLI and
// sampleModel read it instead of naming kinds.
enum class SamplerTime {
  Fixed,   // runs at one time: a time-conditioned model needs the caller's t
  Levels,  // follows a time-conditioned model's own levels from t = 1 to tMin; needs one, takes no t
  Path,    // follows a path of its own to any model (a time-conditioned one's levels); takes no t
};
struct SamplerTraits {
  SamplerTime time = SamplerTime::Fixed;
  const char* stepsPer = nullptr;  // the option multiplying `steps` into the run's total (annealed: "levels")
  bool weighted = false;           // returns weighted particles, and reweights them against SampleOptions::target
};

struct SamplerKind {
  const char* kind;
  std::unique_ptr<Sampler> (*make)(const json::Value& config, const std::string& where);
  json::Value (*defaults)();
  std::vector<std::string> (*options)();  // every field the kind's config reads
  SamplerTraits traits;
};

// The kind named by config.kind (ConfigError listing the kinds otherwise).
const SamplerKind& samplerKindOf(const json::Value& config, const std::string& where);
std::unique_ptr<Sampler> makeSampler(const json::Value& config, const std::string& where);

// What sample() asks for besides the tensors (the validated options of lib/sample.ts).
struct SampleRequest {
  json::Value sampler;
  int64_t n{};  // chains (init's rows, or drawn from the sampler's default start)
  int64_t seed = 0;
  bool returnTrajectory = false;
  int64_t thin = 1;
  int64_t progressEvery = 0;
};
template <typename Fields>
void describe(Fields& f, SampleRequest& r) {
  f.required("sampler", r.sampler);
  f.required("n", r.n);
  f.optional("seed", r.seed);
  f.optional("returnTrajectory", r.returnTrajectory);
  f.optional("thin", r.thin);
  f.optional("progressEvery", r.progressEvery);
}

// A whole sampling job: locks the model, builds the sampler, checks or draws the initial states
// (init [n, ...] or n chains from the sampler's default), runs it; results on the CPU.
SampleResult sampleModel(EnergyModel& model, const json::Value& samplerConfig, const at::Tensor& init, int64_t n,
                         uint64_t seed, SampleOptions options);

}  // namespace ebm
