#include "tensor_util.h"

#include <torch/torch.h>

#include <mutex>
#include <sstream>

#include "errors.h"
#include "models/fused_activation.h"

namespace ebm {

bool cudaAvailable() { return torch::cuda::is_available(); }
int cudaDeviceCount() { return static_cast<int>(torch::cuda::device_count()); }

c10::Device resolveDevice(const std::string& spec) {
  if (spec == "auto") return cudaAvailable() ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
  if (spec == "cpu") return c10::Device(c10::kCPU);
  if (spec == "cuda" || spec.rfind("cuda:", 0) == 0) {
    int index = 0;
    if (spec.size() > 5) {
      const std::string digits = spec.substr(5);
      if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 3)
        throw ConfigError("device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got '" + spec + "'");
      index = std::stoi(digits);
    }
    if (!cudaAvailable())
      throw ConfigError("device '" + spec +
                        "' was requested but this LibTorch build has no usable CUDA device; use 'cpu' or 'auto'");
    if (index >= cudaDeviceCount())
      throw ConfigError("device '" + spec + "' does not exist: " + std::to_string(cudaDeviceCount()) +
                        " CUDA device(s) present");
    return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  throw ConfigError("device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got '" + spec + "'");
}

std::string deviceName(const c10::Device& device) {
  if (device.is_cpu()) return "cpu";
  return device.str();
}

at::Generator makeGenerator(const c10::Device& device, uint64_t seed) {
  const at::Generator& base = at::globalContext().defaultGenerator(device);
  at::Generator gen;
  {
    std::lock_guard<std::mutex> lock(const_cast<at::Generator&>(base).mutex());
    gen = base.clone();
  }
  gen.set_current_seed(seed);
  return gen;
}

std::string shapeString(at::IntArrayRef shape) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << ']';
  return os.str();
}

bool isPlainCpuFloat(const at::Tensor& t) {
  // strided first: is_contiguous() throws on a sparse tensor
  return t.layout() == at::kStrided && t.device().is_cpu() && t.scalar_type() == at::kFloat && t.is_contiguous();
}

void requireFinite(const at::Tensor& x, const std::string& what) {
  // A dataset-sized input is checked in place: isfinite would build a float copy and a mask of it.
  const bool finite =
      isPlainCpuFloat(x) ? allFinite(x.data_ptr<float>(), x.numel()) : torch::isfinite(x).all().item<bool>();
  if (!finite) throw NumericsError(what + " contains NaN or Inf values");
}

void requireBatchOf(const at::Tensor& x, const std::vector<int64_t>& eventShape, const std::string& what) {
  std::vector<int64_t> want{-1};
  want.insert(want.end(), eventShape.begin(), eventShape.end());
  bool ok = x.dim() == static_cast<int64_t>(want.size()) && x.size(0) >= 1;
  for (size_t i = 1; ok && i < want.size(); ++i) ok = x.size(static_cast<int64_t>(i)) == want[i];
  if (!ok) {
    std::string expected = "[N";
    for (size_t i = 1; i < want.size(); ++i) expected += ", " + std::to_string(want[i]);
    throw ShapeError(what + " must have shape " + expected + "] with N >= 1, got " + shapeString(x.sizes()));
  }
}

}  // namespace ebm
