"""The :class:`Transform` base class, :class:`Compose`, and what every transform shares.

``Transform.__call__`` brings an image or a batch to ``(N, C, H, W)``, calls ``apply`` and
restores the layout. Random transforms get their generator from :func:`_generator`: the ``rng``
passed in, else the one :func:`use_generator` installed for this thread (the DataLoader's hook),
else ``striate.backend.rng()``. ``_pair`` and ``_range`` parse the transforms' arguments.
"""

from __future__ import annotations

import contextlib
import numbers
import threading
from collections.abc import Callable, Sequence

from .. import backend
from ..backend import xp
from ..tensor import Tensor

__all__ = ["Compose", "Transform"]

_local = threading.local()


@contextlib.contextmanager
def use_generator(gen):
    """Within the block, random transforms in this thread draw from ``gen`` (DataLoader's hook)."""
    old = getattr(_local, "generator", None)
    _local.generator = gen
    try:
        yield gen
    finally:
        _local.generator = old


def _generator(rng):
    if rng is not None:
        return rng
    gen = getattr(_local, "generator", None)
    return gen if gen is not None else backend.rng()


def _pair(v, name: str, what: str) -> tuple:
    if isinstance(v, numbers.Number):
        return (v, v)
    if isinstance(v, Sequence) and len(v) == 2 and all(isinstance(a, numbers.Number) for a in v):
        return tuple(v)
    raise ValueError(f"{name}: {what} must be a number or a pair of numbers, got {v!r}")


def _range(v, name: str, what: str, center: float, low: float | None = None) -> tuple[float, float]:
    """A number v means [center - v, center + v] (clipped at ``low``); a pair is used as given."""
    if isinstance(v, numbers.Number):
        if v < 0:
            raise ValueError(f"{name}: {what} must be >= 0, got {v}")
        lo, hi = center - v, center + v
        return (lo if low is None else max(low, lo), hi)
    lo, hi = _pair(v, name, what)
    if lo > hi or (low is not None and lo < low):
        raise ValueError(f"{name}: {what} range must be ordered and >= {low}, got {v!r}")
    return float(lo), float(hi)


class Transform:
    """Base class: ``__call__`` brings input to ``(N, C, H, W)``, calls ``apply``, undoes it."""

    def __call__(self, x, rng=None):
        name = type(self).__name__
        if isinstance(x, Tensor):
            x = x.data
        x = xp.asarray(x)
        if x.ndim not in (2, 3, 4):
            raise ValueError(
                f"{name}: expected images (N, C, H, W), (C, H, W) or (H, W), got shape {x.shape}"
            )
        if x.dtype.kind not in "biuf":
            raise TypeError(f"{name}: expected a numeric image array, got dtype {x.dtype}")
        y = self.apply(x.reshape((1,) * (4 - x.ndim) + x.shape), rng)
        return y.reshape(y.shape[4 - x.ndim :])  # drop the axes added above

    def apply(self, x, rng):  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


class Compose(Transform):
    """Apply ``transforms`` one after the other.

    Args:
        transforms (list of callables): Transforms, or any ``f(array) -> array``.

    >>> t = Compose([ToFloat(), Normalize(0.1307, 0.3081)])
    >>> t(xp.zeros((2, 1, 28, 28), dtype=xp.uint8)).dtype
    dtype('float32')
    """

    def __init__(self, transforms: Sequence[Callable]):
        bad = [t for t in transforms if not callable(t)]
        if bad:
            raise TypeError(f"Compose: every transform must be callable, got {bad!r}")
        self.transforms = list(transforms)

    def __call__(self, x, rng=None):
        for t in self.transforms:
            x = t(x, rng=rng) if isinstance(t, Transform) else t(x)
        return x


def _require_float(x, name: str) -> None:
    if x.dtype.kind != "f":
        raise TypeError(f"{name}: expected float images (apply ToFloat first), got dtype {x.dtype}")
