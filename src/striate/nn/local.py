"""Locally connected layer: ``LocallyConnected2d``, over :func:`F.locally_connected2d`.

A locally connected layer keeps the local receptive fields of a convolution but gives each
output position its own weights. Faces are aligned, so the statistics of an eye region differ
from those of a mouth region, and DeepFace and DeepID use such layers high in the network
(Sun, Wang and Tang 2014,
https://openaccess.thecvf.com/content_cvpr_2014/papers/Sun_Deep_Learning_Face_2014_CVPR_paper.pdf).
Setting ``region`` shares one kernel bank within each block of ``region`` output positions
(DeepID's third layer shares weights "in every 2x2 region").
"""
from __future__ import annotations

import math
import numbers

from .. import functional as F
from ..backend import xp
from . import init
from ._args import _float_dtype, _positive_int
from .module import Module
from .parameter import Parameter

__all__ = ["LocallyConnected2d"]


def _pair(v, name: str, minimum: int) -> tuple[int, int]:
    vals = (v, v) if isinstance(v, numbers.Integral) and not isinstance(v, bool) else v
    if (not isinstance(vals, (tuple, list)) or len(vals) != 2 or not all(
            isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in vals)):
        raise TypeError(f"LocallyConnected2d: {name} must be an int or a pair of ints, got {v!r}")
    if min(vals) < minimum:
        raise ValueError(f"LocallyConnected2d: {name} must be >= {minimum}, got {v!r}")
    return int(vals[0]), int(vals[1])


class LocallyConnected2d(Module):
    """2-D convolution without weight sharing across positions; see
    :func:`striate.functional.locally_connected2d`.

    The weight count depends on the output size, so the layer is built for one input size.

    Args:
        in_channels (int): channels of the input.
        out_channels (int): channels of the output.
        input_size (int or (int, int)): the input's (H, W).
        kernel_size (int or (int, int)).
        stride (int or (int, int), default 1).
        padding (int or (int, int), default 0): zeros on each side.
        bias (bool, default True): a bias per output channel and position.
        region (int or (int, int), default 1): share one kernel bank (and bias) among the
            positions of each ``region``-sized block of the output; 1 is fully unshared, and a
            region as large as the output is an ordinary convolution. The last block along an
            axis may be cut short.
        dtype (default float32): dtype of the parameters.

    Shape:
        input (N, in_channels, H, W), output (N, out_channels, OH, OW) with
        OH = floor((H + 2 * padding - KH) / stride) + 1, likewise OW.
        ``weight``: (GH, GW, out_channels, in_channels, KH, KW) and ``bias``:
        (out_channels, GH, GW) with GH = ceil(OH / region_h), GW = ceil(OW / region_w).

    Parameters start as ``Conv2d``'s (PyTorch's default): U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    with fan_in = in_channels * KH * KW, for the weight and the bias.

    >>> lc = nn.LocallyConnected2d(60, 80, (3, 2), kernel_size=2)   # DeepID's conv4
    >>> lc(striate.tensor(np.ones((8, 60, 3, 2), np.float32))).shape
    (8, 80, 2, 1)
    """

    def __init__(self, in_channels: int, out_channels: int, input_size, kernel_size, stride=1,
                 padding=0, bias: bool = True, region=1, dtype=None):
        super().__init__()
        self.in_channels = _positive_int(in_channels, "LocallyConnected2d", "in_channels")
        self.out_channels = _positive_int(out_channels, "LocallyConnected2d", "out_channels")
        self.input_size = _pair(input_size, "input_size", 1)
        self.kernel_size = _pair(kernel_size, "kernel_size", 1)
        self.stride = _pair(stride, "stride", 1)
        self.padding = _pair(padding, "padding", 0)
        self.region = _pair(region, "region", 1)
        out = tuple((n + 2 * p - k) // s + 1 for n, p, k, s in
                    zip(self.input_size, self.padding, self.kernel_size, self.stride))
        if min(out) < 1:
            raise ValueError(f"LocallyConnected2d: kernel {self.kernel_size} does not fit the "
                             f"input {self.input_size} padded by {self.padding}")
        self.output_size = out
        grid = tuple(-(-o // r) for o, r in zip(out, self.region))
        dt = _float_dtype(dtype, "LocallyConnected2d")
        self.weight = Parameter(xp.empty(grid + (out_channels, in_channels) + self.kernel_size,
                                         dtype=dt))
        if bias:
            self.bias = Parameter(xp.empty((out_channels,) + grid, dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """U(+-1/sqrt(fan_in)) for weight and bias, as PyTorch's Conv2d default gives."""
        bound = 1 / math.sqrt(self.in_channels * self.kernel_size[0] * self.kernel_size[1])
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def _expanded(self):
        """Weight and bias with one entry per output position (repeats over each region)."""
        w, b = self.weight, self.bias
        if self.region == (1, 1):
            return w, b
        (RH, RW), (OH, OW) = self.region, self.output_size
        GH, GW = w.shape[:2]
        rest = w.shape[2:]
        w = w.reshape((GH, 1, GW, 1) + rest).expand((GH, RH, GW, RW) + rest)
        w = w.reshape((GH * RH, GW * RW) + rest)[:OH, :OW]
        if b is not None:
            OC = b.shape[0]
            b = b.reshape(OC, GH, 1, GW, 1).expand(OC, GH, RH, GW, RW)
            b = b.reshape(OC, GH * RH, GW * RW)[:, :OH, :OW]
        return w, b

    def forward(self, x):
        self._check_tensor(x)
        if x.ndim != 4 or x.shape[1] != self.in_channels or tuple(x.shape[2:]) != self.input_size:
            raise self._error(f"expects input (N, {self.in_channels}, {self.input_size[0]}, "
                              f"{self.input_size[1]}), got shape {tuple(x.shape)}")
        w, b = self._expanded()
        return F.locally_connected2d(x, w, b, self.stride, self.padding)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, input_size={self.input_size}, "
             f"kernel_size={self.kernel_size}, stride={self.stride}")
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.region != (1, 1):
            s += f", region={self.region}"
        if self.bias is None:
            s += ", bias=False"
        return s
