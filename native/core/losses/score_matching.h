// Denoising score matching on a noising path, shared by the 'dsm' and 'diffclf' losses.
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <string>

#include "losses/noise_path.h"
#include "models/energy_model.h"

namespace ebm {

struct PathDsmOptions {
  NoisePath path;
  // 'noise': || eps + gamma_t s(x_t, t) ||^2 / d, the epsilon-prediction error (weight 1 at every level).
  // 'edm':   lambda(sigma) || D(x_t, t) - x_0 ||^2 / d with sigma = gamma/alpha, lambda = (sigma^2 + sd^2) / (sigma
  // sd)^2.
  std::string weighting = "noise";
  double sigmaData = 1.0;
};

PathDsmOptions pathDsmOptionsFromConfig(const json::Value& cfg, const std::string& where);

// Per-row DSM error at times t [N] (x_t drawn here); differentiable in the model parameters.
at::Tensor pathDsmPerRow(EnergyModel& model, const at::Tensor& x0, const at::Tensor& t, const PathDsmOptions& options,
                         at::Generator& gen);

}  // namespace ebm
