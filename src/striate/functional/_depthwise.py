"""Depthwise convolution kernels (one input channel per group): a multiply-accumulate over the
kernel offsets, no GEMM. NHWC arrays in and out, like ``_im2col.py``.

Two things make these NumPy passes fast:

- **Long inner loops.** A per-channel weight broadcast against NHWC pixels makes every ufunc
  inner loop C elements long (32 for MobileNetV2's first block). The weights are therefore
  tiled along the output width, (KH, KW, OW, C), and every tap is read as a view whose
  (OW, C) plane is contiguous, so one inner loop spans a whole output row: measured 3.3x
  faster (MobileNetV2's 32-channel 112x112 layer, batch 32: 160 -> 48 ms single-threaded).
- **Stride by phases.** A stride-s tap reads every s-th pixel, which breaks the contiguous
  rows. The padded input is split once into its s*s phase planes ``xpad[:, a::s, b::s]``; a
  tap then reads one phase at stride 1.

A channel multiplier M > 1 (OC = C*M) repeats each input channel M times first, which turns it
into M == 1 over OC channels. Batches are split over threads (``striate.threads``).
"""
from __future__ import annotations

from ..backend import xp
from ..threads import parallel_for
from ._im2col import Geometry, block_len, finish, padded_blocks

#: Least pixels*channels one thread's share must hold before the batch is split over threads.
PARALLEL_ELEMENTS = 1 << 20


def _grain(per_sample: int) -> int:
    return -(-PARALLEL_ELEMENTS // max(per_sample, 1))


def _tiled(w, OW):
    """Weight (OC, 1, KH, KW) as C-contiguous (KH*KW, OW, OC): one output row per tap."""
    OC, _, KH, KW = w.shape
    taps = w.reshape(OC, KH * KW).T[:, None, :]
    return xp.ascontiguousarray(xp.broadcast_to(taps, (KH * KW, OW, OC)))


def _phases(xpad, g: Geometry):
    """The SH*SW phase planes of padded NHWC ``xpad``, each C-contiguous (the array itself at
    stride 1)."""
    SH, SW = g.stride
    if (SH, SW) == (1, 1):
        return {(0, 0): xpad}
    return {(a, c): xp.ascontiguousarray(xpad[:, a::SH, c::SW]) for a in range(SH)
            for c in range(SW)}


def _tap(planes, g: Geometry, kh, kw, OH, OW):
    """The (m, OH, OW, C) view of kernel offset (kh, kw): a stride-1 window of one phase."""
    (SH, SW), (DH, DW) = g.stride, g.dilation
    r, c = kh * DH, kw * DW
    p = planes[r % SH, c % SW]
    return p[:, r // SH:r // SH + OH, c // SW:c // SW + OW]


def _repeat(x, M):
    """Input channel c repeated as channels c*M .. c*M + M-1 (a multiplier M > 1)."""
    return x if M == 1 else xp.repeat(x, M, axis=3)


def depthwise_forward(x, w, b, g: Geometry, OH: int, OW: int, clamp=None):
    """y[..., o] = sum over kernel offsets of window[..., o // M] * w[o]; NHWC in and out."""
    OC, _, KH, KW = w.shape
    x = _repeat(x, OC // x.shape[3])
    N = x.shape[0]
    wt = _tiled(w, OW)
    y = xp.empty((N, OH, OW, OC), x.dtype)
    bt = None if b is None else xp.tile(b, (OW, 1))  # (OW, OC), like the tiled weights
    g1 = g._replace(groups=1)

    def run(lo, hi):
        nb = block_len(hi - lo, 4 * OH * OW * OC * x.itemsize)
        tmp = xp.empty((nb, OH, OW, OC), x.dtype)  # reused: a fresh array faults its pages
        for i, xb in padded_blocks(x[lo:hi], g.pads, nb):
            planes, yb, t = _phases(xb, g1), y[lo + i:lo + i + len(xb)], tmp[:len(xb)]
            for k in range(KH * KW):
                src = _tap(planes, g1, k // KW, k % KW, OH, OW)
                xp.multiply(src, wt[k], out=t if k else yb)
                if k:
                    yb += t
            finish(yb, bt, clamp)

    parallel_for(run, N, _grain(OH * OW * OC))
    return y


def depthwise_grad_input(gy, w, g: Geometry, H: int, W: int):
    """gx: every kernel offset adds gy * w back onto the pixels its window read; NHWC."""
    N, OH, OW, OC = gy.shape
    _, _, KH, KW = w.shape
    C, M = g.groups, OC // g.groups
    PT, PB, PL, PR = g.pads
    (SH, SW) = g.stride
    Hp, Wp = H + PT + PB, W + PL + PR
    wt = _tiled(w, OW)
    gx = xp.empty((N, H, W, OC), gy.dtype)

    def run(lo, hi):
        nb = block_len(hi - lo, 4 * Hp * Wp * OC * gy.itemsize)
        gxpad = xp.empty((nb, Hp, Wp, OC), gy.dtype)
        t = xp.empty((nb, OH, OW, OC), gy.dtype)
        for i in range(lo, hi, nb):
            m = min(nb, hi - i)
            dst = gxpad[:m]
            if (SH, SW) == (1, 1):
                dst.fill(0)
                planes = {(0, 0): dst}
            else:  # accumulate into contiguous phase planes, then interleave them into dst
                planes = {(a, c): xp.zeros(dst[:, a::SH, c::SW].shape, gy.dtype)
                          for a in range(SH) for c in range(SW)}
            for k in range(KH * KW):
                xp.multiply(gy[i:i + m], wt[k], out=t[:m])
                _tap(planes, g, k // KW, k % KW, OH, OW)[...] += t[:m]
            if (SH, SW) != (1, 1):
                for (a, c), p in planes.items():
                    dst[:, a::SH, c::SW] = p
            gx[i:i + m] = dst[:, PT:PT + H, PL:PL + W]

    parallel_for(run, N, _grain(OH * OW * OC))
    return gx if M == 1 else gx.reshape(N, H, W, C, M).sum(axis=4)


def depthwise_grad_weight(x, gy, g: Geometry, KH: int, KW: int):
    """gw[o, 0, kh, kw] = sum over batch and pixels of window(kh, kw)[o // M] * gy[o]."""
    _, OH, OW, OC = gy.shape
    x = _repeat(x, OC // x.shape[3])
    g1 = g._replace(groups=1)

    def run(lo, hi):  # this range's sum, (KH*KW, OC)
        gw = xp.zeros((KH * KW, OC), x.dtype)
        nb = block_len(hi - lo, 4 * OH * OW * OC * x.itemsize)
        tmp = xp.empty((nb, OH, OW, OC), x.dtype)
        ones = xp.ones(nb * OH * OW, x.dtype)
        for i, xb in padded_blocks(x[lo:hi], g.pads, nb):
            m, planes = len(xb), _phases(xb, g1)
            t = tmp[:m]
            for k in range(KH * KW):
                xp.multiply(_tap(planes, g1, k // KW, k % KW, OH, OW), gy[lo + i:lo + i + m],
                            out=t)
                # the sum over pixels as a GEMV with ones: 10x faster than a strided reduction
                gw[k] += ones[:m * OH * OW] @ t.reshape(-1, OC)
        return gw

    gw = sum(parallel_for(run, x.shape[0], _grain(OH * OW * OC), blas=True))
    return gw.T.reshape(OC, 1, KH, KW)
