// Hand-written forward and backward passes of an MLP energy on the CPU (float32): energies, input
// gradients and parameter gradients with no autograd graph, over row blocks sized to stay in
// cache and spread over LibTorch's threads. The GEMMs are LibTorch's (BLAS); activations and their
// derivatives come from one vectorised pass (fused_activation.h). models/mlp.cc uses these when
// they apply; its autograd path is the reference they are tested against.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

#include "models/fused_activation.h"

namespace ebm {

// An MLP's tensors in the model's layout (weights [out, in], as PyTorch's Linear).
struct MlpTensors {
  std::vector<at::Tensor> weights, biases;
  // Time-conditioned with timeInjection 'every': the time embedding's weights into hidden layers
  // 1..L-1 (layer 0 always sees the embedding as extra input columns). Empty otherwise.
  std::vector<at::Tensor> timeWeights;
  at::Tensor outWeight, outBias;
  FusedActivation activation = FusedActivation::Silu;
};

// Energies [N] and, when gradOut is set, grad_x E [N, D]; builds no graph. x: [N, D] float32 CPU;
// emb: the time embedding [N, E], or undefined.
at::Tensor mlpEnergyAndGrad(const MlpTensors& m, const at::Tensor& x, const at::Tensor& emb, at::Tensor* gradOut);

// Energies [N] as a single autograd node whose backward is written by hand: the parameters'
// gradients. For inputs that need no gradient (x and emb); a loss that differentiates through
// grad_x E (score matching) uses the autograd path.
at::Tensor mlpEnergyWithParameterGrads(const MlpTensors& m, const at::Tensor& x, const at::Tensor& emb);

// The score -grad_x E [N, D] as a single autograd node whose backward is written by hand (second
// derivatives of the activations): what denoising score matching differentiates. For x and emb
// that need no gradient.
at::Tensor mlpScoreWithParameterGrads(const MlpTensors& m, const at::Tensor& x, const at::Tensor& emb);

}  // namespace ebm
