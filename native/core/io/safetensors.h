// Reading and writing the safetensors format (8-byte little-endian header length, JSON header,
// raw little-endian tensor bytes), so checkpoints open directly in Python.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "models/energy_model.h"

namespace ebm::safetensors {

struct File {
  std::vector<NamedTensor> tensors;  // CPU; float32, or int64/uint8 as stored
  std::map<std::string, std::string> metadata;
};

// Writes atomically (temp file + rename), so a crash never leaves a half-written checkpoint.
// int64 and uint8 tensors are written as I64 and U8, all others as F32.
void save(const std::string& path, const std::vector<NamedTensor>& tensors,
          const std::map<std::string, std::string>& metadata);

// Throws IoError for a missing, truncated or malformed file. F32, F64, F16 and BF16 are read
// and converted to float32; I64 and U8 (training state) keep their type.
File load(const std::string& path);

}  // namespace ebm::safetensors
