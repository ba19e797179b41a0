// Activations with their derivatives in one vectorised pass, for the MLP's hand-written passes
// (models/mlp_passes.cc). No LibTorch here: plain float loops the compiler vectorises for this CPU.
#pragma once

#include <cstdint>
#include <string>

namespace ebm {

enum class FusedActivation { Silu, Tanh, Elu, LeakyRelu };

// The fused kernel for an activation name; false for one without a kernel (softplus), which keeps
// the autograd path.
bool fusedActivation(const std::string& name, FusedActivation* out);

// z <- act(z) and d <- act'(z) for n floats; matches LibTorch's activations (leaky_relu slope 0.2,
// elu alpha 1) to float rounding (exp is a degree-6 polynomial after range reduction, relative
// error below 3e-7).
void activateWithDerivative(FusedActivation act, float* z, float* d, int64_t n);

// As activateWithDerivative, and d2 <- act''(z) (score matching's hand-written double backward).
void activateWithTwoDerivatives(FusedActivation act, float* z, float* d, float* d2, int64_t n);

// g[i] <- g[i] * d[i] for n floats.
void multiplyInPlace(float* g, const float* d, int64_t n);

// out[i] <- a[i] * b[i] * c[i] for n floats.
void multiplyThree(float* out, const float* a, const float* b, const float* c, int64_t n);

// g[r, j] <- scale[r] * w[j] * d[r, j]: the gradient of sum_r scale[r] * (h[r] . w) through the
// activation whose derivative is d. scale null: 1.
void outerTimesDerivative(float* g, const float* scale, const float* w, const float* d, int64_t rows, int64_t cols);

}  // namespace ebm
