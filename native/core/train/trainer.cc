#include "train/trainer.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <memory>

#include "errors.h"
#include "io/checkpoint.h"
#include "losses/loss.h"
#include "tensor_util.h"
#include "train/weights.h"

namespace ebm {
namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::unique_ptr<torch::optim::Optimizer> makeOptimizer(const json::Value& cfg, std::vector<at::Tensor> params) {
  const std::string where = "optimizer";
  const std::string kind = json::getString(cfg, "kind", where, "adam");
  const double lr = json::getNumber(cfg, "lr", where, 1e-3);
  if (!(lr > 0)) throw ConfigError("optimizer.lr must be > 0, got " + std::to_string(lr));
  const double wd = json::getNumber(cfg, "weightDecay", where, kind == "adamw" ? 0.01 : 0.0);
  if (!(wd >= 0)) throw ConfigError("optimizer.weightDecay must be >= 0");
  if (kind == "adam" || kind == "adamw") {
    double b1 = 0.9, b2 = 0.999;
    if (cfg.has("betas")) {
      const auto& b = cfg["betas"];
      if (!b.isArray() || b.asArray().size() != 2 || !b.asArray()[0].isNumber() || !b.asArray()[1].isNumber())
        throw ConfigError("optimizer.betas must be [beta1, beta2]");
      b1 = b.asArray()[0].asNumber();
      b2 = b.asArray()[1].asNumber();
      if (!(b1 >= 0 && b1 < 1 && b2 >= 0 && b2 < 1)) throw ConfigError("optimizer.betas must lie in [0, 1)");
    }
    const double eps = json::getNumber(cfg, "eps", where, 1e-8);
    if (kind == "adam")
      return std::make_unique<torch::optim::Adam>(
          params, torch::optim::AdamOptions(lr).betas({b1, b2}).eps(eps).weight_decay(wd));
    return std::make_unique<torch::optim::AdamW>(
        params, torch::optim::AdamWOptions(lr).betas({b1, b2}).eps(eps).weight_decay(wd));
  }
  if (kind == "sgd") {
    const double momentum = json::getNumber(cfg, "momentum", where, 0.0);
    if (!(momentum >= 0 && momentum < 1)) throw ConfigError("optimizer.momentum must be in [0, 1)");
    return std::make_unique<torch::optim::SGD>(params,
                                               torch::optim::SGDOptions(lr).momentum(momentum).weight_decay(wd));
  }
  throw ConfigError("optimizer.kind must be one of adam, adamw, sgd; got '" + kind + "'");
}

// Learning rate at a step: linear warm-up, then constant or cosine decay to minLr.
struct Schedule {
  std::string kind = "constant";
  double base = 1e-3, minLr = 0;
  int64_t warmup = 0, total = 1;

  double at(int64_t step) const {
    double lr = base;
    if (kind == "cosine") {
      const double progress =
          std::min(1.0, static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, total)));
      lr = minLr + (base - minLr) * 0.5 * (1 + std::cos(M_PI * progress));
    }
    if (warmup > 0 && step < warmup) lr *= static_cast<double>(step + 1) / static_cast<double>(warmup);
    return lr;
  }
};

}  // namespace

TrainResult train(EnergyModel& model, const at::Tensor& dataIn, const json::Value& cfg,
                  const std::function<void(const TrainProgress&)>& onProgress, const std::atomic<bool>& cancel,
                  const at::Tensor& labelsIn) {
  ModelLock lock(model);
  torch::AutoGradMode gradOn(true);
  TrainingMode trainingMode(model);
  const auto start = Clock::now();

  const int64_t steps = json::getInt(cfg, "steps", "train");
  const int64_t batchSize = json::getInt(cfg, "batchSize", "train");
  const uint64_t seed = static_cast<uint64_t>(json::getInt(cfg, "seed", "train", 0));
  const bool replacement = json::getBool(cfg, "replacement", "train", false);
  const int64_t logEvery = std::min(steps, json::getInt(cfg, "logEvery", "train", 10));
  const double emaDecay = cfg.has("ema") ? json::getNumber(cfg["ema"], "decay", "train.ema") : 0.0;
  if (steps < 1) throw ConfigError("train.steps must be >= 1");
  if (batchSize < 1) throw ConfigError("train.batchSize must be >= 1");
  if (logEvery < 1) throw ConfigError("train.logEvery must be >= 1");
  if (!(emaDecay >= 0 && emaDecay < 1)) throw ConfigError("train.ema.decay must be in [0, 1)");
  std::string checkpointPath;
  int64_t checkpointEvery = 0;
  if (cfg.has("checkpoint")) {
    checkpointPath = json::getString(cfg["checkpoint"], "path", "train.checkpoint");
    checkpointEvery = json::getInt(cfg["checkpoint"], "every", "train.checkpoint", 0);
    if (checkpointEvery < 0 || checkpointEvery % logEvery != 0)
      throw ConfigError("train.checkpoint.every must be a multiple of logEvery (" + std::to_string(logEvery) +
                        "): checkpoints are written at reports, after the finiteness check");
  }

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
  if (!replacement && batchSize > n)
    throw ConfigError("train.batchSize (" + std::to_string(batchSize) + ") is larger than the dataset (" +
                      std::to_string(n) + " rows); use a smaller batch or replacement: true");

  std::unique_ptr<Loss> loss = makeLoss(cfg["loss"], model);
  loss->setCancelFlag(&cancel);
  const double gradClip = cfg.has("gradClip") ? json::getNumber(cfg, "gradClip", "train") : loss->defaultGradClip();
  if (!(gradClip >= 0)) throw ConfigError("train.gradClip must be >= 0 (0 turns clipping off)");

  if (model.parameters().empty())
    throw ConfigError("model '" + model.kind() + "' has no trainable parameters (analytic energies and compositions " +
                      "are not trained; train their parts)");
  std::vector<at::Tensor> modelParams, lossParams;
  for (const auto& p : model.parameters()) modelParams.push_back(p.tensor);
  for (const auto& p : loss->parameters()) lossParams.push_back(p.tensor);
  const json::Value& optCfg = cfg["optimizer"];
  std::unique_ptr<torch::optim::Optimizer> optimizer = makeOptimizer(optCfg, modelParams);
  if (!lossParams.empty()) {
    // Loss-owned tensors (DiffCLF offsets) get their own group, optionally with their own lr.
    std::unique_ptr<torch::optim::OptimizerOptions> options = optimizer->defaults().clone();
    if (loss->parameterLr() > 0) options->set_lr(loss->parameterLr());
    optimizer->add_param_group(torch::optim::OptimizerParamGroup(lossParams, std::move(options)));
  }
  std::vector<at::Tensor> params = modelParams;
  params.insert(params.end(), lossParams.begin(), lossParams.end());
  std::vector<double> groupLr;
  for (auto& group : optimizer->param_groups()) groupLr.push_back(group.options().get_lr());

  Schedule schedule;
  schedule.base = json::getNumber(optCfg, "lr", "optimizer", 1e-3);
  schedule.total = steps;
  if (cfg.has("schedule")) {
    const json::Value& s = cfg["schedule"];
    schedule.kind = json::getString(s, "kind", "schedule", "constant");
    if (schedule.kind != "constant" && schedule.kind != "cosine")
      throw ConfigError("schedule.kind must be 'constant' or 'cosine', got '" + schedule.kind + "'");
    schedule.minLr = json::getNumber(s, "minLr", "schedule", 0.0);
    schedule.warmup = json::getInt(s, "warmupSteps", "schedule", 0);
    if (schedule.warmup < 0) throw ConfigError("schedule.warmupSteps must be >= 0");
  }

  at::Generator gen = makeGenerator(model.device(), seed);
  const auto longOpts = torch::TensorOptions().device(model.device()).dtype(torch::kLong);
  at::Tensor order;
  int64_t cursor = n;  // forces a shuffle before the first batch

  std::vector<at::Tensor> ema = emaDecay > 0 ? cloneAll(model.parameters()) : std::vector<at::Tensor>{};
  std::vector<at::Tensor> lastGood = cloneAll(model.state());
  int64_t lastGoodStep = 0;

  TrainResult result;
  result.threads = at::get_num_threads();
  IntervalMeans interval;

  for (int64_t step = 0; step < steps; ++step) {
    if (cancel.load(std::memory_order_relaxed))
      throw AbortedError("training was aborted after " + std::to_string(step) + " steps");
    const double lr = schedule.at(step);
    // Every group follows the schedule relative to its own base rate.
    for (size_t g = 0; g < optimizer->param_groups().size(); ++g)
      optimizer->param_groups()[g].options().set_lr(groupLr[g] * lr / schedule.base);

    at::Tensor idx;
    if (replacement) {
      idx = torch::randint(n, {batchSize}, gen, longOpts);
    } else {
      if (cursor + batchSize > n) {
        order = torch::randperm(n, gen, longOpts);
        cursor = 0;
      }
      idx = order.narrow(0, cursor, batchSize);
      cursor += batchSize;
    }
    at::Tensor batch = data.index_select(0, idx);
    if (labels.defined()) loss->setLabels(labels.index_select(0, idx));

    loss->beginStep(step);
    optimizer->zero_grad();
    LossOutput out;
    try {
      out = loss->compute(model, batch, gen);
    } catch (const AbortedError&) {
      // CD's sampler stops mid-chain; report it as the run's abort (no update of this step applied).
      throw AbortedError("training was aborted after " + std::to_string(step) + " steps (during step " +
                         std::to_string(step + 1) + "'s negative sampling)");
    }
    out.loss.backward();

    at::Tensor gradNorm = globalGradNorm(params, data.options());
    if (gradClip > 0) {
      // Scale on the device: no host sync per step.
      at::Tensor scale = torch::clamp_max(gradClip / (gradNorm + 1e-6), 1.0);
      torch::NoGradGuard noGrad;
      for (const auto& p : params)
        if (p.grad().defined()) p.grad().mul_(scale);
    }
    optimizer->step();
    loss->afterStep();
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
    if (checkpointEvery > 0 && (step + 1) % checkpointEvery == 0 && !last) writeCheckpoint(model, checkpointPath);
  }

  if (emaDecay > 0) restoreAll(model.parameters(), ema);
  if (!checkpointPath.empty()) writeCheckpoint(model, checkpointPath);
  for (const auto& p : loss->parameters()) result.lossParameters.push_back({p.name, p.tensor.detach().to(torch::kCPU)});
  result.steps = steps;
  result.seconds = secondsSince(start);
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
  for (const auto& p : loss->parameters()) tensors.push_back(p);
  for (const auto& p : tensors) p.tensor.mutable_grad() = at::Tensor();
  loss->beginStep(0);
  LossOutput out = loss->compute(model, batch, gen);
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
