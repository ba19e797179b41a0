#include "train/trainer.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <optional>

#include "distributed/data_parallel.h"
#include "errors.h"
#include "losses/batch_noise.h"
#include "losses/loss.h"
#include "tensor_util.h"
#include "threads.h"
#include "train/optimizer.h"
#include "train/settings.h"
#include "train/training_state.h"
#include "train/weights.h"

namespace ebm {
namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// The data on the model's device, checked, with its labels (optional, one per row).
struct Dataset {
  at::Tensor rows, labels;
};
Dataset prepareData(const EnergyModel& model, const at::Tensor& dataIn, const at::Tensor& labelsIn) {
  Dataset d{model.prepareInput(dataIn, "data"), at::Tensor()};
  requireFinite(d.rows, "data");
  const int64_t n = d.rows.size(0);
  if (labelsIn.defined()) {
    if (labelsIn.dim() != 1 || labelsIn.size(0) != n)
      throw ShapeError("labels must have one entry per data row (" + std::to_string(n) + "), got " +
                       shapeString(labelsIn.sizes()));
    d.labels = labelsIn.to(model.device(), torch::kLong);
  }
  return d;
}

// The optimiser over the model's parameters and, in a group of their own (optionally with their
// own lr), the loss-owned tensors (DiffCLF offsets).
struct Optimisation {
  OptimizerBuild built;
  std::vector<at::Tensor> params;      // every optimised tensor
  std::vector<NamedTensor> optimised;  // the same, by their names in a checkpoint
  std::vector<double> groupLr;         // each group's base rate
};
Optimisation makeOptimisation(EnergyModel& model, const LossParameters& lossParameters,
                              const json::Value& optimizerConfig) {
  if (model.parameters().empty())
    throw ConfigError("model '" + model.kind() + "' has no trainable parameters (analytic energies and compositions " +
                      "are not trained; train their parts)");
  Optimisation o;
  std::vector<at::Tensor> lossParams;
  for (const auto& p : model.parameters()) o.params.push_back(p.tensor);
  for (const auto& p : lossParameters.tensors) lossParams.push_back(p.tensor);
  o.built = makeOptimizer(optimizerConfig, o.params);
  torch::optim::Optimizer& optimizer = *o.built.optimizer;
  if (!lossParams.empty()) {
    std::unique_ptr<torch::optim::OptimizerOptions> options = optimizer.defaults().clone();
    if (lossParameters.lr > 0) options->set_lr(lossParameters.lr);
    optimizer.add_param_group(torch::optim::OptimizerParamGroup(lossParams, std::move(options)));
  }
  o.params.insert(o.params.end(), lossParams.begin(), lossParams.end());
  o.optimised = model.parameters();
  for (const auto& p : lossParameters.tensors) o.optimised.push_back({"loss." + p.name, p.tensor});
  for (auto& group : optimizer.param_groups()) o.groupLr.push_back(group.options().get_lr());
  return o;
}

// One training run: what train() sets up, its steps, reports and checkpoints.
class Run {
 public:
  Run(EnergyModel& model, const at::Tensor& dataIn, const TrainSettings& settings, const std::atomic<bool>& cancel,
      const at::Tensor& labelsIn)
      : model_(model),
        settings_(settings),
        cancel_(cancel),
        steps_(settings.steps),
        logEvery_(std::min(settings.steps, settings.logEvery)),
        emaDecay_(settings.ema ? settings.ema->decay : 0.0),
        checkpointPath_(settings.checkpoint ? settings.checkpoint->path : ""),
        data_(prepareData(model, dataIn, labelsIn)),
        dist_(settings.distributed.value_or(DistributedConfig{})),
        lossKind_(lossKindOf(settings.loss)),
        loss_(lossKind_.make(settings.loss, model)),
        lossParameters_(loss_->parameters()),
        opt_(makeOptimisation(model, lossParameters_, settings.optimizer)),
        schedule_(makeSchedule(settings.schedule.value_or(ScheduleOptions{}), opt_.built.lr, steps_)),
        gradClip_(settings.gradClip.value_or(lossKind_.recommendedGradClip)),
        gen_(makeGenerator(model.device(), static_cast<uint64_t>(settings.seed))) {
    const int64_t n = data_.rows.size(0);
    const int64_t globalBatch = settings.batchSize * dist_.worldSize;
    if (!settings.replacement && globalBatch > n)
      throw ConfigError("train.batchSize (" + std::to_string(settings.batchSize) +
                        (dist_.worldSize > 1 ? " per rank, " + std::to_string(globalBatch) + " over all ranks" : "") +
                        ") is larger than the dataset (" + std::to_string(n) +
                        " rows); use a smaller batch or replacement: true");
    if (loss_->trainingGrid().levels > 0) model.setTrainingGrid(loss_->trainingGrid());
    if (emaDecay_ > 0) ema_ = cloneAll(model.parameters());
    for (const auto& b : model.buffers()) buffers_.push_back(b.tensor);
  }

  TrainResult go(const std::function<void(const TrainProgress&)>& onProgress) {
    const auto start = Clock::now();
    connectRanks();
    TrainingState state = trainingState();
    BatchOrder order(data_.rows.size(0), settings_.batchSize, dist_.worldSize, comm_ ? comm_->rank() : 0,
                     settings_.replacement, model_.device());
    const int64_t startStep = settings_.resumeFrom ? state.restore(*settings_.resumeFrom, steps_, gen_, order) : 0;
    lastGood_ = cloneAll(model_.state());
    lastGoodStep_ = startStep;
    applyJobThreads(preferenceForWork(model_, settings_.batchSize * loss_->rowsPerExample()));
    TrainResult result;
    result.threads = at::get_num_threads();
    result.startStep = startStep;
    auto here = [&](int64_t step) { return Position{step, gen_.get_state(), order.order, order.cursor}; };
    const int64_t checkpointEvery = settings_.checkpoint ? settings_.checkpoint->every : 0;
    for (int64_t step = startStep; step < steps_; ++step) {
      // With several ranks an abort is agreed on in the step's gradient reduction instead.
      if (!comm_ && cancel_.load(std::memory_order_relaxed))
        abortAt(state, here(step), "training was aborted after " + std::to_string(step) + " steps");
      // Taken only when an abort during the step could need it.
      const Position atStart = checkpointPath_.empty() ? Position{} : here(step);
      const double lr = applySchedule(step);
      takeStep(state, step, order.next(gen_), atStart);
      const bool last = step + 1 == steps_;
      if ((step + 1) % logEvery_ != 0 && !last) continue;
      report(step, lr, secondsSince(start), result, onProgress);
      if (writer() && checkpointEvery > 0 && (step + 1) % checkpointEvery == 0 && !last)
        state.save(checkpointPath_, here(step + 1), {});
    }
    std::vector<at::Tensor> raw;
    if (emaDecay_ > 0) {
      raw = cloneAll(model_.parameters());
      restoreAll(model_.parameters(), ema_);
    }
    if (writer() && !checkpointPath_.empty()) state.save(checkpointPath_, here(steps_), raw);
    for (const auto& p : lossParameters_.tensors)
      result.lossParameters.push_back({p.name, p.tensor.detach().to(torch::kCPU)});
    result.steps = steps_;
    result.rank = comm_ ? comm_->rank() : 0;
    result.worldSize = comm_ ? comm_->worldSize() : 1;
    result.seconds = secondsSince(start);
    const auto* onePass = dynamic_cast<const OnePassStep*>(opt_.built.optimizer.get());
    result.onePassOptimizer = onePass && onePass->onePassOnly();
    result.onePassLossHead = loss_->onePassHeadOnly();
    return result;
  }

 private:
  // Rank 0 alone writes checkpoints.
  bool writer() const { return !comm_ || comm_->rank() == 0; }

  void connectRanks() {
    if (dist_.worldSize <= 1) return;
    comm_ = connect(dist_);
    // Every rank starts from rank 0's weights (and loss-owned tensors).
    std::vector<at::Tensor> start;
    for (const auto& t : model_.state()) start.push_back(t.tensor);
    for (const auto& p : lossParameters_.tensors) start.push_back(p.tensor);
    broadcastFromRankZero(*comm_, start);
  }

  TrainingState trainingState() {
    // What a resumed run must share with the one that wrote its checkpoint.
    json::Value runSettings = {
        {"model", effectiveModel(model_.config())},
        {"rows", data_.rows.size(0)},
        {"labels", data_.labels.defined()},
        {"loss", effectiveLoss(settings_.loss)},
        {"optimizer", opt_.built.settings},
        {"schedule", schedule_.settings()},
        {"batchSize", settings_.batchSize},
        {"seed", static_cast<uint64_t>(settings_.seed)},
        {"replacement", settings_.replacement},
        {"ema", emaDecay_},
        {"gradClip", gradClip_},
        {"worldSize", dist_.worldSize},
    };
    return TrainingState{model_,         *loss_, *opt_.built.optimizer, lossParameters_.tensors,
                         opt_.optimised, ema_,   std::move(runSettings)};
  }

  // An abort leaves the model at its last completed step; with a checkpoint path that state is
  // saved, so the run can be resumed from it.
  [[noreturn]] void abortAt(const TrainingState& state, const Position& pos, const std::string& message) {
    if (checkpointPath_.empty()) throw AbortedError(message);
    if (!writer()) throw AbortedError(message + "; rank 0 saves the training state to '" + checkpointPath_ + "'");
    state.save(checkpointPath_, pos, {});
    throw AbortedError(message + "; the training state was saved to '" + checkpointPath_ + "'");
  }

  double applySchedule(int64_t step) {
    const double lr = schedule_.at(step);
    // Every group follows the schedule relative to its own base rate.
    auto& groups = opt_.built.optimizer->param_groups();
    for (size_t g = 0; g < groups.size(); ++g) groups[g].options().set_lr(opt_.groupLr[g] * lr / schedule_.base);
    return lr;
  }

  // One optimiser step on the rows `idx`: loss, gradients (reduced over ranks), clip, update, EMA.
  void takeStep(const TrainingState& state, int64_t step, const at::Tensor& idx, const Position& atStart) {
    torch::optim::Optimizer& optimizer = *opt_.built.optimizer;
    at::Tensor batch = data_.rows.index_select(0, idx);
    const StepContext context{batch, gen_, step,
                              data_.labels.defined() ? data_.labels.index_select(0, idx) : at::Tensor(), &cancel_};
    // Gradients set to none rather than zeroed (as PyTorch's zero_grad(set_to_none=True), the
    // default since 2.0): backward then hands over its tensors instead of adding them to zeros,
    // and a parameter the loss did not reach is skipped by the optimiser, not moved by momentum.
    for (auto& group : optimizer.param_groups())
      for (auto& p : group.params()) p.mutable_grad() = at::Tensor();
    LossOutput out;
    bool stopped = false;  // this rank was aborted inside the step
    try {
      std::optional<RowShard> shard;
      if (comm_)
        shard.emplace(comm_->rank() * settings_.batchSize, settings_.batchSize, batch.size(0) * dist_.worldSize);
      out = loss_->compute(model_, context);
    } catch (const AbortedError&) {
      // CD's sampler stops mid-chain; report it as the run's abort (no update of this step applied).
      const std::string message = "training was aborted after " + std::to_string(step) + " steps (during step " +
                                  std::to_string(step + 1) + "'s negative sampling)";
      if (!comm_) abortAt(state, atStart, message);
      stopped = true;
    }
    if (!stopped) out.loss.backward();
    if (comm_ && reduceGradients(*comm_, opt_.params, stopped || cancel_.load(std::memory_order_relaxed)))
      abortAt(state, atStart,
              "training was aborted after " + std::to_string(step) + " steps (asked on one of the " +
                  std::to_string(comm_->worldSize()) + " ranks)");
    at::Tensor gradNorm = globalGradNorm(opt_.params, data_.rows.options());
    if (gradClip_ > 0) {
      // Scale on the device: no host sync per step.
      at::Tensor scale = torch::clamp_max(gradClip_ / (gradNorm + 1e-6), 1.0);
      torch::NoGradGuard noGrad;
      for (const auto& p : opt_.params)
        if (p.grad().defined()) p.grad().mul_(scale);
    }
    optimizer.step();
    if (lossParameters_.afterStep) lossParameters_.afterStep();
    // Buffers (batch-norm statistics): the ranks' means, so every rank holds the same state.
    if (comm_) averageTensors(*comm_, buffers_);
    if (emaDecay_ > 0) {
      torch::NoGradGuard noGrad;
      const auto& ps = model_.parameters();
      for (size_t i = 0; i < ps.size(); ++i) ema_[i].lerp_(ps[i].tensor.detach(), 1 - emaDecay_);
    }
    interval_.addLoss(out.loss);
    out.metrics["gradNorm"] = gradNorm.detach();
    for (const auto& [name, value] : out.metrics) interval_.add(name, value);
  }

  // The report after step `step` (0-based): one host read; a loss that turns non-finite shows in
  // the loss or the gradient norm and puts back the weights of the last finite report.
  void report(int64_t step, double lr, double seconds, TrainResult& result,
              const std::function<void(const TrainProgress&)>& onProgress) {
    IntervalMeans::Report r = interval_.take([](const std::string& name) { return name == "gradNorm"; });
    if (comm_) reduceReport(*comm_, r, [](const std::string& name) { return name == "gradNorm"; });
    if (!r.finite) {
      restoreAll(model_.state(), lastGood_);
      throw NumericsError("the loss or its gradient became non-finite between steps " + std::to_string(lastGoodStep_) +
                          " and " + std::to_string(step + 1) + "; the model keeps the weights of step " +
                          std::to_string(lastGoodStep_) + ". Try a smaller learning rate or gradient clipping.");
    }
    TrainProgress p;
    p.step = step + 1;
    p.loss = r.loss;
    p.lr = lr;
    p.seconds = seconds;
    p.stepsPerSecond = r.stepsPerSecond;
    p.metrics = std::move(r.metrics);
    result.history.push_back(p);
    if (onProgress) onProgress(p);
    lastGood_ = cloneAll(model_.state());
    lastGoodStep_ = step + 1;
  }

  EnergyModel& model_;
  const TrainSettings& settings_;
  const std::atomic<bool>& cancel_;
  const int64_t steps_, logEvery_;
  const double emaDecay_;
  const std::string checkpointPath_;
  const Dataset data_;
  const DistributedConfig dist_;
  const LossKind& lossKind_;
  std::unique_ptr<Loss> loss_;
  const LossParameters lossParameters_;
  Optimisation opt_;
  const Schedule schedule_;
  const double gradClip_;
  at::Generator gen_;
  std::unique_ptr<Communicator> comm_;
  std::vector<at::Tensor> buffers_, ema_, lastGood_;
  int64_t lastGoodStep_ = 0;
  IntervalMeans interval_;
};

}  // namespace

TrainResult train(EnergyModel& model, const at::Tensor& dataIn, const TrainSettings& settings,
                  const std::function<void(const TrainProgress&)>& onProgress, const std::atomic<bool>& cancel,
                  const at::Tensor& labelsIn) {
  ModelLock lock(model);
  torch::AutoGradMode gradOn(true);
  TrainingMode trainingMode(model);
  Run run(model, dataIn, settings, cancel, labelsIn);
  return run.go(onProgress);
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
  result.onePassLossHead = loss->onePassHeadOnly();
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
