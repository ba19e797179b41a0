// Model checkpoints: the model's config travels in the safetensors metadata, so a file alone
// rebuilds the model.
#pragma once

#include <memory>
#include <string>

#include "models/energy_model.h"

namespace ebm {

void saveModel(const EnergyModel& model, const std::string& path);
// The same without taking the model's lock, for a caller that already holds it (the trainer).
void writeCheckpoint(const EnergyModel& model, const std::string& path);

// `device` overrides the device stored in the file ('' keeps it).
std::shared_ptr<EnergyModel> loadModel(const std::string& path, const std::string& device = "");

struct RuntimeInfo {
  std::string torchVersion;
  bool cudaAvailable;
  int cudaDeviceCount;
  std::string defaultDevice;
  int numThreads;
};
RuntimeInfo runtimeInfo();

}  // namespace ebm
