"""Pooling geometry and windowed views, shared by every fixed-window pooling kernel.

A KH x KW window read with stride (SH, SW) is KH*KW strided views of the (padded) input, one per
window offset, each of output shape (N, C, OH, OW). Forward combines the views elementwise and
backward writes the gradient back through the same views of a gradient buffer: the only Python
loop is over the KH*KW offsets. Windows that tile the input exactly (stride == kernel, no padding,
H and W divisible; LeNet's 2x2/2) take a fast path: the views come from a reshape to
(N, C, OH, KH, OW, KW), so nothing is padded, cropped or zero-filled. This module holds the
argument checks and output-size rules (``_pool_args``, cached ``_Geometry``), the views, the
gradient buffers and the routing of a picked offset's gradient (``_route``); the Functions that
use them are in :mod:`.window_pool`, :mod:`.pooling` and :mod:`.adaptive_pool`.
"""
from __future__ import annotations

import functools
import numbers
from typing import NamedTuple

from ..backend import xp
from ..tensor import Tensor
from ..threads import over_batch
from ._alloc import check_alloc
from .activation import zero_where

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
    (H, W), (PT, PL) = g.shape[2:], g.lo
    if buf.shape == g.shape:
        return buf
    return xp.ascontiguousarray(buf[:, :, PT:PT + H, PL:PL + W])


def _put(g: _Geometry, view, value) -> None:
    """Write one offset's gradient: add where windows overlap, else assign (each element once)."""
    if g.overlap:
        view += value
    else:
        view[...] = value


def _route(g: _Geometry, idx, gy, last: bool = False, block: int = 0):
    """Send each window's gradient to the offset ``idx`` picked (idx == KH*KW: to none).

    ``idx`` is in the work layout (channels-last when ``last``); the gradient buffer has the
    input's size, not the padded one: what the windows read from padding is simply dropped.
    ``block``: samples per run of the offsets' passes (``threads.over_batch``), 0 for all.
    """
    gy = _work(gy, last)
    shape = (g.shape[0],) + g.shape[2:] + (g.shape[1],) if last else g.shape
    # tiling windows write every input element exactly once: no zero fill needed
    buf = xp.empty(shape, dtype=gy.dtype) if g.fast else xp.zeros(shape, dtype=gy.dtype)
    offsets = _offsets(g, last)

    def run(lo, hi):  # samples lo:hi
        b, i, gyb = buf[lo:hi], idx[lo:hi], gy[lo:hi]
        m = xp.empty(i.shape, dtype=bool)
        tmp = xp.empty_like(gyb) if g.overlap else None
        for k, (osub, isub) in offsets:
            other = xp.not_equal(i[osub], k, out=m[osub])
            if g.overlap:
                b[isub] += zero_where(gyb[osub], other, tmp[osub])
            else:
                zero_where(gyb[osub], other, b[isub])

    over_batch(run, buf, block)
    return _nchw(buf, last)


def _tiles_last(x) -> bool:
    """Whether NCHW-shaped ``x`` is channels-last in memory, whatever its channel count."""
    return not x.flags.c_contiguous and x.transpose(0, 2, 3, 1).flags.c_contiguous


def _channels_last(x) -> bool:
    """Whether NCHW-shaped ``x`` is channels-last in memory (as the convolutions return it)
    with enough channels (16) that the max-pooling kernels had better work on its (N, H, W, C)
    view: nothing is copied and the inner loops run over contiguous channels."""
    return x.shape[1] >= 16 and _tiles_last(x)


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


def _phase_reader(a, g: _Geometry, last: bool):
    """``read(isub)``: the input view ``a[isub]`` of one window offset, at unit stride.

    A stride-s offset reads every s-th pixel, and a ufunc over such a view drags in whole cache
    lines to use a fraction of each. With a stride above 1, ``a`` is split once into its s*s
    phase planes ``a[..., i::s, j::s]`` (contiguous copies) and each offset reads a block of
    one plane: measured 2x faster for ResNet-18's 3x3/2 max pool over NCHW memory.
    """
    (SH, SW), hw = g.s, ((1, 2) if last else (2, 3))
    if (SH, SW) == (1, 1):
        return lambda isub: a[isub]
    planes = {}

    def read(isub):
        rs, cs = isub[hw[0]], isub[hw[1]]
        key = (rs.start % SH, cs.start % SW)
        if key not in planes:
            sl = [slice(None)] * 4
            sl[hw[0]], sl[hw[1]] = slice(key[0], None, SH), slice(key[1], None, SW)
            planes[key] = xp.ascontiguousarray(a[tuple(sl)])
        sl = list(isub)
        for ax, r, s in ((hw[0], rs, SH), (hw[1], cs, SW)):
            n = (r.stop - r.start - 1) // s + 1
            sl[ax] = slice(r.start // s, r.start // s + n)
        return planes[key][tuple(sl)]

    return read


def _tile_reduce(a, g: _Geometry, last: bool, pick, y) -> None:
    """y = pick over each window, for windows that tile ``a`` exactly (``g.fast``), rows first.

    ``a`` is NHWC (``last``) or NCHW, C-contiguous; ``y`` is its pooled shape. The KH rows of a
    window are combined first, over whole image rows (W*C contiguous floats channels-last), and
    then its KW columns: KH+KW-2 passes instead of one per offset (KH*KW-1), and the first ones
    over long contiguous runs. For LeNet-5's 2x2 pool over 6 channels-last channels (128x28x28,
    one thread): 0.66 ms, against 0.85 ms by offsets and 0.31 ms for the NCHW copy they needed.
    Only for outputs: the order finds the same extremum but not the first one on ties.
    """
    (KH, KW), (OH, OW) = g.k, g.out
    P = a.shape[0] * (1 if last else a.shape[1])  # NCHW: every channel is an image
    rows = a.reshape(P, OH, KH, -1)  # (P, OH, KH, W*C) or (P, OH, KH, W)
    r = rows[:, :, 0] if KH == 1 else pick(rows[:, :, 0], rows[:, :, 1])
    for i in range(2, KH):
        pick(r, rows[:, :, i], out=r)
    cols = r.reshape(P, OH, OW, KW, -1)
    yv = y.reshape(cols.shape[:3] + cols.shape[4:])
    if KW == 1:
        yv[...] = cols[:, :, :, 0]
        return
    pick(cols[:, :, :, 0], cols[:, :, :, 1], out=yv)
    for j in range(2, KW):
        pick(yv, cols[:, :, :, j], out=yv)


def _tile_argmax(a, g: _Geometry, last: bool, wins, pick, y, cidx, ridx) -> None:
    """y = pick over each window for windows that tile ``a`` exactly (``g.fast``), with the
    winners in ``cidx`` (the column within each window row) and ``ridx`` (the row).

    ``a`` is NHWC (``last``) or NCHW, C-contiguous; ``y`` is (N, OH, OW, C) C-contiguous or
    (N, C, OH, OW) in any memory order (channels-last memory for a channels-last input pooled in
    an NCHW copy, so the output keeps the input's layout); ``cidx`` and ``ridx`` come from
    :func:`_tile_index` for the same samples. Each window row's KW columns are combined first
    (strictly better wins, so the first extremum stays), then the KH row winners: the first
    extremum of the first row holding one, which is PyTorch's row-major first on ties. Columns
    run over ``a`` viewed as (R, KW, E) (E = C channels-last, 1 NCHW) and rows over whole output
    rows, so no pass reads a window offset by offset. LeNet-5's 2x2 pools (batch 128, one thread)
    forward and backward: 2.1 ms for 6x28x28 and 0.54 ms for 16x10x10 channels-last, against
    3.0 and 0.82 ms by offsets.
    """
    N, (KH, KW), E = a.shape[0], g.k, (a.shape[3] if last else 1)
    ci = cidx.reshape(-1, E)
    r = _tile_pick(a.reshape(-1, KW, E), ci, wins, pick, xp.empty(ci.shape, a.dtype))
    rows, out = _tile_rows(r, y, N, KH, last)
    _tile_pick(rows, ridx.reshape(out.shape), wins, pick, out)


def _tile_rows(r, y, N: int, KH: int, last: bool):
    """The column winners ``r`` as (..., KH, Q) window rows, and ``y`` shaped to match."""
    if last:
        OH = y.shape[1]
        return r.reshape(N, OH, KH, -1), y.reshape(N, OH, -1)
    return r.reshape(*y.shape[:3], KH, -1), y


def _tile_index(g: _Geometry, last: bool):
    """Zeroed ``(cidx, ridx)`` for :func:`_tile_argmax` over a whole batch, samples first."""
    (N, C, H, _), (KH, KW), (OH, OW) = g.shape, g.k, g.out
    dt = _index_dtype(max(KH, KW))
    if last:
        return xp.zeros((N, H * OW, C), dt), xp.zeros((N, OH, OW * C), dt)
    return xp.zeros((N, C * H * OW, 1), dt), xp.zeros((N, C * OH, OW), dt)


def _tile_pick(v, idx, wins, pick, out):
    """out = pick over axis -2 of ``v``; idx (zeroed, shaped like out) = the first winning k."""
    K = v.shape[-2]
    if K == 1:
        xp.copyto(out, v[..., 0, :])
        return out
    # offset 1 wins where m: written straight into a one-byte idx, which is 1 there, else 0
    m = idx.view(bool) if idx.itemsize == 1 else xp.empty(idx.shape, dtype=bool)
    wins(v[..., 1, :], v[..., 0, :], out=m)
    if idx.itemsize != 1:
        idx[...] = m
    pick(v[..., 0, :], v[..., 1, :], out=out)
    if K > 2:
        m = xp.empty(idx.shape, dtype=bool)
    for k in range(2, K):
        wins(v[..., k, :], out, out=m)
        pick(out, v[..., k, :], out=out)
        _mark_winner(idx, m, k)
    return out


def _mark_winner(idx, m, k: int, scratch=None) -> None:
    """idx = k where the mask ``m`` (bool, or 0/1 in idx's dtype) is set. Every index already
    in ``idx`` is below k, so that is max(idx, m * k); ``scratch`` (idx's shape and dtype) holds
    the product if given."""
    xp.maximum(idx, xp.multiply(m, idx.dtype.type(k), dtype=idx.dtype, out=scratch), out=idx)


def _tile_route(gy, cidx, ridx, g: _Geometry, last: bool, buf) -> None:
    """The gradient of :func:`_tile_argmax` for some samples: ``gy`` (pooled, shaped as its
    ``y``) to the winning row of each window, then within it to the winning column, written into
    ``buf``: (N, H, W, C) C-contiguous, or (N, C, H, W) in any memory order. Every element is
    written once, so ``buf`` needs no zero fill."""
    N, (KH, KW), E = gy.shape[0], g.k, cidx.shape[-1]
    rows = xp.empty(((N, gy.shape[1], KH, gy.shape[2] * E) if last
                     else (*gy.shape[:3], KH, gy.shape[3])), gy.dtype)
    g_rows = gy.reshape(N, gy.shape[1], -1) if last else gy
    _tile_spread(g_rows, ridx.reshape(g_rows.shape), rows)
    cols = buf.reshape(*buf.shape[:-1], buf.shape[-1] // KW, KW, 1) if not last else \
        buf.reshape(N, buf.shape[1], -1, KW, E)
    _tile_spread(rows.reshape(cols.shape[:-2] + (E,)), cidx.reshape(cols.shape[:-2] + (E,)),
                 cols)


def _tile_spread(g, idx, out):
    """out[..., k, :] = g where idx == k, else 0; ``g`` and ``idx`` shaped like out[..., 0, :]."""
    m = xp.empty(idx.shape, dtype=bool)
    for k in range(out.shape[-2]):
        zero_where(g, xp.not_equal(idx, k, out=m), out[..., k, :])


def _index_dtype(n: int):
    return xp.uint8 if n < 255 else xp.uint16 if n < 65535 else xp.int64
