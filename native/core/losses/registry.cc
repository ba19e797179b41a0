#include "errors.h"
#include "kinds.h"
#include "losses/loss_registry.h"

namespace ebm {

namespace {
// The loss kinds: adding one is its .cc and one line here (and its TS schema member).
const KindTable<std::unique_ptr<Loss> (*)(const json::Value&, const EnergyModel&)> kLosses = {
    {"ed", makeEnergyDiscrepancy},     {"dsm", makeDenoisingScoreMatching}, {"diffclf", makeDiffusiveClassification},
    {"cd", makeContrastiveDivergence}, {"ssm", makeSlicedScoreMatching},    {"ce", makeCrossEntropy},
};
}  // namespace

std::vector<std::string> lossKinds() { return kindNames(kLosses); }

std::unique_ptr<Loss> makeLoss(const json::Value& config, const EnergyModel& model) {
  if (!config.isObject()) throw ConfigError("loss must be an object");
  const std::string kind = json::getString(config, "kind", "loss");
  for (const auto& entry : kLosses)
    if (kind == entry.kind) return entry.make(config, model);
  throw ConfigError("loss.kind must be one of " + joinKinds(kLosses) + "; got '" + kind + "'");
}

}  // namespace ebm
