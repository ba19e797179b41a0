#!/usr/bin/env bash
# The parity tests (hand-written passes, the ED head, one-pass Adam, the losses against PyTorch, the
# models against hand computation) at 1 and 2 intra-op threads, each with OpenBLAS's kernel as this
# machine pins it (OPENBLAS_CORETYPE) and as OpenBLAS picks it itself: their tolerances must not
# depend on the summation order or the BLAS kernel (oneDNN's or LibTorch's products, too). Run after the build (npm test builds).
set -euo pipefail
cd "$(dirname "$0")/.."
tests=(dist/test/fused-mlp.test.js dist/test/ed-head.test.js dist/test/fused-adam.test.js dist/test/losses.test.js
  dist/test/model.test.js)
for threads in 1 2; do
  for kernel in pinned own; do
    echo "[parity] OMP_NUM_THREADS=$threads, OpenBLAS kernel: $kernel"
    if [ "$kernel" = own ]; then unset_kernel=(-u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE); else unset_kernel=(); fi
    env "${unset_kernel[@]}" OMP_NUM_THREADS="$threads" npx --no-install mocha --no-config --timeout 120000 \
      --reporter dot "${tests[@]}"
  done
done
# The hand-written passes' products go through oneDNN where LibTorch links it (models/gemm.h); the
# fallback, LibTorch's own mm, is what builds without a loadable oneDNN run.
echo "[parity] OMP_NUM_THREADS=2, products through LibTorch's mm (EBM_TORCH_DNNL_GEMM=0)"
EBM_TORCH_DNNL_GEMM=0 OMP_NUM_THREADS=2 npx --no-install mocha --no-config --timeout 120000 --reporter dot \
  "${tests[@]}"
