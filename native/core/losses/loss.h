// The one loss interface: every loss maps a data batch to { loss, metrics }.
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <atomic>
#include <functional>
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

// What the trainer knows about the step a loss computes.
struct StepContext {
  const at::Tensor& batch;
  at::Generator& gen;
  int64_t step = 0;                           // steps completed before this one
  at::Tensor labels;                          // the batch's labels, when the run has them (cross-entropy)
  const std::atomic<bool>* cancel = nullptr;  // the run's cancel flag, for long inner loops (CD's chains)
};

// Trainable tensors a loss owns (DiffCLF's per-level offsets), optimised with the model in their
// own parameter group.
struct LossParameters {
  std::vector<NamedTensor> tensors;
  double lr = 0;                    // the group's learning rate (0: the optimiser's)
  std::function<void()> afterStep;  // a projection after every optimiser step (e.g. re-centring)
};

class Loss {
 public:
  virtual ~Loss() = default;
  virtual LossOutput compute(EnergyModel& model, const StepContext& step) = 0;
  virtual LossParameters parameters() const { return {}; }
  // Non-trainable state a resumed run needs (CD's replay buffer), named without a prefix, and
  // putting it back from a checkpoint (throws IoError for a tensor of the wrong shape).
  virtual std::vector<NamedTensor> state() const { return {}; }
  virtual void restoreState(const std::map<std::string, at::Tensor>& saved, const c10::Device& device) {}
  // Rows the model sees per data row in the step's widest pass (ED: 1 + M), for the thread rule.
  virtual int64_t rowsPerExample() const { return 1; }
  // Losses that train on a grid of noise levels (DSM with levels, DiffCLF) name it.
  virtual EnergyModel::TrainingGrid trainingGrid() const { return {}; }
  // Whether every compute() so far took a one-pass gradient head instead of LibTorch's operations
  // (ED on the CPU in float32); reported so tests can tell the two paths apart by more than rounding.
  virtual bool onePassHeadOnly() const { return false; }
};

// One loss kind: its name, a factory from its config, the defaults of its optional fields, and
// the gradient clip a run uses when train.gradClip is absent (0: none).
// What a loss kind needs, declared once with the kind; the TS façade and the CLI read it instead
// of naming kinds.
enum class LossTime {
  Never,     // trains E(x)
  Always,    // trains E(x, t) along a noising path
  WithPath,  // E(x, t) exactly when the config has a path (DSM: sigma or path)
  Either,    // the model's own choice
};
struct LossTraits {
  LossTime timeConditioned = LossTime::Never;
  bool labels = false;               // needs class labels
  const char* model = nullptr;       // the model kind it needs (nullptr: any energy model)
  bool latentPrior = false;          // can train a latent model's prior
  std::vector<const char*> metrics;  // the names in LossOutput::metrics its steps report
};

struct LossKind {
  const char* kind;
  std::unique_ptr<Loss> (*make)(const json::Value& config, const EnergyModel& model);
  json::Value (*defaults)();
  std::vector<std::string> (*options)();  // every field the kind's config reads
  double recommendedGradClip = 0;
  LossTraits traits;
};

// A kind whose loss class LossT is built from (Options, model), Options read from the config.
template <typename Options, typename LossT>
LossKind lossKind(const char* kind, LossTraits traits, double recommendedGradClip = 0);

// The kind named by config.kind (ConfigError listing the kinds otherwise).
const LossKind& lossKindOf(const json::Value& config);
// Builds a loss from its validated config.
std::unique_ptr<Loss> makeLoss(const json::Value& config, const EnergyModel& model);

}  // namespace ebm
