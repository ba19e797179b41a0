// Float32 matrix products for the hand-written passes: oneDNN's sgemm where the LibTorch build
// links oneDNN (Debian's does), LibTorch's mm otherwise. oneDNN picks its kernel from the CPU it
// runs on; LibTorch's mm goes through the BLAS it was built with, and OpenBLAS's kernel can be held
// back (OPENBLAS_CORETYPE pins it to an older instruction set on some machines).
#pragma once

#include <ATen/core/Tensor.h>

namespace ebm {

// out <- a b (out [M, N], a [M, K], b [K, N]: CPU float32 matrices, any of them a transposed or
// narrowed view with unit stride along one dimension).
void product(const at::Tensor& out, const at::Tensor& a, const at::Tensor& b);
// out <- out + a b.
void addProduct(const at::Tensor& out, const at::Tensor& a, const at::Tensor& b);

// Whether the products above use oneDNN (EBM_TORCH_DNNL_GEMM=0 keeps LibTorch's mm, the reference).
bool productsUseOneDnn();

}  // namespace ebm
