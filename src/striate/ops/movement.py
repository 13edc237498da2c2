"""Shape and indexing primitives: reshape, transpose, getitem, concat, pad, expand."""
from __future__ import annotations

import math
import numbers

from ..autograd import Function
from ..backend import xp
from .broadcast import empty_in_order, memory_order, unbroadcast


def check_reshape(src, dst) -> tuple[int, ...]:
    """``dst`` as a tuple of ints if ``src``'s elements fit it exactly (one -1 allowed)."""
    if not all(isinstance(d, numbers.Integral) and not isinstance(d, bool) for d in dst):
        raise TypeError("dimensions must be ints")
    dst = tuple(int(d) for d in dst)
    if any(d < -1 for d in dst):
        raise ValueError("dimensions must be non-negative (or -1 for one inferred dimension)")
    if any(d > xp.iinfo(xp.intp).max for d in dst):  # even with no elements (a 0 elsewhere)
        raise ValueError(f"a dimension is larger than {xp.iinfo(xp.intp).max}")
    if dst.count(-1) > 1:
        raise ValueError("only one dimension can be -1")
    n, known = math.prod(src), math.prod(d for d in dst if d != -1)  # exact, never overflows
    if (-1 in dst and (known == 0 or n % known)) or (-1 not in dst and known != n):
        raise ValueError(f"{n} elements do not fit")
    return dst


class Reshape(Function):
    def forward(self, a, shape):
        self.in_shape = a.shape
        return a.reshape(shape)

    def backward(self, gy):
        # reshape only relabels elements: the gradient is reshaped back
        return (gy.reshape(self.in_shape),)


class Transpose(Function):
    def forward(self, a, axes=None):
        self.axes = tuple(range(a.ndim))[::-1] if axes is None else tuple(axes)
        return a.transpose(self.axes)

    def backward(self, gy):
        # the gradient goes back through the inverse permutation
        return (gy.transpose(tuple(xp.argsort(self.axes))),)


class Expand(Function):
    def forward(self, a, shape):
        self.in_shape = a.shape
        return xp.broadcast_to(a, shape)

    def backward(self, gy):
        # broadcasting copies a value; its gradient sums the copies
        return (unbroadcast(gy, self.in_shape),)


class GetItem(Function):
    """Basic and integer-array indexing. Repeated integer indices accumulate their gradients."""

    def forward(self, a, index):
        self.in_shape, self.dtype, self.index = a.shape, a.dtype, index
        self.order = memory_order(a)
        return a[index]

    def backward(self, gy):
        # d a[i]/da scatters gy back to the positions read; np.add.at sums repeats
        ga = empty_in_order(self.in_shape, gy.dtype, self.order, zero=True)
        if _is_basic(self.index):
            ga[self.index] = gy
        else:
            xp.add.at(ga, self.index, gy)
        return (ga,)


def _is_basic(index) -> bool:
    """True when ``index`` uses only ints, slices, None and Ellipsis (no repeats possible)."""
    items = index if isinstance(index, tuple) else (index,)
    return all(
        isinstance(i, (int, slice)) or i is None or i is Ellipsis for i in items
    )


def split_int_index(index):
    """``(first, then)`` when ``index`` mixes integers with array indices, else None.

    PyTorch applies integers as basic indexing (each removes its axis), together with the
    slices, None and Ellipsis, and then the arrays to what is left. NumPy instead broadcasts
    the integers with the arrays as advanced indices, so where a slice, None or Ellipsis
    separates them the result's axes come out in another order: for x of shape (2, 3, 4),
    ``x[0, :, [0, 1]]`` is (2, 3) in NumPy and (3, 2) in PyTorch. ``a[first][then]`` is
    PyTorch's result: ``first`` holds the integers, slices, None and Ellipsis (a slice for
    each axis an array indexes), ``then`` the arrays, with a full slice for each axis that
    ``first`` kept."""
    if not isinstance(index, tuple):
        return None
    items = tuple(xp.asarray(i) if isinstance(i, list) else i for i in index)
    ints = [isinstance(i, (int, xp.integer)) and not isinstance(i, (bool, xp.bool_))
            for i in items]
    arrays = [not (n or isinstance(i, slice) or i is None or i is Ellipsis)
              for i, n in zip(items, ints)]
    if not (any(ints) and any(arrays)):
        return None
    first = []
    for i, a in zip(items, arrays):  # a boolean mask indexes as many axes as it has (0: a bool)
        axes = xp.ndim(i) if isinstance(i, (bool, xp.bool_)) or getattr(
            i, "dtype", None) == bool else 1
        first += [slice(None)] * axes if a else [i]
    then = tuple(i if a or i is Ellipsis else slice(None)
                 for i, n, a in zip(items, ints, arrays) if not n)
    return tuple(first), then


class Concat(Function):
    def forward(self, *arrays, axis=0):
        self.axis = axis
        self.sizes = [a.shape[axis] for a in arrays]
        return xp.concatenate(arrays, axis=axis)

    def backward(self, gy):
        # concatenation's gradient is the matching slice of gy for each input
        bounds = xp.cumsum(self.sizes)[:-1]
        return tuple(xp.split(gy, bounds, axis=self.axis))


class Pad(Function):
    """Constant padding; ``pad_width`` is NumPy's ((before, after), ...) per axis."""

    def forward(self, a, pad_width, value=0.0):
        self.pad_width = pad_width
        return xp.pad(a, pad_width, mode="constant", constant_values=value)

    def backward(self, gy):
        # padding adds constants: the gradient is the inner (unpadded) window of gy
        index = tuple(slice(lo, gy.shape[i] - hi) for i, (lo, hi) in enumerate(self.pad_width))
        return (gy[index],)
