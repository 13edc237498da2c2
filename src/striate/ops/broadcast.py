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


def memory_order(a) -> tuple[int, ...]:
    """``a``'s axes from the slowest-varying in memory to the fastest ((0, 1, ...) for C order).

    A backward that builds a gradient from scratch lays it out like its input (see
    :func:`empty_in_order`): channels-last activations then get channels-last gradients, and
    the elementwise kernels downstream never mix layouts, which costs them a strided pass.
    """
    return tuple(sorted(range(a.ndim), key=lambda i: -abs(a.strides[i])))  # stable on ties


def empty_in_order(shape, dtype, order: tuple[int, ...], zero: bool = False):
    """An array of ``shape`` whose memory is laid out in ``order`` (see :func:`memory_order`)."""
    make = xp.zeros if zero else xp.empty
    if order == tuple(range(len(shape))):
        return make(shape, dtype=dtype)
    inverse = sorted(range(len(order)), key=order.__getitem__)
    return make([shape[i] for i in order], dtype=dtype).transpose(inverse)
