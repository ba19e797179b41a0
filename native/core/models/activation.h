// Pointwise activations shared by the network energies (smooth ones first: score-based losses
// differentiate through them twice).
#pragma once

#include <ATen/core/Tensor.h>

#include <string>

namespace ebm {

// Throws ConfigError naming `field` for an unknown name.
void checkActivation(const std::string& name, const std::string& field);
at::Tensor applyActivation(const std::string& name, const at::Tensor& h);

}  // namespace ebm
