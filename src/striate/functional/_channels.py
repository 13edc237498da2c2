"""Per-channel arithmetic for batch norm on (N, C, ...) arrays, in the layout they already have."""
from __future__ import annotations

import math

from ..backend import xp
from ..threads import elementwise_grain, parallel_for


class Channels:
    """Per-channel arithmetic on an (N, C, ...) array in the memory layout it already has.

    NCHW memory is viewed as (N, C, L), per-channel vectors broadcast as (C, 1). Channels-last
    memory (what the convolutions return, and any (N, C) input) is viewed as (M / r, r * C)
    rows with the vectors tiled r times, so that every ufunc runs long inner loops instead of
    one of C elements per pixel. Nothing is copied unless an array's memory is in neither layout.
    """

    def __init__(self, x):
        N, C, *S = x.shape
        self.shape, self.C = x.shape, C
        self.r = 0  # 0: the (N, C, L) view; else the tiling of the channels-last view
        last = xp.moveaxis(x, 1, -1)
        if last.flags.c_contiguous and (x.ndim == 2 or not x.flags.c_contiguous):
            M, r = x.size // C, 1
            while M % (2 * r) == 0 and 2 * r * C <= 4096:  # M == 0: the bound stops it
                r *= 2
            self.r, self.view_shape = r, (M // r, r * C)
        else:
            self.view_shape = (N, C, math.prod(S))  # not -1: that is ambiguous for N == 0

    def view(self, a):
        """``a`` (shaped like x) in this layout; a copy only if its memory is laid out otherwise."""
        if self.r:
            return xp.ascontiguousarray(xp.moveaxis(a, 1, -1)).reshape(self.view_shape)
        return xp.ascontiguousarray(a).reshape(self.view_shape)

    def unview(self, a):
        """The inverse of :meth:`view`: an array of x's shape (and layout)."""
        if self.r:
            N, C, *S = self.shape
            return xp.moveaxis(a.reshape(N, *S, C), -1, 1)
        return a.reshape(self.shape)

    def vec(self, v):
        """A per-channel vector (C,) shaped to broadcast against a view."""
        return xp.tile(v, self.r) if self.r else v[:, None]

    def sum(self, a):
        """Per-channel sum of a view."""
        if self.r:
            return a.sum(axis=0).reshape(self.r, self.C).sum(axis=0)
        return a.sum(axis=0).sum(axis=1)  # sum over N first: contiguous rows

    def par(self, fn) -> list:
        """``fn(lo, hi)`` over row ranges of the view, on several threads when it is large."""
        rows = self.view_shape[0]
        return parallel_for(fn, rows, elementwise_grain(math.prod(self.view_shape) // max(rows, 1)))

    def dot(self, a, b):
        """Per-channel sum of ``a * b`` over two views, with no temporary."""
        if self.r:
            return xp.einsum("mk,mk->k", a, b).reshape(self.r, self.C).sum(axis=0)
        return xp.einsum("ncl,ncl->c", a, b)
