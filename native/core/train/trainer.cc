#include "train/trainer.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <optional>

#include "distributed/data_parallel.h"
#include "errors.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "kinds.h"
#include "losses/batch_noise.h"
#include "losses/loss.h"
#include "tensor_util.h"
#include "threads.h"
#include "train/optimizer.h"
#include "train/settings.h"
#include "train/weights.h"

namespace ebm {
namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Metadata keys (stored as 'ebm_torch.<key>') of a checkpoint that can resume a run.
const char* kStepKey = "train.step";
const char* kCursorKey = "train.cursor";
const char* kSettingsKey = "train.settings";

// Where a run stands at the start of a step, besides what the model, optimiser and loss hold.
struct Position {
  int64_t step = 0;
  at::Tensor rng;    // the generator's state (uint8, CPU)
  at::Tensor order;  // this epoch's shuffled row order (undefined with replacement)
  int64_t cursor = 0;
};

json::Value withoutKeys(json::Value obj, const std::vector<std::string>& drop) {
  for (const auto& key : drop) obj.erase(key);
  return obj;
}

// A loss or model config with its kind's defaults filled in, so a run compares equal to one
// that spelled the defaults out (configs from TS carry them; older checkpoints may not).
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

// A resumed run must match the one that wrote the checkpoint in everything that shapes the
// numbers; the first field that differs is named.
void requireSameSettings(const json::Value& saved, const json::Value& now, const std::string& where) {
  for (const auto& [key, value] : now.items()) {
    // By value: 0 and 0.0 are equal (a checkpoint's JSON may write either).
    if (saved.contains(key) && saved[key] == value) continue;
    const std::string before = saved.contains(key) ? saved[key].dump() : "nothing";
    throw ConfigError(
        where + " was written by a run with " + key + " " + before + ", this run has " + value.dump() +
        ". A resumed run keeps the model, data, loss, optimizer, schedule, batchSize, seed, replacement, " +
        "ema and gradClip; steps, logEvery and checkpoint may change");
  }
}

int64_t metadataInt(const safetensors::File& file, const std::string& key, const std::string& where) {
  auto it = file.metadata.find("ebm_torch." + key);
  if (it == file.metadata.end()) throw IoError(where + " lacks its '" + key + "' metadata");
  try {
    size_t used = 0;
    const long long v = std::stoll(it->second, &used);
    if (used == it->second.size() && v >= 0) return v;
  } catch (const std::exception&) {
  }
  throw IoError(where + ": metadata '" + key + "' is not a step count: '" + it->second + "'");
}

}  // namespace

TrainResult train(EnergyModel& model, const at::Tensor& dataIn, const TrainSettings& settings,
                  const std::function<void(const TrainProgress&)>& onProgress, const std::atomic<bool>& cancel,
                  const at::Tensor& labelsIn) {
  ModelLock lock(model);
  torch::AutoGradMode gradOn(true);
  TrainingMode trainingMode(model);
  const auto start = Clock::now();

  const int64_t steps = settings.steps;
  const int64_t batchSize = settings.batchSize;
  const uint64_t seed = static_cast<uint64_t>(settings.seed);
  const bool replacement = settings.replacement;
  const int64_t logEvery = std::min(steps, settings.logEvery);
  const double emaDecay = settings.ema ? settings.ema->decay : 0.0;
  const std::string checkpointPath = settings.checkpoint ? settings.checkpoint->path : "";
  const int64_t checkpointEvery = settings.checkpoint ? settings.checkpoint->every : 0;

  at::Tensor data = model.prepareInput(dataIn, "data");
  requireFinite(data, "data");
  const int64_t n = data.size(0);
  at::Tensor labels;
  if (labelsIn.defined()) {
    if (labelsIn.dim() != 1 || labelsIn.size(0) != n)
      throw ShapeError("labels must have one entry per data row (" + std::to_string(n) + "), got " +
                       shapeString(labelsIn.sizes()));
    labels = labelsIn.to(model.device(), torch::kLong);
  }
  // Data-parallel: batchSize rows per rank, as in PyTorch DDP; every rank draws the global batch's
  // rows and noise and keeps its slice (losses/batch_noise.h).
  const DistributedConfig dist = settings.distributed.value_or(DistributedConfig{});
  const int64_t globalBatch = batchSize * dist.worldSize;
  if (!replacement && globalBatch > n)
    throw ConfigError("train.batchSize (" + std::to_string(batchSize) +
                      (dist.worldSize > 1 ? " per rank, " + std::to_string(globalBatch) + " over all ranks" : "") +
                      ") is larger than the dataset (" + std::to_string(n) +
                      " rows); use a smaller batch or replacement: true");

  const LossKind& lossKind = lossKindOf(settings.loss);
  std::unique_ptr<Loss> loss = lossKind.make(settings.loss, model);
  if (loss->trainingGrid().levels > 0) model.setTrainingGrid(loss->trainingGrid());
  const double gradClip = settings.gradClip.value_or(lossKind.recommendedGradClip);
  const LossParameters lossParameters = loss->parameters();

  if (model.parameters().empty())
    throw ConfigError("model '" + model.kind() + "' has no trainable parameters (analytic energies and compositions " +
                      "are not trained; train their parts)");
  std::vector<at::Tensor> modelParams, lossParams;
  for (const auto& p : model.parameters()) modelParams.push_back(p.tensor);
  for (const auto& p : lossParameters.tensors) lossParams.push_back(p.tensor);
  OptimizerBuild built = makeOptimizer(settings.optimizer, modelParams);
  torch::optim::Optimizer& optimizer = *built.optimizer;
  if (!lossParams.empty()) {
    // Loss-owned tensors (DiffCLF offsets) get their own group, optionally with their own lr.
    std::unique_ptr<torch::optim::OptimizerOptions> options = optimizer.defaults().clone();
    if (lossParameters.lr > 0) options->set_lr(lossParameters.lr);
    optimizer.add_param_group(torch::optim::OptimizerParamGroup(lossParams, std::move(options)));
  }
  std::vector<at::Tensor> params = modelParams;
  params.insert(params.end(), lossParams.begin(), lossParams.end());
  // Every optimised tensor by the name its state carries in a checkpoint.
  std::vector<NamedTensor> namedParams = model.parameters();
  for (const auto& p : lossParameters.tensors) namedParams.push_back({"loss." + p.name, p.tensor});
  std::vector<double> groupLr;
  for (auto& group : optimizer.param_groups()) groupLr.push_back(group.options().get_lr());

  const Schedule schedule = makeSchedule(settings.schedule.value_or(ScheduleOptions{}), built.lr, steps);

  // What a resumed run must share with the one that wrote its checkpoint.
  const json::Value runSettings = {
      {"model", effectiveModel(model.config())},
      {"rows", n},
      {"labels", labels.defined()},
      {"loss", effectiveLoss(settings.loss)},
      {"optimizer", built.settings},
      {"schedule", schedule.settings()},
      {"batchSize", batchSize},
      {"seed", seed},
      {"replacement", replacement},
      {"ema", emaDecay},
      {"gradClip", gradClip},
      {"worldSize", dist.worldSize},
  };

  at::Generator gen = makeGenerator(model.device(), seed);
  std::unique_ptr<Communicator> comm;
  if (dist.worldSize > 1) {
    comm = connect(dist);
    // Every rank starts from rank 0's weights (and loss-owned tensors).
    std::vector<at::Tensor> start;
    for (const auto& t : model.state()) start.push_back(t.tensor);
    for (const auto& p : lossParameters.tensors) start.push_back(p.tensor);
    broadcastFromRankZero(*comm, start);
  }
  // Rank 0 alone writes checkpoints.
  const bool writer = !comm || comm->rank() == 0;
  std::vector<at::Tensor> buffers;
  for (const auto& b : model.buffers()) buffers.push_back(b.tensor);
  const auto longOpts = torch::TensorOptions().device(model.device()).dtype(torch::kLong);
  at::Tensor order;
  int64_t cursor = n;  // forces a shuffle before the first batch
  std::vector<at::Tensor> ema = emaDecay > 0 ? cloneAll(model.parameters()) : std::vector<at::Tensor>{};
  int64_t startStep = 0;

  if (settings.resumeFrom) {
    const std::string path = *settings.resumeFrom;
    const std::string where = "train.resumeFrom '" + path + "'";
    safetensors::File file = safetensors::load(path);
    auto found = file.metadata.find(std::string("ebm_torch.") + kSettingsKey);
    if (found == file.metadata.end())
      throw ConfigError(where + " holds weights only, not a training state: resume from a checkpoint that train() " +
                        "wrote (train.checkpoint.path: every `every` steps, at the end and on abort)");
    json::Value previous = json::parse(found->second, "training settings in " + where);
    if (previous.contains("loss")) previous["loss"] = effectiveLoss(previous["loss"]);
    if (previous.contains("model")) previous["model"] = effectiveModel(previous["model"]);
    requireSameSettings(previous, runSettings, where);
    startStep = metadataInt(file, kStepKey, where);
    if (startStep >= steps)
      throw ConfigError(where + " is at step " + std::to_string(startStep) + ": train.steps (" + std::to_string(steps) +
                        ") must be larger to continue from it");
    std::map<std::string, at::Tensor> saved;
    for (auto& t : file.tensors) saved[t.name] = t.tensor;
    auto take = [&](const std::string& name, at::IntArrayRef shape) -> at::Tensor {
      auto it = saved.find(name);
      if (it == saved.end()) throw IoError(where + " is missing tensor '" + name + "'");
      if (!it->second.sizes().equals(shape) || !it->second.is_floating_point())
        throw IoError(where + ": tensor '" + name + "' has shape " + shapeString(it->second.sizes()) +
                      ", the run needs " + shapeString(shape));
      return it->second;
    };
    // The weights training goes on from: the raw ones when the file's main weights are the EMA.
    for (const auto& t : model.state()) {
      const std::string raw = "trainer.weights." + t.name;
      model.setTensor(t.name, take(saved.count(raw) ? raw : t.name, t.tensor.sizes()));
    }
    {
      torch::NoGradGuard noGrad;
      for (const auto& p : lossParameters.tensors) p.tensor.copy_(take("loss." + p.name, p.tensor.sizes()));
      const auto& ps = model.parameters();
      for (size_t i = 0; i < ema.size(); ++i) ema[i].copy_(take("ema." + ps[i].name, ps[i].tensor.sizes()));
    }
    std::map<std::string, at::Tensor> lossState;
    for (const auto& [name, t] : saved)
      if (name.compare(0, 5, "loss.") == 0) lossState[name.substr(5)] = t;
    loss->restoreState(lossState, model.device());
    restoreOptimizerState(optimizer, namedParams, saved, where);
    auto rng = saved.find("trainer.rng");
    if (rng == saved.end() || rng->second.scalar_type() != torch::kByte)
      throw IoError(where + " is missing its random-number generator state 'trainer.rng'");
    gen.set_state(rng->second);
    if (!replacement) {
      cursor = metadataInt(file, kCursorKey, where);
      auto ord = saved.find("trainer.order");
      if (ord != saved.end()) {
        if (ord->second.scalar_type() != torch::kLong || ord->second.dim() != 1 || ord->second.size(0) != n ||
            cursor > n)
          throw IoError(where + ": its data order 'trainer.order' does not fit " + std::to_string(n) + " rows");
        order = ord->second.to(model.device());
      } else if (cursor != n) {
        throw IoError(where + " is missing its data order 'trainer.order'");
      }
    }
  }

  // Writes the model with everything a run needs to continue from `at`. `raw`: the training
  // weights when the model now holds the EMA ones (the end of a run).
  auto saveTrainingState = [&](const Position& pos, const std::vector<at::Tensor>& raw) {
    std::vector<NamedTensor> extra = optimizerState(optimizer, namedParams);
    const auto& ps = model.parameters();
    for (size_t i = 0; i < ema.size(); ++i) extra.push_back({"ema." + ps[i].name, ema[i]});
    for (size_t i = 0; i < raw.size(); ++i) extra.push_back({"trainer.weights." + ps[i].name, raw[i]});
    for (const auto& p : lossParameters.tensors) extra.push_back({"loss." + p.name, p.tensor});
    for (const auto& t : loss->state()) extra.push_back({"loss." + t.name, t.tensor});
    extra.push_back({"trainer.rng", pos.rng});
    if (pos.order.defined()) extra.push_back({"trainer.order", pos.order});
    writeCheckpoint(model, checkpointPath, extra,
                    {{kStepKey, std::to_string(pos.step)},
                     {kCursorKey, std::to_string(pos.cursor)},
                     {kSettingsKey, runSettings.dump()}});
  };
  auto here = [&](int64_t step) { return Position{step, gen.get_state(), order, cursor}; };
  // An abort leaves the model at its last completed step; with a checkpoint path that state is
  // saved, so the run can be resumed from it.
  auto abortAt = [&](const Position& pos, const std::string& message) {
    if (checkpointPath.empty()) throw AbortedError(message);
    if (!writer) throw AbortedError(message + "; rank 0 saves the training state to '" + checkpointPath + "'");
    saveTrainingState(pos, {});
    throw AbortedError(message + "; the training state was saved to '" + checkpointPath + "'");
  };

  std::vector<at::Tensor> lastGood = cloneAll(model.state());
  int64_t lastGoodStep = startStep;

  applyJobThreads(preferenceForWork(model, batchSize * loss->rowsPerExample()));
  TrainResult result;
  result.threads = at::get_num_threads();
  result.startStep = startStep;
  IntervalMeans interval;

  for (int64_t step = startStep; step < steps; ++step) {
    // With several ranks an abort is agreed on in the step's gradient reduction instead.
    if (!comm && cancel.load(std::memory_order_relaxed))
      abortAt(here(step), "training was aborted after " + std::to_string(step) + " steps");
    // Taken only when an abort during the step could need it.
    const Position atStart = checkpointPath.empty() ? Position{} : here(step);
    const double lr = schedule.at(step);
    // Every group follows the schedule relative to its own base rate.
    for (size_t g = 0; g < optimizer.param_groups().size(); ++g)
      optimizer.param_groups()[g].options().set_lr(groupLr[g] * lr / schedule.base);

    at::Tensor idx;
    if (replacement) {
      idx = torch::randint(n, {globalBatch}, gen, longOpts);
    } else {
      if (cursor + globalBatch > n) {
        order = torch::randperm(n, gen, longOpts);
        cursor = 0;
      }
      idx = order.narrow(0, cursor, globalBatch);
      cursor += globalBatch;
    }
    if (comm) idx = idx.narrow(0, comm->rank() * batchSize, batchSize);
    at::Tensor batch = data.index_select(0, idx);
    const StepContext context{batch, gen, step, labels.defined() ? labels.index_select(0, idx) : at::Tensor(), &cancel};
    // Gradients set to none rather than zeroed (as PyTorch's zero_grad(set_to_none=True), the
    // default since 2.0): backward then hands over its tensors instead of adding them to zeros,
    // and a parameter the loss did not reach is skipped by the optimiser, not moved by momentum.
    for (auto& group : optimizer.param_groups())
      for (auto& p : group.params()) p.mutable_grad() = at::Tensor();
    LossOutput out;
    bool stopped = false;  // this rank was aborted inside the step
    try {
      std::optional<RowShard> shard;
      if (comm) shard.emplace(comm->rank() * batchSize, batchSize, globalBatch);
      out = loss->compute(model, context);
    } catch (const AbortedError&) {
      // CD's sampler stops mid-chain; report it as the run's abort (no update of this step applied).
      const std::string message = "training was aborted after " + std::to_string(step) + " steps (during step " +
                                  std::to_string(step + 1) + "'s negative sampling)";
      if (!comm) abortAt(atStart, message);
      stopped = true;
    }
    if (!stopped) out.loss.backward();
    if (comm && reduceGradients(*comm, params, stopped || cancel.load(std::memory_order_relaxed)))
      abortAt(atStart, "training was aborted after " + std::to_string(step) + " steps (asked on one of the " +
                           std::to_string(comm->worldSize()) + " ranks)");

    at::Tensor gradNorm = globalGradNorm(params, data.options());
    if (gradClip > 0) {
      // Scale on the device: no host sync per step.
      at::Tensor scale = torch::clamp_max(gradClip / (gradNorm + 1e-6), 1.0);
      torch::NoGradGuard noGrad;
      for (const auto& p : params)
        if (p.grad().defined()) p.grad().mul_(scale);
    }
    optimizer.step();
    if (lossParameters.afterStep) lossParameters.afterStep();
    // Buffers (batch-norm statistics): the ranks' means, so every rank holds the same state.
    if (comm) averageTensors(*comm, buffers);
    if (emaDecay > 0) {
      torch::NoGradGuard noGrad;
      const auto& ps = model.parameters();
      for (size_t i = 0; i < ps.size(); ++i) ema[i].lerp_(ps[i].tensor.detach(), 1 - emaDecay);
    }

    interval.addLoss(out.loss);
    out.metrics["gradNorm"] = gradNorm.detach();
    for (const auto& [name, value] : out.metrics) interval.add(name, value);

    const bool last = step + 1 == steps;
    if ((step + 1) % logEvery != 0 && !last) continue;

    // One host read per report; a loss that turns non-finite shows in the loss or the gradient norm.
    IntervalMeans::Report report = interval.take([](const std::string& name) { return name == "gradNorm"; });
    if (comm) reduceReport(*comm, report, [](const std::string& name) { return name == "gradNorm"; });
    if (!report.finite) {
      restoreAll(model.state(), lastGood);
      throw NumericsError("the loss or its gradient became non-finite between steps " + std::to_string(lastGoodStep) +
                          " and " + std::to_string(step + 1) + "; the model keeps the weights of step " +
                          std::to_string(lastGoodStep) + ". Try a smaller learning rate or gradient clipping.");
    }
    TrainProgress p;
    p.step = step + 1;
    p.loss = report.loss;
    p.lr = lr;
    p.seconds = secondsSince(start);
    p.stepsPerSecond = report.stepsPerSecond;
    p.metrics = std::move(report.metrics);
    result.history.push_back(p);
    if (onProgress) onProgress(p);

    lastGood = cloneAll(model.state());
    lastGoodStep = step + 1;
    if (writer && checkpointEvery > 0 && (step + 1) % checkpointEvery == 0 && !last)
      saveTrainingState(here(step + 1), {});
  }

  std::vector<at::Tensor> raw;
  if (emaDecay > 0) {
    raw = cloneAll(model.parameters());
    restoreAll(model.parameters(), ema);
  }
  if (writer && !checkpointPath.empty()) saveTrainingState(here(steps), raw);
  for (const auto& p : lossParameters.tensors)
    result.lossParameters.push_back({p.name, p.tensor.detach().to(torch::kCPU)});
  result.steps = steps;
  result.rank = comm ? comm->rank() : 0;
  result.worldSize = comm ? comm->worldSize() : 1;
  result.seconds = secondsSince(start);
  const auto* onePass = dynamic_cast<const OnePassStep*>(&optimizer);
  result.onePassOptimizer = onePass && onePass->onePassOnly();
  return result;
}

LossEvaluation evaluateLoss(EnergyModel& model, const at::Tensor& batchIn, const json::Value& lossConfig,
                            uint64_t seed) {
  ModelLock lock(model);
  torch::AutoGradMode gradOn(true);
  at::Tensor batch = model.prepareInput(batchIn, "batch");
  requireFinite(batch, "batch");
  std::unique_ptr<Loss> loss = makeLoss(lossConfig, model);
  at::Generator gen = makeGenerator(model.device(), seed);
  std::vector<NamedTensor> tensors = model.parameters();
  for (const auto& p : loss->parameters().tensors) tensors.push_back(p);
  for (const auto& p : tensors) p.tensor.mutable_grad() = at::Tensor();
  LossOutput out = loss->compute(model, StepContext{batch, gen, 0, at::Tensor(), nullptr});
  out.loss.backward();
  LossEvaluation result;
  result.loss = out.loss.item<double>();
  for (const auto& [name, value] : out.metrics) result.metrics[name] = value.item<double>();
  for (const auto& p : tensors) {
    const at::Tensor& g = p.tensor.grad();
    result.gradNorms[p.name] = g.defined() ? g.norm().item<double>() : 0.0;
    p.tensor.mutable_grad() = at::Tensor();
  }
  return result;
}

}  // namespace ebm
