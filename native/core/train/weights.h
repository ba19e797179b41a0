// Weight bookkeeping shared by the trainers: snapshots for the last-finite-weights guard, the
// training-mode scope, and the global gradient norm.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

#include "models/energy_model.h"

namespace ebm {

// Training mode for the duration of a run, also when it throws.
class TrainingMode {
 public:
  explicit TrainingMode(EnergyModel& model) : model_(model) { model_.setTraining(true); }
  ~TrainingMode() { model_.setTraining(false); }
  TrainingMode(const TrainingMode&) = delete;
  TrainingMode& operator=(const TrainingMode&) = delete;

 private:
  EnergyModel& model_;
};

// Detached copies of every tensor of `state`, and their restoration in place.
std::vector<at::Tensor> cloneAll(const std::vector<NamedTensor>& state);
void restoreAll(const std::vector<NamedTensor>& state, const std::vector<at::Tensor>& saved);

// L2 norm of all gradients of `params` together, as a device scalar (zero when none has one).
at::Tensor globalGradNorm(const std::vector<at::Tensor>& params, const at::TensorOptions& options);

}  // namespace ebm
