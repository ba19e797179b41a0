#include "errors.h"
#include "kinds.h"
#include "losses/loss_registry.h"

namespace ebm {

namespace {
// The loss kinds: adding one is its .cc, its line here and in loss_registry.h (and its TS schema).
const std::vector<const LossKind& (*)()> kLosses = {
    energyDiscrepancyKind,     denoisingScoreMatchingKind, diffusiveClassificationKind,
    contrastiveDivergenceKind, slicedScoreMatchingKind,    crossEntropyKind,
};
}  // namespace

std::vector<std::string> lossKinds() { return kindNames(kLosses); }

json::Value lossDefaults() {
  json::Value out = json::Value::object();
  for (auto entry : kLosses) out[entry().kind] = entry().defaults();
  return out;
}

json::Value lossGradClips() {
  json::Value out = json::Value::object();
  for (auto entry : kLosses) out[entry().kind] = entry().recommendedGradClip;
  return out;
}

const LossKind& lossKindOf(const json::Value& config) {
  if (!config.is_object()) throw ConfigError("loss must be an object");
  const std::string kind = json::getString(config, "kind", "loss");
  for (auto entry : kLosses)
    if (kind == entry().kind) return entry();
  throw ConfigError("loss.kind must be one of " + joinKinds(kLosses) + "; got '" + kind + "'");
}

std::unique_ptr<Loss> makeLoss(const json::Value& config, const EnergyModel& model) {
  return lossKindOf(config).make(config, model);
}

}  // namespace ebm
