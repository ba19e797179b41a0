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
#include "train/weights.h"

namespace ebm {

namespace {

using Clock = std::chrono::steady_clock;
double msSince(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

}  // namespace

TrainResult trainLatent(LatentModel& model, const at::Tensor& imagesIn, const LatentTrainSettings& s,
                        const std::function<void(const TrainProgress&)>& onProgress, const std::atomic<bool>& cancel) {
  ModelLock lock(model);
  torch::AutoGradMode gradOn(true);
  TrainingMode trainingMode(model);
  const auto start = Clock::now();
  const bool onCpu = model.device().is_cpu();  // phase timings need no device sync there

  at::Tensor images = prepareImages(model, imagesIn, "images");
  const int64_t n = images.size(0);
  // Data-parallel: batchSize images per rank; every rank draws the global batch's rows and its
  // chains' noise and keeps its slice (losses/batch_noise.h), as ebm.train does.
  const int worldSize = s.distributed.worldSize;
  const int64_t globalBatch = s.batchSize * worldSize;
  if (globalBatch > n)
    throw ConfigError("batchSize (" + std::to_string(s.batchSize) +
                      (worldSize > 1 ? " per rank, " + std::to_string(globalBatch) + " over all ranks" : "") +
                      ") is larger than the dataset (" + std::to_string(n) + " images)");
  const int64_t logEvery = std::min(s.steps, s.logEvery);
  const double precision = 1.0 / (2 * s.sigma * s.sigma);

  std::unique_ptr<Loss> priorLoss;
  if (s.trainPrior) {
    priorLoss = makeLoss(s.priorLoss, model);
  }
  const std::vector<at::Tensor> genParams = model.generatorParameters();
  const std::vector<at::Tensor> priorParams = model.priorParameters();
  torch::optim::Adam genOpt(genParams, torch::optim::AdamOptions(s.generatorLr).betas({s.beta1, s.beta2}));
  torch::optim::Adam priorOpt(priorParams, torch::optim::AdamOptions(s.priorLr).betas({s.beta1, s.beta2}));

  at::Generator gen = makeGenerator(model.device(), s.seed);
  std::unique_ptr<Communicator> comm;
  if (worldSize > 1) {
    comm = connect(s.distributed);
    std::vector<at::Tensor> start;
    for (const auto& t : model.state()) start.push_back(t.tensor);
    broadcastFromRankZero(*comm, start);
  }
  const int rank = comm ? comm->rank() : 0;
  const bool writer = rank == 0;  // rank 0 alone writes checkpoints
  std::vector<at::Tensor> buffers;
  for (const auto& b : model.buffers()) buffers.push_back(b.tensor);
  const auto floatOpts = images.options();
  const auto longOpts = torch::TensorOptions().device(model.device()).dtype(torch::kLong);
  at::Tensor persistentZ;
  if (s.persistent) persistentZ = torch::randn({n, model.latentDim()}, gen, floatOpts);
  at::Tensor order;
  int64_t cursor = n;

  std::vector<at::Tensor> ema = s.emaDecay > 0 ? cloneAll(model.parameters()) : std::vector<at::Tensor>{};
  std::vector<at::Tensor> lastGood = cloneAll(model.state());
  int64_t lastGoodStep = 0;

  TrainResult result;
  result.threads = at::get_num_threads();
  IntervalMeans interval;
  auto add = [&interval](const std::string& name, const at::Tensor& v) { interval.add(name, v); };

  for (int64_t step = 0; step < s.steps; ++step) {
    // With several ranks an abort is agreed on in the step's gradient reduction instead.
    if (!comm && cancel.load(std::memory_order_relaxed))
      throw AbortedError("training was aborted after " + std::to_string(step) + " steps");
    if (cursor + globalBatch > n) {
      order = torch::randperm(n, gen, longOpts);
      cursor = 0;
    }
    const at::Tensor globalIdx = order.narrow(0, cursor, globalBatch);
    cursor += globalBatch;
    const at::Tensor idx = comm ? globalIdx.narrow(0, rank * s.batchSize, s.batchSize) : globalIdx;
    at::Tensor x = images.index_select(0, idx);
    std::optional<RowShard> shard;
    if (comm) shard.emplace(rank * s.batchSize, s.batchSize, globalBatch);
    const std::string abortedOnSomeRank = "training was aborted after " + std::to_string(step) +
                                          " steps (asked on one of the " + std::to_string(worldSize) + " ranks)";

    // 1. Posterior latents by short-run Langevin.
    auto t0 = Clock::now();
    at::Tensor z0 =
        s.persistent ? persistentZ.index_select(0, idx) : batchRandn({s.batchSize, model.latentDim()}, gen, floatOpts);
    at::Tensor postGrad;
    at::Tensor z;
    bool stopped = false;
    try {
      z = posteriorLangevin(model, x, at::Tensor(), s.sigma, z0, s.posterior, gen, &cancel, &postGrad);
    } catch (const AbortedError&) {
      const std::string message = "training was aborted after " + std::to_string(step) + " steps (during step " +
                                  std::to_string(step + 1) + "'s posterior sampling)";
      if (!comm) throw AbortedError(message);
      stopped = true;  // the other ranks learn it in the gradient reduction below
      z = z0;
    }
    if (s.persistent) {
      if (comm) {
        // Every rank keeps every image's chain: the global batch's new latents, each rank's
        // slice in place, summed over the ranks.
        at::Tensor all = torch::zeros({globalBatch, model.latentDim()}, floatOpts);
        all.narrow(0, rank * s.batchSize, s.batchSize).copy_(z);
        std::vector<at::Tensor> one{all};
        comm->allReduceSum(one);
        persistentZ.index_copy_(0, globalIdx, all);
      } else {
        persistentZ.index_copy_(0, idx, z);
      }
    }
    if (onCpu) add("msPosterior", torch::tensor(msSince(t0)));

    // 2. Generator step on -log p(x | z).
    auto t1 = Clock::now();
    genOpt.zero_grad();
    at::Tensor recon = model.generate(z);
    at::Tensor sq = (x - recon).pow(2);
    at::Tensor genLoss = sq.flatten(1).sum(1).mean() * precision;
    genLoss.backward();
    if (comm && reduceGradients(*comm, genParams, stopped || cancel.load(std::memory_order_relaxed)))
      throw AbortedError(abortedOnSomeRank);
    add("generatorGradNorm", globalGradNorm(genParams, floatOpts));
    genOpt.step();
    if (onCpu) add("msGenerator", torch::tensor(msSince(t1)));

    // 3. Prior step on the posterior latents.
    auto t2 = Clock::now();
    if (priorLoss) {
      priorOpt.zero_grad();
      LossOutput out;
      bool priorStopped = false;
      try {
        out = priorLoss->compute(model, StepContext{z, gen, step, at::Tensor(), &cancel});
      } catch (const AbortedError&) {
        const std::string message = "training was aborted after " + std::to_string(step) + " steps (during step " +
                                    std::to_string(step + 1) + "'s prior negative sampling)";
        if (!comm) throw AbortedError(message);
        priorStopped = true;
      }
      if (!priorStopped) out.loss.backward();
      // The generator's step of this step is already applied on every rank; an abort here
      // stops before the prior's.
      if (comm && reduceGradients(*comm, priorParams, priorStopped)) throw AbortedError(abortedOnSomeRank);
      at::Tensor norm = globalGradNorm(priorParams, floatOpts);
      if (s.priorGradClip > 0) {
        at::Tensor scale = torch::clamp_max(s.priorGradClip / (norm + 1e-6), 1.0);
        torch::NoGradGuard noGrad;
        for (const auto& p : priorParams)
          if (p.grad().defined()) p.grad().mul_(scale);
      }
      priorOpt.step();
      add("priorLoss", out.loss);
      add("priorGradNorm", norm);
      for (const auto& [name, value] : out.metrics) add("prior." + name, value);
    }
    if (onCpu) add("msPrior", torch::tensor(msSince(t2)));
    // Batch norms' running statistics: the ranks' means, so every rank holds the same state.
    if (comm) averageTensors(*comm, buffers);

    {
      torch::NoGradGuard noGrad;
      if (s.emaDecay > 0) {
        const auto& ps = model.parameters();
        for (size_t i = 0; i < ps.size(); ++i) ema[i].lerp_(ps[i].tensor.detach(), 1 - s.emaDecay);
      }
      add("reconMse", sq.detach().mean());
      add("posteriorGradNorm", postGrad.defined() ? postGrad : torch::zeros({}, floatOpts));
      add("energyPosterior", model.priorEnergy(z).mean());
      add("energyNoise", model.priorEnergy(batchRandn({s.batchSize, model.latentDim()}, gen, floatOpts)).mean());
    }
    interval.addLoss(genLoss);

    const bool last = step + 1 == s.steps;
    if ((step + 1) % logEvery != 0 && !last) continue;

    // One host read per report; every metric is guarded (any of them can diverge).
    IntervalMeans::Report report = interval.take([](const std::string&) { return true; });
    if (comm) reduceReport(*comm, report, [](const std::string&) { return true; });
    if (!report.finite) {
      restoreAll(model.state(), lastGood);
      throw NumericsError("a loss or gradient became non-finite between steps " + std::to_string(lastGoodStep) +
                          " and " + std::to_string(step + 1) + "; the model keeps the weights of step " +
                          std::to_string(lastGoodStep) + ". Try smaller learning rates or step sizes.");
    }
    TrainProgress p;
    p.step = step + 1;
    p.loss = report.loss;
    p.lr = s.generatorLr;
    p.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    p.stepsPerSecond = report.stepsPerSecond;
    p.metrics = std::move(report.metrics);
    result.history.push_back(p);
    if (onProgress) onProgress(p);
    lastGood = cloneAll(model.state());
    lastGoodStep = step + 1;
    if (writer && s.checkpointEvery > 0 && (step + 1) % s.checkpointEvery == 0 && !last)
      writeCheckpoint(model, s.checkpointPath);
  }

  if (s.emaDecay > 0) restoreAll(model.parameters(), ema);
  if (writer && !s.checkpointPath.empty()) writeCheckpoint(model, s.checkpointPath);
  result.steps = s.steps;
  result.rank = rank;
  result.worldSize = worldSize;
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return result;
}

}  // namespace ebm
