#include <torch/torch.h>

#include "errors.h"
#include "kinds.h"
#include "models/model_registry.h"
#include "tensor_util.h"

namespace ebm {

namespace {
const char* kDefaultDevice = "auto";
// The model kinds: adding one is its .cc and one line here (and its TS schema member).
const KindTable<std::shared_ptr<EnergyModel> (*)(const json::Value&, c10::Device)> kModels = {
    {"mlp", makeMlp, mlpDefaults},
    {"convnet", makeConvNet, convNetDefaults},
    {"gaussian", makeGaussian, gaussianDefaults},
    {"gmm", makeMixture, mixtureDefaults},
    {"doublewell", makeDoubleWell, doubleWellDefaults},
    {"classifier", makeClassifier, classifierDefaults},
    {"latent", makeLatent, latentDefaults},
    {"torchscript", makeTorchScript, torchScriptDefaults},
    {"compose", makeComposition, nullptr},
};
}  // namespace

std::vector<std::string> modelKinds() { return kindNames(kModels); }

// Every model's defaults; `device` ('auto': CUDA when available) is common to all kinds.
json::Value modelDefaults() {
  json::Value out = json::Value::object();
  for (const auto& entry : kModels) {
    json::Value defaults = entry.defaults ? entry.defaults() : json::Value::object();
    defaults["device"] = kDefaultDevice;
    out[entry.kind] = defaults;
  }
  return out;
}

std::shared_ptr<EnergyModel> makeModel(const json::Value& config) {
  const auto& entry = findKind(kModels, config, "model");
  return entry.make(config, resolveDevice(json::getString(config, "device", "model", kDefaultDevice)));
}

}  // namespace ebm
