// The one loss interface: every loss maps a data batch to { loss, metrics }.
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/json.h"
#include "models/energy_model.h"

namespace ebm {

struct LossOutput {
  at::Tensor loss;                            // scalar to minimise
  std::map<std::string, at::Tensor> metrics;  // scalar diagnostics, kept on the device until a report
};

class Loss {
 public:
  virtual ~Loss() = default;
  virtual LossOutput compute(EnergyModel& model, const at::Tensor& batch, at::Generator& gen) = 0;
  // Trainable tensors owned by the loss (DiffCLF's per-level offsets); optimised with the model.
  virtual std::vector<NamedTensor> parameters() const { return {}; }
  // Called after every optimiser step (DiffCLF re-centres its offsets here).
  virtual void afterStep() {}
  // Labels of the batch about to be computed, when the run has labels (cross-entropy).
  virtual void setLabels(const at::Tensor& labels) {}
  // The trainer announces each step before compute() (for warm-up phases).
  virtual void beginStep(int64_t step) {}
  // Learning rate of the loss-owned parameters' own optimiser group (0: the optimiser's lr).
  virtual double parameterLr() const { return 0.0; }
  // Loss kinds with a recommended default gradient clip return it here (0 = none).
  virtual double defaultGradClip() const { return 0.0; }
  // The run's cancel flag, for losses that run long inner loops (CD's sampler chains).
  virtual void setCancelFlag(const std::atomic<bool>* cancel) {}
  // Non-trainable state a resumed run needs (CD's replay buffer), named without a prefix, and
  // putting it back from a checkpoint (throws IoError for a tensor of the wrong shape).
  virtual std::vector<NamedTensor> state() const { return {}; }
  // Losses that train on a grid of noise levels (DSM with levels, DiffCLF) name it.
  virtual EnergyModel::TrainingGrid trainingGrid() const { return {}; }
  virtual void restoreState(const std::map<std::string, at::Tensor>& saved, const c10::Device& device) {}
};

// Builds a loss from its validated config. Throws ConfigError naming bad fields.
std::unique_ptr<Loss> makeLoss(const json::Value& config, const EnergyModel& model);

}  // namespace ebm
