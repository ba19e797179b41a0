// Small helpers shared by the core: device resolution, seeded generators, input checks.
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ebm {

// 'auto' | 'cpu' | 'cuda' | 'cuda:N'. 'auto' picks CUDA when LibTorch has it and a device is present.
c10::Device resolveDevice(const std::string& spec);
std::string deviceName(const c10::Device& device);
bool cudaAvailable();
int cudaDeviceCount();

// A generator private to one job, so concurrent jobs never share random state.
at::Generator makeGenerator(const c10::Device& device, uint64_t seed);

// "[N, 2]"-style text for messages.
std::string shapeString(at::IntArrayRef shape);

// Whether the hand-written float loops can read `t` as a plain array: a dense, contiguous float32
// CPU tensor.
bool isPlainCpuFloat(const at::Tensor& t);

// Throws NumericsError naming `what` when `x` holds NaN or Inf.
void requireFinite(const at::Tensor& x, const std::string& what);

// Throws ShapeError unless x is [N, eventShape...] with N >= 1.
void requireBatchOf(const at::Tensor& x, const std::vector<int64_t>& eventShape, const std::string& what);

}  // namespace ebm
