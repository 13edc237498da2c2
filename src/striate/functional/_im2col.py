"""Array kernels behind the convolutions: im2col + GEMM, col2im and the banded input gradient,
with the helpers the other kernels share; the image-stem, 1x1 and depthwise kernels are in
``_stem.py``, ``_pointwise.py`` and ``_depthwise.py``.

Everything here works on NHWC arrays (the callers pass ``x.transpose(0, 2, 3, 1)`` views of
their NCHW arrays and transpose the results back). With the channel axis last, one patch
``(KH, KW, C)`` is KH runs of KW*C contiguous floats, so building the im2col matrix
``(rows, KH*KW*C)`` is a fast copy: measured on the 2-core EPYC this project runs on, 1.6-3.5x
faster than the same matrix gathered from NCHW for 32-256 channels, at the same GEMM speed.
Image stems with 1-4 input channels are the exception (``_stem.py``).

The batch is cut into blocks whose im2col matrix is about ``BLOCK_BYTES``: the copy that builds a
block's patches and the GEMM that consumes it then meet in cache rather than in RAM, and the
scratch memory of a layer stays small. Each block is still one large GEMM (thousands of rows);
against a single whole-batch GEMM this measured 1.3-1.9x faster forward+backward for 16-64
channels (single thread). ``BLOCK_BYTES = float('inf')`` gives one GEMM per layer. (Blocks 4x
larger under a multi-threaded BLAS, once used against its thread synchronisations, measured no
faster for LeNet-5 and raised its training step's peak memory from 22.8 to 32.8 MiB; they went.)
"""
from __future__ import annotations

import math
from typing import NamedTuple

from ..backend import xp
from ..threads import macs_grain as grain, parallel_for

#: Target size in bytes of one block's im2col matrix (see the module docstring).
BLOCK_BYTES = 4 << 20
#: A block's scratch matrix is at least this many times the GEMM's weight matrix: each block's
#: GEMM streams the whole weight, which for deep layers outgrows the block (ResNet-18's 512->512
#: 3x3: 9 MB). There, batch 32, 2 threads, against plain 4 MB blocks: forward 54 -> 49 and 42 ->
#: 37 ms, weight gradient 40 -> 35 ms, input gradient 37 -> 34 ms; 64-256 channels unchanged
#: within noise at 2x, while 8x slowed the 128-channel weight gradient by 12%.
WEIGHT_BLOCKS = 2
#: From this many input channels, a stride-1 input gradient is gathered (a convolution of gy)
#: rather than scattered: measured faster.
GATHER_MIN_CHANNELS = 16


def finish(y, b, clamp=None, r=None) -> None:
    """The end of a forward kernel on a block of ``y`` while it is in cache: ``y += b``, then
    ``y += r`` (a residual block's shortcut, the same block of it), then ``clip(y, *clamp)`` (a
    folded ReLU or ReLU6, ``functional.fused``); any may be None."""
    if b is not None:
        y += b
    if r is not None:
        y += r
    if clamp is not None:
        xp.clip(y, clamp[0], clamp[1], out=y)


class Geometry(NamedTuple):
    """Stride, padding (top, bottom, left, right), dilation and groups of a 2-D convolution."""

    stride: tuple[int, int]
    pads: tuple[int, int, int, int]
    dilation: tuple[int, int]
    groups: int

    def out_hw(self, hw, k_hw) -> tuple[int, int]:
        """(OH, OW) of this convolution over an H x W input with a KH x KW kernel."""
        (H, W), (KH, KW), (PT, PB, PL, PR) = hw, k_hw, self.pads
        return (out_size(H, KH, self.stride[0], PT + PB, self.dilation[0]),
                out_size(W, KW, self.stride[1], PL + PR, self.dilation[1]))


def out_size(size: int, k: int, s: int, pad_total: int, d: int) -> int:
    """Output length of a convolution: floor((size + pad_total - d*(k-1) - 1) / s) + 1."""
    return (size + pad_total - d * (k - 1) - 1) // s + 1


def block_len(n: int, bytes_per_sample: int, weight_bytes: int = 0) -> int:
    """How many samples go into one block so that its scratch matrix is about BLOCK_BYTES, or
    WEIGHT_BLOCKS times the GEMM's weight matrix where that is larger (see ``_cols``)."""
    target = max(BLOCK_BYTES, WEIGHT_BLOCKS * weight_bytes)
    return int(max(1, min(n, target // max(bytes_per_sample, 1))))


def padded_blocks(x, pads, nb, nchw: bool = False):
    """Yield ``(i, block)``: samples ``i:i+nb`` of NHWC (or NCHW) ``x``, zero-padded, C-contiguous.

    Padding and any change of memory order (e.g. NCHW memory read as NHWC) happen in one copy
    into a block buffer whose border is zeroed once and never written.
    """
    PT, PB, PL, PR = pads
    hw = (2, 3) if nchw else (1, 2)
    shape = list(x.shape)
    H, W = shape[hw[0]], shape[hw[1]]
    shape[0], shape[hw[0]], shape[hw[1]] = nb, H + PT + PB, W + PL + PR
    inner = (slice(None),) * hw[0] + (slice(PT, PT + H), slice(PL, PL + W))
    buf = None
    for i in range(0, x.shape[0], nb):
        xb = x[i:i + nb]
        if not any(pads) and xb.flags.c_contiguous:
            yield i, xb
            continue
        if buf is None:
            buf = xp.zeros(shape, x.dtype)
        bb = buf[:len(xb)]
        bb[inner] = xb
        yield i, bb


def _check_fit(Hp, Wp, OH, OW, KH, KW, g: Geometry):
    """as_strided does no bounds check: refuse windows that would read past the array."""
    if (OH - 1) * g.stride[0] + g.dilation[0] * (KH - 1) >= Hp or \
            (OW - 1) * g.stride[1] + g.dilation[1] * (KW - 1) >= Wp:
        raise ValueError(f"windows: {OH}x{OW} windows of {KH}x{KW} do not fit in {Hp}x{Wp}")


def windows(xpad, OH, OW, KH, KW, g: Geometry):
    """Read-only view (G, N, OH, OW, KH, KW, C/G) of every patch of a padded NHWC array."""
    N, Hp, Wp, C = xpad.shape
    G = g.groups
    _check_fit(Hp, Wp, OH, OW, KH, KW, g)
    sN, sH, sW, sC = xpad.strides
    (SH, SW), (DH, DW) = g.stride, g.dilation
    return xp.lib.stride_tricks.as_strided(
        xpad, (G, N, OH, OW, KH, KW, C // G),
        (C // G * sC, sN, SH * sH, SW * sW, DH * sH, DW * sW, sC), writeable=False)


def _flat(buf, *shape):
    """A C-contiguous array of ``shape`` at the start of the flat scratch ``buf``."""
    return buf[:math.prod(shape)].reshape(shape)


def _pixels(blk, G):
    """The pixels of an NHWC block (any leading axes) as (G, rows, channels/G)."""
    return blk.reshape(-1, G, blk.shape[-1] // G).transpose(1, 0, 2)


# ---- im2col + GEMM ----
def _cols(x, g: Geometry, OH, OW, KH, KW, at: int = 0, weight_bytes: int = 0):
    """Yield ``(index, col)``: col (G, rows, KH*KW*C/G) holds the patches of the output pixels
    ``y[index]`` of NHWC ``x`` (whose sample 0 is sample ``at`` of y).

    Blocks are several whole samples, or, when one sample's matrix alone exceeds the block
    size, a run of its output rows, so the scratch stays near BLOCK_BYTES however large the
    image (VGG16's first layers at 224x224: 115 MB per sample otherwise). At ResNet-18's 64
    channels @56x56 (7 MB per sample) the speed was unchanged within the machine's noise.
    """
    N, _, _, C = x.shape
    G = g.groups
    K = KH * KW * (C // G)
    row_bytes = G * OW * K * x.itemsize
    nb = block_len(N, OH * row_bytes, weight_bytes)
    R = OH if nb > 1 else block_len(OH, row_bytes, weight_bytes)  # output rows per block
    col = xp.empty(G * nb * R * OW * K, x.dtype)  # one scratch buffer for every block
    for i, xb in padded_blocks(x, g.pads, nb):
        win = windows(xb, OH, OW, KH, KW, g)
        for r in range(0, OH, R):
            rows = slice(r, min(OH, r + R))
            c = _flat(col, G, len(xb) * (rows.stop - r) * OW, K)
            xp.copyto(c.reshape(G, len(xb), rows.stop - r, OW, KH, KW, C // G), win[:, :, rows])
            yield ((slice(at + i, at + i + len(xb)),) if R == OH else (at + i, rows)), c


def conv_forward(x, w, b, g: Geometry, OH: int, OW: int, clamp=None, res=None):
    """y = im2col(x) @ w for NHWC ``x`` and weight (OC, C/G, KH, KW); returns NHWC y.
    ``b``, ``res`` (NHWC, y's shape) and ``clamp`` are applied by :func:`finish`."""
    OC, Cg, KH, KW = w.shape
    G = g.groups
    # (G, K, OC/G) as a transposed view of (G, OC/G, K): BLAS reads it in place, and making
    # (G, OC/G, K) moves each output channel's KH*KW*C block within itself (4x faster than
    # the whole transposed copy for 512x512x3x3 weights)
    w3 = xp.ascontiguousarray(w.reshape(G, OC // G, Cg, KH, KW).transpose(0, 1, 3, 4, 2)
                              ).reshape(G, OC // G, -1).transpose(0, 2, 1)
    y = xp.empty((x.shape[0], OH, OW, OC), x.dtype)
    bt = None if b is None else xp.tile(b, (OW, 1))  # (OW, OC): long inner loops, not OC-long

    def run(lo, hi):
        for at, c in _cols(x[lo:hi], g, OH, OW, KH, KW, lo, w.nbytes):
            xp.matmul(c, w3, out=_pixels(y[at], G))
            finish(y[at], bt, clamp, None if res is None else res[at])

    parallel_for(run, x.shape[0], grain(OH * OW * KH * KW * Cg * OC), blas=True)
    return y


def conv_grad_weight(x, gy, g: Geometry, KH: int, KW: int):
    """gw = im2col(x)^T @ gy, summed over the batch; returns (OC, C/G, KH, KW)."""
    _, OH, OW, OC = gy.shape
    G = g.groups
    Cg = x.shape[3] // G

    def run(lo, hi):  # this range's sum, (G, OC/G, K): gy^T @ im2col(x)
        gw = xp.zeros((G, OC // G, KH * KW * Cg), x.dtype)
        part = xp.empty_like(gw)
        for at, c in _cols(x[lo:hi], g, OH, OW, KH, KW, lo, gw.nbytes):
            xp.matmul(_pixels(gy[at], G).transpose(0, 2, 1), c, out=part)
            gw += part
        return gw

    gw = sum(parallel_for(run, x.shape[0], grain(OH * OW * KH * KW * Cg * OC), blas=True))
    # each output channel's (KH, KW, C) block reordered within itself: for 512x512x3x3, 2.1 ms
    # against 11.6 ms to transpose the whole (K, OC) product (the GEMMs take the same time)
    return gw.reshape(G, OC // G, KH, KW, Cg).transpose(0, 1, 4, 2, 3).reshape(OC, Cg, KH, KW)


def col2im(gcol, gxpad, g: Geometry):
    """Scatter-add patch gradients (KH, KW, G, N, OH, OW, C/G) into padded NHWC ``gxpad``.

    One strided add per kernel offset: the transpose of the ``windows`` gather. Offsets lead the
    layout so that each add reads whole (OW, C) rows instead of C-float pieces.
    """
    KH, KW, G, N, OH, OW, Cg = gcol.shape
    (SH, SW), (DH, DW) = g.stride, g.dilation
    gx5 = gxpad.reshape(N, gxpad.shape[1], gxpad.shape[2], G, Cg)
    for kh in range(KH):
        for kw in range(KW):
            h0, w0 = kh * DH, kw * DW
            dst = gx5[:, h0:h0 + SH * (OH - 1) + 1:SH, w0:w0 + SW * (OW - 1) + 1:SW]
            dst += gcol[kh, kw].transpose(1, 2, 3, 0, 4)


def _gather_pads(gy, w, g: Geometry, H, W):
    """Padding of gy (negative where a pad is wider than the kernel reaches) for which a stride-1
    convolution of gy gives the H x W input gradient: (k-1)*d - pad on each side, the seeds'
    full convolution when pad is 0."""
    (KH, KW), (DH, DW), (PT, _, PL, _) = w.shape[2:], g.dilation, g.pads
    # the far side is DH*(KH-1) - PB for a conv2d; a transposed conv's output_padding adds to it
    return (DH * (KH - 1) - PT, H - gy.shape[1] + PT, DW * (KW - 1) - PL, W - gy.shape[2] + PL)


def _full_pads(gy, w, g: Geometry, H, W):
    """:func:`_gather_pads` for the kernels that pad with copies: None when the stride is not 1
    or a side would need negative padding."""
    full = _gather_pads(gy, w, g, H, W)
    return full if g.stride == (1, 1) and min(full) >= 0 else None


def _rotated(w, G):
    """The kernel rotated by 180 degrees with in/out channels swapped within each group."""
    OC, Cg, KH, KW = w.shape
    wr = w.reshape(G, OC // G, Cg, KH, KW).transpose(0, 2, 1, 3, 4)[..., ::-1, ::-1]
    return wr.reshape(G * Cg, OC // G, KH, KW)


def conv_grad_input(gy, w, g: Geometry, H: int, W: int):
    """gx = col2im(gy @ w^T): the full convolution of gy with the 180-degree-rotated kernel.

    ``H, W`` is the unpadded input size; returns NHWC gx (N, H, W, C).
    """
    N, OH, OW, OC = gy.shape
    _, Cg, KH, KW = w.shape
    G = g.groups
    PT, PB, PL, PR = g.pads
    full = _full_pads(gy, w, g, H, W)
    if full is not None and G * Cg >= GATHER_MIN_CHANNELS:
        # stride 1: gather (a convolution) rather than scatter
        return conv_forward(gy, _rotated(w, G), None, g._replace(pads=full), H, W)
    B = None
    if G == 1 and Cg < 16:  # few channels: col2im's adds would move C-float pieces
        B = band_width(OC, KW, OW, g.stride[1], g.dilation[1], GX_BAND_ROWS)
    if G == 1 and Cg < 64 and B is None and g.stride[1] > 1:
        # strided, 16-63 channels: one GEMM and adds of SW*C-float runs beat col2im's KH*KW
        # GEMMs; ResNet-20's 16->32 and 32->64 layers 8.49 -> 7.59 and 4.61 -> 4.13 ms (2
        # threads), while ResNet-18's 64->128 @56x56 measured 31.9 -> 34.8 ms
        B = 1
    if B is not None:
        return banded_grad_input(gy, w, g, H, W, B)
    wk = xp.ascontiguousarray(w.reshape(G, OC // G, Cg, KH, KW).transpose(3, 4, 0, 1, 2))
    gx = xp.empty((N, H, W, G * Cg), gy.dtype)

    def run(lo, hi):
        nb = block_len(hi - lo, G * OH * OW * KH * KW * Cg * gy.itemsize, wk.nbytes)
        gcol = xp.empty(KH * KW * G * nb * OH * OW * Cg, gy.dtype)
        gxpad = xp.empty((nb, H + PT + PB, W + PL + PR, G * Cg), gy.dtype)
        for i in range(lo, hi, nb):
            m = min(nb, hi - i)
            c = _flat(gcol, KH, KW, G, m * OH * OW, Cg)
            xp.matmul(_pixels(gy[i:i + m], G), wk, out=c)  # (G, rows, OC/G) @ (KH, KW, G, ...)
            dst = gxpad[:m]
            dst.fill(0)
            col2im(c.reshape(KH, KW, G, m, OH, OW, Cg), dst, g)
            gx[i:i + m] = dst[:, PT:PT + H, PL:PL + W]

    parallel_for(run, N, grain(OH * OW * KH * KW * Cg * OC), blas=True)
    return gx


# ---- the input gradient through a banded weight: few input channels, or strided ones ----
#: Most multiply-adds a banded weight may cost, as a multiple of the plain kernel's (Bi / KW).
MAX_BAND_WORK = 2.5
#: Least values per GEMM row (B*OC) the banded input gradient aims for.
GX_BAND_ROWS = 64


def band_width(oc: int, kw: int, ow: int, s: int, d: int, columns: int) -> int | None:
    """The smallest B >= 2 dividing OW with B*oc >= ``columns`` and Bi/KW <= MAX_BAND_WORK, or
    None (then no banding pays)."""
    if kw == 1:
        return None
    for B in range(max(2, -(-columns // oc)), ow + 1):
        if ((B - 1) * s + (kw - 1) * d + 1) / kw > MAX_BAND_WORK:
            return None
        if ow % B == 0:
            return B
    return None


def band_weight(w, B: int, s: int, d: int):
    """(B*OC, C, KH, Bi): B copies of the kernel w, block b at input columns b*s + kw*d, over
    Bi = (B-1)*s + (KW-1)*d + 1 columns. A convolution with it and column stride B*s computes B
    neighbouring output pixels per GEMM row (see ``_banded.py``)."""
    OC, C, KH, KW = w.shape
    span = (KW - 1) * d + 1
    t = xp.zeros((B, OC, C, KH, (B - 1) * s + span), w.dtype)
    for b in range(B):
        t[b, ..., b * s:b * s + span:d] = w
    return t.reshape(B * OC, C, KH, -1)


def banded_grad_input(gy, w, g: Geometry, H: int, W: int, B: int):
    """gx = col2im(gy @ band^T) for groups=1, with B | OW output pixels per GEMM row.

    A GEMM row takes B output pixels' gradients (B*OC values) to the gradient of their
    (KH, Bi, C) input patch; the patches of one image row step by B*SW columns, so they are
    scattered with KH * ceil(Bi / (B*SW)) adds of B*SW*C-float runs instead of KH*KW adds of
    C-float pieces, after one GEMM instead of KH*KW GEMMs with C columns. For LeNet-5's 6->16
    5x5 layer (B=5, 2 threads): 1.47 ms against 2.45 ms by ``col2im``. Where there are no more
    bands per image row (OW/B) than that, each band is added whole (Bi*C-float runs): the same
    layer's adds 1.37 -> 1.05 ms on one thread.
    """
    N, OH, OW, OC = gy.shape
    _, C, KH, _ = w.shape
    (SH, SW), (DH, DW), (PT, PB, PL, PR) = g.stride, g.dilation, g.pads
    NB, step = OW // B, B * SW
    t = band_weight(w, B, SW, DW)
    Bi = t.shape[3]
    wk = xp.ascontiguousarray(t.transpose(0, 2, 3, 1).reshape(B * OC, KH * Bi * C))
    chunks = -(-Bi // step)  # adds per kernel row when chunk j0 of every band is added at once
    Wb = max(W + PL + PR, (chunks - 1 + NB) * step)  # room for the last chunk's view
    gx = xp.empty((N, H, W, C), gy.dtype)

    def run(lo, hi):
        nb = block_len(hi - lo, OH * NB * wk.shape[1] * gy.itemsize)
        gcol = xp.empty(nb * OH * NB * wk.shape[1], gy.dtype)
        gxpad = xp.empty((nb, H + PT + PB, Wb, C), gy.dtype)
        for i in range(lo, hi, nb):
            m = min(nb, hi - i)
            c = _flat(gcol, m * OH * NB, wk.shape[1])
            xp.matmul(gy[i:i + m].reshape(-1, B * OC), wk, out=c)
            c = c.reshape(m, OH, NB, KH, Bi, C)
            dst = gxpad[:m]
            dst.fill(0)
            for kh in range(KH):
                rows = slice(kh * DH, kh * DH + SH * (OH - 1) + 1, SH)
                if NB <= chunks:  # as few adds band by band, each over Bi*C-float runs
                    for j in range(NB):
                        dst[:, rows, j * step:j * step + Bi] += c[:, :, j, kh]
                    continue
                for j0 in range(0, Bi, step):
                    L = min(step, Bi - j0)
                    d = dst[:, rows, j0:j0 + NB * step].reshape(m, OH, NB, step, C)
                    d[:, :, :, :L] += c[:, :, :, kh, j0:j0 + L]
            gx[i:i + m] = dst[:, PT:PT + H, PL:PL + W]

    parallel_for(run, N, grain(OH * OW * t.size // B), blas=True)
    return gx


# ---- nothing to compute: an empty batch ----
def empty_forward(x, w, b, g, OH, OW, clamp=None):
    y = xp.zeros((x.shape[0], OH, OW, w.shape[0]), x.dtype)
    finish(y, b, clamp)
    return y


def empty_grad_input(gy, w, g, H, W):
    return xp.zeros((gy.shape[0], H, W, w.shape[1] * g.groups), gy.dtype)


def empty_grad_weight(x, gy, g, KH, KW):
    return xp.zeros((gy.shape[3], x.shape[3] // g.groups, KH, KW), x.dtype)
