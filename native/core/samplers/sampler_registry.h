// Constructors of each sampler kind and helpers they share; makeSampler() dispatches on kind.
#pragma once

#include "samplers/sampler.h"

namespace ebm {

std::unique_ptr<Sampler> makeLangevin(const json::Value& cfg, const std::string& where);
std::unique_ptr<Sampler> makeMala(const json::Value& cfg, const std::string& where);
std::unique_ptr<Sampler> makeHmc(const json::Value& cfg, const std::string& where);
std::unique_ptr<Sampler> makeAnnealedLangevin(const json::Value& cfg, const std::string& where);
std::unique_ptr<Sampler> makeGradientFlow(const json::Value& cfg, const std::string& where);

void checkSteps(int64_t steps, const std::string& where);
double checkStepSize(const json::Value& cfg, const std::string& where);
// Cancellation check and progress report; call once per step with the steps done so far.
void stepDone(const SampleOptions& options, int64_t done);
void throwIfCancelled(const SampleOptions& options);
// Records the chains' mean energy e.mean() after step `done` of `total` into r.energyTrace,
// preallocated; long runs keep every k-th step so the trace stays under 100 000 entries.
void recordEnergy(SampleResult& r, int64_t done, int64_t total, const at::Tensor& energies);
// Per-chain broadcast shape [n, 1, ...] for a batch x.
std::vector<int64_t> chainShape(const at::Tensor& x);

}  // namespace ebm
