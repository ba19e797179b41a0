#include "latent/latent_trainer.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <map>
#include <optional>

#include "distributed/data_parallel.h"
#include "errors.h"
#include "io/checkpoint.h"
#include "losses/batch_noise.h"
#include "losses/loss.h"
#include "tensor_util.h"
#include "train/optimizer.h"
#include "train/training_state.h"
#include "train/weights.h"

namespace ebm {

namespace {

using Clock = std::chrono::steady_clock;
double msSince(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

// The named tensors of `all` that are among `tensors` (an optimiser's parameters by name).
std::vector<NamedTensor> named(const std::vector<NamedTensor>& all, const std::vector<at::Tensor>& tensors) {
  std::vector<NamedTensor> out;
  for (const auto& p : all)
    for (const auto& t : tensors)
      if (p.tensor.is_same(t)) out.push_back(p);
  return out;
}

// Older checkpoints' configs may leave defaults out.
json::Value normaliseLatentSettings(json::Value previous) {
  if (previous.contains("model")) previous["model"] = effectiveModel(previous["model"]);
  if (previous.contains("prior") && previous["prior"].is_object() && previous["prior"].contains("loss"))
    previous["prior"]["loss"] = effectiveLoss(previous["prior"]["loss"]);
  return previous;
}

const char* kLatentKeeps =
    "A resumed run keeps the model, images, posterior, prior, learning rates, betas, ema, batchSize, seed and "
    "number of ranks; steps, logEvery and checkpoint may change";

// One latent-prior run: set-up, and each step's three phases (posterior chains, generator step,
// prior step), its bookkeeping and its reports.
class LatentRun {
 public:
  LatentRun(LatentModel& model, const at::Tensor& imagesIn, const LatentTrainSettings& s,
            const std::atomic<bool>& cancel)
      : model_(model),
        s_(s),
        cancel_(cancel),
        onCpu_(model.device().is_cpu()),
        images_(prepareImages(model, imagesIn, "images")),
        n_(images_.size(0)),
        worldSize_(s.distributed.worldSize),
        globalBatch_(s.batchSize * s.distributed.worldSize),
        logEvery_(std::min(s.steps, s.logEvery)),
        precision_(1.0 / (2 * s.sigma * s.sigma)),
        genParams_(model.generatorParameters()),
        priorParams_(model.priorParameters()),
        genNamed_(named(model.parameters(), genParams_)),
        priorNamed_(named(model.parameters(), priorParams_)),
        genOpt_(genParams_, torch::optim::AdamOptions(s.generatorLr).betas({s.beta1, s.beta2})),
        priorOpt_(priorParams_, torch::optim::AdamOptions(s.priorLr).betas({s.beta1, s.beta2})),
        gen_(makeGenerator(model.device(), s.seed)),
        floatOpts_(images_.options()) {
    // Data-parallel: batchSize images per rank; every rank draws the global batch's rows and its
    // chains' noise and keeps its slice (losses/batch_noise.h), as ebm.train does.
    if (globalBatch_ > n_)
      throw ConfigError("batchSize (" + std::to_string(s.batchSize) +
                        (worldSize_ > 1 ? " per rank, " + std::to_string(globalBatch_) + " over all ranks" : "") +
                        ") is larger than the dataset (" + std::to_string(n_) + " images)");
    if (s.trainPrior) priorLoss_ = makeLoss(s.priorLoss, model);
    if (worldSize_ > 1) {
      comm_ = connect(s.distributed);
      std::vector<at::Tensor> start;
      for (const auto& t : model.state()) start.push_back(t.tensor);
      broadcastFromRankZero(*comm_, start);
    }
    rank_ = comm_ ? comm_->rank() : 0;
    for (const auto& b : model.buffers()) buffers_.push_back(b.tensor);
    if (s.persistent) persistentZ_ = torch::randn({n_, model.latentDim()}, gen_, floatOpts_);
    if (s.emaDecay > 0) ema_ = cloneAll(model.parameters());
  }

  TrainResult go(const std::function<void(const TrainProgress&)>& onProgress) {
    const auto start = Clock::now();
    BatchOrder order(n_, s_.batchSize, worldSize_, rank_, /*replacement=*/false, model_.device());
    const int64_t startStep = s_.resumeFrom.empty() ? 0 : restore(order);
    lastGood_ = cloneAll(model_.state());
    lastGoodStep_ = startStep;
    TrainResult result;
    result.threads = at::get_num_threads();
    result.startStep = startStep;
    auto here = [&](int64_t step) { return Position{step, gen_.get_state(), order.order, order.cursor}; };
    const bool checkpointing = !s_.checkpointPath.empty();
    for (int64_t step = startStep; step < s_.steps; ++step) {
      // With several ranks an abort is agreed on in the step's gradient reduction instead.
      if (!comm_ && cancel_.load(std::memory_order_relaxed))
        abortAt(here(step), "training was aborted after " + std::to_string(step) + " steps");
      // What an abort inside this step goes back to (batch-norm statistics move in every forward).
      const Position atStart = checkpointing ? here(step) : Position{};
      const std::vector<at::Tensor> buffersAtStart =
          checkpointing ? cloneAll(model_.buffers()) : std::vector<at::Tensor>{};
      const at::Tensor globalIdx = order.nextGlobal(gen_);
      const at::Tensor idx = order.rankSlice(globalIdx);
      at::Tensor x = images_.index_select(0, idx);
      std::optional<RowShard> shard;
      if (comm_) shard.emplace(rank_ * s_.batchSize, s_.batchSize, globalBatch_);
      auto abortStep = [&](const std::string& message) {
        if (checkpointing) restoreAll(model_.buffers(), buffersAtStart);
        abortAt(atStart, message);
      };
      bool stopped = false;
      at::Tensor postGrad;
      at::Tensor z = posteriorPhase(step, x, idx, &postGrad, &stopped, abortStep);
      at::Tensor sq = generatorPhase(step, x, z, stopped, abortStep);
      keepChains(z, idx, globalIdx);
      priorPhase(step, z);
      // Batch norms' running statistics: the ranks' means, so every rank holds the same state.
      if (comm_) averageTensors(*comm_, buffers_);
      afterStep(z, sq, postGrad);
      const bool last = step + 1 == s_.steps;
      if ((step + 1) % logEvery_ != 0 && !last) continue;
      report(step, std::chrono::duration<double>(Clock::now() - start).count(), result, onProgress);
      if (writer() && s_.checkpointEvery > 0 && (step + 1) % s_.checkpointEvery == 0 && !last) save(here(step + 1), {});
    }
    std::vector<at::Tensor> raw;
    if (s_.emaDecay > 0) {
      raw = cloneAll(model_.parameters());
      restoreAll(model_.parameters(), ema_);
    }
    if (writer() && checkpointing) save(here(s_.steps), raw);
    result.steps = s_.steps;
    result.rank = rank_;
    result.worldSize = worldSize_;
    result.onePassLossHead = priorLoss_ && priorLoss_->onePassHeadOnly();
    result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return result;
  }

 private:
  void add(const std::string& name, const at::Tensor& v) { interval_.add(name, v); }

  // Rank 0 alone writes checkpoints.
  bool writer() const { return rank_ == 0; }

  // What a resumed run must share with the one that wrote its checkpoint.
  json::Value runSettings() const {
    json::Value prior = nullptr;
    if (s_.trainPrior) prior = {{"loss", effectiveLoss(s_.priorLoss)}, {"gradClip", s_.priorGradClip}};
    return {
        {"run", "latent"},
        {"model", effectiveModel(model_.config())},
        {"images", n_},
        {"posterior",
         {{"steps", s_.posterior.steps},
          {"stepSize", s_.posterior.stepSize},
          {"persistent", s_.persistent},
          {"sigma", s_.sigma}}},
        {"prior", prior},
        {"generatorLr", s_.generatorLr},
        {"priorLr", s_.priorLr},
        {"betas", {s_.beta1, s_.beta2}},
        {"ema", s_.emaDecay},
        {"batchSize", s_.batchSize},
        {"seed", s_.seed},
        {"worldSize", worldSize_},
    };
  }

  // The model with everything the run needs to continue from `pos`. `raw`: the training weights
  // when the model now holds the EMA ones (the end of a run).
  void save(const Position& pos, const std::vector<at::Tensor>& raw) {
    std::vector<NamedTensor> extra = optimizerState(genOpt_, genNamed_);
    for (auto& t : optimizerState(priorOpt_, priorNamed_)) extra.push_back(t);
    const auto& ps = model_.parameters();
    for (size_t i = 0; i < ema_.size(); ++i) extra.push_back({"ema." + ps[i].name, ema_[i]});
    for (size_t i = 0; i < raw.size(); ++i) extra.push_back({"trainer.weights." + ps[i].name, raw[i]});
    if (priorLoss_)
      for (const auto& t : priorLoss_->state()) extra.push_back({"loss." + t.name, t.tensor});
    if (persistentZ_.defined()) extra.push_back({"trainer.posterior", persistentZ_});
    writeRunCheckpoint(model_, s_.checkpointPath, std::move(extra), pos, runSettings());
  }

  // Puts back what save() wrote; returns the step the run continues from.
  int64_t restore(BatchOrder& order) {
    const SavedRun saved("options.resumeFrom", s_.resumeFrom, runSettings(), kLatentKeeps, normaliseLatentSettings);
    const int64_t startStep = saved.step();
    if (startStep >= s_.steps)
      throw ConfigError(saved.where + " is at step " + std::to_string(startStep) + ": steps (" +
                        std::to_string(s_.steps) + ") must be larger to continue from it");
    for (const auto& t : model_.state()) {
      const std::string raw = "trainer.weights." + t.name;
      model_.setTensor(t.name, saved.take(saved.has(raw) ? raw : t.name, t.tensor.sizes()));
    }
    {
      torch::NoGradGuard noGrad;
      const auto& ps = model_.parameters();
      for (size_t i = 0; i < ema_.size(); ++i) ema_[i].copy_(saved.take("ema." + ps[i].name, ps[i].tensor.sizes()));
      if (persistentZ_.defined()) persistentZ_.copy_(saved.take("trainer.posterior", persistentZ_.sizes()));
    }
    if (priorLoss_) {
      std::map<std::string, at::Tensor> lossState;
      for (const auto& [name, t] : saved.tensors)
        if (name.compare(0, 5, "loss.") == 0) lossState[name.substr(5)] = t;
      priorLoss_->restoreState(lossState, model_.device());
    }
    restoreOptimizerState(genOpt_, genNamed_, saved.tensors, saved.where);
    restoreOptimizerState(priorOpt_, priorNamed_, saved.tensors, saved.where);
    saved.restorePosition(gen_, order, model_.device());
    return startStep;
  }

  // An abort leaves the model at its last completed step; with a checkpoint path that state is
  // saved, so the run can be resumed from it.
  [[noreturn]] void abortAt(const Position& pos, const std::string& message) {
    if (s_.checkpointPath.empty()) throw AbortedError(message);
    if (!writer()) throw AbortedError(message + "; rank 0 saves the training state to '" + s_.checkpointPath + "'");
    save(pos, {});
    throw AbortedError(message + "; the training state was saved to '" + s_.checkpointPath + "'");
  }

  std::string abortedOnSomeRank(int64_t step) const {
    return "training was aborted after " + std::to_string(step) + " steps (asked on one of the " +
           std::to_string(worldSize_) + " ranks)";
  }

  // 1. Posterior latents by short-run Langevin, from each image's persistent chain or N(0, I).
  template <typename Abort>
  at::Tensor posteriorPhase(int64_t step, const at::Tensor& x, const at::Tensor& idx, at::Tensor* postGrad,
                            bool* stopped, const Abort& abortStep) {
    auto t0 = Clock::now();
    at::Tensor z0 = s_.persistent ? persistentZ_.index_select(0, idx)
                                  : batchRandn({s_.batchSize, model_.latentDim()}, gen_, floatOpts_);
    at::Tensor z;
    try {
      z = posteriorLangevin(model_, x, at::Tensor(), s_.sigma, z0, s_.posterior, gen_, &cancel_, postGrad);
    } catch (const AbortedError&) {
      const std::string message = "training was aborted after " + std::to_string(step) + " steps (during step " +
                                  std::to_string(step + 1) + "'s posterior sampling)";
      if (!comm_) abortStep(message);
      *stopped = true;  // the other ranks learn it in the gradient reduction
      z = z0;
    }
    if (onCpu_) add("msPosterior", torch::tensor(msSince(t0)));
    return z;
  }

  // 2. Generator step on -log p(x | z); returns the squared errors. With several ranks, an abort
  // agreed on here goes back to the step's start: nothing of the step has been kept yet.
  template <typename Abort>
  at::Tensor generatorPhase(int64_t step, const at::Tensor& x, const at::Tensor& z, bool stopped,
                            const Abort& abortStep) {
    auto t1 = Clock::now();
    genOpt_.zero_grad();
    at::Tensor recon = model_.generate(z);
    at::Tensor sq = (x - recon).pow(2);
    at::Tensor genLoss = sq.flatten(1).sum(1).mean() * precision_;
    genLoss.backward();
    if (comm_ && reduceGradients(*comm_, genParams_, stopped || cancel_.load(std::memory_order_relaxed)))
      abortStep(abortedOnSomeRank(step));
    add("generatorGradNorm", globalGradNorm(genParams_, floatOpts_));
    genOpt_.step();
    if (onCpu_) add("msGenerator", torch::tensor(msSince(t1)));
    interval_.addLoss(genLoss);
    return sq;
  }

  // The persistent chains continue from this step's posterior latents.
  void keepChains(const at::Tensor& z, const at::Tensor& idx, const at::Tensor& globalIdx) {
    if (!s_.persistent) return;
    if (!comm_) {
      persistentZ_.index_copy_(0, idx, z);
      return;
    }
    // Every rank keeps every image's chain: the global batch's new latents, each rank's slice in
    // place, summed over the ranks.
    at::Tensor all = torch::zeros({globalBatch_, model_.latentDim()}, floatOpts_);
    all.narrow(0, rank_ * s_.batchSize, s_.batchSize).copy_(z);
    std::vector<at::Tensor> one{all};
    comm_->allReduceSum(one);
    persistentZ_.index_copy_(0, globalIdx, all);
  }

  // 3. Prior step on the posterior latents. Its negative sampling is short and not interrupted,
  // so that an abort always lands between whole steps (the next step's start sees it).
  void priorPhase(int64_t step, const at::Tensor& z) {
    auto t2 = Clock::now();
    if (priorLoss_) {
      priorOpt_.zero_grad();
      LossOutput out = priorLoss_->compute(model_, StepContext{z, gen_, step, at::Tensor(), nullptr});
      out.loss.backward();
      if (comm_) reduceGradients(*comm_, priorParams_, false);
      at::Tensor norm = globalGradNorm(priorParams_, floatOpts_);
      if (s_.priorGradClip > 0) {
        at::Tensor scale = torch::clamp_max(s_.priorGradClip / (norm + 1e-6), 1.0);
        torch::NoGradGuard noGrad;
        for (const auto& p : priorParams_)
          if (p.grad().defined()) p.grad().mul_(scale);
      }
      priorOpt_.step();
      add("priorLoss", out.loss);
      add("priorGradNorm", norm);
      for (const auto& [name, value] : out.metrics) add("prior." + name, value);
    }
    if (onCpu_) add("msPrior", torch::tensor(msSince(t2)));
  }

  // EMA and the step's diagnostics.
  void afterStep(const at::Tensor& z, const at::Tensor& sq, const at::Tensor& postGrad) {
    torch::NoGradGuard noGrad;
    if (s_.emaDecay > 0) {
      const auto& ps = model_.parameters();
      for (size_t i = 0; i < ps.size(); ++i) ema_[i].lerp_(ps[i].tensor.detach(), 1 - s_.emaDecay);
    }
    add("reconMse", sq.detach().mean());
    add("posteriorGradNorm", postGrad.defined() ? postGrad : torch::zeros({}, floatOpts_));
    add("energyPosterior", model_.priorEnergy(z).mean());
    add("energyNoise", model_.priorEnergy(batchRandn({s_.batchSize, model_.latentDim()}, gen_, floatOpts_)).mean());
  }

  // One host read per report; every metric is guarded (any of them can diverge).
  void report(int64_t step, double seconds, TrainResult& result,
              const std::function<void(const TrainProgress&)>& onProgress) {
    IntervalMeans::Report r = interval_.take([](const std::string&) { return true; });
    if (comm_) reduceReport(*comm_, r, [](const std::string&) { return true; });
    if (!r.finite) {
      restoreAll(model_.state(), lastGood_);
      throw NumericsError("a loss or gradient became non-finite between steps " + std::to_string(lastGoodStep_) +
                          " and " + std::to_string(step + 1) + "; the model keeps the weights of step " +
                          std::to_string(lastGoodStep_) + ". Try smaller learning rates or step sizes.");
    }
    TrainProgress p;
    p.step = step + 1;
    p.loss = r.loss;
    p.lr = s_.generatorLr;
    p.seconds = seconds;
    p.stepsPerSecond = r.stepsPerSecond;
    p.metrics = std::move(r.metrics);
    result.history.push_back(p);
    if (onProgress) onProgress(p);
    lastGood_ = cloneAll(model_.state());
    lastGoodStep_ = step + 1;
  }

  LatentModel& model_;
  const LatentTrainSettings& s_;
  const std::atomic<bool>& cancel_;
  const bool onCpu_;  // phase timings need no device sync there
  const at::Tensor images_;
  const int64_t n_;
  const int worldSize_;
  const int64_t globalBatch_, logEvery_;
  const double precision_;
  const std::vector<at::Tensor> genParams_, priorParams_;
  const std::vector<NamedTensor> genNamed_, priorNamed_;  // the same, by name in a checkpoint
  torch::optim::Adam genOpt_, priorOpt_;
  at::Generator gen_;
  const at::TensorOptions floatOpts_;
  std::unique_ptr<Loss> priorLoss_;
  std::unique_ptr<Communicator> comm_;
  int rank_ = 0;
  std::vector<at::Tensor> buffers_, ema_, lastGood_;
  at::Tensor persistentZ_;
  int64_t lastGoodStep_ = 0;
  IntervalMeans interval_;
};

}  // namespace

TrainResult trainLatent(LatentModel& model, const at::Tensor& imagesIn, const LatentTrainSettings& s,
                        const std::function<void(const TrainProgress&)>& onProgress, const std::atomic<bool>& cancel) {
  ModelLock lock(model);
  torch::AutoGradMode gradOn(true);
  TrainingMode trainingMode(model);
  LatentRun run(model, imagesIn, s, cancel);
  return run.go(onProgress);
}

}  // namespace ebm
