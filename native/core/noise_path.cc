#include "noise_path.h"

#include <torch/torch.h>

namespace ebm {

at::Tensor NoisePath::alpha(const at::Tensor& t) const {
  if (kind == PathKind::VE) return torch::ones_like(t);
  return torch::exp(-0.5 * (betaMin * t + 0.5 * (betaMax - betaMin) * t * t));
}

at::Tensor NoisePath::gamma(const at::Tensor& t) const {
  if (kind == PathKind::VE) return sigmaMin * torch::pow(sigmaMax / sigmaMin, t);
  at::Tensor a = alpha(t);
  return torch::sqrt(torch::clamp_min(1 - a * a, 1e-12));
}

at::Tensor NoisePath::grid(int64_t levels, const c10::Device& device) const {
  return torch::linspace(tMin, 1.0, levels, torch::TensorOptions().device(device).dtype(torch::kFloat32));
}

}  // namespace ebm
