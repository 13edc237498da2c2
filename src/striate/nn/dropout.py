"""Dropout layers (Srivastava et al. 2014, https://jmlr.org/papers/v15/srivastava14a.html).

Both are active only in training mode (``model.train()``) and the identity in eval mode; the
kept values are scaled by 1 / (1 - p) so that eval needs no rescaling (inverted dropout).
"""
from __future__ import annotations

import numbers

from .. import functional as F
from .module import Module

__all__ = ["Dropout", "Dropout2d"]


def _probability(p, layer: str) -> float:
    if not isinstance(p, numbers.Real) or isinstance(p, bool) or not 0 <= p <= 1:
        raise ValueError(f"{layer}: p must be a probability in [0, 1], got {p!r}")
    return float(p)


class Dropout(Module):
    """Zero each element with probability ``p`` in training; see
    :func:`striate.functional.dropout`.

    Args:
        p (float, default 0.5): probability of zeroing an element.
        inplace (bool, default False): accepted for PyTorch compatibility; ignored.

    Shape:
        any; output has the input's shape.

    >>> drop = nn.Dropout(0.5); drop.eval(); drop(x) is x
    True
    """

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        self.p = _probability(p, type(self).__name__)
        self.inplace = inplace

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        return F.dropout(x, self.p, training=True)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout2d(Dropout):
    """Zero whole channels with probability ``p`` in training (spatial dropout, Tompson et al.
    2015, https://arxiv.org/abs/1411.4280): neighbouring pixels of a feature map are strongly
    correlated, so dropping single pixels regularises little.

    Args as :class:`Dropout`; see :func:`striate.functional.dropout2d`.

    Shape:
        input (N, C, H, W); output has the input's shape.

    >>> nn.Dropout2d(0.2)(x)
    """

    def forward(self, x):
        self._check_tensor(x)
        if x.ndim != 4:
            raise self._error(f"expects a 4-D input (N, C, H, W), got {x.ndim}-D input of shape "
                              f"{tuple(x.shape)}")
        if not self.training or self.p == 0:
            return x
        return F.dropout2d(x, self.p, training=True)
