"""The fully connected layer's kernel: ``y = x W^T + b`` as one fused Function.

Its GEMMs split their rows over striate's threads like the convolutions (``striate.threads``),
with BLAS pinned to one thread, also when too small to split: a threaded BLAS call would leave
OpenBLAS's workers spinning on the core that the next split kernel needs.
"""
from __future__ import annotations

import math

from ..autograd import Function
from ..backend import xp
from ..tensor import Tensor, apply, as_tensor as _as_tensor
from ..threads import macs_grain, parallel_for

__all__ = ["linear"]


class Linear(Function):
    def forward(self, x, w, b=None):
        self.x_shape = x.shape
        # (..., in) -> (M, in): one BLAS call for any batch shape (M spelled out: -1 is
        # ambiguous when in_features is 0)
        x2 = x.reshape(math.prod(x.shape[:-1]), x.shape[-1])
        self.save_for_backward(x2 if self.needs_input_grad[1] else None, w)
        y = xp.empty((x2.shape[0], w.shape[0]), xp.result_type(x2, w))

        def run(lo, hi):
            xp.matmul(x2[lo:hi], w.T, out=y[lo:hi])

        parallel_for(run, x2.shape[0], macs_grain(w.size), blas=True)
        if b is not None:
            y = y + b  # not in place: b may promote y's dtype
        return y.reshape(x.shape[:-1] + (w.shape[0],))

    def backward(self, gy):
        # dy/dx = W, dy/dW = x, dy/db = 1: gx = gy W, gw = gy^T x, gb = sum(gy)
        x2, w = self.saved_tensors
        gy2 = gy.reshape(math.prod(gy.shape[:-1]), w.shape[0])
        M = gy2.shape[0]
        gx = gw = None
        if self.needs_input_grad[0]:
            gx = xp.empty((M, w.shape[1]), xp.result_type(gy2, w))

            def run_x(lo, hi):
                xp.matmul(gy2[lo:hi], w, out=gx[lo:hi])

            parallel_for(run_x, M, macs_grain(w.size), blas=True)
            gx = gx.reshape(self.x_shape)
        if self.needs_input_grad[1]:
            gw = sum(parallel_for(lambda lo, hi: gy2[lo:hi].T @ x2[lo:hi], M, macs_grain(w.size),
                                  blas=True))
        gb = gy2.sum(axis=0) if self.needs_input_grad[2] else None
        return gx, gw, gb


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """Affine map ``y = x weight^T + bias`` over the last axis, as ``torch.nn.functional.linear``.

    Args:
        x (Tensor): input of shape (..., in_features).
        weight (Tensor): shape (out_features, in_features).
        bias (Tensor, optional): shape (out_features,). Default: None.

    Shape:
        - x: (..., in_features); output: (..., out_features).

    >>> F.linear(striate.tensor([[1.0, 2.0]]), striate.tensor([[1.0, 1.0]])).shape
    (1, 1)
    """
    x, weight = _as_tensor(x, "linear"), _as_tensor(weight, "linear")
    if weight.ndim != 2:
        raise ValueError(
            f"linear: weight must have shape (out_features, in_features), got {weight.shape}"
        )
    if x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"linear: input of shape {x.shape} has {x.shape[-1] if x.ndim else 'no'} features "
            f"but weight of shape {weight.shape} expects in_features={weight.shape[1]}"
        )
    if bias is not None:
        bias = _as_tensor(bias, "linear")
        if bias.shape != (weight.shape[0],):
            raise ValueError(
                f"linear: bias must have shape ({weight.shape[0]},) to match weight "
                f"{weight.shape}, got {bias.shape}"
            )
    return apply(Linear, x, weight, bias)
