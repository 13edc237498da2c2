"""Global and adaptive pooling: ``global_avg_pool2d``, ``global_max_pool2d``,
``adaptive_avg_pool2d`` and ``adaptive_max_pool2d``.

Global pooling reduces each whole feature map. Adaptive pooling uses PyTorch's windows of
possibly different lengths (start = floor(i * n / out), end = ceil((i + 1) * n / out)); averaging
is a product with (out, n) matrices, max walks the longest window's offsets. Output size 1 falls
back to global pooling and equal windows tiling the input to plain :mod:`.window_pool` pooling.
"""
from __future__ import annotations

import functools

from ..autograd import Function
from ..backend import xp
from ..tensor import Tensor, apply
from ._alloc import check_alloc
from ._pool_windows import _as_input, _geometry, _index_dtype, _pair
from .window_pool import AvgPool2d, MaxPool2d

__all__ = [
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
    "global_avg_pool2d",
    "global_max_pool2d",
]


# ---- global ----
class GlobalAvgPool2d(Function):
    def forward(self, x, keepdims):
        self.shape = x.shape
        return x.mean(axis=(2, 3), keepdims=keepdims)

    def backward(self, gy):
        # d mean(x)/dx = 1 / (H * W)
        N, C, H, W = self.shape
        gx = xp.empty(self.shape, dtype=gy.dtype)
        gx[...] = (gy / (H * W)).reshape(N, C, 1, 1)
        return (gx,)


class GlobalMaxPool2d(Function):
    def forward(self, x, keepdims):
        N, C, H, W = self.shape = x.shape
        x3 = x.reshape(N, C, H * W)
        idx = x3.argmax(axis=2)[..., None]  # NOTE: ties: the first argmax gets the gradient
        self.idx, self.keepdims = idx, keepdims
        y = xp.take_along_axis(x3, idx, axis=2)
        return y.reshape(N, C, 1, 1) if keepdims else y.reshape(N, C)

    def backward(self, gy):
        # d max(x)/dx = 1 at the argmax
        N, C, H, W = self.shape
        gx = xp.zeros((N, C, H * W), dtype=gy.dtype)
        xp.put_along_axis(gx, self.idx, gy.reshape(N, C, 1), axis=2)
        return (gx.reshape(self.shape),)


def _nonempty_maps(x, op: str) -> Tensor:
    """A 4-D float input whose feature maps have at least one element (as PyTorch requires)."""
    x = _as_input(x, op)
    if x.shape[2] * x.shape[3] == 0:
        raise ValueError(f"{op}: input of shape {x.shape} has empty feature maps; expected "
                         "H and W of at least 1")
    return x


def global_avg_pool2d(x: Tensor) -> Tensor:
    """Mean over each whole feature map (the classifier head of NiN, GoogLeNet and ResNet).

    Shape:
        Input (N, C, H, W), output (N, C).

    >>> F.global_avg_pool2d(striate.tensor(np.ones((2, 3, 5, 5)))).shape
    (2, 3)
    """
    return apply(GlobalAvgPool2d, _nonempty_maps(x, "global_avg_pool2d"), keepdims=False)


def global_max_pool2d(x: Tensor) -> Tensor:
    """Max over each whole feature map; the gradient reaches the first maximum only.

    Shape:
        Input (N, C, H, W), output (N, C).

    >>> F.global_max_pool2d(striate.tensor(np.ones((2, 3, 5, 5)))).shape
    (2, 3)
    """
    return apply(GlobalMaxPool2d, _nonempty_maps(x, "global_max_pool2d"), keepdims=False)


# ---- adaptive ----
def _adaptive_size(op, x, output_size) -> tuple[int, int]:
    size = (output_size, output_size) if not isinstance(output_size, (tuple, list)) else output_size
    if len(size) != 2:
        raise TypeError(f"{op}: output_size must be an int or a pair, got {output_size!r}")
    size = tuple(x.shape[2 + d] if o is None else o for d, o in enumerate(size))
    OH, OW = _pair(size, op, "output_size")
    if OH < 1 or OW < 1:
        raise ValueError(f"{op}: output_size must be positive, got {output_size!r}")
    # one map at least, even for an empty batch: the pooling matrices are as large as a map
    check_alloc(op, "output", (max(x.shape[0], 1), max(x.shape[1], 1), OH, OW), x.dtype)
    check_alloc(op, "pooling matrix", (max(OH, OW), max(x.shape[2:])), x.dtype)
    return OH, OW


@functools.lru_cache(maxsize=256)
def _adaptive_bounds(n: int, out: int):
    """PyTorch's windows: start = floor(i * n / out), end = ceil((i + 1) * n / out)."""
    i = xp.arange(out)
    return (i * n) // out, -((-(i + 1) * n) // out)


@functools.lru_cache(maxsize=256)
def _adaptive_avg_matrix(n: int, out: int, dtype):
    """(out, n) matrix whose row i averages window i: pooling is A_h @ x @ A_w.T."""
    start, end = _adaptive_bounds(n, out)
    r = xp.arange(n)
    inside = (r >= start[:, None]) & (r < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def _sandwich(x, a, b):
    """y[n, c] = a @ x[n, c] @ b.T as two single matrix products (tensordot)."""
    t = xp.tensordot(x, b, axes=([3], [1]))  # (N, C, H, OW)
    return xp.ascontiguousarray(xp.tensordot(t, a, axes=([2], [1])).swapaxes(2, 3))


class AdaptiveAvgPool2d(Function):
    def forward(self, x, out):
        (H, W), (OH, OW) = x.shape[2:], out
        self.a = _adaptive_avg_matrix(H, OH, x.dtype), _adaptive_avg_matrix(W, OW, x.dtype)
        return _sandwich(x, *self.a)

    def backward(self, gy):
        # y = A_h x A_w^T is linear: dL/dx = A_h^T gy A_w
        return (_sandwich(gy, self.a[0].T, self.a[1].T),)


def _onehot(idx, n: int, dtype):
    return (idx[:, None] == xp.arange(n)).astype(dtype)


class AdaptiveMaxPool2d(Function):
    """Windows of different lengths: each offset's index is clamped to its window's last element."""

    def forward(self, x, out):
        (H, W), (OH, OW) = x.shape[2:], out
        (sh, eh), (sw, ew) = _adaptive_bounds(H, OH), _adaptive_bounds(W, OW)
        self.rows = [xp.minimum(sh + i, eh - 1) for i in range(int((eh - sh).max()))]
        self.cols = [xp.minimum(sw + j, ew - 1) for j in range(int((ew - sw).max()))]
        views = (x[:, :, r[:, None], c] for r in self.rows for c in self.cols)
        y = next(views)
        idx = xp.zeros(y.shape, dtype=_index_dtype(len(self.rows) * len(self.cols)))
        for k, v in enumerate(views, 1):  # NOTE: strict >: ties keep the first maximum
            m = v > y
            xp.maximum(y, v, out=y)
            xp.maximum(idx, m * idx.dtype.type(k), out=idx)
        self.idx, self.shape = idx, x.shape
        return y

    def backward(self, gy):
        # d max(window)/dx = 1 at the argmax; windows overlap, so scatter by one-hot products
        gx = xp.zeros(self.shape, dtype=gy.dtype)
        H, W = self.shape[2:]
        for a, r in enumerate(self.rows):
            for b, c in enumerate(self.cols):
                k = a * len(self.cols) + b
                rows, cols = _onehot(r, H, gy.dtype).T, _onehot(c, W, gy.dtype).T
                gx += _sandwich(gy * (self.idx == k), rows, cols)
        return (gx,)


def _adaptive(op, x, output_size, fn_cls, pool_cls, global_cls, divide):
    x = _nonempty_maps(x, op)
    OH, OW = _adaptive_size(op, x, output_size)
    H, W = x.shape[2:]
    if OH == OW == 1:
        return apply(global_cls, x, keepdims=True)
    if H % OH == 0 and W % OW == 0:  # equal windows tiling the input: plain pooling
        g = _geometry(op, x.shape, (H // OH, W // OW), (H // OH, W // OW), (0, 0), False)
        return apply(pool_cls, x, g=g, div=g.k[0] * g.k[1]) if divide else apply(pool_cls, x, g=g)
    return apply(fn_cls, x, out=(OH, OW))


def adaptive_avg_pool2d(x: Tensor, output_size) -> Tensor:
    """Average pooling to a fixed output size, as ``torch.nn.functional.adaptive_avg_pool2d``.

    Args:
        x: input of shape (N, C, H, W).
        output_size (int or (int or None, int or None)): (OH, OW); None keeps that input size.

    Shape:
        Output (N, C, OH, OW); output row i averages input rows floor(i * H / OH) to
        ceil((i + 1) * H / OH) - 1, likewise columns.

    >>> F.adaptive_avg_pool2d(striate.tensor(np.ones((1, 8, 7, 7))), (2, None)).shape
    (1, 8, 2, 7)
    """
    return _adaptive("adaptive_avg_pool2d", x, output_size, AdaptiveAvgPool2d, AvgPool2d,
                     GlobalAvgPool2d, True)


def adaptive_max_pool2d(x: Tensor, output_size) -> Tensor:
    """Max pooling to a fixed output size, as ``torch.nn.functional.adaptive_max_pool2d``.

    Args and Shape as :func:`adaptive_avg_pool2d`; the gradient reaches each window's first max.

    >>> F.adaptive_max_pool2d(striate.tensor(np.ones((1, 8, 7, 7))), 3).shape
    (1, 8, 3, 3)
    """
    return _adaptive("adaptive_max_pool2d", x, output_size, AdaptiveMaxPool2d, MaxPool2d,
                     GlobalMaxPool2d, False)
