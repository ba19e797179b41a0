#include <torch/torch.h>

#include "errors.h"
#include "models/model_registry.h"
#include "tensor_util.h"

namespace ebm {

std::shared_ptr<EnergyModel> makeModel(const json::Value& config) {
  if (!config.isObject()) throw ConfigError("model config must be an object");
  const std::string kind = json::getString(config, "kind", "model");
  const c10::Device device = resolveDevice(json::getString(config, "device", "model", "auto"));
  if (kind == "mlp") return makeMlp(config, device);
  if (kind == "convnet") return makeConvNet(config, device);
  if (kind == "gaussian") return makeGaussian(config, device);
  if (kind == "gmm") return makeMixture(config, device);
  if (kind == "doublewell") return makeDoubleWell(config, device);
  if (kind == "compose") return makeComposition(config, device);
  if (kind == "classifier") return makeClassifier(config, device);
  if (kind == "latent") return makeLatent(config, device);
  if (kind == "torchscript") return makeTorchScript(config, device);
  throw ConfigError(
      "model.kind must be one of: mlp, convnet, gaussian, gmm, doublewell, classifier, latent, torchscript, compose; "
      "got '" +
      kind + "'");
}

}  // namespace ebm
