"""Convolution layers: ``Conv1d``, ``Conv2d`` and ``ConvTranspose2d`` over
:mod:`striate.functional.conv`.

A convolution layer is a bank of ``out_channels`` learned kernels, each spanning all
``in_channels / groups`` input channels of its group, slid over the input with shared weights
(LeCun et al. 1998, http://yann.lecun.com/exdb/publis/pdf/lecun-98.pdf).
"""
from __future__ import annotations

import numbers

from .. import functional as F
from ..backend import xp
from . import init
from ._args import _float_dtype, _positive_int
from .module import Module
from .parameter import Parameter

__all__ = ["Conv1d", "Conv2d", "ConvTranspose2d"]

_PADDING_MODES = ("same", "valid", "full")


def _tuple(v, n: int, layer: str, name: str, minimum: int) -> tuple[int, ...]:
    """``v`` (an int or a sequence of ``n`` ints, each >= minimum) as an n-tuple."""
    vals = (v,) * n if isinstance(v, numbers.Integral) else v
    try:
        vals = tuple(vals)
    except TypeError:
        raise TypeError(f"{layer}: {name} must be an int or {n} ints, got {v!r}") from None
    if len(vals) != n or not all(isinstance(a, numbers.Integral) and not isinstance(a, bool)
                                 for a in vals):
        raise TypeError(f"{layer}: {name} must be an int or {n} ints, got {v!r}")
    if any(a < minimum for a in vals):
        raise ValueError(f"{layer}: {name} must be >= {minimum}, got {v!r}")
    return tuple(int(a) for a in vals)


class _ConvNd(Module):
    """Shared constructor, checks and repr of the convolution layers."""

    _ndim = 2            # spatial axes
    _transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                 bias, padding_mode, dtype, output_padding=0):
        super().__init__()
        name, n = type(self).__name__, self._ndim
        self.in_channels = _positive_int(in_channels, name, "in_channels")
        self.out_channels = _positive_int(out_channels, name, "out_channels")
        self.groups = _positive_int(groups, name, "groups")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: groups={groups} must divide in_channels={in_channels} "
                             f"and out_channels={out_channels}")
        self.kernel_size = _tuple(kernel_size, n, name, "kernel_size", 1)
        self.stride = _tuple(stride, n, name, "stride", 1)
        self.dilation = _tuple(dilation, n, name, "dilation", 1)
        self.output_padding = _tuple(output_padding, n, name, "output_padding", 0)
        if isinstance(padding, str) and not self._transposed:
            if padding not in _PADDING_MODES:
                raise ValueError(f"{name}: padding must be an int, {n} ints or one of "
                                 f"{_PADDING_MODES}, got {padding!r}")
            if padding == "same" and self.stride != (1,) * n:
                raise ValueError(f"{name}: padding='same' needs stride 1, got stride "
                                 f"{self.stride}; pad explicitly for strided convolutions")
            self.padding = padding
        else:
            self.padding = _tuple(padding, n, name, "padding", 0)
        if padding_mode != "zeros":
            raise ValueError(f"{name}: only padding_mode='zeros' is supported, "
                             f"got {padding_mode!r}")
        self.padding_mode = padding_mode
        dt = _float_dtype(dtype, name)
        if self._transposed:
            shape = (in_channels, out_channels // groups) + self.kernel_size
        else:
            shape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = Parameter(xp.empty(shape, dtype=dt))
        if bias:
            self.bias = Parameter(xp.empty((out_channels,), dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: weight kaiming_uniform_(a=sqrt(5)), bias U(+-1/sqrt(fan_in))."""
        init._reset_default_(self.weight, self.bias)

    def _check_input(self, x) -> None:
        self._check_tensor(x)
        axes = "(N, C, L)" if self._ndim == 1 else "(N, C, H, W)"
        if x.ndim != self._ndim + 2:
            raise self._error(f"expects a {self._ndim + 2}-D input {axes}, got "
                              f"{x.ndim}-D input of shape {tuple(x.shape)}")
        if x.shape[1] != self.in_channels:
            raise self._error(f"expects {self.in_channels} input channels, got {x.shape[1]} "
                              f"(input shape {tuple(x.shape)})")

    def extra_repr(self) -> str:
        n = self._ndim
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if isinstance(self.padding, str):
            s += f", padding={self.padding!r}"
        elif self.padding != (0,) * n:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * n:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * n:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class Conv1d(_ConvNd):
    """1-D convolution over (N, C, L) inputs (signals, text); see
    :func:`striate.functional.conv1d`.

    Args:
        in_channels (int), out_channels (int), kernel_size (int or (int,)).
        stride (int, default 1), padding (int or 'same'/'valid'/'full', default 0),
        dilation (int, default 1), groups (int, default 1), bias (bool, default True).
        padding_mode ('zeros'), dtype (default float32).

    Shape:
        input (N, C_in, L), output (N, C_out, L_out) with
        ``L_out = floor((L + 2 * padding - dilation * (kernel_size - 1) - 1) / stride + 1)``.

    >>> nn.Conv1d(16, 33, 3, stride=2)(x)      # x: (20, 16, 50) -> (20, 33, 24)
    """

    _ndim = 1

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, dtype)

    def forward(self, x):
        self._check_input(x)
        pad = self.padding if isinstance(self.padding, str) else self.padding[0]
        return F.conv1d(x, self.weight, self.bias, stride=self.stride[0], padding=pad,
                        dilation=self.dilation[0], groups=self.groups)


class Conv2d(_ConvNd):
    """2-D convolution over (N, C, H, W) images; see :func:`striate.functional.conv2d`.

    Args:
        in_channels (int): channels of the input.
        out_channels (int): number of kernels (channels of the output).
        kernel_size (int or (int, int)).
        stride (int or (int, int), default 1).
        padding (int, (int, int), 'valid', 'same' or 'full', default 0): 'same' keeps H and W
            (stride 1 only), 'full' pads (k - 1) * dilation on each side.
        dilation (int or (int, int), default 1).
        groups (int, default 1): ``groups == in_channels`` is a depthwise convolution.
        bias (bool, default True).
        padding_mode ('zeros'), dtype (default float32).

    Shape:
        input (N, C_in, H, W), output (N, C_out, H_out, W_out) with
        ``H_out = floor((H + 2 * padding[0] - dilation[0] * (kernel_size[0] - 1) - 1)
        / stride[0] + 1)``, and likewise for W.

    >>> conv = nn.Conv2d(1, 6, 5, padding=2)   # LeNet-5's first layer
    >>> conv(striate.tensor(np.zeros((8, 1, 28, 28), np.float32))).shape
    (8, 6, 28, 28)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, dtype)

    def forward(self, x):
        return self._conv(x)

    def _conv(self, x, activation: str | None = None):
        """The convolution, with ``activation`` ('relu', 'relu6') fused in (``nn.conv_bn_act``)."""
        self._check_input(x)
        return F.conv2d(x, self.weight, self.bias, stride=self.stride, padding=self.padding,
                        dilation=self.dilation, groups=self.groups, activation=activation)


class ConvTranspose2d(_ConvNd):
    """Transposed 2-D convolution (the gradient of conv2d, used to up-sample); see
    :func:`striate.functional.conv_transpose2d`.

    Args:
        in_channels (int), out_channels (int), kernel_size (int or (int, int)).
        stride (int or (int, int), default 1), padding (int or (int, int), default 0).
        output_padding (int or (int, int), default 0): extra rows/columns on the bottom/right.
        groups (int, default 1), bias (bool, default True), dilation (int or (int, int), 1).
        padding_mode ('zeros'), dtype (default float32).

    Shape:
        input (N, C_in, H, W), output (N, C_out, H_out, W_out) with
        ``H_out = (H - 1) * stride[0] - 2 * padding[0] + dilation[0] * (kernel_size[0] - 1)
        + output_padding[0] + 1``. The weight is (C_in, C_out / groups, KH, KW).

    >>> nn.ConvTranspose2d(16, 8, 2, stride=2)(x)   # (N, 16, 14, 14) -> (N, 8, 28, 28)
    """

    _transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1,
                 padding_mode: str = "zeros", dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, dtype, output_padding=output_padding)

    def forward(self, x):
        self._check_input(x)
        return F.conv_transpose2d(x, self.weight, self.bias, stride=self.stride,
                                  padding=self.padding, output_padding=self.output_padding,
                                  groups=self.groups, dilation=self.dilation)
