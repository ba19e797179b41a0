#include "errors.h"
#include "losses/loss_registry.h"

namespace ebm {

std::unique_ptr<Loss> makeLoss(const json::Value& config, const EnergyModel& model) {
  if (!config.isObject()) throw ConfigError("loss must be an object");
  const std::string kind = json::getString(config, "kind", "loss");
  if (kind == "ed") return makeEnergyDiscrepancy(config, model);
  if (kind == "dsm") return makeDenoisingScoreMatching(config, model);
  if (kind == "diffclf") return makeDiffusiveClassification(config, model);
  if (kind == "cd") return makeContrastiveDivergence(config, model);
  if (kind == "ssm") return makeSlicedScoreMatching(config, model);
  if (kind == "ce") return makeCrossEntropy(config, model);
  throw ConfigError("loss.kind must be one of ed, dsm, diffclf, cd, ssm, ce; got '" + kind + "'");
}

}  // namespace ebm
