// The one interface every energy shares: neural networks, analytic densities and compositions.
// Losses, samplers, metrics and the trainer see only this.
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "io/json.h"

namespace ebm {

struct NamedTensor {
  std::string name;
  at::Tensor tensor;
};

class EnergyModel {
 public:
  virtual ~EnergyModel() = default;

  // E(x) or E(x, t): x is [N, eventShape...]; t is undefined or [N] for time-conditioned models.
  // Returns [N]. Differentiable in x and in the parameters.
  virtual at::Tensor energy(const at::Tensor& x, const at::Tensor& t) = 0;

  // grad_x E(x, t), and E into energyOut when given, for a batch on this model's device; keeps no
  // graph (samplers' drift, scores for evaluation). The default differentiates energy(); a model
  // may compute both in hand-written passes (the MLP does).
  virtual at::Tensor energyAndGrad(const at::Tensor& x, const at::Tensor& t, at::Tensor* energyOut);

  // The score -grad_x E(x, t), differentiable in the parameters: what score matching's loss
  // differentiates. x must not need a gradient itself. The default keeps autograd's graph; the MLP
  // has hand-written passes for it.
  virtual at::Tensor scoreForTraining(const at::Tensor& x, const at::Tensor& t);

  virtual bool timeConditioned() const { return false; }

  // The noise levels a loss trained this time-conditioned model on: linspace(tMin, 1, levels)
  // (NoisePath::grid). levels 0: none known (continuous-time training, or trained elsewhere).
  // Saved in checkpoints; the annealed sampler puts its schedule on these levels.
  struct TrainingGrid {
    int64_t levels = 0;
    double tMin = 0;
  };
  const TrainingGrid& trainingGrid() const { return trainingGrid_; }
  void setTrainingGrid(const TrainingGrid& grid) { trainingGrid_ = grid; }

  const std::vector<int64_t>& eventShape() const { return eventShape_; }
  c10::Device device() const { return device_; }
  const json::Value& config() const { return config_; }
  std::string kind() const { return json::member(config_, "kind").get<std::string>(); }

  // Trainable tensors (requires_grad) in a fixed order with stable names.
  const std::vector<NamedTensor>& parameters() const { return parameters_; }
  // Non-trainable state that is saved with the model (spectral-norm vectors, analytic constants).
  const std::vector<NamedTensor>& buffers() const { return buffers_; }
  // Both lists, parameters first: what a checkpoint holds.
  virtual std::vector<NamedTensor> state() const;

  // Copies values into the named parameter or buffer; shape must match.
  virtual void setTensor(const std::string& name, const at::Tensor& value);

  // Checks x (and t) against this model and moves them to its device.
  at::Tensor prepareInput(const at::Tensor& x, const std::string& what) const;
  at::Tensor prepareTime(const at::Tensor& t, int64_t n) const;

  // Jobs that read or write weights hold this lock (through ModelLock, which also locks the
  // parts of a composition), so a training run and an energy call on one model never interleave.
  std::mutex& mutex() const { return *mutex_; }
  // Models this one is built from (a composition's parts); empty for ordinary models.
  virtual std::vector<std::shared_ptr<EnergyModel>> parts() const { return {}; }
  // Extra safetensors metadata a checkpoint of this model needs (a TorchScript module's bytes);
  // loadModel hands each entry back to the model's factory as config field `<key>` (see checkpoint.cc).
  virtual std::map<std::string, std::string> checkpointMetadata() const { return {}; }
  // Sets training mode (spectral norm updates its power-iteration vectors only in training).
  void setTraining(bool training) { training_ = training; }
  bool training() const { return training_; }

 protected:
  EnergyModel(json::Value config, std::vector<int64_t> eventShape, c10::Device device);
  at::Tensor addParameter(const std::string& name, at::Tensor value);
  // A parameter drawn from U(-1/sqrt(fanIn), 1/sqrt(fanIn)) (PyTorch's Linear/Conv default).
  // Also keeps a running count against the budget, a second guard behind the factories' plans.
  at::Tensor addUniformParameter(const std::string& name, const std::vector<int64_t>& shape, int64_t fanIn,
                                 at::Generator& gen);
  at::Tensor addBuffer(const std::string& name, at::Tensor value);

 private:
  json::Value config_;
  std::vector<int64_t> eventShape_;
  c10::Device device_;
  std::vector<NamedTensor> parameters_;
  std::vector<NamedTensor> buffers_;
  TrainingGrid trainingGrid_;
  std::shared_ptr<std::mutex> mutex_ = std::make_shared<std::mutex>();
  bool training_ = false;
  int64_t parameterCount_ = 0;
};

// Most trainable numbers one model may hold (4 GiB of float32, before optimiser state).
constexpr int64_t kMaxModelParameters = int64_t{1} << 30;

// Sums parameter counts of a planned architecture (saturating) and throws ConfigError when the
// total exceeds kMaxModelParameters: model factories call it before allocating anything.
class ParameterPlan {
 public:
  // Adds a tensor of the given shape.
  ParameterPlan& add(std::initializer_list<int64_t> shape);
  void check() const;

 private:
  int64_t total_ = 0;
};

// Locks a model and, recursively, its parts: each distinct mutex once, in address order, so two
// jobs over overlapping compositions cannot deadlock.
class ModelLock {
 public:
  explicit ModelLock(const EnergyModel& model);
  // Both models (and their parts) at once, each mutex once: a job on a model and a second one that
  // shares parts with it (SMC's target) must not lock a part twice.
  ModelLock(const EnergyModel& model, const EnergyModel* other);
  ~ModelLock();
  ModelLock(const ModelLock&) = delete;
  ModelLock& operator=(const ModelLock&) = delete;

 private:
  std::vector<std::mutex*> held_;
};

// Builds a model from its validated config (kind: 'mlp', ...). Throws ConfigError naming bad fields.
std::shared_ptr<EnergyModel> makeModel(const json::Value& config);

// Product of experts sum_k w_k E_k over models sharing input shape, device and time conditioning.
std::shared_ptr<EnergyModel> composeModels(std::vector<std::shared_ptr<EnergyModel>> parts,
                                           std::vector<double> weights);

}  // namespace ebm

namespace ebm {

// Energies [N] of a batch, computed without autograd in chunks, returned on the CPU.
at::Tensor evaluateEnergy(EnergyModel& model, const at::Tensor& x, const at::Tensor& t);
// Scores -grad_x E, same shape as x, returned on the CPU.
at::Tensor evaluateScore(EnergyModel& model, const at::Tensor& x, const at::Tensor& t);
// -grad_x E for a batch already on the model's device; keeps the graph when createGraph is set
// (score-based losses differentiate through it).
at::Tensor scoreOf(EnergyModel& model, const at::Tensor& x, const at::Tensor& t, bool createGraph);

}  // namespace ebm
