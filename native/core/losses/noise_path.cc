#include "losses/noise_path.h"

#include <torch/torch.h>

#include "errors.h"

namespace ebm {

NoisePath NoisePath::fromConfig(const json::Value& cfg, const std::string& path) {
  NoisePath p;
  p.kind = json::getString(cfg, "path", path, "vp");
  if (p.kind != "vp" && p.kind != "ve") throw ConfigError(path + ".path must be 'vp' or 've', got '" + p.kind + "'");
  p.betaMin = json::getNumber(cfg, "betaMin", path, p.betaMin);
  p.betaMax = json::getNumber(cfg, "betaMax", path, p.betaMax);
  p.sigmaMin = json::getNumber(cfg, "sigmaMin", path, p.sigmaMin);
  p.sigmaMax = json::getNumber(cfg, "sigmaMax", path, p.sigmaMax);
  p.tMin = json::getNumber(cfg, "tMin", path, p.tMin);
  if (!(p.betaMin > 0 && p.betaMax > p.betaMin))
    throw ConfigError(path + ": need 0 < betaMin < betaMax, got " + std::to_string(p.betaMin) + ", " +
                      std::to_string(p.betaMax));
  if (!(p.sigmaMin > 0 && p.sigmaMax > p.sigmaMin)) throw ConfigError(path + ": need 0 < sigmaMin < sigmaMax");
  if (!(p.tMin > 0 && p.tMin < 1)) throw ConfigError(path + ".tMin must be in (0, 1), got " + std::to_string(p.tMin));
  return p;
}

at::Tensor NoisePath::alpha(const at::Tensor& t) const {
  if (kind == "ve") return torch::ones_like(t);
  return torch::exp(-0.5 * (betaMin * t + 0.5 * (betaMax - betaMin) * t * t));
}

at::Tensor NoisePath::gamma(const at::Tensor& t) const {
  if (kind == "ve") return sigmaMin * torch::pow(sigmaMax / sigmaMin, t);
  at::Tensor a = alpha(t);
  return torch::sqrt(torch::clamp_min(1 - a * a, 1e-12));
}

at::Tensor NoisePath::grid(int64_t levels, const c10::Device& device) const {
  return torch::linspace(tMin, 1.0, levels, torch::TensorOptions().device(device).dtype(torch::kFloat32));
}

}  // namespace ebm
