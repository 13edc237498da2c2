"""Shape ops between layers: flatten, concat, split, pad2d, channel_shuffle.

All but channel_shuffle are thin wrappers over the movement primitives in ``striate.ops``,
which already carry hand-written backwards; the wrappers add argument checks.
"""
from __future__ import annotations

import numbers
from typing import Sequence

from .. import ops
from ..autograd import Function
from ..backend import xp
from ..tensor import Tensor, apply, as_tensor as _as_tensor
from ._alloc import check_alloc

__all__ = ["flatten", "concat", "split", "pad2d", "channel_shuffle"]


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _axis(axis, ndim: int, op: str, name: str = "axis") -> int:
    if not _is_int(axis):
        raise TypeError(f"{op}: {name} must be an int, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{op}: {name} {axis} is out of range for an input with {ndim} dimensions")
    return int(axis) % ndim


def flatten(x: Tensor, start_axis: int = 1, end_axis: int = -1) -> Tensor:
    """Merge axes ``start_axis..end_axis`` into one; by default keep the batch axis 0.

    Args:
        x (Tensor): input with more than ``start_axis`` dimensions.
        start_axis (int, default 1): first axis to merge.
        end_axis (int, default -1): last axis to merge (inclusive).

    Shape:
        (N, C, H, W) -> (N, C * H * W) with the defaults.

    >>> F.flatten(striate.tensor(np.zeros((2, 3, 4, 5)))).shape
    (2, 60)
    """
    x = _as_tensor(x, "flatten")
    s = _axis(start_axis, x.ndim, "flatten", "start_axis")
    e = _axis(end_axis, x.ndim, "flatten", "end_axis")
    if s > e:
        raise ValueError(
            f"flatten: start_axis {start_axis} comes after end_axis {end_axis} for shape {x.shape}"
        )
    merged = int(xp.prod(x.shape[s:e + 1], dtype=xp.int64))
    return apply(ops.Reshape, x, shape=x.shape[:s] + (merged,) + x.shape[e + 1:])


def concat(tensors: Sequence[Tensor], axis: int = 1) -> Tensor:
    """Join tensors along ``axis`` (the fusion of Inception branches along channels).

    Args:
        tensors (sequence of Tensor): at least one; all shapes equal except along ``axis``.
        axis (int, default 1): the axis to join along (channels for NCHW).

    Shape:
        Output size along ``axis`` is the sum of the inputs' sizes; other axes unchanged.

    >>> a = striate.tensor(np.zeros((2, 3, 4, 4)))
    >>> F.concat([a, a]).shape
    (2, 6, 4, 4)
    """
    if isinstance(tensors, (Tensor, xp.ndarray)) or not isinstance(tensors, (list, tuple)) \
            or not tensors:
        raise TypeError("concat: expected a non-empty list or tuple of Tensors")
    ts = [_as_tensor(t, "concat") for t in tensors]
    ndim = ts[0].ndim
    if ndim == 0 or any(t.ndim != ndim for t in ts):
        raise ValueError(
            "concat: inputs must have the same number (>= 1) of dimensions, got shapes "
            f"{[t.shape for t in ts]}"
        )
    ax = _axis(axis, ndim, "concat")
    off = [t.shape[:ax] + t.shape[ax + 1:] for t in ts]
    if any(o != off[0] for o in off):
        raise ValueError(
            f"concat: shapes {[t.shape for t in ts]} must agree on every axis but axis {axis}"
        )
    return apply(ops.Concat, *ts, axis=ax)


def split(x: Tensor, sections_or_sizes, axis: int = 1) -> tuple[Tensor, ...]:
    """Cut ``x`` into pieces along ``axis``, with ``torch.split`` semantics.

    Args:
        x (Tensor): input.
        sections_or_sizes (int or sequence of int): an int is the size of every piece (as
            ``torch.split``, NOT NumPy's number of sections); the last piece is smaller when
            the axis does not divide evenly. A sequence lists each piece's size and must sum
            to the size of ``axis``.
        axis (int, default 1): the axis to cut (channels for NCHW).

    Returns:
        tuple of Tensor, views whose gradients flow back into ``x``.

    >>> a, b = F.split(striate.tensor(np.zeros((2, 5, 4, 4))), [2, 3])
    >>> b.shape
    (2, 3, 4, 4)
    """
    x = _as_tensor(x, "split")
    if x.ndim == 0:
        raise ValueError("split: expected an input with at least 1 dimension, got a scalar")
    ax = _axis(axis, x.ndim, "split")
    n = x.shape[ax]
    if _is_int(sections_or_sizes):
        size = int(sections_or_sizes)
        if size <= 0:
            raise ValueError(f"split: the piece size must be positive, got {size}")
        sizes = [min(size, n - i) for i in range(0, n, size)] or [0]
    elif isinstance(sections_or_sizes, Sequence) and all(_is_int(s) for s in sections_or_sizes):
        sizes = [int(s) for s in sections_or_sizes]
        if any(s < 0 for s in sizes) or sum(sizes) != n:
            raise ValueError(
                f"split: sizes {sizes} must be non-negative and sum to {n}, the size of "
                f"axis {axis} of shape {x.shape}"
            )
    else:
        raise TypeError(
            f"split: sections_or_sizes must be an int or a list of ints, got {sections_or_sizes!r}"
        )
    pieces, start = [], 0
    for s in sizes:
        index = (slice(None),) * ax + (slice(start, start + s),)
        pieces.append(apply(ops.GetItem, x, index=index))
        start += s
    return tuple(pieces)


def _pad_widths(padding, op: str) -> tuple[int, int, int, int]:
    """Normalise ``padding`` to (left, right, top, bottom)."""
    if _is_int(padding):
        p = (int(padding),) * 4
    elif isinstance(padding, Sequence) and len(padding) == 2 and all(map(_is_int, padding)):
        p = (int(padding[1]),) * 2 + (int(padding[0]),) * 2
    elif isinstance(padding, Sequence) and len(padding) == 4 and all(map(_is_int, padding)):
        p = tuple(int(v) for v in padding)
    else:
        raise TypeError(
            f"{op}: padding must be an int, (pad_h, pad_w) or (left, right, top, bottom), "
            f"got {padding!r}"
        )
    if min(p) < 0:
        raise ValueError(f"{op}: padding must be non-negative, got {padding!r}")
    return p


def pad2d(x: Tensor, padding, value: float = 0.0) -> Tensor:
    """Pad the last two axes (H, W) with a constant.

    Args:
        x (Tensor): input of shape (..., H, W), usually (N, C, H, W).
        padding (int, (int, int) or (int, int, int, int)): an int pads all four sides;
            ``(pad_h, pad_w)`` pads top/bottom by pad_h and left/right by pad_w (the order of
            conv2d's padding); four ints are ``(left, right, top, bottom)``, the order of
            ``torch.nn.functional.pad`` for the last two axes. Non-negative.
        value (float, default 0.0): the fill value.

    Shape:
        (..., H, W) -> (..., H + top + bottom, W + left + right).

    >>> F.pad2d(striate.tensor(np.zeros((1, 1, 2, 2))), (0, 1, 2, 3)).shape
    (1, 1, 7, 3)
    """
    x = _as_tensor(x, "pad2d")
    if x.ndim < 2:
        raise ValueError(f"pad2d: expected an input of shape (..., H, W), got {x.shape}")
    if not isinstance(value, numbers.Real):
        raise TypeError(f"pad2d: value must be a number, got {value!r}")
    left, right, top, bottom = _pad_widths(padding, "pad2d")
    pad_width = ((0, 0),) * (x.ndim - 2) + ((top, bottom), (left, right))
    check_alloc("pad2d", "output", x.shape[:-2] + (x.shape[-2] + top + bottom,
                                                   x.shape[-1] + left + right), x.dtype)
    return apply(ops.Pad, x, pad_width=pad_width, value=value)


class ChannelShuffle(Function):
    def forward(self, x, groups):
        self.groups = groups
        N, C = x.shape[:2]
        y = x.reshape((N, groups, C // groups) + x.shape[2:]).swapaxes(1, 2)
        return y.reshape(x.shape)

    def backward(self, gy):
        # a permutation of channels: the gradient goes back through the inverse permutation
        N, C = gy.shape[:2]
        g = gy.reshape((N, C // self.groups, self.groups) + gy.shape[2:]).swapaxes(1, 2)
        return (g.reshape(gy.shape),)


def channel_shuffle(x: Tensor, groups: int) -> Tensor:
    """Interleave the channels of ``groups`` groups (ShuffleNet, https://arxiv.org/abs/1707.01083).

    Channel ``g * (C // groups) + k`` moves to position ``k * groups + g``.

    Args:
        x (Tensor): input of shape (N, C, *), C divisible by ``groups``.
        groups (int): number of groups.

    Shape:
        Output has the input's shape.

    >>> F.channel_shuffle(striate.tensor(np.arange(4.0).reshape(1, 4, 1, 1)), 2).data.ravel()
    array([0., 2., 1., 3.])
    """
    x = _as_tensor(x, "channel_shuffle")
    if x.ndim < 2:
        raise ValueError(f"channel_shuffle: expected an input of shape (N, C, ...), got {x.shape}")
    if not _is_int(groups) or groups <= 0:
        raise ValueError(f"channel_shuffle: groups must be a positive int, got {groups!r}")
    if x.shape[1] % groups:
        raise ValueError(
            f"channel_shuffle: {x.shape[1]} channels (input {x.shape}) are not divisible by "
            f"groups={groups}"
        )
    return apply(ChannelShuffle, x, groups=int(groups))
