// The trainer's optimisers and learning-rate schedule, and the optimiser state a resumed run
// needs (Adam moments and step counts, SGD momentum) as named tensors for a checkpoint.
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/json.h"
#include "models/energy_model.h"
#include "train/settings.h"

namespace torch::optim {
class Optimizer;
}  // namespace torch::optim

namespace ebm {

// Implemented by the one-pass Adam and AdamW: whether every step so far took the one pass (false
// once a step fell back to LibTorch's, e.g. for CUDA or float64 parameters).
class OnePassStep {
 public:
  virtual ~OnePassStep() = default;
  virtual bool onePassOnly() const = 0;
};

struct OptimizerBuild {
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  json::Value settings;  // every option as used (defaults filled in), to compare on resume
  double lr = 0;         // the base learning rate the schedule scales
};
// `config`: { kind: 'adam' | 'adamw' | 'sgd', lr, ... } as validated by the TS façade.
OptimizerBuild makeOptimizer(const json::Value& config, const std::vector<at::Tensor>& params);
// The defaults of each optimizer kind's optional fields.
json::Value optimizerDefaults();

// Learning rate at a step: linear warm-up, then constant or cosine decay to minLr over `total`.
struct Schedule {
  ScheduleKind kind = ScheduleKind::Constant;
  double base = 1e-3, minLr = 0;
  int64_t warmup = 0, total = 1;

  double at(int64_t step) const;
  json::Value settings() const;  // without `total`: a resumed run may change train.steps
};
Schedule makeSchedule(const ScheduleOptions& options, double baseLr, int64_t steps);

// 'optimizer.<param>.<field>' tensors for every parameter the optimiser holds state for.
std::vector<NamedTensor> optimizerState(torch::optim::Optimizer& optimizer, const std::vector<NamedTensor>& params);
// Puts back what optimizerState saved (from `saved`, keyed by tensor name) for the same
// parameters. Throws IoError naming `where` when a tensor is missing or has the wrong shape.
void restoreOptimizerState(torch::optim::Optimizer& optimizer, const std::vector<NamedTensor>& params,
                           const std::map<std::string, at::Tensor>& saved, const std::string& where);

}  // namespace ebm
