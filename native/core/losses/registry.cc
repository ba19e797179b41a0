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

json::Value lossTraits() {
  json::Value out = json::Value::object();
  for (auto entry : kLosses) {
    const LossKind& k = entry();
    const LossTraits& t = k.traits;
    json::Value time = t.timeConditioned == LossTime::Never      ? json::Value(false)
                       : t.timeConditioned == LossTime::Always   ? json::Value(true)
                       : t.timeConditioned == LossTime::WithPath ? json::Value("withPath")
                                                                 : json::Value("any");
    json::Value metrics = json::Value::array();
    for (const char* m : t.metrics) metrics.push_back(m);
    out[k.kind] = {
        {"timeConditioned", time},      {"labels", t.labels}, {"model", t.model ? json::Value(t.model) : json::Value()},
        {"latentPrior", t.latentPrior}, {"metrics", metrics}, {"options", k.options()}};
  }
  return out;
}

const LossKind& lossKindOf(const json::Value& config) { return findKind(kLosses, config, "loss"); }

std::unique_ptr<Loss> makeLoss(const json::Value& config, const EnergyModel& model) {
  return lossKindOf(config).make(config, model);
}

}  // namespace ebm
