"""FLOPs of one step, counted on the PyTorch-Python reference (bench/reference.py --count-flops).

A dispatch mode sees every ATen operation the step runs, the backward passes included (autograd
runs them on the calling thread on CPU), and adds up the multiply-adds of the matrix products and
convolutions: 2 FLOPs each. Elementwise work (activations, noise, the optimizer) is not counted:
it is memory-bound and a small share of these steps, so the count is the work a roofline of GEMM
and convolution speed applies to. Both sides compute the same products (the bench checks that
their losses agree), so the count holds for ebm-torch's step as well.
"""
import math

from torch.utils._python_dispatch import TorchDispatchMode


def _numel(shape):
    return math.prod(shape)


def _conv_flops(x_shape, w_shape, out_shape, transposed):
    """2 x multiply-adds of a convolution: every output (input, if transposed) element takes
    (channels per group) x kernel of them; w is [Cout, Cin/g, k...] ([Cin, Cout/g, k...] transposed)."""
    per_element = _numel(w_shape[1:])  # (channels per group) x kernel
    return 2 * (_numel(x_shape) if transposed else _numel(out_shape)) * per_element


class FlopCounter(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.flops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        name = str(func.overloadpacket).split(".")[-1]
        if name == "mm":
            m, k = args[0].shape
            self.flops += 2 * m * k * args[1].shape[1]
        elif name == "addmm":
            m, k = args[1].shape
            self.flops += 2 * m * k * args[2].shape[1]
        elif name == "bmm":
            b, m, k = args[0].shape
            self.flops += 2 * b * m * k * args[1].shape[2]
        elif name == "convolution":
            x, w, transposed = args[0], args[1], args[6]
            self.flops += _conv_flops(x.shape, w.shape, out.shape, transposed)
        elif name == "convolution_backward":
            # grad_output, input, weight, ..., transposed at 7, output_mask at 10
            grad_out, x, w, transposed, mask = args[0], args[1], args[2], args[7], args[10]
            forward = _conv_flops(x.shape, w.shape, grad_out.shape, transposed)
            self.flops += forward * (int(mask[0]) + int(mask[1]))
        return out
