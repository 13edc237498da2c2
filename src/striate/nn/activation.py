"""Activation layers: thin Modules over the functions in :mod:`striate.functional.activation`.

Each keeps the input's shape. ``inplace`` is accepted for PyTorch compatibility and ignored
(striate never overwrites an input, which autograd may still need).
"""
from __future__ import annotations

import numbers

from .. import functional as F
from .module import Module

__all__ = ["ReLU", "ReLU6", "LeakyReLU", "Sigmoid", "Tanh", "ELU", "GELU", "SiLU", "Hardswish",
           "Hardsigmoid", "Softmax", "LogSoftmax"]


def _number(v, layer: str, name: str) -> float:
    if not isinstance(v, numbers.Real) or isinstance(v, bool):
        raise TypeError(f"{layer}: {name} must be a number, got {v!r}")
    return float(v)


def _axis(v, layer: str) -> int:
    if not isinstance(v, numbers.Integral) or isinstance(v, bool):
        raise TypeError(f"{layer}: axis must be an int, got {v!r}")
    return int(v)


class _Elementwise(Module):
    """Base of the activations that take PyTorch's (ignored) ``inplace`` flag."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class ReLU(_Elementwise):
    """``max(0, x)`` elementwise; see :func:`striate.functional.relu`.

    Shape: any; output has the input's shape.

    >>> nn.ReLU()(striate.tensor([-1.0, 2.0]))
    tensor([0., 2.], dtype=float32)
    """

    def forward(self, x):
        return F.relu(x)


class ReLU6(_Elementwise):
    """``min(max(0, x), 6)`` (MobileNet, https://arxiv.org/abs/1704.04861); see
    :func:`striate.functional.relu6`.

    >>> nn.ReLU6()(x)
    """

    def forward(self, x):
        return F.relu6(x)


class LeakyReLU(_Elementwise):
    """``x`` if ``x > 0`` else ``negative_slope * x``; see :func:`striate.functional.leaky_relu`.

    Args:
        negative_slope (float, default 0.01): slope for negative inputs.

    >>> nn.LeakyReLU(0.1)(x)
    """

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__(inplace)
        self.negative_slope = _number(negative_slope, "LeakyReLU", "negative_slope")

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class Sigmoid(Module):
    """``1 / (1 + exp(-x))``; see :func:`striate.functional.sigmoid`.

    >>> nn.Sigmoid()(x)
    """

    def forward(self, x):
        return F.sigmoid(x)


class Tanh(Module):
    """Hyperbolic tangent; see :func:`striate.functional.tanh`.

    >>> nn.Tanh()(x)
    """

    def forward(self, x):
        return F.tanh(x)


class ELU(_Elementwise):
    """``x`` if ``x > 0`` else ``alpha * (exp(x) - 1)`` (Clevert et al. 2015,
    https://arxiv.org/abs/1511.07289); see :func:`striate.functional.elu`.

    Args:
        alpha (float, default 1.0): the value ELU tends to for large negative inputs is -alpha.

    >>> nn.ELU()(x)
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__(inplace)
        self.alpha = _number(alpha, "ELU", "alpha")

    def forward(self, x):
        return F.elu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class GELU(Module):
    """``x * Phi(x)`` (https://arxiv.org/abs/1606.08415); see :func:`striate.functional.gelu`.

    Args:
        approximate ('none' or 'tanh', default 'none'): exact erf or the tanh approximation.

    >>> nn.GELU()(x)
    """

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(_Elementwise):
    """``x * sigmoid(x)``, also called swish (https://arxiv.org/abs/1710.05941); see
    :func:`striate.functional.silu`.

    >>> nn.SiLU()(x)
    """

    def forward(self, x):
        return F.silu(x)


class Hardswish(_Elementwise):
    """``x * relu6(x + 3) / 6`` (MobileNetV3, https://arxiv.org/abs/1905.02244); see
    :func:`striate.functional.hardswish`.

    >>> nn.Hardswish()(x)
    """

    def forward(self, x):
        return F.hardswish(x)


class Hardsigmoid(_Elementwise):
    """``relu6(x + 3) / 6`` (MobileNetV3); see :func:`striate.functional.hardsigmoid`.

    >>> nn.Hardsigmoid()(x)
    """

    def forward(self, x):
        return F.hardsigmoid(x)


class Softmax(Module):
    """``exp(x) / sum(exp(x))`` along ``axis``; see :func:`striate.functional.softmax`.

    Args:
        axis (int, default -1): the axis that sums to one (use 1 for class scores per pixel
            in NCHW maps).

    >>> nn.Softmax(axis=1)(logits)
    """

    def __init__(self, axis: int = -1):
        super().__init__()
        self.axis = _axis(axis, "Softmax")

    def forward(self, x):
        return F.softmax(x, axis=self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class LogSoftmax(Module):
    """``log(softmax(x))`` along ``axis``, computed stably; see
    :func:`striate.functional.log_softmax`.

    Args:
        axis (int, default -1): the axis normalised over.

    >>> nn.LogSoftmax(axis=1)(logits)
    """

    def __init__(self, axis: int = -1):
        super().__init__()
        self.axis = _axis(axis, "LogSoftmax")

    def forward(self, x):
        return F.log_softmax(x, axis=self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"
