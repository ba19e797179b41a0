// Training a latent EBM (Pang et al. 2020, with Energy Discrepancy for the prior as in Schröder et
// al. 2023): per step, posterior latents of the batch by short-run Langevin, one generator step on
// them, then one prior step with a loss on the posterior latents (or none: the N(0, I) baseline).
// Checkpoints hold the whole training state, so a run resumed from one continues bit for bit.
#pragma once

#include <ATen/core/Tensor.h>

#include <atomic>
#include <functional>
#include <string>

#include "distributed/communicator.h"
#include "io/json.h"
#include "latent/latent_model.h"
#include "latent/latent_ops.h"
#include "train/trainer.h"

namespace ebm {

// Every field is filled by the caller (the TS façade owns the defaults).
struct LatentTrainSettings {
  int64_t steps = 0;
  int64_t batchSize = 0;
  int64_t logEvery = 0;
  uint64_t seed = 0;
  LatentLangevin posterior;  // the posterior chains of each step
  bool persistent = false;   // chains continue from each image's previous latents (else from N(0, I))
  double sigma = 0;          // likelihood std of p(x | z)
  bool trainPrior = false;   // false: the prior stays as it is (N(0, I) for a new model)
  json::Value priorLoss;     // loss on the posterior latents, as in ebm.train ('ed', 'cd')
  double generatorLr = 0, priorLr = 0;
  double beta1 = 0, beta2 = 0;    // Adam, both networks
  double priorGradClip = 0;       // 0: off
  double emaDecay = 0;            // 0: off
  std::string checkpointPath;     // '' : none
  int64_t checkpointEvery = 0;    // 0: only at the end (and on abort)
  std::string resumeFrom;         // '' : a fresh run; else a checkpoint this trainer wrote
  DistributedConfig distributed;  // worldSize 1: one process
};

// Metrics per report (means over the steps since the previous one): reconMse (per pixel),
// generatorLoss (the reported loss), priorLoss and the prior loss's own metrics (prior.*),
// energyPosterior / energyNoise (E(z) without ½|z|², at the posterior latents and at N(0, I)
// draws), posteriorGradNorm (mean |∇U| at the last posterior step), generatorGradNorm,
// priorGradNorm and, on the CPU, msPosterior / msGenerator / msPrior per step.
TrainResult trainLatent(LatentModel& model, const at::Tensor& images, const LatentTrainSettings& settings,
                        const std::function<void(const TrainProgress&)>& onProgress, const std::atomic<bool>& cancel);

}  // namespace ebm
