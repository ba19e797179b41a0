// Constructors of each loss kind; makeLoss() dispatches on config.kind.
#pragma once

#include "losses/loss.h"

namespace ebm {

std::unique_ptr<Loss> makeEnergyDiscrepancy(const json::Value& cfg, const EnergyModel& model);
std::unique_ptr<Loss> makeDenoisingScoreMatching(const json::Value& cfg, const EnergyModel& model);
std::unique_ptr<Loss> makeDiffusiveClassification(const json::Value& cfg, const EnergyModel& model);
std::unique_ptr<Loss> makeContrastiveDivergence(const json::Value& cfg, const EnergyModel& model);
std::unique_ptr<Loss> makeSlicedScoreMatching(const json::Value& cfg, const EnergyModel& model);
std::unique_ptr<Loss> makeCrossEntropy(const json::Value& cfg, const EnergyModel& model);

}  // namespace ebm
