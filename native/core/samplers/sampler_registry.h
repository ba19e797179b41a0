// The sampler kinds, each defined in its own .cc, and helpers they share; registry.cc lists them once.
#pragma once

#include <memory>

#include "io/fields.h"
#include "noise_path.h"
#include "samplers/sampler.h"

namespace ebm {

// The fields every sampler has.
struct ChainOptions {
  int64_t steps{};
  double stepSize{};
};
template <typename Fields>
void describe(Fields& f, ChainOptions& o) {
  f.required("steps", o.steps);
  f.required("stepSize", o.stepSize);
}

// A kind whose sampler class SamplerT is built from Options, read from the config.
template <typename Options, typename SamplerT>
SamplerKind samplerKind(const char* kind, SamplerTraits traits = {}) {
  return {kind,
          [](const json::Value& config, const std::string& where) -> std::unique_ptr<Sampler> {
            return std::make_unique<SamplerT>(readOptions<Options>(config, where));
          },
          defaultsOf<Options>, fieldNamesOf<Options>, traits};
}

const SamplerKind& langevinKind();
const SamplerKind& malaKind();
const SamplerKind& hmcKind();
const SamplerKind& annealedLangevinKind();
const SamplerKind& gradientFlowKind();
const SamplerKind& smcKind();

// The times of `levels` levels of a time-conditioned model from t = 1 down to path.tMin: on a
// model trained on a grid of levels with this tMin, grid levels (those nearest an even spread),
// so chains never visit a time the model was not trained at; else evenly spaced. float64, CPU.
at::Tensor levelSchedule(const EnergyModel& model, const NoisePath& path, int64_t levels);

// Cancellation check and progress report; call once per step with the steps done so far.
void stepDone(const SampleOptions& options, int64_t done);
void throwIfCancelled(const SampleOptions& options);
// Records the chains' mean energy e.mean() after step `done` of `total` into r.energyTrace,
// preallocated; long runs keep every k-th step so the trace stays under 100 000 entries.
void recordEnergy(SampleResult& r, int64_t done, int64_t total, const at::Tensor& energies);
// Per-chain broadcast shape [n, 1, ...] for a batch x.
std::vector<int64_t> chainShape(const at::Tensor& x);

}  // namespace ebm
