"""Argument checks shared by the layer constructors."""
from __future__ import annotations

import numbers

from ..backend import default_dtype, xp


def _float_dtype(dtype, layer: str):
    """The parameter dtype of a layer: float32 (``backend.default_dtype``) unless given."""
    if dtype is None:
        return xp.dtype(default_dtype)
    try:
        dt = xp.dtype(dtype)
    except TypeError:
        raise TypeError(f"{layer}: dtype {dtype!r} is not a NumPy dtype") from None
    if dt.kind != "f":
        raise TypeError(f"{layer}: parameters must have a floating dtype, got {dt}")
    return dt


def _positive_int(v, layer: str, name: str) -> int:
    if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 1:
        raise ValueError(f"{layer}: {name} must be a positive int, got {v!r}")
    return int(v)
