"""Banded convolution for layers with few output channels (LeNet-5's 1->6 5x5 layer).

im2col gives such a layer a GEMM with only OC columns and K = KH*KW*C rows, a shape BLAS runs
slowly: (100352, 25) @ (25, 6) reached 22 GFLOP/s on one core of the project's EPYC. Here one
GEMM row computes B neighbouring output pixels of an image row instead of one. The weight
becomes a banded matrix of B copies of the kernel, each shifted by the stride, over
``Bi = (B-1)*SW + (KW-1)*DW + 1`` input columns. That is itself a convolution, with weight
(B*OC, C, KH, Bi), stride (SH, B*SW) and dilation (DH, 1), whose NHWC output (N, OH, OW/B, B*OC)
is the wanted (N, OH, OW, OC) in memory; the MEC (or im2col) kernels run it unchanged.

It does Bi/KW times the multiply-adds, but its GEMM has B*OC columns, and its im2col matrix is
B*KW/Bi times smaller. For LeNet-5's first layer (B=7, 2.2x the multiply-adds, batch 128,
float32, A/B in one process, against the NCHW stem kernel it replaces): forward 1.84-1.87 ->
1.56-1.65 ms and weight gradient 2.05-2.11 -> 1.57-1.64 ms on 2 threads; on one thread 2.17 ->
2.08 and 2.81 -> 2.71 ms. B=4 measured 1.82 ms forward. For 16 or more output channels it
measured no faster (ResNet-20's 3->16 stem, LeNet-5's 6->16 layer) or slower (MobileNetV2's
3->32 stem), so ``band_width`` offers it below 16 only. Run by MEC instead of im2col (as it is
when ``_mec.fits``), the banded first layer of LeNet-5 took 1.53 -> 1.32 ms forward and 1.42 ->
1.27 ms weight gradient.
"""
from __future__ import annotations

from ..backend import xp
from . import _im2col as K
from . import _mec as M
from . import _stem as ST
from ._im2col import Geometry

#: The banded GEMM should have at least this many columns (B * OC).
MIN_COLUMNS = 32


def band_width(out_channels: int, kw: int, ow: int, g: Geometry) -> int | None:
    """Output pixels per GEMM row (B): the smallest divisor of OW giving at least MIN_COLUMNS
    columns, or None when banding does not pay (16+ output channels, 1-wide kernels, groups,
    or no divisor of OW within ``_im2col.MAX_BAND_WORK``)."""
    if out_channels >= 16 or g.groups != 1:
        return None
    return K.band_width(out_channels, kw, ow, g.stride[1], g.dilation[1], MIN_COLUMNS)


def _band_geometry(g: Geometry, B: int) -> Geometry:
    return g._replace(stride=(g.stride[0], B * g.stride[1]), dilation=(g.dilation[0], 1))


def _kernels(x, bi: int, g: Geometry, ow: int):
    """(forward, grad_weight) that run the banded convolution (``bi`` columns wide, geometry
    ``g``, output width ``ow``) of NHWC x."""
    hp = x.shape[1] + g.pads[0] + g.pads[1]
    if M.fits(x.shape[3], bi, hp, ow, g, x.itemsize):
        return M.mec_forward, M.mec_grad_weight
    return K.conv_forward, K.conv_grad_weight


def banded_forward(x, w, b, g: Geometry, OH: int, OW: int, clamp=None):
    """y = x * w as the banded convolution; NHWC in and out."""
    OC = w.shape[0]
    B = band_width(OC, w.shape[3], OW, g)
    bt = None if b is None else xp.tile(b, B)  # output channel b*OC + oc is pixel b's oc
    t, gb = K.band_weight(w, B, g.stride[1], g.dilation[1]), _band_geometry(g, B)
    y = _kernels(x, t.shape[3], gb, OW // B)[0](x, t, bt, gb, OH, OW // B, clamp)
    return y.reshape(x.shape[0], OH, OW, OC)


def banded_grad_weight(x, gy, g: Geometry, KH: int, KW: int):
    """gw: the banded weight's gradient, each block's kernel-shaped slice summed back."""
    N, OH, OW, OC = gy.shape
    B = band_width(OC, KW, OW, g)
    s, d = g.stride[1], g.dilation[1]
    span = (KW - 1) * d + 1
    gb, Bi = _band_geometry(g, B), (B - 1) * s + span
    grad_weight = _kernels(x, Bi, gb, OW // B)[1]
    gt = grad_weight(x, gy.reshape(N, OH, OW // B, B * OC), gb, KH, Bi)
    gt = gt.reshape(B, OC, *gt.shape[1:])
    gw = gt[0, ..., 0:span:d].copy()
    for b in range(1, B):
        gw += gt[b, ..., b * s:b * s + span:d]
    return gw


def banded_grad_input(gy, w, g: Geometry, H: int, W: int):
    """gx by the plain kernels, which band it their own way when x has few channels
    (``_im2col.banded_grad_input``: B chosen for OC, the gradient GEMM's inner size)."""
    if w.shape[1] <= 4:
        return ST.nchw_grad_input(gy, w, g, H, W)
    return K.conv_grad_input(gy, w, g, H, W)
