"""Depthwise convolution kernels (one input channel per group): a multiply-accumulate over the
kernel offsets, no GEMM. NHWC arrays in and out, like ``_im2col.py``.

- **One einsum per band.** Each sample's output is built in bands of rows. A band is one
  ``einsum`` over a windowed view (``_windows``) of the zero-padded sample: the KH*KW taps are
  summed in one call, and nothing but the band is written. At stride 1 along the width a
  window row is a run of the padded row, so the einsum's inner loop spans a whole output row
  (OW*C values); a strided convolution's inner loop is one pixel's C channels, which pays from
  ``EINSUM_MIN_CHANNELS`` on. In cache, per 500 KB band, against a multiply and an add per tap:
  1.5-3.4x faster at stride 1 (16-192 channels); NumPy's einsum then runs at about 2.4 ns per
  output of 9 taps, bound by its loads and stores.
- **Per-tap bands** for strided layers with few channels: every tap's multiply and add meets
  the band in L2, reading x only where the tap's window is inside the image. The weights are
  tiled along the output width, (KH*KW, OW, C), so every ufunc inner loop spans a whole output
  row. The band plans (which slices each tap reads and writes) are made once per call: rebuilt
  per band, their Python work held the GIL long enough to stall the second thread (2 threads
  ran 1.1x faster than 1, against 1.7x with the plans made once).
- **Gathers, and phases.** At stride 1 the input gradient is the forward kernel run on gy with
  the kernel rotated by 180 degrees. A strided input gradient splits gx into its s*s phases
  ``gx[:, a::s, b::s]``: each gathers from the taps congruent to it, one ``einsum`` per phase
  and sample (from 64 channels; with fewer, and with dilation, every tap scatters into
  contiguous phase planes). The weight gradient is one ``einsum`` per band over the same
  windows as the forward pass.

A channel multiplier M > 1 (OC = C*M) repeats each input channel M times first, which turns it
into M == 1 over OC channels. Work is split over threads by (sample, band) (``striate.threads``).
MobileNetV2 (batch 32, 2 threads, against this file at the start of the session that wrote it,
alternating rounds): inference 755 -> 519 ms, a training step (batch 16) 1738 -> 1308 ms.
"""
from __future__ import annotations

from ..backend import xp
from ..threads import parallel_for
from ._im2col import Geometry, _gather_pads, block_len, finish

#: Least pixels*channels one thread's share must hold before the batch is split over threads.
PARALLEL_ELEMENTS = 1 << 20
#: Bytes of output in one band of the forward pass (``depthwise_forward``). MobileNetV2's ten
#: depthwise shapes, batch 32, 2 threads, A/B against whole-sample passes over a padded copy:
#: 1.21x in all with 512 KB bands (0.95-1.67x per layer), 1.15x with 1 MB and 384 KB.
BAND_BYTES = 512 << 10
#: From this many channels a strided forward pass runs one ``einsum`` per band instead of a
#: multiply and an add per tap: its inner loop runs over the channels. MobileNetV2's depthwise
#: layers, batch 32, 2 threads, against the per-tap bands: 1.1-1.8x faster from 64 channels up,
#: equal at 48, 1.5x slower at 32 and 16. (At stride 1 the inner loop is a whole output row and
#: the einsum is faster at any channel count.)
EINSUM_MIN_CHANNELS = 64
#: Bytes of output per ``einsum`` band: 1 MB, 4 MB and whole samples measured within noise of
#: each other, 256 KB 10% and 64 KB 20% slower (its per-call cost).
EINSUM_BAND_BYTES = 1 << 20


def _grain(per_sample: int) -> int:
    return -(-PARALLEL_ELEMENTS // max(per_sample, 1))


def _tiled(w, OW):
    """Weight (OC, 1, KH, KW) as C-contiguous (KH*KW, OW, OC): one output row per tap."""
    OC, _, KH, KW = w.shape
    taps = w.reshape(OC, KH * KW).T[:, None, :]
    return xp.ascontiguousarray(xp.broadcast_to(taps, (KH * KW, OW, OC)))


def _tap(planes, g: Geometry, kh, kw, OH, OW):
    """The (m, OH, OW, C) view of kernel offset (kh, kw) in the phase planes ``{(a, b): the
    pixels of rows a::SH and columns b::SW}``: a stride-1 window of one phase."""
    (SH, SW), (DH, DW) = g.stride, g.dilation
    r, c = kh * DH, kw * DW
    p = planes[r % SH, c % SW]
    return p[:, r // SH:r // SH + OH, c // SW:c // SW + OW]


def _repeat(x, M):
    """Input channel c repeated as channels c*M .. c*M + M-1 (a multiplier M > 1)."""
    return x if M == 1 else xp.repeat(x, M, axis=3)


def _span(o0: int, o1: int, k: int, s: int, pad: int, d: int, n: int) -> tuple[int, int]:
    """The outputs in [o0, o1) whose input index o*s - pad + k*d lies inside [0, n)."""
    lo = max(o0, -(-(pad - k * d) // s))
    return lo, max(lo, min(o1, (n - 1 + pad - k * d) // s + 1))


def _band_plan(r0: int, r1: int, hw, w_shape, g: Geometry, OW: int):
    """Slices for output rows [r0, r1) of a depthwise forward: ``((r0, r1), first, rest)`` with
    ``first = (x slice, tap)`` for a tap whose window lies inside the image for the whole band
    (written straight into it; None if there is none) and ``rest`` holding ``(x slice, (tap,
    weight columns), scratch slice, band slice)`` for every other tap that reads the image."""
    (H, W), (KH, KW) = hw, w_shape[2:]
    (SH, SW), (DH, DW), (PT, _, PL, _) = g.stride, g.dilation, g.pads
    first, rest = None, []
    for kh in range(KH):
        h0, h1 = _span(r0, r1, kh, SH, PT, DH, H)
        for kw in range(KW):
            w0, w1 = _span(0, OW, kw, SW, PL, DW, W)
            if h0 == h1 or w0 == w1:
                continue
            ih, iw = h0 * SH - PT + kh * DH, w0 * SW - PL + kw * DW
            src = (slice(ih, ih + (h1 - h0 - 1) * SH + 1, SH),
                   slice(iw, iw + (w1 - w0 - 1) * SW + 1, SW))
            k = kh * KW + kw
            if first is None and (h0, h1, w0, w1) == (r0, r1, 0, OW):
                first = (src, k)
            else:
                rest.append((src, (k, slice(w0, w1)), (slice(0, h1 - h0), slice(0, w1 - w0)),
                             (slice(h0 - r0, h1 - r0), slice(w0, w1))))
    return (r0, r1), first, rest


def _reader(a):
    """``n -> a[n]`` C-contiguous: a view, or for NCHW memory a copy into one reused buffer
    (make one reader per thread)."""
    return a.__getitem__ if a.flags.c_contiguous else _padded_reader(a, (0, 0, 0, 0))


def _bands(OH: int, row_bytes: int, hw, w_shape, g: Geometry, OW: int):
    """(rows per band, the band plans) for output rows of ``row_bytes`` each."""
    rows = max(1, min(OH, BAND_BYTES // max(row_bytes, 1)))
    return rows, [_band_plan(r0, min(OH, r0 + rows), hw, w_shape, g, OW)
                  for r0 in range(0, OH, rows)]


def _padded_reader(x, pads):
    """``n -> x[n]`` zero-padded by ``pads`` (top, bottom, left, right), in one reused buffer
    whose border stays zero (make one reader per thread)."""
    _, H, W, C = x.shape
    PT, PB, PL, PR = pads
    buf, at = xp.zeros((H + PT + PB, W + PL + PR, C), x.dtype), [None]

    def read(n):
        if at[0] != n:
            buf[PT:PT + H, PL:PL + W], at[0] = x[n], n
        return buf

    return read


def _einsum_bands_of(OH: int, row_bytes: int) -> tuple[int, int]:
    """(output rows per einsum band, the number of bands) for rows of ``row_bytes`` each."""
    rows = max(1, min(OH, EINSUM_BAND_BYTES // max(row_bytes, 1)))
    return rows, -(-OH // rows)


def _windows(xpad, r0: int, m: int, g: Geometry, k_hw, OW: int):
    """The windows of output rows r0 .. r0+m-1 in padded sample ``xpad``, a strided view: at
    stride 1 along the width (m, KH, KW, OW*C), a window row being a run of the padded row;
    else (m, OW, KH, KW, C)."""
    (SH, SW), (DH, DW), (KH, KW), C = g.stride, g.dilation, k_hw, xpad.shape[2]
    sh, sw, sc = xpad.strides
    if SW == 1:
        shape, strides = (m, KH, KW, OW * C), (sh * SH, sh * DH, sw * DW, sc)
    else:
        shape, strides = (m, OW, KH, KW, C), (sh * SH, sw * SW, sh * DH, sw * DW, sc)
    return xp.lib.stride_tricks.as_strided(xpad[r0 * SH:], shape, strides, writeable=False)


def depthwise_forward(x, w, b, g: Geometry, OH: int, OW: int, clamp=None):
    """y[..., o] = sum over kernel offsets of window[..., o // M] * w[o]; NHWC in and out.

    Each sample's output is built in bands of rows, one ``einsum`` per band over a windowed
    view of the zero-padded sample (``_einsum_bands``). A strided one with fewer than
    ``EINSUM_MIN_CHANNELS`` channels, whose einsum would loop over only the channels, does a
    multiply and an add per tap on the band in cache instead (``_tap_bands``)."""
    OC = w.shape[0]
    x = _repeat(x, OC // x.shape[3])
    y = xp.empty((x.shape[0], OH, OW, OC), x.dtype)
    bt = None if b is None else xp.tile(b, (OW, 1))  # (OW, OC): OW*OC-long inner loops
    if min(g.pads) >= 0 and (g.stride[1] == 1 or OC >= EINSUM_MIN_CHANNELS):
        _einsum_bands(x, w, g, y, bt, clamp)
    else:
        _tap_bands(x, w, g, y, bt, clamp)
    return y


def _einsum_bands(x, w, g: Geometry, y, bt, clamp) -> None:
    """The forward pass, a band of output rows per ``einsum`` over windows of the padded sample.

    At stride 1 along the width, a window row is a run of the padded row shifted by kw*DW
    pixels, so the einsum's inner loop spans a whole output row (OW*C values): 1.5-3.4x faster
    than a multiply and an add per tap for 16-192 channels, and 1.4x faster than an einsum
    whose inner loop is the C channels of one pixel, which strided convolutions use."""
    N, _, _, C = x.shape
    _, OH, OW, OC = y.shape
    KH, KW = w.shape[2:]
    k = w.reshape(OC, KH, KW).transpose(1, 2, 0)  # (KH, KW, C)
    if g.stride[1] == 1:  # (KH, KW, OW*C): the weights tiled along the output row
        k = xp.broadcast_to(k[:, :, None], (KH, KW, OW, C)).reshape(KH, KW, OW * C)
    k = xp.ascontiguousarray(k)
    rows, bands = _einsum_bands_of(OH, OW * OC * x.itemsize)

    def run(lo, hi):
        read = _padded_reader(x, g.pads)
        for item in range(lo, hi):
            n, r0 = item // bands, item % bands * rows
            yb = y[n, r0:r0 + rows]
            windows = _windows(read(n), r0, len(yb), g, (KH, KW), OW)
            if g.stride[1] == 1:
                xp.einsum("hijx,ijx->hx", windows, k, out=yb.reshape(len(yb), OW * C))
            else:
                xp.einsum("hwijc,ijc->hwc", windows, k, out=yb)
            finish(yb, bt, clamp)

    parallel_for(run, N * bands, _grain(rows * OW * OC))


def _tap_bands(x, w, g: Geometry, y, bt, clamp) -> None:
    """The forward pass, a multiply and an add per tap on each band of output rows."""
    N, H, W, _ = x.shape
    _, OH, OW, OC = y.shape
    wt = _tiled(w, OW)
    rows, plans = _bands(OH, OW * OC * x.itemsize, (H, W), w.shape, g, OW)
    bands = len(plans)

    def run(lo, hi):
        t, read = xp.empty((rows, OW, OC), x.dtype), _reader(x)
        for item in range(lo, hi):
            n, band = divmod(item, bands)
            (r0, r1), first, rest = plans[band]
            yb, xn = y[n, r0:r1], read(n)
            if first is None:
                yb.fill(0)
            else:
                xp.multiply(xn[first[0]], wt[first[1]], out=yb)
            for src, k, out, dst in rest:
                tb = t[out]
                xp.multiply(xn[src], wt[k], out=tb)
                yb[dst] += tb
            finish(yb, bt, clamp)

    parallel_for(run, N * bands, _grain(rows * OW * OC))


def _phase_taps(a: int, K: int, S: int, P: int, OUT: int, n: int):
    """Input rows a, a+S, ... of a stride-S convolution (no dilation): the taps that reach them,
    largest first; the padding (before, after) of the stride-1 correlation of gy with those
    taps that gives their gradient; and how many such rows there are."""
    taps = [k for k in range(K - 1, -1, -1) if (a + P - k) % S == 0]
    rows = len(range(a, n, S))
    if not taps:
        return taps, (0, 0), rows
    before = (taps[0] - a - P) // S  # row a + S*u reads gy[u - before + j], j over the taps
    return taps, (before, rows + len(taps) - 1 - OUT - before), rows


def _phase_gather(gy, w, g: Geometry, H: int, W: int):
    """A strided input gradient as SH*SW gathers, sample by sample: input rows a::SH and columns
    b::SW receive from the taps congruent to them, one ``einsum`` over windows of the padded
    gy sample with that part of the kernel, written straight into gx[n, a::SH, b::SW]."""
    N, OH, OW, OC = gy.shape
    (SH, SW), (PT, _, PL, _) = g.stride, g.pads
    rows = [_phase_taps(a, w.shape[2], SH, PT, OH, H) for a in range(SH)]
    cols = [_phase_taps(b, w.shape[3], SW, PL, OW, W) for b in range(SW)]
    pt, pb = (max(0, *(r[1][i] for r in rows)) for i in (0, 1))
    pl, pr = (max(0, *(c[1][i] for c in cols)) for i in (0, 1))
    wk = w[:, 0].transpose(1, 2, 0)  # (KH, KW, C)
    parts = [((a, b), xp.ascontiguousarray(wk[th][:, tw]) if th and tw else None,
              (pt - top, pl - left, nh, nw)) for a, (th, (top, _), nh) in enumerate(rows)
             for b, (tw, (left, _), nw) in enumerate(cols)]
    gx = xp.empty((N, H, W, OC), gy.dtype)

    def run(lo, hi):
        read = _padded_reader(gy, (pt, pb, pl, pr))
        for n in range(lo, hi):
            buf = read(n)
            sh, sw, sc = buf.strides
            for (a, b), k, (r, c, nh, nw) in parts:
                dst = gx[n, a::SH, b::SW]
                if k is None:  # no window reads these pixels (a stride larger than the kernel)
                    dst[...] = 0
                    continue
                windows = xp.lib.stride_tricks.as_strided(
                    buf[r:, c:], (nh, nw) + k.shape, (sh, sw, sh, sw, sc), writeable=False)
                xp.einsum("hwijc,ijc->hwc", windows, k, out=dst)

    parallel_for(run, N, _grain(H * W * OC))
    return gx


def depthwise_grad_input(gy, w, g: Geometry, H: int, W: int):
    """gx: every kernel offset adds gy * w back onto the pixels its window read; NHWC.

    At stride 1 that is a gather: the depthwise convolution of gy with the kernel rotated by 180
    degrees, run by the forward kernel. Strided, from 64 channels and without dilation, one
    gather per phase of gx (``_phase_gather``); otherwise the scatter below."""
    N, OH, OW, OC = gy.shape
    _, _, KH, KW = w.shape
    C, M = g.groups, OC // g.groups
    PT, PB, PL, PR = g.pads
    (SH, SW), (DH, DW) = g.stride, g.dilation
    if (SH, SW) == (1, 1):  # gx[h] = sum over kh of gy[h + PT - kh*DH] * w[kh]
        # padded to give all H rows (a transposed convolution's output_padding included); the
        # forward kernel takes a negative pad (a pad wider than the kernel) as a crop of gy
        full = _gather_pads(gy, w, g, H, W)
        gx = depthwise_forward(gy, w[:, :, ::-1, ::-1], None, g._replace(pads=full), H, W)
        return gx if M == 1 else gx.reshape(N, H, W, C, M).sum(axis=4)
    if (DH, DW) == (1, 1) and OC >= EINSUM_MIN_CHANNELS:
        gx = _phase_gather(gy, w, g, H, W)
        return gx if M == 1 else gx.reshape(N, H, W, C, M).sum(axis=4)
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
            # accumulate into contiguous phase planes, then interleave them into dst
            planes = {(a, c): xp.zeros(dst[:, a::SH, c::SW].shape, gy.dtype)
                      for a in range(SH) for c in range(SW)}
            for k in range(KH * KW):
                xp.multiply(gy[i:i + m], wt[k], out=t[:m])
                _tap(planes, g, k // KW, k % KW, OH, OW)[...] += t[:m]
            for (a, c), p in planes.items():
                dst[:, a::SH, c::SW] = p
            gx[i:i + m] = dst[:, PT:PT + H, PL:PL + W]

    parallel_for(run, N, _grain(OH * OW * OC))
    return gx if M == 1 else gx.reshape(N, H, W, C, M).sum(axis=4)


def depthwise_grad_weight(x, gy, g: Geometry, KH: int, KW: int):
    """gw[o, 0, kh, kw] = sum over batch and pixels of window(kh, kw)[o // M] * gy[o]: one
    ``einsum`` per band of gy's rows over the windows of the padded sample (as the forward
    pass), summed per thread and over the output row at the end. Measured 1.6-2.7x faster than
    a multiply then a GEMV with ones per tap on MobileNetV2's bands, and one call per band
    1.05-1.5x faster than one per tap."""
    N, OH, OW, OC = gy.shape
    x = _repeat(x, OC // x.shape[3])
    rows, bands = _einsum_bands_of(OH, OW * OC * x.itemsize)
    flat = g.stride[1] == 1

    def run(lo, hi):  # this range's sum: (KH, KW, OW*C) along whole rows, else (KH, KW, C)
        gw = xp.zeros((KH, KW, OW * OC if flat else OC), x.dtype)
        read_x, read_gy = _padded_reader(x, g.pads), _reader(gy)
        for item in range(lo, hi):
            n, r0 = item // bands, item % bands * rows
            gb = read_gy(n)[r0:r0 + rows]
            windows = _windows(read_x(n), r0, len(gb), g, (KH, KW), OW)
            if flat:
                gw += xp.einsum("hijx,hx->ijx", windows, gb.reshape(len(gb), OW * OC))
            else:
                gw += xp.einsum("hwijc,hwc->ijc", windows, gb)
        return gw

    gw = sum(parallel_for(run, N * bands, _grain(rows * OW * OC)))
    if flat:
        gw = gw.reshape(KH, KW, OW, OC).sum(axis=2)
    return gw.transpose(2, 0, 1).reshape(OC, 1, KH, KW)
