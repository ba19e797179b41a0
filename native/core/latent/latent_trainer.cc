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
#include "train/training_state.h"
#include "train/weights.h"

namespace ebm {

namespace {

using Clock = std::chrono::steady_clock;
double msSince(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

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
    lastGood_ = cloneAll(model.state());
  }

  TrainResult go(const std::function<void(const TrainProgress&)>& onProgress) {
    const auto start = Clock::now();
    const bool writer = rank_ == 0;  // rank 0 alone writes checkpoints
    BatchOrder order(n_, s_.batchSize, worldSize_, rank_, /*replacement=*/false, model_.device());
    TrainResult result;
    result.threads = at::get_num_threads();
    for (int64_t step = 0; step < s_.steps; ++step) {
      // With several ranks an abort is agreed on in the step's gradient reduction instead.
      if (!comm_ && cancel_.load(std::memory_order_relaxed))
        throw AbortedError("training was aborted after " + std::to_string(step) + " steps");
      const at::Tensor globalIdx = order.nextGlobal(gen_);
      const at::Tensor idx = order.rankSlice(globalIdx);
      at::Tensor x = images_.index_select(0, idx);
      std::optional<RowShard> shard;
      if (comm_) shard.emplace(rank_ * s_.batchSize, s_.batchSize, globalBatch_);
      bool stopped = false;
      at::Tensor postGrad;
      at::Tensor z = posteriorPhase(step, x, idx, globalIdx, &postGrad, &stopped);
      at::Tensor sq = generatorPhase(step, x, z, stopped);
      priorPhase(step, z);
      // Batch norms' running statistics: the ranks' means, so every rank holds the same state.
      if (comm_) averageTensors(*comm_, buffers_);
      afterStep(z, sq, postGrad);
      const bool last = step + 1 == s_.steps;
      if ((step + 1) % logEvery_ != 0 && !last) continue;
      report(step, std::chrono::duration<double>(Clock::now() - start).count(), result, onProgress);
      if (writer && s_.checkpointEvery > 0 && (step + 1) % s_.checkpointEvery == 0 && !last)
        writeCheckpoint(model_, s_.checkpointPath);
    }
    if (s_.emaDecay > 0) restoreAll(model_.parameters(), ema_);
    if (writer && !s_.checkpointPath.empty()) writeCheckpoint(model_, s_.checkpointPath);
    result.steps = s_.steps;
    result.rank = rank_;
    result.worldSize = worldSize_;
    result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return result;
  }

 private:
  void add(const std::string& name, const at::Tensor& v) { interval_.add(name, v); }

  std::string abortedOnSomeRank(int64_t step) const {
    return "training was aborted after " + std::to_string(step) + " steps (asked on one of the " +
           std::to_string(worldSize_) + " ranks)";
  }

  // 1. Posterior latents by short-run Langevin, from each image's persistent chain or N(0, I).
  at::Tensor posteriorPhase(int64_t step, const at::Tensor& x, const at::Tensor& idx, const at::Tensor& globalIdx,
                            at::Tensor* postGrad, bool* stopped) {
    auto t0 = Clock::now();
    at::Tensor z0 = s_.persistent ? persistentZ_.index_select(0, idx)
                                  : batchRandn({s_.batchSize, model_.latentDim()}, gen_, floatOpts_);
    at::Tensor z;
    try {
      z = posteriorLangevin(model_, x, at::Tensor(), s_.sigma, z0, s_.posterior, gen_, &cancel_, postGrad);
    } catch (const AbortedError&) {
      const std::string message = "training was aborted after " + std::to_string(step) + " steps (during step " +
                                  std::to_string(step + 1) + "'s posterior sampling)";
      if (!comm_) throw AbortedError(message);
      *stopped = true;  // the other ranks learn it in the gradient reduction
      z = z0;
    }
    if (s_.persistent) {
      if (comm_) {
        // Every rank keeps every image's chain: the global batch's new latents, each rank's
        // slice in place, summed over the ranks.
        at::Tensor all = torch::zeros({globalBatch_, model_.latentDim()}, floatOpts_);
        all.narrow(0, rank_ * s_.batchSize, s_.batchSize).copy_(z);
        std::vector<at::Tensor> one{all};
        comm_->allReduceSum(one);
        persistentZ_.index_copy_(0, globalIdx, all);
      } else {
        persistentZ_.index_copy_(0, idx, z);
      }
    }
    if (onCpu_) add("msPosterior", torch::tensor(msSince(t0)));
    return z;
  }

  // 2. Generator step on -log p(x | z); returns the squared errors.
  at::Tensor generatorPhase(int64_t step, const at::Tensor& x, const at::Tensor& z, bool stopped) {
    auto t1 = Clock::now();
    genOpt_.zero_grad();
    at::Tensor recon = model_.generate(z);
    at::Tensor sq = (x - recon).pow(2);
    at::Tensor genLoss = sq.flatten(1).sum(1).mean() * precision_;
    genLoss.backward();
    if (comm_ && reduceGradients(*comm_, genParams_, stopped || cancel_.load(std::memory_order_relaxed)))
      throw AbortedError(abortedOnSomeRank(step));
    add("generatorGradNorm", globalGradNorm(genParams_, floatOpts_));
    genOpt_.step();
    if (onCpu_) add("msGenerator", torch::tensor(msSince(t1)));
    interval_.addLoss(genLoss);
    return sq;
  }

  // 3. Prior step on the posterior latents.
  void priorPhase(int64_t step, const at::Tensor& z) {
    auto t2 = Clock::now();
    if (priorLoss_) {
      priorOpt_.zero_grad();
      LossOutput out;
      bool priorStopped = false;
      try {
        out = priorLoss_->compute(model_, StepContext{z, gen_, step, at::Tensor(), &cancel_});
      } catch (const AbortedError&) {
        const std::string message = "training was aborted after " + std::to_string(step) + " steps (during step " +
                                    std::to_string(step + 1) + "'s prior negative sampling)";
        if (!comm_) throw AbortedError(message);
        priorStopped = true;
      }
      if (!priorStopped) out.loss.backward();
      // The generator's step of this step is already applied on every rank; an abort here
      // stops before the prior's.
      if (comm_ && reduceGradients(*comm_, priorParams_, priorStopped)) throw AbortedError(abortedOnSomeRank(step));
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
