// Activations with their derivatives in one vectorised pass, for the MLP's hand-written passes
// (models/mlp_passes.cc), and the few other float loops of the hot paths (the trainer's gradient
// norm, ED's loss head, the finiteness check of inputs). No LibTorch here: plain float loops the
// compiler vectorises for this CPU.
#pragma once

#include <cstdint>
#include <string>

namespace ebm {

enum class FusedActivation { Silu, Tanh, Elu, LeakyRelu };

// The fused kernel for an activation name; false for one without a kernel (softplus), which keeps
// the autograd path.
bool fusedActivation(const std::string& name, FusedActivation* out);

// For a [rows, cols] block z of a layer's products and that layer's bias [cols]: with
// v = z + bias (per column), z <- act(v) and d <- act'(v). Adding the bias here spares the GEMM a
// pass that broadcasts it into z first. Matches LibTorch's activations (leaky_relu slope 0.2,
// elu alpha 1) to float rounding (exp is a degree-6 polynomial after range reduction, relative
// error below 3e-7).
void activateWithDerivative(FusedActivation act, float* z, float* d, const float* bias, int64_t rows, int64_t cols);

// As activateWithDerivative, and d2 <- act''(v) (score matching's hand-written double backward).
void activateWithTwoDerivatives(FusedActivation act, float* z, float* d, float* d2, const float* bias, int64_t rows,
                                int64_t cols);

// g[i] <- g[i] * d[i] for n floats.
void multiplyInPlace(float* g, const float* d, int64_t n);

// out[i] <- a[i] * b[i] * c[i] for n floats.
void multiplyThree(float* out, const float* a, const float* b, const float* c, int64_t n);

// sum_i g[i]^2 for n floats (a gradient norm's square).
double sumOfSquares(const float* g, int64_t n);

// e[r] <- bias + h[r, :] . w for h [rows, cols] (the energy read-out).
void rowDots(float* e, const float* h, const float* w, float bias, int64_t rows, int64_t cols);

// out[j] <- out[j] + sum_r scale[r] h[r, j] (the read-out weight's gradient); scale null: 1 (a
// bias's gradient).
void addWeightedRows(float* out, const float* scale, const float* h, int64_t rows, int64_t cols);

// Row-wise softmax of v [rows, cols] in place; returns the sum over rows of logsumexp(v[r, :]).
double softmaxRows(float* v, int64_t rows, int64_t cols);

// Whether none of n floats is NaN or ±Inf.
bool allFinite(const float* v, int64_t n);

// g[r, j] <- scale[r] * w[j] * d[r, j]: the gradient of sum_r scale[r] * (h[r] . w) through the
// activation whose derivative is d. scale null: 1.
void outerTimesDerivative(float* g, const float* scale, const float* w, const float* d, int64_t rows, int64_t cols);

}  // namespace ebm
