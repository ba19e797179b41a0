"""What one core's GEMM reaches at the shape of the ED workload's hidden layer, for the FLOP-fraction
figures in the notes of issue 11:  /usr/bin/python3 bench/gemm-peak.py [rows]

Times C = A Bᵀ (rows x 128 times 128 x 128, float32) on one thread with LibTorch's torch.mm (OpenBLAS
in Debian's build) and with oneDNN's dnnl_sgemm (the libdnnl that LibTorch links), and prints
microseconds per call and GFLOP/s.
"""
import ctypes
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import torch  # noqa: E402

torch.set_num_threads(1)
rows = int(sys.argv[1]) if len(sys.argv) > 1 else 2176  # batch 128 x (1 + M 16)
n = k = 128
a = torch.rand(rows, k)
b = torch.rand(n, k)
c = torch.empty(rows, n)


def torch_mm():
    torch.mm(a, b.t(), out=c)


candidates = [("torch.mm (OpenBLAS)", torch_mm)]
try:
    dnnl = ctypes.CDLL("libdnnl.so.2")
    i64, f32, ptr = ctypes.c_int64, ctypes.c_float, ctypes.c_void_p
    dnnl.dnnl_sgemm.argtypes = [ctypes.c_char, ctypes.c_char, i64, i64, i64, f32, ptr, i64, ptr, i64, f32, ptr, i64]

    def onednn():
        # row-major: C (rows x n) = A (rows x k) · Bᵀ
        dnnl.dnnl_sgemm(b"N", b"T", rows, n, k, 1.0, a.data_ptr(), k, b.data_ptr(), k, 0.0, c.data_ptr(), n)

    candidates.append(("dnnl_sgemm (oneDNN)", onednn))
except OSError as err:
    print(f"oneDNN not loadable: {err}")

flop = 2.0 * rows * n * k
for _ in range(2):  # interleaved, twice
    for name, fn in candidates:
        for _ in range(20):
            fn()
        reps = 500
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        dt = (time.perf_counter() - t0) / reps
        print(f"{name:22s} {rows} x {k} x {n}: {dt * 1e6:7.1f} us, {flop / dt / 1e9:6.1f} GFLOP/s")
