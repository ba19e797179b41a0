// What a latent model does after (and during) training: short-run Langevin in its latent space,
// on the prior alone (generation) or on the posterior given an image (inference, reconstruction,
// inpainting, denoising). Every chain uses Pang et al.'s parameterisation
//   z <- z - (s²/2) ∇U(z) + s ξ,     ξ ~ N(0, I),
// so a step size s is the noise std of one step (s = 0.1 is η = 0.005 in the Langevin sampler's
// convention x <- x - η∇E + sqrt(2η) ξ).
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "latent/latent_model.h"

namespace ebm {

struct LatentLangevin {
  int64_t steps = 0;
  double stepSize = 0;
};

// Chains on U(z) = |m ⊙ (x - g(z))|² / (2σ²) + E(z) + ½|z|² from z0, for images x [N, C, H, W] and
// an optional 0/1 mask m of the same shape (undefined: every pixel observed). No parameter
// gradients are kept. `gradNorm` (optional) receives the mean |∇U| of the last step, on the device.
at::Tensor posteriorLangevin(LatentModel& model, const at::Tensor& x, const at::Tensor& mask, double sigma,
                             at::Tensor z, const LatentLangevin& chain, at::Generator& gen,
                             const std::atomic<bool>* cancel, at::Tensor* gradNorm = nullptr);
// Chains on the prior energy U(z) = E(z) + ½|z|² from z0.
at::Tensor priorLangevin(LatentModel& model, at::Tensor z, const LatentLangevin& chain, at::Generator& gen,
                         const std::atomic<bool>* cancel);

// The jobs below lock the model, run in inference mode (BatchNorm on running averages) and
// return CPU tensors. `onChunk(done)` reports images (or latents) finished so far.
using ChunkReport = std::function<void(int64_t done)>;

// n images from prior chains started at N(0, I).
at::Tensor generateImages(LatentModel& model, int64_t n, const LatentLangevin& prior, uint64_t seed,
                          const std::atomic<bool>* cancel, const ChunkReport& onChunk);

struct PosteriorRequest {
  at::Tensor images;  // [N, C, H, W]
  at::Tensor mask;    // same shape, 0/1 (1 = observed); undefined: all observed
  double sigma = 0;   // likelihood std; 0: the model's
  LatentLangevin chain;
  uint64_t seed = 0;
};
enum class PosteriorOutput {
  Latents,  // the posterior latents [N, latentDim]
  Images,   // g(z): reconstructions, denoised images
  Fill,     // observed pixels kept exactly, the others from g(z): inpainting
};
at::Tensor posteriorJob(LatentModel& model, const PosteriorRequest& request, PosteriorOutput output,
                        const std::atomic<bool>* cancel, const ChunkReport& onChunk);

// g(z) for given latents [N, latentDim].
at::Tensor decodeLatents(LatentModel& model, const at::Tensor& z);

// Throws ShapeError / NumericsError unless images are [N, C, H, W] of the model's image shape,
// finite and within [-1, 1] (the generator ends in tanh). Returns them on the model's device.
at::Tensor prepareImages(const LatentModel& model, const at::Tensor& images, const std::string& what);

}  // namespace ebm
