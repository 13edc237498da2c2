"""Pooling: max, min, average, stochastic, global and adaptive, all through windowed views.

A KH x KW window read with stride (SH, SW) is KH*KW strided views of the (padded) input, one per
window offset, each of output shape (N, C, OH, OW). Forward combines the views elementwise and
backward writes the gradient back through the same views of a gradient buffer: the only Python
loop is over the KH*KW offsets. Windows that tile the input exactly (stride == kernel, no padding,
H and W divisible; LeNet's 2x2/2) take a fast path: the views come from a reshape to
(N, C, OH, KH, OW, KW), so nothing is padded, cropped or zero-filled. Max and min pooling never
pad at all: each offset updates only the outputs whose windows read the input with it, and their
gradient buffer has the input's size. They pool a channels-last input (the convolutions' output,
16 channels or more) in that layout, reading contiguous channels, and return it channels-last.
"""
from __future__ import annotations

import functools
import numbers
from typing import NamedTuple

from ..autograd import Function
from ..backend import rng, xp
from ..tensor import Tensor, apply
from ._alloc import check_alloc

__all__ = [
    "max_pool2d", "avg_pool2d", "min_pool2d", "stochastic_pool2d", "global_avg_pool2d",
    "global_max_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d",
]

Size2 = int | tuple[int, int]  # an int for both spatial axes, or (height, width)


# ---- geometry and windowed views ----
class _Geometry(NamedTuple):
    shape: tuple  # (N, C, H, W) of the input
    k: tuple  # (KH, KW)
    s: tuple  # (SH, SW)
    lo: tuple  # (top, left) padding
    hi: tuple  # (bottom, right) padding the windows reach, ceil-mode overhang included
    out: tuple  # (OH, OW)
    fast: bool  # windows tile the input exactly: views by reshape
    overlap: bool  # an input element can sit in several windows


def _as_input(x, op: str) -> Tensor:
    if isinstance(x, xp.ndarray):
        x = Tensor(x)
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor or an ndarray, got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(f"{op}: expected a 4-D input (N, C, H, W), got shape {x.shape}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point input, got dtype {x.dtype}")
    return x


def _pair(v, op: str, name: str) -> tuple[int, int]:
    def is_int(e):
        return isinstance(e, numbers.Integral) and not isinstance(e, bool)

    if is_int(v):
        return int(v), int(v)
    if isinstance(v, (tuple, list)) and len(v) == 2 and all(is_int(e) for e in v):
        return int(v[0]), int(v[1])
    raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {v!r}")


def _pool_args(op, shape, kernel_size, stride, padding, ceil_mode=False) -> _Geometry:
    k = _pair(kernel_size, op, "kernel_size")
    s = k if stride is None else _pair(stride, op, "stride")
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ValueError(
                f"{op}: padding must be an int, a pair, 'same' or 'valid', got {padding!r}"
            )
        p = padding if padding == "same" else (0, 0)
    else:
        p = _pair(padding, op, "padding")
    return _geometry(op, shape, k, s, p, bool(ceil_mode))


@functools.lru_cache(maxsize=512)
def _geometry(op, shape, k, s, p, ceil_mode) -> _Geometry:
    """Validate the window arguments and compute the output size (PyTorch's rules, cached)."""
    if 0 in shape[2:]:  # padding alone would make windows of nothing but -inf or zeros
        raise ValueError(f"{op}: input of shape {shape} has empty feature maps; expected H and "
                         "W of at least 1")
    if min(k) < 1:
        raise ValueError(f"{op}: kernel_size must be positive, got {k}")
    if min(s) < 1:
        raise ValueError(f"{op}: stride must be positive, got {s}")
    if p != "same":
        if min(p) < 0:
            raise ValueError(f"{op}: padding must be non-negative, got {p}")
        if p[0] > k[0] // 2 or p[1] > k[1] // 2:
            raise ValueError(f"{op}: padding {p} must be at most half the kernel size {k}")
    ph, pw = (p, p) if p == "same" else p
    OH, PT, PB = _dim(shape[2], k[0], s[0], ph, ceil_mode)
    OW, PL, PR = _dim(shape[3], k[1], s[1], pw, ceil_mode)
    if OH < 1 or OW < 1:
        raise ValueError(
            f"{op}: kernel {k} is larger than the padded input: input (H, W) = {shape[2:]}, "
            f"padding {p}, stride {s} give an output of ({OH}, {OW}); expected at least (1, 1)"
        )
    # one window along an axis: any stride is as good as the kernel's (a huge one overflows)
    s = (k[0] if OH == 1 else s[0], k[1] if OW == 1 else s[1])
    H, W = shape[2:]
    # in ceil mode a kernel may overhang the input by up to stride - 1: pad no huge buffer for it
    check_alloc(op, "padded input", shape[:2] + (PT + H + PB, PL + W + PR), xp.float32)
    fast = s == k and PT == PB == PL == PR == 0 and H == OH * k[0] and W == OW * k[1]
    return _Geometry(shape, k, s, (PT, PL), (PB, PR), (OH, OW), fast, s[0] < k[0] or s[1] < k[1])


def _dim(n: int, k: int, s: int, p, ceil_mode: bool) -> tuple[int, int, int]:
    """(output size, padding before, padding after that the windows reach) along one axis."""
    if p == "same":  # TF/Keras SAME: out = ceil(n / s), the odd pad goes after
        out = -(-n // s)
        total = max((out - 1) * s + k - n, 0)
        return out, total // 2, total - total // 2
    out = (n + 2 * p - k + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + p:  # the last window must start inside input or left pad
        out -= 1
    return out, p, max((out - 1) * s + k - n - p, 0)


def _windows(x, g: _Geometry, fill) -> list:
    """The KH*KW strided views (N, C, OH, OW) of ``x`` padded with ``fill``, in row-major order."""
    (N, C, H, W), (PT, PL), (PB, PR) = x.shape, g.lo, g.hi
    if PT or PL or PB or PR:
        xpad = xp.full((N, C, PT + H + PB, PL + W + PR), fill, dtype=x.dtype)
        xpad[:, :, PT:PT + H, PL:PL + W] = x
        x = xpad
    return _views(x, g)


def _views(a, g: _Geometry) -> list:
    """The window views of an already padded array (by reshape on the fast path)."""
    N, C = a.shape[:2]
    (KH, KW), (SH, SW), (OH, OW) = g.k, g.s, g.out
    if g.fast:
        a6 = a.reshape(N, C, OH, KH, OW, KW)
        return [a6[:, :, :, i, :, j] for i in range(KH) for j in range(KW)]
    return [a[:, :, i:i + SH * (OH - 1) + 1:SH, j:j + SW * (OW - 1) + 1:SW]
            for i in range(KH) for j in range(KW)]


def _grad_buffer(g: _Geometry, dtype):
    """A padded gradient buffer and its window views; the fast path tiles it, so no zero fill."""
    N, C, H, W = g.shape
    (PT, PL), (PB, PR) = g.lo, g.hi
    if g.fast:
        buf = xp.empty(g.shape, dtype=dtype)
    else:
        buf = xp.zeros((N, C, PT + H + PB, PL + W + PR), dtype=dtype)
    return buf, _views(buf, g)


def _crop(buf, g: _Geometry):
    (N, C, H, W), (PT, PL) = g.shape, g.lo
    if buf.shape == g.shape:
        return buf
    return xp.ascontiguousarray(buf[:, :, PT:PT + H, PL:PL + W])


def _put(g: _Geometry, view, value) -> None:
    """Write one offset's gradient: add where windows overlap, else assign (each element once)."""
    if g.overlap:
        view += value
    else:
        view[...] = value


def _route(g: _Geometry, idx, gy, last: bool = False):
    """Send each window's gradient to the offset ``idx`` picked (idx == KH*KW: to none).

    ``idx`` is in the work layout (channels-last when ``last``); the gradient buffer has the
    input's size, not the padded one: what the windows read from padding is simply dropped.
    """
    gy = _work(gy, last)
    shape = (g.shape[0],) + g.shape[2:] + (g.shape[1],) if last else g.shape
    # tiling windows write every input element exactly once: no zero fill needed
    buf = xp.empty(shape, dtype=gy.dtype) if g.fast else xp.zeros(shape, dtype=gy.dtype)
    m = xp.empty(idx.shape, dtype=bool)
    tmp = xp.empty_like(gy) if g.overlap else None
    for k, (osub, isub) in _offsets(g, last):
        mk = xp.equal(idx[osub], k, out=m[osub])
        if g.overlap:
            buf[isub] += xp.multiply(gy[osub], mk, out=tmp[osub])
        else:
            xp.multiply(gy[osub], mk, out=buf[isub])
    return _nchw(buf, last)


def _channels_last(x) -> bool:
    """Whether NCHW-shaped ``x`` is channels-last in memory (as the convolutions return it)
    with enough channels (16) that the max-pooling kernels had better work on its (N, H, W, C)
    view: nothing is copied and the inner loops run over contiguous channels."""
    return (x.shape[1] >= 16 and not x.flags.c_contiguous
            and x.transpose(0, 2, 3, 1).flags.c_contiguous)


def _work(a, last: bool):
    return a.transpose(0, 2, 3, 1) if last else a


def _nchw(a, last: bool):
    return a.transpose(0, 3, 1, 2) if last else a


def _axis_offsets(n: int, i: int, s: int, lo: int, out: int):
    """(output slice, input slice) of the windows whose offset ``i`` reads inside ``n``."""
    o0, o1 = max(0, -(-(lo - i) // s)), min(out, (n - 1 + lo - i) // s + 1)
    if o1 <= o0:
        return None
    start = o0 * s - lo + i
    return slice(o0, o1), slice(start, start + s * (o1 - o0 - 1) + 1, s)


@functools.lru_cache(maxsize=512)
def _offsets(g: _Geometry, last: bool) -> tuple:
    """``(k, output index, input index)`` for each window offset k (row-major) that reads the
    input somewhere: the windows' reads without a padded copy of the input."""
    out = []
    for k in range(g.k[0] * g.k[1]):
        i, j = divmod(k, g.k[1])
        r = _axis_offsets(g.shape[2], i, g.s[0], g.lo[0], g.out[0])
        c = _axis_offsets(g.shape[3], j, g.s[1], g.lo[1], g.out[1])
        if r is not None and c is not None:
            lead = (slice(None),) if last else (slice(None), slice(None))
            out.append((k, (lead + (r[0], c[0]), lead + (r[1], c[1]))))
    return tuple(out)


def _index_dtype(n: int):
    return xp.uint8 if n < 255 else xp.uint16 if n < 65535 else xp.int64


# ---- max and min ----
class MaxPool2d(Function):
    """Max over each window; MinPool2d swaps the comparison and the padding value.

    The windows are read in place (no padded copy of the input): each offset updates only the
    outputs whose windows reach the input with it. Channels-last inputs are pooled in that
    layout and give a channels-last output.
    """

    pick, wins, fill = xp.maximum, xp.greater, -xp.inf

    def forward(self, x, g):
        last = _channels_last(x)
        # strided windows over strided memory are slow: a few channels are copied to NCHW
        a, offsets = _work(x if last else xp.ascontiguousarray(x), last), _offsets(g, last)
        N, C, OH, OW = g.shape[:2] + g.out
        shape = (N, OH, OW, C) if last else (N, C, OH, OW)
        k0, (osub0, isub0) = offsets[0]
        if k0 == 0 and a[isub0].shape == shape:  # the first offset reads inside every window
            y = a[isub0].copy()
            offsets = offsets[1:]
        else:
            y = xp.full(shape, self.fill, dtype=x.dtype)
        if not self.needs_input_grad[0]:
            for _, (osub, isub) in offsets:
                self.pick(y[osub], a[isub], out=y[osub])
            return _nchw(y, last)
        # NOTE: ties: the gradient goes to the first extremum in row-major window order (PyTorch)
        idx = xp.zeros(shape, dtype=_index_dtype(g.k[0] * g.k[1]))
        m, mk = xp.empty(shape, dtype=bool), xp.empty_like(idx)
        mi = m.view(idx.dtype) if idx.itemsize == 1 else m
        for k, (osub, isub) in offsets:
            v, ys, ms = a[isub], y[osub], m[osub]
            self.wins(v, ys, out=ms)
            self.pick(ys, v, out=ys)
            # every earlier index is below k, so max(idx, m * k) means "k where m"
            ks = xp.multiply(mi[osub], xp.asarray(k, dtype=idx.dtype), out=mk[osub])
            xp.maximum(idx[osub], ks, out=idx[osub])
        self.g, self.idx, self.last = g, idx, last
        return _nchw(y, last)

    def backward(self, gy):
        # d max(window)/dx = 1 at the window's argmax, 0 elsewhere
        return (_route(self.g, self.idx, gy, self.last),)


class MinPool2d(MaxPool2d):
    pick, wins, fill = xp.minimum, xp.less, xp.inf


def max_pool2d(
    x: Tensor, kernel_size: Size2, stride: Size2 | None = None,
    padding: Size2 | str = 0, ceil_mode: bool = False,
) -> Tensor:
    """2-D max pooling over an NCHW input, as ``torch.nn.functional.max_pool2d``.

    Args:
        x: input of shape (N, C, H, W), floating point.
        kernel_size (int or (int, int)): window size.
        stride (int or (int, int), default None): window step; None means ``kernel_size``.
        padding (int, (int, int), 'valid' or 'same', default 0): implicit -inf padding, at most
            half the kernel. 'same' pads as TF/Keras: output ceil(H / stride), the total padding
            max((OH - 1) * SH + KH - H, 0) split with the extra row/column at the bottom/right.
        ceil_mode (bool, default False): round the output size up; the last window must still
            start inside the input or the left padding. Ignored with 'same'.

    Shape:
        Output (N, C, OH, OW), OH = floor((H + 2 * PH - KH) / SH) + 1 (ceil with ``ceil_mode``),
        likewise OW. The gradient reaches only each window's maximum (the first one on ties).

    >>> F.max_pool2d(striate.tensor(np.ones((1, 32, 28, 28))), 2, padding="same").shape
    (1, 32, 14, 14)
    """
    x = _as_input(x, "max_pool2d")
    g = _pool_args("max_pool2d", x.shape, kernel_size, stride, padding, ceil_mode)
    return apply(MaxPool2d, x, g=g)


def min_pool2d(
    x: Tensor, kernel_size: Size2, stride: Size2 | None = None,
    padding: Size2 | str = 0, ceil_mode: bool = False,
) -> Tensor:
    """2-D min pooling: :func:`max_pool2d` with the minimum (equals ``-max_pool2d(-x)``).

    Args and Shape as :func:`max_pool2d`; padding is +inf. The gradient reaches each window's
    minimum only.

    >>> F.min_pool2d(striate.tensor(np.arange(16.0).reshape(1, 1, 4, 4)), 2).numpy()[0, 0]
    array([[ 0.,  2.],
           [ 8., 10.]])
    """
    x = _as_input(x, "min_pool2d")
    g = _pool_args("min_pool2d", x.shape, kernel_size, stride, padding, ceil_mode)
    return apply(MinPool2d, x, g=g)


# ---- average ----
@functools.lru_cache(maxsize=512)
def _divisor(g: _Geometry, include_pad: bool, dtype):
    """Elements counted per window: an int when every window has the same count, else (OH, OW)."""
    cnt = []
    for n, k, s, lo, out in zip(g.shape[2:], g.k, g.s, g.lo, g.out):
        start = xp.arange(out) * s - lo
        if include_pad:  # PyTorch counts padding but not the ceil-mode overhang past it
            cnt.append(xp.minimum(start + k, n + lo) - start)
        else:
            cnt.append(xp.minimum(start + k, n) - xp.maximum(start, 0))
    div = xp.outer(*cnt)
    return int(div.flat[0]) if (div == div.flat[0]).all() else div.astype(dtype)


class AvgPool2d(Function):
    def forward(self, x, g, div):
        views = _windows(x, g, 0)
        y = views[0] + views[1] if len(views) > 1 else views[0].copy()
        for v in views[2:]:
            y += v
        y /= div
        self.g, self.div = g, div
        return y

    def backward(self, gy):
        # d mean(window)/dx = 1 / count for each element of the window
        gw = gy / self.div
        buf, views = _grad_buffer(self.g, gy.dtype)
        for v in views:
            _put(self.g, v, gw)
        return (_crop(buf, self.g),)


def avg_pool2d(
    x: Tensor, kernel_size: Size2, stride: Size2 | None = None,
    padding: Size2 | str = 0, ceil_mode: bool = False, count_include_pad: bool = True,
) -> Tensor:
    """2-D average pooling over an NCHW input, as ``torch.nn.functional.avg_pool2d``.

    Args:
        x, kernel_size, stride, padding, ceil_mode: as :func:`max_pool2d` (zero padding).
        count_include_pad (bool, default True): divide by the window size including the zero
            padding (PyTorch's default); False divides by the real elements only. With
            ``padding='same'`` the padding is never counted (Keras), whatever this flag says.

    Shape:
        As :func:`max_pool2d`. The gradient is spread evenly over each window (1 / count).

    >>> F.avg_pool2d(striate.tensor(np.arange(16.0).reshape(1, 1, 4, 4)), 2).numpy()[0, 0]
    array([[ 2.5,  4.5],
           [10.5, 12.5]])
    """
    x = _as_input(x, "avg_pool2d")
    g = _pool_args("avg_pool2d", x.shape, kernel_size, stride, padding, ceil_mode)
    include = bool(count_include_pad) and not (isinstance(padding, str) and padding == "same")
    return apply(AvgPool2d, x, g=g, div=_divisor(g, include, x.dtype))


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
        (N, C, H, W), (OH, OW) = x.shape, out
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
        (N, C, H, W), (OH, OW) = x.shape, out
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
