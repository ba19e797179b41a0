// Fréchet distance between two sets of images in the feature space of a classifier model:
// |mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)), computed in float64.
#pragma once

#include <ATen/core/Tensor.h>

#include "models/energy_model.h"

namespace ebm {

// Penultimate-layer features [N, F] of a classifier model, on the CPU (chunked, no autograd).
at::Tensor classifierFeatures(EnergyModel& model, const at::Tensor& x);
// Class logits [N, classes] of a classifier model, on the CPU.
at::Tensor classifierLogits(EnergyModel& model, const at::Tensor& x);
double frechetDistance(const at::Tensor& featuresA, const at::Tensor& featuresB);

}  // namespace ebm
