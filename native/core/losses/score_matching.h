// Denoising score matching on a noising path, shared by the 'dsm' and 'diffclf' losses.
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <string>

#include "models/energy_model.h"
#include "noise_path.h"

namespace ebm {

enum class DsmWeighting { Noise, Edm };
inline const std::vector<Choice<DsmWeighting>>& choicesOf(DsmWeighting) {
  static const std::vector<Choice<DsmWeighting>> c{{"noise", DsmWeighting::Noise}, {"edm", DsmWeighting::Edm}};
  return c;
}

struct PathDsmOptions {
  NoisePath path;
  // 'noise': || eps + gamma_t s(x_t, t) ||^2 / d, the epsilon-prediction error (weight 1 at every level).
  // 'edm':   lambda(sigma) || D(x_t, t) - x_0 ||^2 / d with sigma = gamma/alpha, lambda = (sigma^2 + sd^2) / (sigma
  // sd)^2.
  DsmWeighting weighting = DsmWeighting::Noise;
  double sigmaData = 1.0;
};

// The path's parameters and the DSM weighting, read flat from a loss config ("path" apart).
template <typename Fields>
void describe(Fields& f, PathDsmOptions& o) {
  describe(f, o.path);
  f.optional("weighting", o.weighting);
  f.optional("sigmaData", o.sigmaData);
}

// Per-row DSM error at times t [N] (x_t drawn here); differentiable in the model parameters.
at::Tensor pathDsmPerRow(EnergyModel& model, const at::Tensor& x0, const at::Tensor& t, const PathDsmOptions& options,
                         at::Generator& gen);

}  // namespace ebm
