"""Max, min and average pooling over fixed KH x KW windows (``max_pool2d``, ``min_pool2d``,
``avg_pool2d``).

Max and min pooling never pad at all: each offset updates only the outputs whose windows read the
input with it, and their gradient buffer has the input's size. They pool a channels-last input (the
convolutions' output, 16 channels or more) in that layout, reading contiguous channels, and return
it channels-last. Average pooling sums the KH*KW window views of the zero-padded input (see
:mod:`._pool_windows`) and divides by the per-window count.
"""
from __future__ import annotations

import functools

from ..autograd import Function
from ..backend import xp
from ..tensor import Tensor, apply
from ..threads import over_batch
from ._pool_windows import (
    Size2,
    _as_input,
    _channels_last,
    _crop,
    _Geometry,
    _grad_buffer,
    _index_dtype,
    _nchw,
    _mark_winner,
    _offsets,
    _phase_reader,
    _pool_args,
    _put,
    _route,
    _tile_argmax,
    _tile_index,
    _tile_reduce,
    _tile_route,
    _tiles_last,
    _windows,
    _work,
)

__all__ = ["avg_pool2d", "max_pool2d", "min_pool2d"]

#: Output bytes per run of samples in max pooling's offsets loop (see ``MaxPool2d.forward``).
BLOCK_BYTES = 1 << 20


def _samples(x, last: bool):
    """``part(lo, hi)``: samples lo:hi of NCHW-shaped ``x`` as the kernels read them, C-contiguous:
    its (N, H, W, C) view when ``last``, else NCHW, copied range by range on the threads that
    pool it where x is not NCHW in memory (LeNet-5's 6-channel maps, 128 x 6 x 28 x 28: 0.26 ms
    copied whole before the split)."""
    if last:
        a = _work(x, True)
        return lambda lo, hi: a[lo:hi]
    if x.flags.c_contiguous:
        return lambda lo, hi: x[lo:hi]
    return lambda lo, hi: xp.ascontiguousarray(x[lo:hi])


# ---- max and min ----
class MaxPool2d(Function):
    """Max over each window; MinPool2d swaps the comparison and the padding value.

    The windows are read in place (no padded copy of the input): each offset updates only the
    outputs whose windows reach the input with it. Windows that tile the input (LeNet's 2x2/2)
    are combined along rows and columns instead (``_tile_reduce``, ``_tile_argmax``).
    Channels-last inputs are pooled in that layout and give a channels-last output.
    """

    pick, wins, fill = xp.maximum, xp.greater, -xp.inf

    def forward(self, x, g):
        track = self.needs_input_grad[0]
        if g.fast and not track:  # windows tile x, and no gradient: combine rows, then columns
            last = _tiles_last(x)
            part = _samples(x, last)
            N, C = x.shape[:2]
            y = xp.empty((N, *g.out, C) if last else (N, C, *g.out), x.dtype)
            over_batch(lambda lo, hi: _tile_reduce(part(lo, hi), g, last, self.pick, y[lo:hi]),
                       x)
            return _nchw(y, last)
        last = _channels_last(x)
        # strided windows over strided memory are slow: a few channels are copied to NCHW
        part = _samples(x, last)
        N, C, OH, OW = g.shape[:2] + g.out
        shape = (N, OH, OW, C) if last else (N, C, OH, OW)
        self.g, self.last = g, last
        if g.fast and x.size:  # windows tile x: columns, then rows, keeping the winners
            # a channels-last input pooled in an NCHW copy (few channels) still gets its output
            # and gradient channels-last: the next layers read them without a layout change
            self.keep = not last and _tiles_last(x)
            y = (xp.empty((N, OH, OW, C), x.dtype).transpose(0, 3, 1, 2) if self.keep
                 else xp.empty(shape, x.dtype))
            self.idx = cidx, ridx = _tile_index(g, last)
            over_batch(lambda lo, hi: _tile_argmax(part(lo, hi), g, last, self.wins, self.pick,
                                                   y[lo:hi], cidx[lo:hi], ridx[lo:hi]), x)
            return _nchw(y, last)
        offsets, y = _offsets(g, last), xp.empty(shape, dtype=x.dtype)
        # NOTE: ties: the gradient goes to the first extremum in row-major window order (PyTorch)
        idx = xp.zeros(shape, dtype=_index_dtype(g.k[0] * g.k[1])) if track else None

        def run(lo, hi):  # samples lo:hi
            ab = part(lo, hi)
            read = _phase_reader(ab, g, last)
            yb = y[lo:hi]
            k0, (osub0, isub0) = offsets[0]
            rest = offsets
            if k0 == 0 and read(isub0).shape == yb.shape:  # offset 0 reads inside every window
                yb[...] = read(isub0)
                rest = offsets[1:]
            else:
                yb.fill(self.fill)
            if not track:
                for _, (osub, isub) in rest:
                    self.pick(yb[osub], read(isub), out=yb[osub])
                return
            ib = idx[lo:hi]
            m, mk = xp.empty(yb.shape, dtype=bool), xp.empty_like(ib)
            mi = m.view(ib.dtype) if ib.itemsize == 1 else m
            for k, (osub, isub) in rest:
                v, ys, ms = read(isub), yb[osub], m[osub]
                self.wins(v, ys, out=ms)
                self.pick(ys, v, out=ys)
                _mark_winner(ib[osub], mi[osub], k, mk[osub])

        # the offsets' passes run a few samples at a time, over an output block that stays in
        # cache: ResNet-18's 3x3/2 pool of 64@112x112 (batch 32, 2 threads) 27 -> 19 ms
        self.block = max(1, BLOCK_BYTES // max(y[:1].nbytes, 1))
        over_batch(run, x, self.block)
        self.idx = idx
        return _nchw(y, last)

    def backward(self, gy):
        # d max(window)/dx = 1 at the window's argmax, 0 elsewhere
        g, last = self.g, self.last
        if not isinstance(self.idx, tuple):  # the offsets' index
            return (_route(g, self.idx, gy, last, self.block),)
        (cidx, ridx), gy = self.idx, _work(gy, last)
        N, C, H, W = g.shape
        buf = xp.empty((N, H, W, C) if last or self.keep else g.shape, gy.dtype)
        buf = buf.transpose(0, 3, 1, 2) if self.keep else buf
        over_batch(lambda lo, hi: _tile_route(gy[lo:hi], cidx[lo:hi], ridx[lo:hi], g, last,
                                              buf[lo:hi]), buf)
        return (_nchw(buf, last),)


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
