// What a run continues from besides the model's weights: the order of its batches, and the
// training state a checkpoint holds (optimiser state, EMA, loss state, generator, data order).
// train() keeps these beside its step, as PyTorch keeps an optimiser's state beside its step().
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <map>
#include <string>
#include <vector>

#include "io/json.h"
#include "models/energy_model.h"

namespace torch::optim {
class Optimizer;
}

namespace ebm {

class Loss;

// The rows of each batch: shuffled epochs, or draws with replacement, of the global batch
// (batchSize rows per rank); each rank keeps its slice, so every rank draws the same numbers.
class BatchOrder {
 public:
  BatchOrder(int64_t rows, int64_t batchSize, int worldSize, int rank, bool replacement, c10::Device device);
  // This rank's row indices of the next batch.
  at::Tensor next(at::Generator& gen) { return rankSlice(nextGlobal(gen)); }
  // The next global batch's rows (every rank's), and this rank's slice of them.
  at::Tensor nextGlobal(at::Generator& gen);
  at::Tensor rankSlice(const at::Tensor& global) const;

  int64_t rows() const { return rows_; }
  bool replacement() const { return replacement_; }
  at::Tensor order;  // this epoch's shuffled rows (undefined with replacement)
  int64_t cursor;    // rows of `order` used; == rows forces a shuffle before the next batch

 private:
  int64_t rows_, batchSize_, globalBatch_;
  int rank_;
  bool replacement_;
  at::TensorOptions longOptions_;
};

// Where a run stands at the start of a step, besides what the model, optimiser and loss hold.
struct Position {
  int64_t step = 0;
  at::Tensor rng;    // the generator's state (uint8, CPU)
  at::Tensor order;  // this epoch's shuffled row order (undefined with replacement)
  int64_t cursor = 0;
};

// A checkpoint written by a run that can continue from it, opened for restoring: its settings
// are checked against this run's (the first that differs is named, with `keeps`: what a resumed
// run must keep), its tensors are found by name.
class SavedRun {
 public:
  // `option`: the option that named `path` ("train.resumeFrom"), for messages.
  SavedRun(const std::string& option, const std::string& path, const json::Value& settings, const std::string& keeps,
           json::Value (*normalise)(json::Value previous));
  const std::string where;  // "<option> '<path>'"
  int64_t step() const;
  // The tensor `name`, which must be floating point of `shape`.
  at::Tensor take(const std::string& name, at::IntArrayRef shape) const;
  bool has(const std::string& name) const { return tensors.count(name) > 0; }
  // Puts back the generator and the batch order as they were at the saved step.
  void restorePosition(at::Generator& gen, BatchOrder& order, c10::Device device) const;
  std::map<std::string, at::Tensor> tensors;

 private:
  std::map<std::string, std::string> metadata_;
};

// Writes `model` with `extra` tensors, the position (generator, data order, step) and the
// settings a resumed run is checked against.
void writeRunCheckpoint(const EnergyModel& model, const std::string& path, std::vector<NamedTensor> extra,
                        const Position& pos, const json::Value& settings);

// A loss or model config with its kind's defaults filled in, so a run compares equal to one
// that spelled the defaults out (configs from TS carry them; older checkpoints may not).
json::Value effectiveLoss(const json::Value& config);
json::Value effectiveModel(const json::Value& config);

// The training state of a run, by reference to what the trainer holds.
struct TrainingState {
  EnergyModel& model;
  Loss& loss;
  torch::optim::Optimizer& optimizer;
  std::vector<NamedTensor> lossParameters;  // loss-owned tensors (DiffCLF offsets), saved as 'loss.<name>'
  std::vector<NamedTensor> optimised;       // every optimised tensor, by its name in a checkpoint
  std::vector<at::Tensor>& ema;             // EMA weights, one per model parameter (empty: no EMA)
  json::Value settings;                     // what a resumed run must share with the one that wrote it

  // Writes the model with everything a run needs to continue from `pos`. `raw`: the training
  // weights when the model now holds the EMA ones (the end of a run).
  void save(const std::string& path, const Position& pos, const std::vector<at::Tensor>& raw) const;
  // Puts back what save() wrote to `path`, after checking its settings against this run's (the
  // first that differs is named); returns the step the run continues from (< steps).
  int64_t restore(const std::string& path, int64_t steps, at::Generator& gen, BatchOrder& order) const;
};

}  // namespace ebm
