"""Reductions: sum, mean, max, min, var, with ``axis`` and ``keepdims`` as in NumPy."""
from __future__ import annotations

import numbers

from ..autograd import Function
from ..backend import xp
from .broadcast import empty_in_order, memory_order


def normalize_axis(axis, ndim: int, op: str) -> tuple[int, ...]:
    """Turn ``axis`` (None, int or tuple) into a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    # numbers.Integral: NumPy integers (from shape arithmetic) are valid axes too
    axes = (axis,) if isinstance(axis, numbers.Integral) else axis
    if not isinstance(axes, (tuple, list)):
        raise TypeError(f"{op}: axis must be an int or a tuple of ints, got {axis!r}")
    out = []
    for a in axes:
        if not isinstance(a, numbers.Integral) or isinstance(a, bool):
            raise TypeError(f"{op}: axis must be an int or a tuple of ints, got {axis!r}")
        if not -max(ndim, 1) <= a < max(ndim, 1):  # a 0-d input takes axis 0 or -1 (PyTorch)
            raise ValueError(f"{op}: axis {a} is out of range for an input with {ndim} dimensions")
        out.append(int(a) % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis!r}")
    # a 0-d input accepts axis 0 or -1 (as PyTorch) but NumPy reduces it over no axes
    return tuple(sorted(out)) if ndim else ()


def _expand_to(gy, shape, axes, keepdims):
    """Reshape a reduced gradient so it broadcasts against the input of ``shape``."""
    if not keepdims:
        gy = xp.expand_dims(gy, axes) if axes else gy
    return gy


class Sum(Function):
    def forward(self, a, axis=None, keepdims=False):
        self.shape, self.keepdims, self.order = a.shape, keepdims, memory_order(a)
        self.axes = normalize_axis(axis, a.ndim, "sum")
        return a.sum(axis=self.axes, keepdims=keepdims)

    def backward(self, gy):
        # d(sum a)/da = 1 for every element summed
        gy = _expand_to(gy, self.shape, self.axes, self.keepdims)
        ga = empty_in_order(self.shape, gy.dtype, self.order)
        ga[...] = gy
        return (ga,)


class Mean(Function):
    def forward(self, a, axis=None, keepdims=False):
        self.shape, self.keepdims, self.order = a.shape, keepdims, memory_order(a)
        self.axes = normalize_axis(axis, a.ndim, "mean")
        self.count = max(1, int(xp.prod([a.shape[i] for i in self.axes])) if self.axes else 1)
        return a.mean(axis=self.axes, keepdims=keepdims)

    def backward(self, gy):
        # d(mean a)/da = 1/n
        gy = _expand_to(gy, self.shape, self.axes, self.keepdims)
        ga = empty_in_order(self.shape, gy.dtype, self.order)
        ga[...] = gy / self.count
        return (ga,)


class Max(Function):
    """max (or min with ``fn=xp.min``) over axes; the gradient is shared evenly among ties."""

    fn = staticmethod(xp.max)

    def forward(self, a, axis=None, keepdims=False):
        self.keepdims = keepdims
        self.axes = normalize_axis(axis, a.ndim, type(self).__name__.lower())
        if any(a.shape[i] == 0 for i in self.axes):
            raise ValueError(f"{type(self).__name__.lower()}: cannot reduce an empty axis "
                             f"(input shape {a.shape}, axis {axis})")
        y = self.fn(a, axis=self.axes, keepdims=True)
        self.save_for_backward(a, y)
        return y if keepdims else y.reshape([n for i, n in enumerate(a.shape) if i not in self.axes])

    def backward(self, gy):
        # d max(a)/da = 1 at the argmax (split evenly between ties, as PyTorch does for full reductions)
        a, y = self.saved_tensors
        mask = (a == y).astype(gy.dtype)
        mask /= mask.sum(axis=self.axes, keepdims=True)
        gy = _expand_to(gy, a.shape, self.axes, self.keepdims)
        return (gy * mask,)


class Min(Max):
    fn = staticmethod(xp.min)


class Var(Function):
    def forward(self, a, axis=None, keepdims=False, ddof=0):
        self.shape, self.keepdims = a.shape, keepdims
        self.axes = normalize_axis(axis, a.ndim, "var")
        n = int(xp.prod([a.shape[i] for i in self.axes])) if self.axes else 1
        self.denom = max(n - ddof, 0)
        mu = a.mean(axis=self.axes, keepdims=True)
        self.save_for_backward(a - mu)
        return a.var(axis=self.axes, keepdims=keepdims, ddof=ddof)

    def backward(self, gy):
        # d var/da = 2 (a - mean) / (n - ddof); d(var)/d(mean) = 0
        (d,) = self.saved_tensors
        gy = _expand_to(gy, self.shape, self.axes, self.keepdims)
        return (gy * d * (2.0 / self.denom if self.denom else float("nan")),)
