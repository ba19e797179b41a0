// Model checkpoints: the model's config travels in the safetensors metadata, so a file alone
// rebuilds the model.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "models/energy_model.h"

namespace ebm {

void saveModel(const EnergyModel& model, const std::string& path);
// The same without taking the model's lock, for a caller that already holds it (the trainer),
// with optional extra tensors (training state, under their own name prefixes) and metadata
// (keys are stored as 'ebm_torch.<key>').
void writeCheckpoint(const EnergyModel& model, const std::string& path, const std::vector<NamedTensor>& extra = {},
                     const std::map<std::string, std::string>& extraMetadata = {});

// `device` overrides the device stored in the file ('' keeps it).
std::shared_ptr<EnergyModel> loadModel(const std::string& path, const std::string& device = "");

struct RuntimeInfo {
  std::string torchVersion;
  bool cudaAvailable;
  int cudaDeviceCount;
  std::string defaultDevice;
  int numThreads;
  std::string distributedBackends;  // e.g. "gloo"; "" without distributed support
  std::string matrixProducts;       // what the hand-written passes multiply with: "oneDNN" or "LibTorch"
};
RuntimeInfo runtimeInfo();

}  // namespace ebm
