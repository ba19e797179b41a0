#include "models/gemm.h"

#include <ATen/ATen.h>

#include <cstdlib>
#include <cstring>

#if defined(__linux__)
#include <dlfcn.h>
#endif

namespace ebm {
namespace {

// dnnl_sgemm from oneDNN's C API (dnnl.h): row-major C = alpha op(A) op(B) + beta C; returns
// dnnl_success (0) or an error status.
using Sgemm = int (*)(char transa, char transb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                      int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

Sgemm findSgemm() {
  const char* off = std::getenv("EBM_TORCH_DNNL_GEMM");
  if (off && std::strcmp(off, "0") == 0) return nullptr;
#if defined(__linux__)
  // Only a oneDNN that LibTorch already loaded (RTLD_NOLOAD): the same library its own
  // convolutions use, never a second copy.
  if (void* lib = dlopen("libdnnl.so.2", RTLD_NOW | RTLD_NOLOAD))
    return reinterpret_cast<Sgemm>(dlsym(lib, "dnnl_sgemm"));
#endif
  return nullptr;
}

Sgemm sgemm() {
  static const Sgemm f = findSgemm();
  return f;
}

// A 2-D float32 CPU matrix as oneDNN reads it: row-major ('N') or transposed ('T'), with its
// leading dimension.
struct Operand {
  char trans = 'N';
  int64_t ld = 0;
};

bool asOperand(const at::Tensor& t, Operand* op) {
  if (t.dim() != 2 || t.scalar_type() != at::kFloat || !t.device().is_cpu()) return false;
  const int64_t rows = t.size(0), cols = t.size(1);
  if (t.stride(1) == 1 && (rows == 1 || t.stride(0) >= cols)) {
    *op = {'N', rows == 1 ? cols : t.stride(0)};
    return op->ld >= 1;
  }
  if (t.stride(0) == 1 && (cols == 1 || t.stride(1) >= rows)) {
    *op = {'T', cols == 1 ? rows : t.stride(1)};
    return op->ld >= 1;
  }
  return false;
}

bool oneDnnProduct(const at::Tensor& out, const at::Tensor& a, const at::Tensor& b, float beta) {
  const Sgemm f = sgemm();
  Operand oa, ob, oc;
  if (!f || !asOperand(a, &oa) || !asOperand(b, &ob) || !asOperand(out, &oc) || oc.trans != 'N') return false;
  const int64_t m = a.size(0), k = a.size(1), n = b.size(1);
  if (m == 0 || n == 0 || k == 0) return false;
  return f(oa.trans, ob.trans, m, n, k, 1.0f, a.data_ptr<float>(), oa.ld, b.data_ptr<float>(), ob.ld, beta,
           out.data_ptr<float>(), oc.ld) == 0;
}

}  // namespace

void product(const at::Tensor& out, const at::Tensor& a, const at::Tensor& b) {
  if (!oneDnnProduct(out, a, b, 0.0f)) {
    at::Tensor o = out;
    at::mm_out(o, a, b);
  }
}

void addProduct(const at::Tensor& out, const at::Tensor& a, const at::Tensor& b) {
  if (!oneDnnProduct(out, a, b, 1.0f)) {
    at::Tensor o = out;
    o.addmm_(a, b);
  }
}

bool productsUseOneDnn() { return sgemm() != nullptr; }

}  // namespace ebm
