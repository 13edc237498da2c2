"""Locally connected convolution: ``locally_connected2d``, a convolution whose weights are not
shared across output positions.

Every output position (i, j) has its own kernel bank, so the layer keeps the convolution's local
receptive fields but drops weight sharing (the "locally connected" layers of DeepFace and DeepID:
Taigman et al. 2014; Sun, Wang and Tang 2014,
https://openaccess.thecvf.com/content_cvpr_2014/papers/Sun_Deep_Learning_Face_2014_CVPR_paper.pdf).
Computed as im2col followed by one batched matrix product over positions: the patches form a
(P, N, C*KH*KW) array with P = OH*OW, and position p multiplies its own (C*KH*KW, OC) matrix.
"""
from __future__ import annotations

import numbers

from ..autograd import Function
from ..backend import xp
from ..tensor import Tensor, apply

__all__ = ["locally_connected2d"]


# ---- array helpers ----
def _patches(xpad, KH: int, KW: int, SH: int, SW: int, OH: int, OW: int):
    """(OH*OW, N, C*KH*KW) copy of every patch of padded NCHW ``xpad``, position-major."""
    N, C = xpad.shape[:2]
    sN, sC, sH, sW = xpad.strides
    view = xp.lib.stride_tricks.as_strided(
        xpad, (OH, OW, N, C, KH, KW), (SH * sH, SW * sW, sN, sC, sH, sW), writeable=False)
    return view.reshape(OH * OW, N, C * KH * KW)  # reshape of the strided view copies


def _col2im(gcol, shape, KH: int, KW: int, SH: int, SW: int, OH: int, OW: int):
    """Scatter-add (OH*OW, N, C*KH*KW) patch gradients back onto a padded NCHW array."""
    N, C, Hp, Wp = shape
    g6 = gcol.reshape(OH, OW, N, C, KH, KW).transpose(2, 3, 4, 5, 0, 1)
    gx = xp.zeros(shape, gcol.dtype)
    # one strided add per kernel offset (KH*KW of them), never a loop over pixels
    for i in range(KH):
        for j in range(KW):
            gx[:, :, i:i + SH * (OH - 1) + 1:SH, j:j + SW * (OW - 1) + 1:SW] += g6[:, :, i, j]
    return gx


class LocallyConnected2dFunction(Function):
    """y[n, o, i, j] = b[o, i, j] + sum_{c,u,v} w[i, j, o, c, u, v] * xpad[n, c, i*SH+u, j*SW+v]."""

    def forward(self, x, w, b, stride: tuple[int, int], padding: tuple[int, int]):
        OH, OW, OC, C, KH, KW = w.shape
        (SH, SW), (PH, PW) = stride, padding
        xpad = xp.pad(x, ((0, 0), (0, 0), (PH, PH), (PW, PW))) if PH or PW else x
        col = _patches(xpad, KH, KW, SH, SW, OH, OW)
        w3 = w.reshape(OH * OW, OC, C * KH * KW)
        self.geom = (KH, KW, SH, SW, OH, OW)
        self.x_shape, self.pad_shape, self.pads = x.shape, xpad.shape, (PH, PW)
        need_x, need_w = self.needs_input_grad[:2]
        self.save_for_backward(col if need_w else None, w3 if need_x else None)
        y = xp.matmul(col, w3.transpose(0, 2, 1))  # (P, N, OC)
        y = y.reshape(OH, OW, -1, OC).transpose(2, 3, 0, 1)
        return y + b if b is not None else y

    def backward(self, gy):
        # per position p: y_p = col_p w_p^T: gcol_p = gy_p w_p, gw_p = gy_p^T col_p; gb = sum_n gy
        col, w3 = self.saved_tensors
        KH, KW, SH, SW, OH, OW = self.geom
        need_x, need_w, need_b = self.needs_input_grad
        N, OC = gy.shape[:2]
        gyp = gy.transpose(2, 3, 0, 1).reshape(OH * OW, N, OC)
        gx = gw = gb = None
        if need_x:
            gxpad = _col2im(xp.matmul(gyp, w3), self.pad_shape, KH, KW, SH, SW, OH, OW)
            (PH, PW), (H, W) = self.pads, self.x_shape[2:]
            gx = gxpad[:, :, PH:PH + H, PW:PW + W]
        if need_w:
            C = self.x_shape[1]
            gw = xp.matmul(gyp.transpose(0, 2, 1), col).reshape(OH, OW, OC, C, KH, KW)
        if need_b:
            gb = gy.sum(axis=0)
        return gx, gw, gb


# ---- wrapper ----
def _pair(v, name: str) -> tuple[int, int]:
    vals = (v, v) if isinstance(v, numbers.Integral) else v
    if (not isinstance(vals, (tuple, list)) or len(vals) != 2 or not all(
            isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in vals)
            or isinstance(v, bool)):
        raise TypeError(f"locally_connected2d: {name} must be an int or a pair of ints, got {v!r}")
    return int(vals[0]), int(vals[1])


def _tensor(a, name: str) -> Tensor:
    if isinstance(a, Tensor):
        return a
    if isinstance(a, xp.ndarray):
        return Tensor(a)
    raise TypeError(f"locally_connected2d: {name} must be a Tensor or an ndarray, "
                    f"got {type(a).__name__}")


def locally_connected2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                        padding=0) -> Tensor:
    """2-D convolution with unshared weights: every output position has its own kernels.

    Weight layout: ``(OH, OW, C_out, C_in, KH, KW)``, position-major, so ``weight[i, j]`` is
    the ``Conv2d``-style kernel bank used at output position (i, j). Keras'
    ``LocallyConnected2D`` keeps the same numbers as an ``(OH*OW, KH*KW*C_in, C_out)`` kernel and
    Chainer's ``local_convolution_2d`` as ``(C_out, OH, OW, C_in, KH, KW)``; the bias is
    ``(C_out, OH, OW)`` as in Chainer. Like ``conv2d`` this is a cross-correlation.

    Args:
        x: input (N, C_in, H, W); an ndarray is wrapped.
        weight: (OH, OW, C_out, C_in, KH, KW), same dtype as ``x``.
        bias: (C_out, OH, OW) or None. Default None.
        stride: int or (int, int). Default 1.
        padding: int or (int, int) zeros on each side. Default 0.

    Shape:
        Output (N, C_out, OH, OW) with OH = floor((H + 2 * padding - KH) / stride) + 1 and
        likewise OW; these must equal ``weight.shape[:2]``.

    Returns:
        Tensor of ``x``'s dtype.

    >>> w = striate.tensor(np.ones((3, 3, 2, 1, 3, 3)))          # 5x5 input, 3x3 kernel
    >>> F.locally_connected2d(striate.tensor(np.ones((4, 1, 5, 5))), w).shape
    (4, 2, 3, 3)
    """
    op = "locally_connected2d"
    x, w = _tensor(x, "input"), _tensor(weight, "weight")
    b = None if bias is None else _tensor(bias, "bias")
    s, p = _pair(stride, "stride"), _pair(padding, "padding")
    if min(s) < 1 or min(p) < 0:
        raise ValueError(f"{op}: stride must be positive and padding non-negative, got "
                         f"stride={stride!r}, padding={padding!r}")
    if x.ndim != 4:
        raise ValueError(f"{op}: expected a 4-D input (N, C, H, W), got shape {x.shape}")
    if w.ndim != 6:
        raise ValueError(f"{op}: expected a 6-D weight (OH, OW, C_out, C_in, KH, KW), "
                         f"got shape {w.shape}")
    if x.dtype.kind != "f" or x.dtype != w.dtype or (b is not None and b.dtype != x.dtype):
        raise TypeError(f"{op}: input, weight and bias must share one floating dtype, got "
                        f"{x.dtype}, {w.dtype}" + ("" if b is None else f", {b.dtype}"))
    OH, OW, OC, C, KH, KW = w.shape
    if C != x.shape[1]:
        raise ValueError(f"{op}: input has {x.shape[1]} channels but weight of shape {w.shape} "
                         f"expects {C} (weight.shape[3])")
    H, W = x.shape[2:]
    out = ((H + 2 * p[0] - KH) // s[0] + 1, (W + 2 * p[1] - KW) // s[1] + 1)
    if H + 2 * p[0] < KH or W + 2 * p[1] < KW or out != (OH, OW):
        raise ValueError(f"{op}: input {(H, W)} with kernel {(KH, KW)}, stride {s} and padding "
                         f"{p} gives an output of {out}, but the weight {w.shape} is for "
                         f"{(OH, OW)} output positions")
    if b is not None and b.shape != (OC, OH, OW):
        raise ValueError(f"{op}: bias must have shape {(OC, OH, OW)} (C_out, OH, OW), "
                         f"got {b.shape}")
    return apply(LocallyConnected2dFunction, x, w, b, stride=s, padding=p)
