// Bookkeeping shared by the trainers: snapshots for the last-finite-weights guard, the
// training-mode scope, the global gradient norm, and the per-report means.
#pragma once

#include <ATen/core/Tensor.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
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

// Means of the step losses and metrics between two reports, kept on the device until the report
// reads them all at once (one host sync per report, none per step).
class IntervalMeans {
 public:
  void addLoss(const at::Tensor& loss);
  // A metric may be absent on some steps (warm-up): each is averaged over the steps that had it.
  // The value is kept, not copied, until the report: it must not be changed in place afterwards.
  void add(const std::string& name, const at::Tensor& value);

  struct Report {
    double loss = 0;
    double stepsPerSecond = 0;
    std::map<std::string, double> metrics;
    bool finite = true;  // the losses and the metrics `guarded` names are all finite
  };
  // Reads the interval and starts the next one.
  Report take(const std::function<bool(const std::string&)>& guarded);

 private:
  std::vector<at::Tensor> losses_;
  struct Pending {
    std::vector<at::Tensor> values;  // this interval's values not yet summed
    at::Tensor folded;               // the sum (float64) of those already summed
    int64_t count = 0;
    void fold();
  };
  std::map<std::string, Pending> pending_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace ebm
