"""Fully connected layer, and the two shape-only layers ``Flatten`` and ``Identity``."""
from __future__ import annotations

import numbers

from .. import functional as F
from ..backend import xp
from . import init
from ._args import _float_dtype, _positive_int
from .module import Module
from .parameter import Parameter

__all__ = ["Linear", "Flatten", "Identity"]


class Linear(Module):
    """``y = x W^T + b``; see :func:`striate.functional.linear`.

    Args:
        in_features (int): size of each input sample (the last axis).
        out_features (int): size of each output sample.
        bias (bool, default True): learn an additive bias.
        dtype (default float32): dtype of the parameters.

    Shape:
        input (*, in_features), output (*, out_features).

    Parameters ``weight`` (out_features, in_features) and ``bias`` (out_features,) start as in
    PyTorch: U(-1/sqrt(in_features), 1/sqrt(in_features)).

    >>> fc = nn.Linear(400, 120); fc(striate.tensor(np.ones((8, 400), np.float32))).shape
    (8, 120)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=None):
        super().__init__()
        self.in_features = _positive_int(in_features, "Linear", "in_features")
        self.out_features = _positive_int(out_features, "Linear", "out_features")
        dt = _float_dtype(dtype, "Linear")
        self.weight = Parameter(xp.empty((out_features, in_features), dtype=dt))
        if bias:
            self.bias = Parameter(xp.empty((out_features,), dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init._reset_default_(self.weight, self.bias)

    def forward(self, x):
        self._check_tensor(x)
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise self._error(
                f"expects {self.in_features} input features (the last axis), got "
                f"{x.shape[-1] if x.ndim else 'a scalar'} (input shape {tuple(x.shape)})"
            )
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Flatten(Module):
    """Flatten every axis from ``start_axis`` on; see :func:`striate.functional.flatten`.

    Args:
        start_axis (int, default 1): the first axis to flatten (1 keeps the batch axis).

    Shape:
        input (N, *), output (N, prod(*)) for ``start_axis=1``.

    >>> nn.Flatten()(striate.tensor(np.zeros((8, 16, 5, 5), np.float32))).shape
    (8, 400)
    """

    def __init__(self, start_axis: int = 1):
        super().__init__()
        if not isinstance(start_axis, numbers.Integral) or isinstance(start_axis, bool):
            raise TypeError(f"Flatten: start_axis must be an int, got {start_axis!r}")
        self.start_axis = int(start_axis)

    def forward(self, x):
        return F.flatten(x, start_axis=self.start_axis)

    def extra_repr(self) -> str:
        return f"start_axis={self.start_axis}"


class Identity(Module):
    """Return the input unchanged (a placeholder, e.g. to drop a classifier head).

    Any constructor arguments are accepted and ignored, as in PyTorch.

    >>> model.fc = nn.Identity()
    """

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x
