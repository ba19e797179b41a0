#include "io/checkpoint.h"

#include <torch/torch.h>
#include <torch/version.h>

#include "errors.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "tensor_util.h"

namespace ebm {

namespace {
const char* kConfigKey = "ebm_torch.config";
const char* kFormatKey = "ebm_torch.format";
// Model-specific metadata (EnergyModel::checkpointMetadata) travels under this prefix.
const char* kExtraPrefix = "ebm_torch.extra.";
}  // namespace

void saveModel(const EnergyModel& model, const std::string& path) {
  ModelLock lock(model);
  writeCheckpoint(model, path);
}

void writeCheckpoint(const EnergyModel& model, const std::string& path) {
  std::map<std::string, std::string> metadata = {
      {"format", "pt"}, {kFormatKey, "1"}, {kConfigKey, model.config().dump()}};
  for (const auto& [key, value] : model.checkpointMetadata()) metadata[std::string(kExtraPrefix) + key] = value;
  safetensors::save(path, model.state(), metadata);
}

std::shared_ptr<EnergyModel> loadModel(const std::string& path, const std::string& device) {
  safetensors::File file = safetensors::load(path);
  auto it = file.metadata.find(kConfigKey);
  if (it == file.metadata.end())
    throw IoError("checkpoint '" + path + "' has no '" + kConfigKey + "' metadata: it was not written by ebm-torch");
  json::Value config = json::parse(it->second, "model config in checkpoint '" + path + "'");
  if (!device.empty()) config.set("device", json::Value::string(device));
  const std::string prefix = kExtraPrefix;
  for (const auto& [key, value] : file.metadata)
    if (key.compare(0, prefix.size(), prefix) == 0) config.set(key.substr(prefix.size()), json::Value::string(value));
  std::shared_ptr<EnergyModel> model;
  try {
    model = makeModel(config);
  } catch (const ConfigError& e) {
    throw IoError("checkpoint '" + path + "' holds an invalid model config: " + e.what());
  }
  for (const auto& expected : model->state()) {
    const NamedTensor* found = nullptr;
    for (const auto& nt : file.tensors)
      if (nt.name == expected.name) found = &nt;
    if (!found) throw IoError("checkpoint '" + path + "' is missing tensor '" + expected.name + "'");
    if (!found->tensor.sizes().equals(expected.tensor.sizes()))
      throw IoError("checkpoint '" + path + "': tensor '" + expected.name + "' has shape " +
                    shapeString(found->tensor.sizes()) + ", the model needs " + shapeString(expected.tensor.sizes()));
    requireFinite(found->tensor, "checkpoint '" + path + "', tensor '" + expected.name + "'");
    model->setTensor(expected.name, found->tensor);
  }
  return model;
}

RuntimeInfo runtimeInfo() {
  RuntimeInfo info;
  info.torchVersion = TORCH_VERSION;
  info.cudaAvailable = cudaAvailable();
  info.cudaDeviceCount = info.cudaAvailable ? cudaDeviceCount() : 0;
  info.defaultDevice = deviceName(resolveDevice("auto"));
  info.numThreads = torch::get_num_threads();
  return info;
}

}  // namespace ebm
