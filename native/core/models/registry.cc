#include <torch/torch.h>

#include "errors.h"
#include "kinds.h"
#include "models/model_registry.h"
#include "tensor_util.h"

namespace ebm {

namespace {
// The model kinds: adding one is its .cc and one line here (and its TS schema member).
const KindTable<std::shared_ptr<EnergyModel> (*)(const json::Value&, c10::Device)> kModels = {
    {"mlp", makeMlp},       {"convnet", makeConvNet},         {"gaussian", makeGaussian},
    {"gmm", makeMixture},   {"doublewell", makeDoubleWell},   {"classifier", makeClassifier},
    {"latent", makeLatent}, {"torchscript", makeTorchScript}, {"compose", makeComposition},
};
}  // namespace

std::vector<std::string> modelKinds() { return kindNames(kModels); }

std::shared_ptr<EnergyModel> makeModel(const json::Value& config) {
  if (!config.isObject()) throw ConfigError("model config must be an object");
  const std::string kind = json::getString(config, "kind", "model");
  const c10::Device device = resolveDevice(json::getString(config, "device", "model", "auto"));
  for (const auto& entry : kModels)
    if (kind == entry.kind) return entry.make(config, device);
  throw ConfigError("model.kind must be one of: " + joinKinds(kModels) + "; got '" + kind + "'");
}

}  // namespace ebm
