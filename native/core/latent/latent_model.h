// A latent-space EBM for images (Pang et al. 2020; the image use of Energy Discrepancy): a
// generator g(z) maps a latent z to an image [C, H, W], and the prior over z is
//   p(z) ∝ exp(-E(z)) N(z; 0, I).
// As an EnergyModel it is the prior: energy(z) = E(z) + ½|z|², so every sampler, loss and
// metric of the library works on its latent space. Checkpoints hold both networks.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

#include "models/energy_model.h"

namespace ebm {

struct LatentGeneratorOptions {
  int64_t channels{};      // the width at the last upsampling stage; doubles towards the base
  bool batchNorm = false;  // batch norm after each hidden transposed convolution
};
template <typename Fields>
void describe(Fields& f, LatentGeneratorOptions& o) {
  f.required("channels", o.channels);
  f.optional("batchNorm", o.batchNorm);
}

struct LatentPriorOptions {
  std::vector<int64_t> hidden;
  std::string activation;
};
template <typename Fields>
void describe(Fields& f, LatentPriorOptions& o) {
  f.required("hidden", o.hidden);
  f.required("activation", o.activation);
}

struct LatentModelOptions {
  int64_t latentDim{};
  std::vector<int64_t> imageShape;  // [channels, height, width]
  double likelihoodSigma{};
  LatentGeneratorOptions generator;
  LatentPriorOptions prior;
  int64_t seed = 0;
};
template <typename Fields>
void describe(Fields& f, LatentModelOptions& o) {
  f.required("latentDim", o.latentDim);
  f.required("imageShape", o.imageShape);
  f.required("likelihoodSigma", o.likelihoodSigma);
  f.required("generator", o.generator);
  f.required("prior", o.prior);
  f.optional("seed", o.seed);
}

class LatentModel : public EnergyModel {
 public:
  // The learned correction E(z) alone, [N]: an MLP named like the 'mlp' model, under prior.*.
  at::Tensor priorEnergy(const at::Tensor& z);
  // The prior energy: E(z) + ½|z|², [N].
  at::Tensor energy(const at::Tensor& z, const at::Tensor& t) override;
  // The generator g(z): [N, latentDim] -> [N, C, H, W] in (-1, 1). BatchNorm (when configured)
  // uses batch statistics in training mode and its running averages otherwise.
  at::Tensor generate(const at::Tensor& z);

  int64_t latentDim() const { return eventShape()[0]; }
  const std::vector<int64_t>& imageShape() const { return imageShape_; }
  // Gaussian likelihood std of p(x | z) = N(g(z), σ²I), from the config.
  double likelihoodSigma() const { return likelihoodSigma_; }

  std::vector<at::Tensor> generatorParameters() const;
  std::vector<at::Tensor> priorParameters() const;

  LatentModel(const json::Value& cfg, c10::Device device);
  LatentModel(const json::Value& cfg, c10::Device device, const LatentModelOptions& options);

 private:
  std::vector<int64_t> imageShape_;
  double likelihoodSigma_;
  bool batchNorm_;
  int64_t baseHeight_ = 0, baseWidth_ = 0;
  std::string priorActivation_;
  std::vector<at::Tensor> priorWeights_, priorBiases_;
  at::Tensor priorOutWeight_, priorOutBias_;
  std::vector<at::Tensor> genWeights_, genBiases_;
  std::vector<at::Tensor> bnWeights_, bnBiases_, bnMeans_, bnVars_;
};

// Throws ConfigError unless `model` is a latent model (what says which call needed one).
LatentModel& asLatent(EnergyModel& model, const char* what);

}  // namespace ebm
