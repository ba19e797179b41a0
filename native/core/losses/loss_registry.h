// The loss kinds, each defined in its own .cc; registry.cc lists them once.
#pragma once

#include <memory>

#include "io/fields.h"
#include "losses/loss.h"

namespace ebm {

template <typename Options, typename LossT>
LossKind lossKind(const char* kind, LossTraits traits, double recommendedGradClip) {
  return {kind,
          [](const json::Value& config, const EnergyModel& model) -> std::unique_ptr<Loss> {
            return std::make_unique<LossT>(readOptions<Options>(config, "loss"), model);
          },
          defaultsOf<Options>,
          fieldNamesOf<Options>,
          recommendedGradClip,
          std::move(traits)};
}

const LossKind& energyDiscrepancyKind();
const LossKind& denoisingScoreMatchingKind();
const LossKind& diffusiveClassificationKind();
const LossKind& contrastiveDivergenceKind();
const LossKind& slicedScoreMatchingKind();
const LossKind& crossEntropyKind();

}  // namespace ebm
