#include "models/fused_activation.h"

#include <algorithm>
#include <cmath>
#include <cstring>

// Each loop is compiled three times (AVX-512, AVX2 + FMA, baseline) and the loader picks the one
// this CPU runs; the addon itself stays built for the baseline, so it loads everywhere.
// GCC 11 or later (the x86-64-vN names), on glibc (the loader's IFUNC support).
#if defined(__x86_64__) && defined(__GLIBC__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#define EBM_CPU_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define EBM_CPU_CLONES
#endif
#define EBM_ALWAYS_INLINE inline __attribute__((always_inline))

namespace ebm {
namespace {

// e^x for float: x = n ln2 + r with |r| <= ln2 / 2 (ln2 split in two so n ln2 is exact), e^r by a
// degree-6 polynomial, 2^n from the exponent bits. Branch-free, so the loops around it vectorise.
EBM_ALWAYS_INLINE float expPoly(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  // round to nearest by adding and removing 1.5 * 2^23 (exact for |x log2 e| < 2^22)
  const float n = (x * 1.44269504f + 12582912.0f) - 12582912.0f;
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

// a . b over n floats in 16 lanes: vectorisable without reassociating one running sum
EBM_ALWAYS_INLINE float dot(const float* a, const float* b, int64_t n) {
  float lanes[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int k = 0; k < 16; ++k) lanes[k] += a[i + k] * b[i + k];
  for (; i < n; ++i) lanes[0] += a[i] * b[i];
  float sum = 0;
  for (float v : lanes) sum += v;
  return sum;
}

EBM_CPU_CLONES void siluPass(float* z, float* d, const float* bias, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r, z += cols, d += cols)
    for (int64_t i = 0; i < cols; ++i) {
      const float v = z[i] + bias[i];
      const float s = 1.0f / (1.0f + expPoly(-v));
      z[i] = v * s;
      d[i] = s * (1.0f + v * (1.0f - s));
    }
}

EBM_CPU_CLONES void tanhPass(float* z, float* d, const float* bias, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r, z += cols, d += cols)
    for (int64_t i = 0; i < cols; ++i) {
      const float e = expPoly(-2.0f * (z[i] + bias[i]));
      const float y = (1.0f - e) / (1.0f + e);
      z[i] = y;
      d[i] = 1.0f - y * y;
    }
}

EBM_CPU_CLONES void eluPass(float* z, float* d, const float* bias, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r, z += cols, d += cols)
    for (int64_t i = 0; i < cols; ++i) {
      const float v = z[i] + bias[i];
      const float e = expPoly(v < 0.0f ? v : 0.0f);
      // "v <= 0" so that a NaN takes the identity branch and stays NaN
      z[i] = v <= 0.0f ? e - 1.0f : v;
      d[i] = v <= 0.0f ? e : 1.0f;
    }
}

EBM_CPU_CLONES void leakyReluPass(float* z, float* d, const float* bias, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r, z += cols, d += cols)
    for (int64_t i = 0; i < cols; ++i) {
      const float v = z[i] + bias[i];
      z[i] = v > 0.0f ? v : 0.2f * v;
      d[i] = v > 0.0f ? 1.0f : 0.2f;
    }
}

// Second derivatives: silu'' = s (1 - s) (2 + z (1 - 2 s)), tanh'' = -2 y (1 - y^2), elu'' = e^z
// below 0, leaky_relu'' = 0.
EBM_CPU_CLONES void siluPass2(float* z, float* d, float* d2, const float* bias, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r, z += cols, d += cols, d2 += cols)
    for (int64_t i = 0; i < cols; ++i) {
      const float v = z[i] + bias[i];
      const float s = 1.0f / (1.0f + expPoly(-v));
      z[i] = v * s;
      d[i] = s * (1.0f + v * (1.0f - s));
      d2[i] = s * (1.0f - s) * (2.0f + v * (1.0f - 2.0f * s));
    }
}

EBM_CPU_CLONES void tanhPass2(float* z, float* d, float* d2, const float* bias, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r, z += cols, d += cols, d2 += cols)
    for (int64_t i = 0; i < cols; ++i) {
      const float e = expPoly(-2.0f * (z[i] + bias[i]));
      const float y = (1.0f - e) / (1.0f + e);
      z[i] = y;
      d[i] = 1.0f - y * y;
      d2[i] = -2.0f * y * (1.0f - y * y);
    }
}

EBM_CPU_CLONES void eluPass2(float* z, float* d, float* d2, const float* bias, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r, z += cols, d += cols, d2 += cols)
    for (int64_t i = 0; i < cols; ++i) {
      const float v = z[i] + bias[i];
      const float e = expPoly(v < 0.0f ? v : 0.0f);
      z[i] = v <= 0.0f ? e - 1.0f : v;
      d[i] = v <= 0.0f ? e : 1.0f;
      d2[i] = v <= 0.0f ? e : 0.0f;
    }
}

EBM_CPU_CLONES void leakyReluPass2(float* z, float* d, float* d2, const float* bias, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r, z += cols, d += cols, d2 += cols)
    for (int64_t i = 0; i < cols; ++i) {
      const float v = z[i] + bias[i];
      z[i] = v > 0.0f ? v : 0.2f * v;
      d[i] = v > 0.0f ? 1.0f : 0.2f;
      d2[i] = 0.0f;
    }
}

}  // namespace

bool fusedActivation(const std::string& name, FusedActivation* out) {
  if (name == "silu")
    *out = FusedActivation::Silu;
  else if (name == "tanh")
    *out = FusedActivation::Tanh;
  else if (name == "elu")
    *out = FusedActivation::Elu;
  else if (name == "leaky_relu")
    *out = FusedActivation::LeakyRelu;
  else
    return false;
  return true;
}

void activateWithDerivative(FusedActivation act, float* z, float* d, const float* bias, int64_t rows, int64_t cols) {
  switch (act) {
    case FusedActivation::Silu: return siluPass(z, d, bias, rows, cols);
    case FusedActivation::Tanh: return tanhPass(z, d, bias, rows, cols);
    case FusedActivation::Elu: return eluPass(z, d, bias, rows, cols);
    case FusedActivation::LeakyRelu: return leakyReluPass(z, d, bias, rows, cols);
  }
}

void activateWithTwoDerivatives(FusedActivation act, float* z, float* d, float* d2, const float* bias, int64_t rows,
                                int64_t cols) {
  switch (act) {
    case FusedActivation::Silu: return siluPass2(z, d, d2, bias, rows, cols);
    case FusedActivation::Tanh: return tanhPass2(z, d, d2, bias, rows, cols);
    case FusedActivation::Elu: return eluPass2(z, d, d2, bias, rows, cols);
    case FusedActivation::LeakyRelu: return leakyReluPass2(z, d, d2, bias, rows, cols);
  }
}

EBM_CPU_CLONES void multiplyThree(float* out, const float* a, const float* b, const float* c, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] * b[i] * c[i];
}

EBM_CPU_CLONES void multiplyInPlace(float* g, const float* d, int64_t n) {
  for (int64_t i = 0; i < n; ++i) g[i] *= d[i];
}

EBM_CPU_CLONES void outerTimesDerivative(float* g, const float* scale, const float* w, const float* d, int64_t rows,
                                         int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const float s = scale ? scale[r] : 1.0f;
    float* gr = g + r * cols;
    const float* dr = d + r * cols;
    for (int64_t j = 0; j < cols; ++j) gr[j] = s * w[j] * dr[j];
  }
}

EBM_CPU_CLONES double sumOfSquares(const float* g, int64_t n) {
  // each block of 4096 added in double, so a long tensor loses no precision to the running sums
  double total = 0;
  for (int64_t start = 0; start < n; start += 4096) {
    const int64_t count = std::min<int64_t>(n - start, 4096);
    total += dot(g + start, g + start, count);
  }
  return total;
}

EBM_CPU_CLONES void rowDots(float* e, const float* h, const float* w, float bias, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r, h += cols) e[r] = bias + dot(h, w, cols);
}

EBM_CPU_CLONES void addWeightedRows(float* out, const float* scale, const float* h, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r, h += cols) {
    const float s = scale ? scale[r] : 1.0f;
    for (int64_t j = 0; j < cols; ++j) out[j] += s * h[j];
  }
}

EBM_CPU_CLONES double softmaxRows(float* v, int64_t rows, int64_t cols) {
  double total = 0;
  for (int64_t r = 0; r < rows; ++r, v += cols) {
    float most = v[0];
    for (int64_t j = 1; j < cols; ++j) most = v[j] > most ? v[j] : most;
    float sum = 0;
    for (int64_t j = 0; j < cols; ++j) {
      v[j] = expPoly(v[j] - most);
      sum += v[j];
    }
    const float inverse = 1.0f / sum;
    for (int64_t j = 0; j < cols; ++j) v[j] *= inverse;
    total += static_cast<double>(most) + std::log(static_cast<double>(sum));
  }
  return total;
}

EBM_CPU_CLONES bool allFinite(const float* v, int64_t n) {
  // v - v is 0 for a finite float and NaN for NaN or ±Inf; no branch, so the loop vectorises
  bool finite = true;
  for (int64_t i = 0; i < n; ++i) finite &= (v[i] - v[i]) == 0.0f;
  return finite;
}

}  // namespace ebm
