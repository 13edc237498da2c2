"""Fused layer sequences: ``conv2d_bn`` (inference) and ``add_relu`` (a residual block's tail).

In evaluation mode batch norm is a per-channel affine map, ``(z - mean) * s + beta`` with
``s = gamma / sqrt(var + eps)``, so convolution then batch norm is one convolution with weight
``w * s`` and bias ``(b - mean) * s + beta`` (the folding of Jacob et al. 2018,
https://arxiv.org/abs/1712.05877, section 3.2, which TensorFlow's graph optimizer and ONNX
Runtime apply to inference graphs). A following ReLU or ReLU6 then clamps the convolution's
own output in place. Batch norm's passes and the activation's buffer are gone; the numbers
differ from the unfolded layers by float rounding only.

Folding is valid only while nothing needs a gradient through the parts: with autograd
recording, ``conv2d_bn`` runs the three ops one after another instead.

A residual block's tail, ``act(bn(conv(x)) + shortcut)``, is ``conv2d_bn(..., residual=shortcut)``:
at inference the folded convolution adds the shortcut to each block of its output while the block
is in cache, before the clamp; ResNet-20 inference (batch 128, 2 threads, alternating in one
process) 163 -> 153 ms, as against the convolution then ``add_relu`` over the whole output.

``add_relu(a, b)`` is ``relu(a + b)`` in one buffer, with or without autograd.
"""
from __future__ import annotations

import math

from ..autograd import Function, is_grad_enabled
from ..backend import xp
from ..tensor import Tensor, apply, as_tensor as _as_tensor
from ..threads import over_batch
from .activation import clamp_of, clip_grad, relu, relu6
from ._conv_args import conv_args
from .conv import Conv2dFunction, conv2d
from .normalization import _number, _stat_array, batch_norm

__all__ = ["add_relu", "conv2d_bn", "fold_batch_norm"]

_ACTS = {"relu6": relu6}  # _add_act's activations after the add (ReLU uses add_relu)


def fold_batch_norm(w, b, running_mean, running_var, bn_weight=None, bn_bias=None,
                    eps: float = 1e-5):
    """The weight and bias of ``conv -> batch_norm`` (evaluation) as one convolution.

    Arrays in, arrays out: ``w * s`` (s over axis 0) and ``(b - mean) * s + beta`` with
    ``s = gamma / sqrt(var + eps)``, returned in ``w``'s dtype. ``s`` and the bias are computed
    in float64; ``s`` is rounded to ``w``'s dtype before the product, so a float32 weight is
    scaled in float32 (within 1 ulp of the float64 product): a float64 product of ResNet-18's
    11M weights took 35-46 ms per inference pass, against about 4 ms.
    ``b``, ``bn_weight`` and ``bn_bias`` may be None (0, 1 and 0).
    """
    f8 = xp.float64
    s = 1 / xp.sqrt(running_var.astype(f8) + eps)
    if bn_weight is not None:
        s = s * bn_weight
    shift = -running_mean.astype(f8) if b is None else b - running_mean.astype(f8)
    shift = shift * s + (0 if bn_bias is None else bn_bias)
    wf = w * s.astype(w.dtype).reshape((-1,) + (1,) * (w.ndim - 1))
    return wf, shift.astype(w.dtype)


def _data(t):
    return None if t is None else (t.data if isinstance(t, Tensor) else t)


def conv2d_bn(x: Tensor, weight: Tensor, bias: Tensor | None, running_mean, running_var,
              bn_weight: Tensor | None = None, bn_bias: Tensor | None = None,
              eps: float = 1e-5, stride=1, padding=0, dilation=1, groups: int = 1,
              activation: str | None = None, residual: Tensor | None = None) -> Tensor:
    """``activation(batch_norm(conv2d(x, ...)) + residual)`` with batch norm in evaluation
    mode, as one convolution when no gradient is recorded (inference).

    Args:
        x, weight, bias, stride, padding, dilation, groups: as :func:`conv2d`.
        running_mean, running_var: the batch norm's statistics, Tensors or ndarrays (C_out,).
        bn_weight, bn_bias (Tensor (C_out,), default None): its affine parameters.
        eps (float, default 1e-5): added to the variance.
        activation (default None): ``None``, ``"relu"`` or ``"relu6"``.
        residual (Tensor, default None): a residual block's shortcut, added before the
            activation. At inference, with the output's shape and dtype, the convolution adds
            it block by block while each block of its output is in cache; otherwise it is an
            ordinary (broadcasting) add.

    Shape: as :func:`conv2d`.

    With autograd recording and any input requiring a gradient, the ops run one after
    another, so gradients are exact; otherwise batch norm is folded into the convolution's
    weight and bias (``fold_batch_norm``), and the shortcut and the activation are applied to
    each block of its output. The result is the same sums in the same order either way.

    >>> y = F.conv2d_bn(x, conv.weight, None, bn.running_mean, bn.running_var, bn.weight,
    ...                 bn.bias, padding=1, activation="relu")
    """
    op = "conv2d_bn"
    clamp = clamp_of(activation, op)
    parts = (x, weight, bias, running_mean, running_var, bn_weight, bn_bias, residual)
    if is_grad_enabled() and any(isinstance(t, Tensor) and t.requires_grad for t in parts):
        y = conv2d(x, weight, bias, stride, padding, dilation, groups)
        if residual is None:
            return batch_norm(y, running_mean, running_var, bn_weight, bn_bias, eps=eps,
                              activation=activation)
        y = batch_norm(y, running_mean, running_var, bn_weight, bn_bias, eps=eps)
        return _add_act(y, residual, activation)
    x, w, b, g = conv_args(op, x, weight, bias, stride, padding, dilation, groups, 2)
    OC = w.shape[0]
    stats = [_stat_array(v, op, name, OC) for v, name in
             ((running_mean, "running_mean"), (running_var, "running_var"),
              (bn_weight, "bn_weight"), (bn_bias, "bn_bias"))]
    if stats[0] is None or stats[1] is None:
        raise ValueError(f"{op}: needs running_mean and running_var (evaluation statistics)")
    wf, bf = fold_batch_norm(w.data, _data(b), *stats, eps=_number(eps, op, "eps"))
    r = _data(residual)
    if r is not None and not _fits(r, x, w, g):  # broadcasting, or a wrong shape: the add's
        y = apply(Conv2dFunction, x, Tensor(wf), Tensor(bf), geometry=g)  # own rules and errors
        return _add_act(y, residual, activation)
    return apply(Conv2dFunction, x, Tensor(wf), Tensor(bf), geometry=g, clamp=clamp, residual=r)


def _fits(r, x: Tensor, w: Tensor, g) -> bool:
    """Whether array ``r`` has the shape and dtype of the convolution's output."""
    return (isinstance(r, xp.ndarray) and r.dtype == x.dtype
            and r.shape == (x.shape[0], w.shape[0], *g.out_hw(x.shape[2:], w.shape[2:])))


def _add_act(y: Tensor, residual, activation: str | None) -> Tensor:
    """``activation(y + residual)``, unfused: ``add_relu`` for ReLU."""
    if activation == "relu":
        return add_relu(y, residual)
    y = y + residual
    return y if activation is None else _ACTS[activation](y)


class AddReLU(Function):
    """y = max(a + b, 0) for same-shape a and b, in a's memory layout."""

    def forward(self, a, b):
        y = xp.empty_like(a)
        zero, inf = a.dtype.type(0), a.dtype.type(math.inf)

        def run(i, j):
            xp.add(a[i:j], b[i:j], out=y[i:j])
            xp.clip(y[i:j], zero, inf, out=y[i:j])

        over_batch(run, a)
        if any(self.needs_input_grad):
            self.save_for_backward(y)
        return y

    def backward(self, gy):
        # d/da = d/db = 1 where a + b > 0, else 0 (0 at 0, gy at NaN, as PyTorch's relu)
        (y,) = self.saved_tensors
        gx = clip_grad(gy, y, (0, math.inf), xp.empty_like(gy))
        return gx, gx


def add_relu(a: Tensor, b: Tensor) -> Tensor:
    """``relu(a + b)``: a residual block's sum and activation in one pass and one buffer.

    Args:
        a, b (Tensor): same shape and dtype for the fused path; otherwise (broadcasting)
            this is ``relu(a + b)`` computed as two ops.

    >>> F.add_relu(striate.tensor([1.0, -2.0]), striate.tensor([-3.0, 4.0]))
    tensor([0., 2.], dtype=float32)
    """
    a, b = _as_tensor(a, "add_relu"), _as_tensor(b, "add_relu")
    if a.shape != b.shape or a.dtype != b.dtype or a.ndim < 1 or a.dtype.kind != "f":
        return relu(a + b)
    return apply(AddReLU, a, b)
