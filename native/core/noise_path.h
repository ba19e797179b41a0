// Noising paths x_t = alpha_t x_0 + gamma_t eps shared by DSM and DiffCLF.
//   VP: beta(s) linear in [betaMin, betaMax], alpha_t = exp(-1/2 int_0^t beta), gamma_t^2 = 1 - alpha_t^2
//   VE: alpha_t = 1, gamma_t = sigmaMin (sigmaMax / sigmaMin)^t
// Time runs over [tMin, 1].
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

#include "io/fields.h"

namespace ebm {

enum class PathKind { VP, VE };
inline const std::vector<Choice<PathKind>>& choicesOf(PathKind) {
  static const std::vector<Choice<PathKind>> c{{"vp", PathKind::VP}, {"ve", PathKind::VE}};
  return c;
}

struct NoisePath {
  PathKind kind = PathKind::VP;
  double betaMin = 0.1, betaMax = 20.0;
  double sigmaMin = 0.01, sigmaMax = 10.0;
  double tMin = 1e-3;

  at::Tensor alpha(const at::Tensor& t) const;
  at::Tensor gamma(const at::Tensor& t) const;
  // L evenly spaced levels from tMin to 1 (increasing noise).
  at::Tensor grid(int64_t levels, const c10::Device& device) const;
};

// The path's parameters, read flat from the config of a loss or sampler; the kind ("path") is
// read by each user, since for DSM its presence picks the form.
template <typename Fields>
void describe(Fields& f, NoisePath& p) {
  f.optional("betaMin", p.betaMin);
  f.optional("betaMax", p.betaMax);
  f.optional("sigmaMin", p.sigmaMin);
  f.optional("sigmaMax", p.sigmaMax);
  f.optional("tMin", p.tMin);
}

}  // namespace ebm
