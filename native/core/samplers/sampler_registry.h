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
// Per-chain broadcast shape [n, 1, ...] for a batch x.
std::vector<int64_t> chainShape(const at::Tensor& x);

}  // namespace ebm
