"""Pooling: max, min, average, stochastic, global and adaptive, all through windowed views.

This module is the family's public face (``striate.functional.pooling``) and holds stochastic
pooling. The rest lives beside it:

- :mod:`._pool_windows`: window geometry (PyTorch's output sizes, 'same' padding, ceil mode),
  the KH*KW strided views of the input and the routing of gradients back through them;
- :mod:`.window_pool`: max, min and average pooling over fixed windows;
- :mod:`.adaptive_pool`: global pooling and adaptive pooling to a fixed output size.

A KH x KW window read with stride (SH, SW) is KH*KW strided views of the (padded) input, one per
window offset, each of output shape (N, C, OH, OW). Forward combines the views elementwise and
backward writes the gradient back through the same views of a gradient buffer: the only Python
loop is over the KH*KW offsets.
"""
from __future__ import annotations

from ..autograd import Function
from ..backend import rng, xp
from ..tensor import Tensor, apply

# The wrappers, Function classes, _Geometry, _pool_args and _divisor are re-exported: the ONNX
# exporter, striate.summary and the tests reach them through this module.
from ._pool_windows import (  # noqa: F401
    Size2,
    _as_input,
    _crop,
    _Geometry,
    _grad_buffer,
    _index_dtype,
    _pool_args,
    _put,
    _route,
    _windows,
)
from .adaptive_pool import (  # noqa: F401
    AdaptiveAvgPool2d,
    AdaptiveMaxPool2d,
    GlobalAvgPool2d,
    GlobalMaxPool2d,
    adaptive_avg_pool2d,
    adaptive_max_pool2d,
    global_avg_pool2d,
    global_max_pool2d,
)
from .window_pool import (  # noqa: F401
    AvgPool2d,
    MaxPool2d,
    MinPool2d,
    _divisor,
    avg_pool2d,
    max_pool2d,
    min_pool2d,
)

__all__ = [
    "max_pool2d", "avg_pool2d", "min_pool2d", "stochastic_pool2d", "global_avg_pool2d",
    "global_max_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d",
]


# ---- stochastic (Zeiler & Fergus 2013) ----
class StochasticPool2d(Function):
    """Pick by p_i = a_i / sum(a) over the non-negative activations; at test time sum(p_i a_i)."""

    def forward(self, x, g, training):
        views = _windows(x, g, 0)
        total = xp.zeros(views[0].shape, dtype=x.dtype)
        sq = None if training else xp.zeros_like(total)
        for v in views:
            w = xp.maximum(v, 0)
            total += w
            if not training:
                sq += w * w
        self.g, self.training = g, training
        if not training:  # sum(p a) = sum(a^2) / sum(a) over a > 0
            y = xp.divide(sq, total, out=xp.zeros_like(sq), where=total > 0)
            self.x, self.y, self.total = x, y, total
            return y
        # the first offset whose running sum exceeds u * total; u * total may round up to
        # total in float32, so keep it strictly below
        u = rng().random(total.shape, dtype=xp.float64 if x.dtype == xp.float64 else xp.float32)
        thresh = xp.minimum(u * total, xp.nextafter(total, 0))
        idx, cum = xp.zeros(total.shape, dtype=_index_dtype(len(views))), xp.zeros_like(total)
        for v in views[:-1]:
            cum += xp.maximum(v, 0)
            idx += cum <= thresh
        idx[total <= 0] = len(views)  # nothing positive: output 0, no gradient
        y = xp.zeros_like(total)
        for k, v in enumerate(views):
            y += v * (idx == k)
        self.idx = idx
        return y

    def backward(self, gy):
        if self.training:
            # d a_picked / dx = 1 at the picked element
            return (_route(self.g, self.idx, gy),)
        # d/da_j [sum(a^2) / sum(a)] = (2 a_j - y) / sum(a) for a_j > 0, else 0
        y, total = self.y, self.total
        scale = xp.divide(gy, total, out=xp.zeros_like(gy), where=total > 0)
        buf, gviews = _grad_buffer(self.g, gy.dtype)
        for gv, v in zip(gviews, _windows(self.x, self.g, 0)):
            _put(self.g, gv, (v > 0) * (2 * v - y) * scale)
        return (_crop(buf, self.g),)


def stochastic_pool2d(
    x: Tensor, kernel_size: Size2, stride: Size2 | None = None, training: bool = True,
) -> Tensor:
    """Stochastic pooling (Zeiler & Fergus 2013, https://arxiv.org/abs/1301.3557).

    In training each window outputs one of its activations, drawn with probability
    p_i = a_i / sum_j a_j over the window's non-negative activations (negative ones get
    probability 0; a window with no positive activation outputs 0); the gradient reaches the
    picked element. At test time the output is the expectation sum_i p_i a_i and the gradient
    flows through it, probabilities included. Draws come from ``striate.backend.rng()``
    (seeded by ``striate.manual_seed``).

    Args:
        x: input of shape (N, C, H, W), usually after ReLU.
        kernel_size (int or (int, int)): window size.
        stride (int or (int, int), default None): window step; None means ``kernel_size``.
        training (bool, default True): sample (True) or take the expectation (False).

    Shape:
        Output (N, C, OH, OW), OH = floor((H - KH) / SH) + 1, likewise OW.

    >>> F.stochastic_pool2d(striate.tensor(np.ones((1, 1, 4, 4))), 2).numpy()[0, 0]
    array([[1., 1.],
           [1., 1.]])
    """
    x = _as_input(x, "stochastic_pool2d")
    g = _pool_args("stochastic_pool2d", x.shape, kernel_size, stride, 0)
    return apply(StochasticPool2d, x, g=g, training=bool(training))
