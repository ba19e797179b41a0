// The whole training loop in C++: minibatches drawn natively from a dataset tensor held on the
// model's device, optimiser, learning-rate schedule, EMA, gradient clipping, periodic reports
// and checkpoints, cancellation, and a guard that keeps the last finite weights.
#pragma once

#include <ATen/core/Tensor.h>

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "io/json.h"
#include "models/energy_model.h"
#include "train/settings.h"

namespace ebm {

struct TrainProgress {
  int64_t step = 0;  // steps completed
  double loss = 0;   // mean loss over the steps since the previous report
  double lr = 0;
  double stepsPerSecond = 0;
  double seconds = 0;                     // since the start of the run
  std::map<std::string, double> metrics;  // means over the same steps
};

struct TrainResult {
  int64_t steps = 0;
  int64_t startStep = 0;        // the step a resumed run continued from (0: a fresh run)
  int rank = 0, worldSize = 1;  // data-parallel training (train.distributed)
  double seconds = 0;
  int threads = 0;                // LibTorch intra-op threads on the training thread
  bool onePassOptimizer = false;  // every optimiser step took the one-pass Adam / AdamW (train/optimizer.h)
  bool onePassLossHead = false;   // every step's loss gradient took the loss's one-pass head (Loss::onePassHeadOnly)
  std::vector<TrainProgress> history;
  // Final values of tensors the loss owns (DiffCLF's per-level offsets), on the CPU.
  std::vector<NamedTensor> lossParameters;
};

// `settings` come from the validated train config (loss, optimizer, schedule, batchSize, steps, seed, ...).
// With checkpoint.path, the checkpoints (every checkpoint.every steps, at the end, on abort) hold
// the whole training state besides the model: optimiser state, EMA weights, loss state (DiffCLF
// offsets, CD's replay buffer), the generator's state and the data order. `resumeFrom: path`
// continues such a run to `steps`, bit-identical to one uninterrupted run; settings that would
// change the numbers (model, data size, loss, optimizer, schedule, batchSize, seed, ...) must
// match the checkpoint's, else ConfigError names the first that differs.
// onProgress runs on the training thread every logEvery steps. Throws AbortedError when cancel is
// set (the model keeps the weights of the last completed step), NumericsError when the loss or a
// gradient becomes non-finite (the model keeps the weights of the last finite report).
// `labels` ([N] integer class indices, optional) ride along with the rows for the 'ce' loss.
TrainResult train(EnergyModel& model, const at::Tensor& data, const TrainSettings& settings,
                  const std::function<void(const TrainProgress&)>& onProgress, const std::atomic<bool>& cancel,
                  const at::Tensor& labels = at::Tensor());

// One loss evaluation with gradients, for research and tests: the loss, its metrics and the
// L2 norm of the gradient of every trainable tensor (model and loss). Leaves weights and
// gradients as they were.
struct LossEvaluation {
  double loss = 0;
  std::map<std::string, double> metrics;
  std::map<std::string, double> gradNorms;
  bool onePassLossHead = false;  // as TrainResult's
};
LossEvaluation evaluateLoss(EnergyModel& model, const at::Tensor& batch, const json::Value& lossConfig, uint64_t seed);

}  // namespace ebm
