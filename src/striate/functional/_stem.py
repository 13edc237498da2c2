"""Convolution kernels for image stems (1-4 input channels): im2col in NCHW order, one GEMM
per sample, NHWC-shaped in and out like the other kernels (moved here from ``_im2col.py``).

With C*KW small, an NHWC patch row is only a few floats long and the copy crawls; NCHW patch
rows are OW long, and (OC, K) @ (K, OH*OW) suits BLAS better than a GEMM with 6-16 columns.
"""
from __future__ import annotations

from ..backend import xp
from ..threads import macs_grain as grain, parallel_for
from ._im2col import (Geometry, _check_fit, _flat, _full_pads, _rotated, block_len,
                      conv_grad_input, finish, padded_blocks)


def _nchw_windows(xpad, OH, OW, KH, KW, g: Geometry):
    """Read-only view (N, C, KH, KW, OH, OW) of every patch of a padded NCHW array."""
    N, C, Hp, Wp = xpad.shape
    _check_fit(Hp, Wp, OH, OW, KH, KW, g)
    sN, sC, sH, sW = xpad.strides
    (SH, SW), (DH, DW) = g.stride, g.dilation
    return xp.lib.stride_tricks.as_strided(
        xpad, (N, C, KH, KW, OH, OW), (sN, sC, DH * sH, DW * sW, SH * sH, SW * sW),
        writeable=False)


def _nchw_cols(x, g: Geometry, OH, OW, KH, KW):
    """Yield ``(i, col)`` with col (m, C*KH*KW, OH*OW) for each block of NHWC-shaped ``x``."""
    xc = x.transpose(0, 3, 1, 2)
    N, C = xc.shape[:2]
    K = C * KH * KW
    nb = block_len(N, K * OH * OW * x.itemsize)
    col = xp.empty(nb * K * OH * OW, x.dtype)
    for i, xb in padded_blocks(xc, g.pads, nb, nchw=True):
        c = _flat(col, len(xb), K, OH * OW)
        xp.copyto(c.reshape(len(xb), C, KH, KW, OH, OW), _nchw_windows(xb, OH, OW, KH, KW, g))
        yield i, c


def nchw_forward(x, w, b, g: Geometry, OH: int, OW: int, clamp=None):
    """y[n] = w (OC, K) @ col[n] (K, OH*OW) for every sample; returns an NHWC view."""
    OC, _, KH, KW = w.shape
    y = xp.empty((x.shape[0], OC, OH * OW), x.dtype)
    w2 = w.reshape(OC, -1)

    def run(lo, hi):
        for i, c in _nchw_cols(x[lo:hi], g, OH, OW, KH, KW):
            yb = y[lo + i:lo + i + len(c)]
            xp.matmul(w2, c, out=yb)
            finish(yb, None if b is None else b[:, None], clamp)

    parallel_for(run, x.shape[0], grain(OH * OW * w2.size), blas=True)
    return y.reshape(-1, OC, OH, OW).transpose(0, 2, 3, 1)


def nchw_grad_input(gy, w, g: Geometry, H: int, W: int):
    """Stride 1: the full convolution of gy with the rotated kernel, in NCHW order; else col2im."""
    full = _full_pads(gy, w, g, H, W)
    if full is None:
        return conv_grad_input(gy, w, g, H, W)
    return nchw_forward(gy, _rotated(w, g.groups), None, g._replace(pads=full), H, W)


def nchw_grad_weight(x, gy, g: Geometry, KH: int, KW: int):
    """gw = sum over samples of gy[n] (OC, OH*OW) @ col[n]^T."""
    N, OH, OW, OC = gy.shape
    gyc = gy.transpose(0, 3, 1, 2).reshape(N, OC, OH * OW)

    def run(lo, hi):  # this range's sum
        gw = xp.zeros((OC, x.shape[3] * KH * KW), x.dtype)
        for i, c in _nchw_cols(x[lo:hi], g, OH, OW, KH, KW):
            gw += xp.matmul(gyc[lo + i:lo + i + len(c)], c.transpose(0, 2, 1)).sum(axis=0)
        return gw

    parts = parallel_for(run, N, grain(OH * OW * OC * x.shape[3] * KH * KW), blas=True)
    return sum(parts).reshape(OC, -1, KH, KW)
