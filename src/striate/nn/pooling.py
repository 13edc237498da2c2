"""Pooling layers over :mod:`striate.functional.pooling`: max, average, min, stochastic,
global and adaptive.

Pooling summarises each window of a feature map by one number, which shrinks the map and makes
the features tolerant to small shifts. ``padding='same'`` gives an output of ceil(H / stride),
as in the seeds and TF/Keras (28x28 pooled 2x2 with stride 2 gives 14x14).
"""
from __future__ import annotations

import numbers

from .. import functional as F
from .module import Module

__all__ = ["MaxPool2d", "AvgPool2d", "MinPool2d", "StochasticPool2d", "GlobalAvgPool2d",
           "GlobalMaxPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d"]


def _check_4d(layer: Module, x) -> None:
    layer._check_tensor(x)
    if x.ndim != 4:
        raise layer._error(f"expects a 4-D input (N, C, H, W), got {x.ndim}-D input of shape "
                           f"{tuple(x.shape)}")


def _pair(v) -> tuple:
    return (v, v) if isinstance(v, numbers.Integral) else tuple(v)


class _Pool2d(Module):
    """Shared arguments of the windowed pooling layers."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self.ceil_mode = ceil_mode

    def extra_repr(self) -> str:
        pad = repr(self.padding) if isinstance(self.padding, str) else self.padding
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={pad}, "
                f"ceil_mode={self.ceil_mode}")


class MaxPool2d(_Pool2d):
    """The maximum of each window; see :func:`striate.functional.max_pool2d`.

    Args:
        kernel_size (int or (int, int)): window size.
        stride (int or (int, int), default None): window step; None means ``kernel_size``.
        padding (int, (int, int), 'valid' or 'same', default 0): implicit -inf padding.
        ceil_mode (bool, default False): round the output size up.

    Shape:
        input (N, C, H, W), output (N, C, OH, OW) with
        ``OH = floor((H + 2 * padding - kernel_size) / stride) + 1`` (ceil(H / stride) for
        'same'), likewise OW.

    >>> nn.MaxPool2d(2)(striate.tensor(np.zeros((8, 6, 28, 28), np.float32))).shape
    (8, 6, 14, 14)
    """

    def forward(self, x):
        _check_4d(self, x)
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode)


class MinPool2d(_Pool2d):
    """The minimum of each window; see :func:`striate.functional.min_pool2d`.

    Args and Shape as :class:`MaxPool2d` (the padding is +inf).

    >>> nn.MinPool2d(2, padding="same")(x)
    """

    def forward(self, x):
        _check_4d(self, x)
        return F.min_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode)


class AvgPool2d(_Pool2d):
    """The mean of each window; see :func:`striate.functional.avg_pool2d`.

    Args:
        kernel_size, stride, padding, ceil_mode: as :class:`MaxPool2d` (zero padding).
        count_include_pad (bool, default True): count the zero padding in the divisor
            (PyTorch's default); never counted with ``padding='same'`` (Keras).

    Shape:
        as :class:`MaxPool2d`.

    >>> nn.AvgPool2d(2)(x)
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.count_include_pad = count_include_pad

    def forward(self, x):
        _check_4d(self, x)
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)

    def extra_repr(self) -> str:
        return super().extra_repr() + (", count_include_pad=False"
                                       if not self.count_include_pad else "")


class StochasticPool2d(_Pool2d):
    """Stochastic pooling (Zeiler & Fergus 2013, https://arxiv.org/abs/1301.3557): in training
    one activation per window drawn with probability proportional to its value, in eval mode
    the probability-weighted average; see :func:`striate.functional.stochastic_pool2d`.

    Args:
        kernel_size (int or (int, int)), stride (default None: ``kernel_size``).
        padding (int, (int, int), 'valid' or 'same', default 0): zero padding, which is never
            picked while the window has a positive activation.

    Shape:
        as :class:`MaxPool2d` (no ceil mode).

    >>> nn.StochasticPool2d(2)(F.relu(x))
    """

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__(kernel_size, stride, padding)

    def _pads(self, H: int, W: int) -> tuple[int, int, int, int]:
        """(left, right, top, bottom) for ``self.padding``."""
        if self.padding == "valid":
            return (0, 0, 0, 0)
        if self.padding == "same":  # TF SAME: out = ceil(n / s), the odd pad goes after
            pads = []
            for n, k, s in zip((H, W), _pair(self.kernel_size), _pair(self.stride)):
                total = max((-(-n // s) - 1) * s + k - n, 0)
                pads.append((total // 2, total - total // 2))
            (t, b), (left, r) = pads
            return (left, r, t, b)
        ph, pw = _pair(self.padding)
        return (pw, pw, ph, ph)

    def forward(self, x):
        _check_4d(self, x)
        if self.padding != 0:
            pads = self._pads(x.shape[2], x.shape[3])
            if any(pads):
                x = F.pad2d(x, pads)
        return F.stochastic_pool2d(x, self.kernel_size, self.stride, training=self.training)

    def extra_repr(self) -> str:
        pad = repr(self.padding) if isinstance(self.padding, str) else self.padding
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={pad}"


class GlobalAvgPool2d(Module):
    """The mean of each whole feature map (NiN, GoogLeNet, ResNet heads); see
    :func:`striate.functional.global_avg_pool2d`.

    Shape:
        input (N, C, H, W), output (N, C).

    >>> nn.GlobalAvgPool2d()(striate.tensor(np.zeros((8, 512, 7, 7), np.float32))).shape
    (8, 512)
    """

    def forward(self, x):
        _check_4d(self, x)
        return F.global_avg_pool2d(x)


class GlobalMaxPool2d(Module):
    """The maximum of each whole feature map; see :func:`striate.functional.global_max_pool2d`.

    Shape:
        input (N, C, H, W), output (N, C).

    >>> nn.GlobalMaxPool2d()(x)
    """

    def forward(self, x):
        _check_4d(self, x)
        return F.global_max_pool2d(x)


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size; see :func:`striate.functional.adaptive_avg_pool2d`.

    Args:
        output_size (int or (int or None, int or None)): (OH, OW); None keeps the input size.

    Shape:
        input (N, C, H, W), output (N, C, OH, OW).

    >>> nn.AdaptiveAvgPool2d((6, 6))(x)     # AlexNet's head on any input size
    """

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        _check_4d(self, x)
        return F.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(AdaptiveAvgPool2d):
    """Max pooling to a fixed output size; see :func:`striate.functional.adaptive_max_pool2d`.

    Args and Shape as :class:`AdaptiveAvgPool2d`.

    >>> nn.AdaptiveMaxPool2d(1)(x)
    """

    def forward(self, x):
        _check_4d(self, x)
        return F.adaptive_max_pool2d(x, self.output_size)
