"""Dropout: inverted dropout of elements or of whole channels, masks from ``backend.rng()``."""
from __future__ import annotations

import numbers

from ..autograd import Function
from ..backend import rng, xp
from ..tensor import Tensor, apply

__all__ = ["dropout", "dropout2d"]


class Dropout(Function):
    """y = x * mask / (1 - p); the mask (one value per element or per channel) keeps with 1 - p."""

    def forward(self, x, p, mask_shape):
        if p == 1:  # nothing kept; 1 / (1 - p) would be infinite
            self.mask, self.scale = xp.zeros(mask_shape, dtype=bool), 0.0
            return xp.zeros_like(x)
        u = rng().random(mask_shape, dtype=xp.float64 if x.dtype == xp.float64 else xp.float32)
        self.mask = u >= p
        self.scale = 1 / (1 - p)
        y = x * self.mask
        y *= self.scale
        return y

    def backward(self, gy):
        # d(x * mask / (1 - p))/dx = mask / (1 - p)
        gx = gy * self.mask
        gx *= self.scale
        return (gx,)


def _check(op: str, x, p) -> Tensor:
    if isinstance(x, xp.ndarray):
        x = Tensor(x)
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor or an ndarray, got {type(x).__name__}")
    if not isinstance(p, numbers.Real) or isinstance(p, bool):
        raise TypeError(f"{op}: p must be a number in [0, 1], got {p!r}")
    if not 0 <= p <= 1:
        raise ValueError(f"{op}: dropout probability p must be in [0, 1], got {p}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point input, got dtype {x.dtype}")
    return x


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Inverted dropout (Srivastava et al. 2014, https://jmlr.org/papers/v15/srivastava14a.html).

    In training each element is zeroed with probability ``p`` and the survivors are scaled by
    1 / (1 - p), so the expected output equals the input and nothing changes at test time.
    The mask is drawn from ``striate.backend.rng()`` (seeded by ``striate.manual_seed``).

    Args:
        x: input of any shape.
        p (float, default 0.5): probability of zeroing an element, in [0, 1]; 1 gives zeros.
        training (bool, default True): apply dropout; False (or p == 0) returns ``x`` itself.

    Shape:
        Output has the shape of ``x``.

    >>> striate.manual_seed(0)
    >>> F.dropout(striate.tensor(np.ones((2, 4))), p=0.5).numpy()
    array([[2., 0., 0., 0.],
           [2., 2., 2., 2.]])
    """
    x = _check("dropout", x, p)
    if not training or p == 0:
        return x
    return apply(Dropout, x, p=float(p), mask_shape=x.shape)


def dropout2d(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Channel dropout (Tompson et al. 2015, https://arxiv.org/abs/1411.4280).

    Zeroes whole feature maps: each (sample, channel) pair is dropped with probability ``p``
    and the kept ones are scaled by 1 / (1 - p). Neighbouring pixels of a map are strongly
    correlated, so dropping single pixels regularizes convolutional layers little.

    Args:
        x: input of shape (N, C, H, W).
        p (float, default 0.5): probability of zeroing a channel, in [0, 1].
        training (bool, default True): apply dropout; False (or p == 0) returns ``x`` itself.

    Shape:
        Output has the shape of ``x``.

    >>> F.dropout2d(striate.tensor(np.ones((2, 3, 4, 4))), p=0.5).shape
    (2, 3, 4, 4)
    """
    x = _check("dropout2d", x, p)
    if x.ndim != 4:
        raise ValueError(f"dropout2d: expected a 4-D input (N, C, H, W), got shape {x.shape}")
    if not training or p == 0:
        return x
    return apply(Dropout, x, p=float(p), mask_shape=x.shape[:2] + (1, 1))
