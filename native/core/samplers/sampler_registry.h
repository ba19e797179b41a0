// Constructors of each sampler kind and helpers they share; makeSampler() dispatches on kind.
#pragma once

#include "samplers/sampler.h"

namespace ebm {

std::unique_ptr<Sampler> makeLangevin(const json::Value& cfg, const std::string& where);

void checkSteps(int64_t steps, const std::string& where);
void throwIfCancelled(const SampleOptions& options);

}  // namespace ebm
