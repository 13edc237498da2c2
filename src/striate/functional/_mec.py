"""Convolution lowered along the image width only (MEC), for small images with 5-64 channels.

im2col copies every input pixel KH*KW times. MEC (Cho & Brand, 2017,
https://arxiv.org/abs/1706.06873) copies it KW times: ``L[n, ow, h] = x[n, h, ow*SW + kw*DW, c]``
over (kw, c) for every padded input row h. With L laid out (N, OW, Hp, KW*C), the KH rows that
output row ``oh`` needs, ``L[n, ow, oh*SH : oh*SH + KH]``, are KH*KW*C contiguous floats, and
stepping from one (n, ow) to the next is a fixed stride. So for each output row the patches are
a plain strided matrix that BLAS reads in place, and one batched ``matmul`` over the OH output
rows does the work of the whole im2col GEMM. Its output comes out row-major in (oh, n, ow) and is
copied to NHWC (OC values per pixel, against KH*KW*C copied per pixel by im2col).

Measured on the project's EPYC (batch 128, 2 threads, A/B in one process, against im2col, 1 MB
blocks):
forward ResNet-20 16->16 @32x32 11.17 -> 9.84 ms, its strided 16->32 5.15 -> 4.76 ms, 32->32
@16x16 7.49 -> 7.02 ms, LeNet-5's 6->16 layer 1.46 -> 1.21 ms and its banded first layer 1.46
-> 1.28 ms; weight gradient 10.67 -> 10.17, 8.37 -> 7.50 and 1.51 -> 1.17 ms; with 2 MB blocks
ResNet-20's 64->64 @8x8 6.96 -> 6.34 ms forward and 8.09 -> 7.19 ms weight gradient. ``fits``
says which layers take it.
"""
from __future__ import annotations

from ..backend import xp
from ..threads import macs_grain as grain, parallel_for
from . import _im2col as K
from ._im2col import Geometry

#: Inputs with more channels than this use the plain im2col kernels (measured no further).
MAX_CHANNELS = 64
#: Bytes of L per block. Swept at ResNet-20's 16- and 32-channel layers (2 threads, A/B, two
#: runs): 2 MB was fastest for forward and weight gradient, 1 MB 4-30% and 4 MB 3-20% slower.
BLOCK_BYTES = K.BLOCK_BYTES // 2


def fits(c: int, kw: int, hp: int, ow: int, g: Geometry, itemsize: int = 4) -> bool:
    """Whether MEC runs a convolution over ``c`` input channels (padded height ``hp``): groups 1,
    no dilation along the height, and 8 samples' L in a block, since each GEMM has only
    (samples in the block) * OW rows. At ResNet-18's 64 channels @56x56 (one sample per block,
    56-row GEMMs) MEC measured 7% slower forward and 27% slower weight gradient than im2col;
    at ResNet-20's 64 channels @8x8 (34 samples) 9-11% faster."""
    return (g.groups == 1 and g.dilation[0] == 1 and c <= MAX_CHANNELS
            and ow * hp * kw * c * itemsize <= BLOCK_BYTES // 8)


def _lowered(x, g: Geometry, OH: int, OW: int, KH: int, KW: int, at: int = 0):
    """Yield ``(i, A)`` per block of NHWC ``x``: A (OH, m*OW, KH*KW*C) is a strided view of L
    holding the patches of output row oh of samples ``at+i : at+i+m``."""
    N, H, _, C = x.shape
    (SH, SW), DW = g.stride, g.dilation[1]
    Hp = H + g.pads[0] + g.pads[1]
    nb = max(1, min(N, BLOCK_BYTES // max(OW * Hp * KW * C * x.itemsize, 1)))
    L = xp.empty((nb, OW, Hp, KW * C), x.dtype)
    for i, xb in K.padded_blocks(x, g.pads, nb):
        m, (sN, sH, sW, sC) = len(xb), xb.strides
        Lm = L[:m]
        xp.copyto(Lm.reshape(m, OW, Hp, KW, C), xp.lib.stride_tricks.as_strided(
            xb, (m, OW, Hp, KW, C), (sN, SW * sW, sH, DW * sW, sC), writeable=False))
        yield at + i, xp.lib.stride_tricks.as_strided(
            Lm, (OH, m * OW, KH * KW * C), (SH * KW * C * x.itemsize, Lm.strides[1], x.itemsize),
            writeable=False)


def _w_matrix(w):
    """(KH*KW*C, OC): the weight in L's patch order (kh, kw, c)."""
    OC, C, KH, KW = w.shape
    return xp.ascontiguousarray(w.transpose(2, 3, 1, 0).reshape(KH * KW * C, OC))


def mec_forward(x, w, b, g: Geometry, OH: int, OW: int, clamp=None, res=None):
    """y[:, oh] = L[:, :, oh*SH : oh*SH+KH] @ w for every output row; NHWC in and out (``b``,
    ``res`` and ``clamp`` as in ``_im2col.finish``)."""
    OC, C, KH, KW = w.shape
    w2 = _w_matrix(w)
    y = xp.empty((x.shape[0], OH, OW, OC), x.dtype)
    bt = None if b is None else xp.tile(b, (OW, 1))  # (OW, OC): OW*OC-long inner loops

    def run(lo, hi):
        out = None
        for i, A in _lowered(x[lo:hi], g, OH, OW, KH, KW, lo):
            if out is None:
                out = xp.empty(A.shape[:2] + (OC,), x.dtype)
            o = out[:, :A.shape[1]]
            xp.matmul(A, w2, out=o)
            s = slice(i, i + A.shape[1] // OW)
            y[s] = o.reshape(OH, -1, OW, OC).transpose(1, 0, 2, 3)
            K.finish(y[s], bt, clamp, None if res is None else res[s])

    parallel_for(run, x.shape[0], grain(OH * OW * KH * KW * C * OC), blas=True)
    return y


def mec_grad_weight(x, gy, g: Geometry, KH: int, KW: int):
    """gw = sum over output rows of L_oh^T @ gy[:, oh]; returns (OC, C, KH, KW)."""
    _, OH, OW, OC = gy.shape
    C = x.shape[3]

    def run(lo, hi):  # this range's sum
        gw = xp.zeros((KH * KW * C, OC), x.dtype)
        part = g3 = None
        for i, A in _lowered(x[lo:hi], g, OH, OW, KH, KW, lo):
            if part is None:
                part = xp.empty((OH, KH * KW * C, OC), x.dtype)
                g3 = xp.empty(A.shape[:2] + (OC,), x.dtype)
            m = A.shape[1] // OW
            gb = g3[:, :A.shape[1]]
            gb.reshape(OH, m, OW, OC)[...] = gy[i:i + m].transpose(1, 0, 2, 3)  # rows as in A
            xp.matmul(A.transpose(0, 2, 1), gb, out=part)
            gw += part.sum(axis=0)
        return gw

    gw = sum(parallel_for(run, x.shape[0], grain(OH * OW * KH * KW * C * OC), blas=True))
    return gw.reshape(KH, KW, C, OC).transpose(3, 2, 0, 1)


def mec_grad_input(gy, w, g: Geometry, H: int, W: int):
    """gx: where the im2col kernels would gather (stride 1, 16+ channels), the full convolution
    of gy with the rotated kernel run by MEC when it fits; otherwise as they do it."""
    OC, C, _, KW = w.shape
    full = K._full_pads(gy, w, g, H, W)
    if full is not None and C >= K.GATHER_MIN_CHANNELS:
        gf = g._replace(pads=full)
        if fits(OC, KW, gy.shape[1] + full[0] + full[1], W, gf, gy.itemsize):
            return mec_forward(gy, K._rotated(w, 1), None, gf, H, W)
    return K.conv_grad_input(gy, w, g, H, W)
