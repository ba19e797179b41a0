#include "train/training_state.h"

#include <torch/torch.h>

#include <map>

#include "errors.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "kinds.h"
#include "losses/loss.h"
#include "tensor_util.h"
#include "train/optimizer.h"

namespace ebm {
namespace {

// Metadata keys (stored as 'ebm_torch.<key>') of a checkpoint that can resume a run.
const char* kStepKey = "train.step";
const char* kCursorKey = "train.cursor";
const char* kSettingsKey = "train.settings";

json::Value withoutKeys(json::Value obj, const std::vector<std::string>& drop) {
  for (const auto& key : drop) obj.erase(key);
  return obj;
}

int64_t metadataInt(const std::map<std::string, std::string>& metadata, const std::string& key,
                    const std::string& where) {
  auto it = metadata.find("ebm_torch." + key);
  if (it == metadata.end()) throw IoError(where + " lacks its '" + key + "' metadata");
  try {
    size_t used = 0;
    const long long v = std::stoll(it->second, &used);
    if (used == it->second.size() && v >= 0) return v;
  } catch (const std::exception&) {
  }
  throw IoError(where + ": metadata '" + key + "' is not a step count: '" + it->second + "'");
}

std::string trainerName(const std::string& run) { return run == "latent" ? "ebm.trainLatent" : "ebm.train"; }

}  // namespace

BatchOrder::BatchOrder(int64_t rows, int64_t batchSize, int worldSize, int rank, bool replacement, c10::Device device)
    : cursor(rows),
      rows_(rows),
      batchSize_(batchSize),
      globalBatch_(batchSize * worldSize),
      rank_(rank),
      replacement_(replacement),
      longOptions_(torch::TensorOptions().device(device).dtype(torch::kLong)) {}

at::Tensor BatchOrder::nextGlobal(at::Generator& gen) {
  at::Tensor idx;
  if (replacement_) {
    idx = torch::randint(rows_, {globalBatch_}, gen, longOptions_);
  } else {
    if (cursor + globalBatch_ > rows_) {
      order = torch::randperm(rows_, gen, longOptions_);
      cursor = 0;
    }
    idx = order.narrow(0, cursor, globalBatch_);
    cursor += globalBatch_;
  }
  return idx;
}

at::Tensor BatchOrder::rankSlice(const at::Tensor& global) const {
  return globalBatch_ == batchSize_ ? global : global.narrow(0, rank_ * batchSize_, batchSize_);
}

json::Value effectiveLoss(const json::Value& config) {
  json::Value out = lossKindOf(config).defaults();
  out.merge_patch(config);
  return out;
}

json::Value effectiveModel(const json::Value& config) {
  json::Value out = json::member(modelDefaults(), json::member(config, "kind").get<std::string>());
  out.merge_patch(config);
  return withoutKeys(out, {"device", "seed"});
}

SavedRun::SavedRun(const std::string& option, const std::string& path, const json::Value& settings,
                   const std::string& keeps, json::Value (*normalise)(json::Value previous))
    : where(option + " '" + path + "'") {
  safetensors::File file = safetensors::load(path);
  metadata_ = std::move(file.metadata);
  auto found = metadata_.find(std::string("ebm_torch.") + kSettingsKey);
  if (found == metadata_.end())
    throw ConfigError(where + " holds weights only, not a training state: resume from a checkpoint that a " +
                      "training run wrote (its checkpoint path: every `every` steps, at the end and on abort)");
  json::Value previous = normalise(json::parse(found->second, "training settings in " + where));
  // Which trainer wrote it, before any field: the two runs' settings share few keys.
  const std::string wrote = previous.value("run", "train"), runs = settings.value("run", "train");
  if (wrote != runs)
    throw ConfigError(where + " holds the training state of an " + trainerName(wrote) + " run; this is an " +
                      trainerName(runs) + " run");
  for (const auto& [key, value] : settings.items()) {
    // By value: 0 and 0.0 are equal (a checkpoint's JSON may write either).
    if (previous.contains(key) && previous[key] == value) continue;
    const std::string before = previous.contains(key) ? previous[key].dump() : "nothing";
    throw ConfigError(where + " was written by a run with " + key + " " + before + ", this run has " + value.dump() +
                      ". " + keeps);
  }
  for (auto& t : file.tensors) tensors[t.name] = t.tensor;
}

int64_t SavedRun::step() const { return metadataInt(metadata_, kStepKey, where); }

at::Tensor SavedRun::take(const std::string& name, at::IntArrayRef shape) const {
  auto it = tensors.find(name);
  if (it == tensors.end()) throw IoError(where + " is missing tensor '" + name + "'");
  if (!it->second.sizes().equals(shape) || !it->second.is_floating_point())
    throw IoError(where + ": tensor '" + name + "' has shape " + shapeString(it->second.sizes()) + ", the run needs " +
                  shapeString(shape));
  return it->second;
}

void SavedRun::restorePosition(at::Generator& gen, BatchOrder& order, c10::Device device) const {
  auto rng = tensors.find("trainer.rng");
  if (rng == tensors.end() || rng->second.scalar_type() != torch::kByte)
    throw IoError(where + " is missing its random-number generator state 'trainer.rng'");
  gen.set_state(rng->second);
  if (order.replacement()) return;
  const int64_t n = order.rows();
  order.cursor = metadataInt(metadata_, kCursorKey, where);
  auto ord = tensors.find("trainer.order");
  if (ord != tensors.end()) {
    if (ord->second.scalar_type() != torch::kLong || ord->second.dim() != 1 || ord->second.size(0) != n ||
        order.cursor > n)
      throw IoError(where + ": its data order 'trainer.order' does not fit " + std::to_string(n) + " rows");
    order.order = ord->second.to(device);
  } else if (order.cursor != n) {
    throw IoError(where + " is missing its data order 'trainer.order'");
  }
}

void writeRunCheckpoint(const EnergyModel& model, const std::string& path, std::vector<NamedTensor> extra,
                        const Position& pos, const json::Value& settings) {
  extra.push_back({"trainer.rng", pos.rng});
  if (pos.order.defined()) extra.push_back({"trainer.order", pos.order});
  writeCheckpoint(model, path, extra,
                  {{kStepKey, std::to_string(pos.step)},
                   {kCursorKey, std::to_string(pos.cursor)},
                   {kSettingsKey, settings.dump()}});
}

void TrainingState::save(const std::string& path, const Position& pos, const std::vector<at::Tensor>& raw) const {
  std::vector<NamedTensor> extra = optimizerState(optimizer, optimised);
  const auto& ps = model.parameters();
  for (size_t i = 0; i < ema.size(); ++i) extra.push_back({"ema." + ps[i].name, ema[i]});
  for (size_t i = 0; i < raw.size(); ++i) extra.push_back({"trainer.weights." + ps[i].name, raw[i]});
  for (const auto& p : lossParameters) extra.push_back({"loss." + p.name, p.tensor});
  for (const auto& t : loss.state()) extra.push_back({"loss." + t.name, t.tensor});
  writeRunCheckpoint(model, path, std::move(extra), pos, settings);
}

namespace {
json::Value normaliseTrainSettings(json::Value previous) {
  if (previous.contains("loss")) previous["loss"] = effectiveLoss(previous["loss"]);
  if (previous.contains("model")) previous["model"] = effectiveModel(previous["model"]);
  return previous;
}
}  // namespace

int64_t TrainingState::restore(const std::string& path, int64_t steps, at::Generator& gen, BatchOrder& order) const {
  const SavedRun saved("train.resumeFrom", path, settings,
                       "A resumed run keeps the model, data, loss, optimizer, schedule, batchSize, seed, replacement, "
                       "ema and gradClip; steps, logEvery and checkpoint may change",
                       normaliseTrainSettings);
  const std::string& where = saved.where;
  const int64_t startStep = saved.step();
  if (startStep >= steps)
    throw ConfigError(where + " is at step " + std::to_string(startStep) + ": train.steps (" + std::to_string(steps) +
                      ") must be larger to continue from it");
  // The weights training goes on from: the raw ones when the file's main weights are the EMA.
  for (const auto& t : model.state()) {
    const std::string raw = "trainer.weights." + t.name;
    model.setTensor(t.name, saved.take(saved.has(raw) ? raw : t.name, t.tensor.sizes()));
  }
  {
    torch::NoGradGuard noGrad;
    for (const auto& p : lossParameters) p.tensor.copy_(saved.take("loss." + p.name, p.tensor.sizes()));
    const auto& ps = model.parameters();
    for (size_t i = 0; i < ema.size(); ++i) ema[i].copy_(saved.take("ema." + ps[i].name, ps[i].tensor.sizes()));
  }
  std::map<std::string, at::Tensor> lossState;
  for (const auto& [name, t] : saved.tensors)
    if (name.compare(0, 5, "loss.") == 0) lossState[name.substr(5)] = t;
  loss.restoreState(lossState, model.device());
  restoreOptimizerState(optimizer, optimised, saved.tensors, where);
  saved.restorePosition(gen, order, model.device());
  return startStep;
}

}  // namespace ebm
