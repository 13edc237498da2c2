"""The fully connected layer's kernel: ``y = x W^T + b`` as one fused Function."""
from __future__ import annotations

import math

from ..autograd import Function
from ..tensor import Tensor, apply, as_tensor as _as_tensor

__all__ = ["linear"]


class Linear(Function):
    def forward(self, x, w, b=None):
        self.x_shape = x.shape
        # (..., in) -> (M, in): one BLAS call for any batch shape (M spelled out: -1 is
        # ambiguous when in_features is 0)
        x2 = x.reshape(math.prod(x.shape[:-1]), x.shape[-1])
        self.save_for_backward(x2 if self.needs_input_grad[1] else None, w)
        y = x2 @ w.T
        if b is not None:
            y = y + b
        return y.reshape(x.shape[:-1] + (w.shape[0],))

    def backward(self, gy):
        # dy/dx = W, dy/dW = x, dy/db = 1: gx = gy W, gw = gy^T x, gb = sum(gy)
        x2, w = self.saved_tensors
        gy2 = gy.reshape(math.prod(gy.shape[:-1]), w.shape[0])
        gx = (gy2 @ w).reshape(self.x_shape) if self.needs_input_grad[0] else None
        gw = gy2.T @ x2 if self.needs_input_grad[1] else None
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
