// Reading and writing the safetensors format (8-byte little-endian header length, JSON header,
// raw little-endian tensor bytes), so checkpoints open directly in Python.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "models/energy_model.h"

namespace ebm::safetensors {

struct File {
  std::vector<NamedTensor> tensors;  // float32, CPU
  std::map<std::string, std::string> metadata;
};

// Writes atomically (temp file + rename), so a crash never leaves a half-written checkpoint.
void save(const std::string& path, const std::vector<NamedTensor>& tensors,
          const std::map<std::string, std::string>& metadata);

// Throws IoError for a missing, truncated or malformed file. F32, F64, F16 and BF16 are read
// and converted to float32.
File load(const std::string& path);

}  // namespace ebm::safetensors
