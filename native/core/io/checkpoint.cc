#include "io/checkpoint.h"

#include <torch/torch.h>
#include <torch/version.h>

#include <sstream>

#include "distributed/communicator.h"
#include "errors.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "models/gemm.h"
#include "tensor_util.h"

namespace ebm {

namespace {
const char* kConfigKey = "ebm_torch.config";
const char* kFormatKey = "ebm_torch.format";
// The training grid of a time-conditioned model: "<levels> <tMin>".
const char* kGridKey = "ebm_torch.training_grid";
// 2: time-conditioned MLP configs name their timeMaxFrequency; format 1 files used 1000.
// 3: they name their timeInjection; format 1 and 2 files injected the embedding into every layer.
const char* kFormatVersion = "3";
// Model-specific metadata (EnergyModel::checkpointMetadata) travels under this prefix.
const char* kExtraPrefix = "ebm_torch.extra.";
}  // namespace

void saveModel(const EnergyModel& model, const std::string& path) {
  ModelLock lock(model);
  writeCheckpoint(model, path);
}

void writeCheckpoint(const EnergyModel& model, const std::string& path, const std::vector<NamedTensor>& extra,
                     const std::map<std::string, std::string>& extraMetadata) {
  std::map<std::string, std::string> metadata = {
      {"format", "pt"}, {kFormatKey, kFormatVersion}, {kConfigKey, model.config().dump()}};
  for (const auto& [key, value] : model.checkpointMetadata()) metadata[std::string(kExtraPrefix) + key] = value;
  for (const auto& [key, value] : extraMetadata) metadata["ebm_torch." + key] = value;
  if (model.trainingGrid().levels > 0) {
    std::ostringstream grid;
    grid.precision(17);
    grid << model.trainingGrid().levels << " " << model.trainingGrid().tMin;
    metadata[kGridKey] = grid.str();
  }
  std::vector<NamedTensor> tensors = model.state();
  tensors.insert(tensors.end(), extra.begin(), extra.end());
  safetensors::save(path, tensors, metadata);
}

std::shared_ptr<EnergyModel> loadModel(const std::string& path, const std::string& device) {
  safetensors::File file = safetensors::load(path);
  auto it = file.metadata.find(kConfigKey);
  if (it == file.metadata.end())
    throw IoError("checkpoint '" + path + "' has no '" + kConfigKey + "' metadata: it was not written by ebm-torch");
  json::Value config = json::parse(it->second, "model config in checkpoint '" + path + "'");
  if (!config.is_object())
    throw IoError("checkpoint '" + path + "' holds an invalid model config: it is not a JSON object");
  if (!device.empty()) config["device"] = device;
  auto format = file.metadata.find(kFormatKey);
  if (format != file.metadata.end() && format->second == "1" && json::member(config, "kind") == "mlp" &&
      !config.contains("timeMaxFrequency"))
    config["timeMaxFrequency"] = 1000;  // the embedding those weights were trained with
  const bool beforeInjection = format == file.metadata.end() || format->second == "1" || format->second == "2";
  if (beforeInjection && json::member(config, "kind") == "mlp" && !config.contains("timeInjection"))
    config["timeInjection"] = "every";  // the only layout before format 3
  const std::string prefix = kExtraPrefix;
  for (const auto& [key, value] : file.metadata)
    if (key.compare(0, prefix.size(), prefix) == 0) config[key.substr(prefix.size())] = value;
  std::shared_ptr<EnergyModel> model;
  try {
    model = makeModel(config);
  } catch (const ConfigError& e) {
    throw IoError("checkpoint '" + path + "' holds an invalid model config: " + e.what());
  }
  auto grid = file.metadata.find(kGridKey);
  if (grid != file.metadata.end()) {
    std::istringstream in(grid->second);
    EnergyModel::TrainingGrid g;
    if (!(in >> g.levels >> g.tMin) || g.levels < 2 || !(g.tMin > 0 && g.tMin < 1))
      throw IoError("checkpoint '" + path + "': metadata '" + kGridKey + "' is not '<levels> <tMin>': '" +
                    grid->second + "'");
    model->setTrainingGrid(g);
  }
  for (const auto& expected : model->state()) {
    const NamedTensor* found = nullptr;
    for (const auto& nt : file.tensors)
      if (nt.name == expected.name) found = &nt;
    if (!found) throw IoError("checkpoint '" + path + "' is missing tensor '" + expected.name + "'");
    if (!found->tensor.sizes().equals(expected.tensor.sizes()))
      throw IoError("checkpoint '" + path + "': tensor '" + expected.name + "' has shape " +
                    shapeString(found->tensor.sizes()) + ", the model needs " + shapeString(expected.tensor.sizes()));
    if (!found->tensor.is_floating_point())
      throw IoError("checkpoint '" + path + "': tensor '" + expected.name + "' holds integers, not weights");
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
  info.distributedBackends = distributedBackends();
  info.matrixProducts = productsUseOneDnn() ? "oneDNN" : "LibTorch";
  return info;
}

}  // namespace ebm
