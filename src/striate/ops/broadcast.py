"""Undo NumPy broadcasting in exactly one place (DeZero's ``sum_to``)."""
from __future__ import annotations

from ..backend import xp


def unbroadcast(g, shape: tuple[int, ...]):
    """Sum ``g`` down to ``shape``: the gradient of broadcasting an array of ``shape`` to ``g.shape``."""
    if g.shape == tuple(shape):
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, n in enumerate(shape) if n == 1 and g.shape[i + lead] != 1
    )
    g = g.sum(axis=axes, keepdims=True) if axes else g
    if lead:
        g = g.reshape(g.shape[lead:])
    return xp.ascontiguousarray(g).reshape(shape) if g.shape != tuple(shape) else g
