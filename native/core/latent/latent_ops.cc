#include "latent/latent_ops.h"

#include <torch/torch.h>

#include "errors.h"
#include "losses/batch_noise.h"
#include "tensor_util.h"

namespace ebm {

namespace {

// Images per chain batch in the jobs: bounds memory; fixed, so results do not depend on N.
constexpr int64_t kChunk = 1024;

void checkCancel(const std::atomic<bool>* cancel) {
  if (cancel && cancel->load(std::memory_order_relaxed)) throw AbortedError("the latent Langevin chain was aborted");
}

void checkChain(const LatentLangevin& chain, const char* what) {
  if (chain.steps < 0 || !(chain.stepSize > 0))
    throw ConfigError(std::string(what) + ": steps must be >= 0 and stepSize > 0");
}

}  // namespace

at::Tensor posteriorLangevin(LatentModel& model, const at::Tensor& x, const at::Tensor& mask, double sigma,
                             at::Tensor z, const LatentLangevin& chain, at::Generator& gen,
                             const std::atomic<bool>* cancel, at::Tensor* gradNorm) {
  torch::AutoGradMode gradOn(true);
  const double drift = 0.5 * chain.stepSize * chain.stepSize;
  const double precision = 1.0 / (2 * sigma * sigma);
  z = z.detach();
  for (int64_t k = 0; k < chain.steps; ++k) {
    checkCancel(cancel);
    z.requires_grad_(true);
    at::Tensor residual = x - model.generate(z);
    if (mask.defined()) residual = residual * mask;
    at::Tensor u = (residual.pow(2).flatten(1).sum(1) * precision + model.energy(z, at::Tensor())).sum();
    at::Tensor grad = torch::autograd::grad({u}, {z})[0];
    if (gradNorm && k + 1 == chain.steps) *gradNorm = grad.norm(2, 1).mean().detach();
    z = z.detach() - drift * grad + chain.stepSize * batchRandn(z.sizes(), gen, z.options());
  }
  return z.detach();
}

at::Tensor priorLangevin(LatentModel& model, at::Tensor z, const LatentLangevin& chain, at::Generator& gen,
                         const std::atomic<bool>* cancel) {
  torch::AutoGradMode gradOn(true);
  const double drift = 0.5 * chain.stepSize * chain.stepSize;
  z = z.detach();
  for (int64_t k = 0; k < chain.steps; ++k) {
    checkCancel(cancel);
    z.requires_grad_(true);
    at::Tensor grad = torch::autograd::grad({model.energy(z, at::Tensor()).sum()}, {z})[0];
    z = z.detach() - drift * grad + chain.stepSize * torch::randn(z.sizes(), gen, z.options());
  }
  return z.detach();
}

at::Tensor prepareImages(const LatentModel& model, const at::Tensor& images, const std::string& what) {
  requireBatchOf(images, model.imageShape(), what);
  at::Tensor x = images.to(model.device(), torch::kFloat32);
  requireFinite(x, what);
  const double lo = x.min().item<double>(), hi = x.max().item<double>();
  if (lo < -1 - 1e-4 || hi > 1 + 1e-4)
    throw ConfigError(what + " must be scaled to [-1, 1] (the generator ends in tanh), got values in [" +
                      std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return x;
}

at::Tensor generateImages(LatentModel& model, int64_t n, const LatentLangevin& prior, uint64_t seed,
                          const std::atomic<bool>* cancel, const ChunkReport& onChunk) {
  if (n < 1) throw ConfigError("n must be >= 1");
  checkChain(prior, "prior");
  ModelLock lock(model);
  at::Generator gen = makeGenerator(model.device(), seed);
  const auto opts = torch::TensorOptions().device(model.device()).dtype(torch::kFloat32);
  std::vector<at::Tensor> out;
  for (int64_t done = 0; done < n; done += kChunk) {
    const int64_t b = std::min(kChunk, n - done);
    at::Tensor z = priorLangevin(model, torch::randn({b, model.latentDim()}, gen, opts), prior, gen, cancel);
    torch::NoGradGuard noGrad;
    out.push_back(model.generate(z).to(torch::kCPU));
    if (onChunk) onChunk(done + b);
  }
  return torch::cat(out, 0);
}

at::Tensor posteriorJob(LatentModel& model, const PosteriorRequest& request, PosteriorOutput output,
                        const std::atomic<bool>* cancel, const ChunkReport& onChunk) {
  checkChain(request.chain, "posterior");
  if (request.sigma < 0) throw ConfigError("sigma must be > 0");
  ModelLock lock(model);
  at::Tensor images = request.images;
  at::Tensor mask;
  if (request.mask.defined()) {
    if (!request.mask.sizes().equals(request.images.sizes()))
      throw ShapeError("mask must have the shape of the images, " + shapeString(request.images.sizes()) + ", got " +
                       shapeString(request.mask.sizes()));
    mask = request.mask.to(model.device(), torch::kFloat32);
    if (!((mask == 0) | (mask == 1)).all().item<bool>())
      throw ConfigError("mask must hold only 0 (missing) and 1 (observed)");
    // Missing pixels are never read: they may hold anything, NaN included.
    images = torch::where(mask > 0.5, images.to(model.device(), torch::kFloat32), torch::zeros({}, mask.options()));
  }
  at::Tensor x = prepareImages(model, images, "images");
  const double sigma = request.sigma > 0 ? request.sigma : model.likelihoodSigma();
  at::Generator gen = makeGenerator(model.device(), request.seed);
  const int64_t n = x.size(0);
  std::vector<at::Tensor> out;
  for (int64_t done = 0; done < n; done += kChunk) {
    const int64_t b = std::min(kChunk, n - done);
    at::Tensor xb = x.narrow(0, done, b);
    at::Tensor mb = mask.defined() ? mask.narrow(0, done, b) : at::Tensor();
    at::Tensor z0 = torch::randn({b, model.latentDim()}, gen, xb.options());
    at::Tensor z = posteriorLangevin(model, xb, mb, sigma, z0, request.chain, gen, cancel);
    torch::NoGradGuard noGrad;
    if (output == PosteriorOutput::Latents) {
      out.push_back(z.to(torch::kCPU));
    } else {
      at::Tensor g = model.generate(z);
      // Observed pixels are the caller's own values, bit for bit.
      if (output == PosteriorOutput::Fill && mb.defined()) g = torch::where(mb > 0.5, xb, g);
      out.push_back(g.to(torch::kCPU));
    }
    if (onChunk) onChunk(done + b);
  }
  return torch::cat(out, 0);
}

at::Tensor decodeLatents(LatentModel& model, const at::Tensor& zIn) {
  ModelLock lock(model);
  at::Tensor z = model.prepareInput(zIn, "z");
  requireFinite(z, "z");
  torch::NoGradGuard noGrad;
  return model.generate(z).to(torch::kCPU);
}

}  // namespace ebm
