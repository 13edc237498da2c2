"""1x1 convolution kernels (no padding, groups 1): plain matrix products, NHWC-shaped in and out.

Each product runs in the memory order its operands already have: one GEMM over all N*H*W pixels
for NHWC memory, one GEMM per sample (a batched matmul) for NCHW memory; no transposes. A strided
one (ResNet's downsampling shortcut) is the same product on the pixels it reads. Batches are
split over threads (``striate.threads``) like the im2col kernels'.
"""
from __future__ import annotations

from ..backend import xp
from ..threads import macs_grain as grain, parallel_for
from ._im2col import Geometry, finish

#: Bytes of output per GEMM when a bias or clamp follows: it is then applied while the block is
#: still in cache rather than in a second pass over the whole output. Swept 128K-1M against one
#: GEMM per thread on MobileNetV2's expansions (batch 32, 2 threads, two runs): 16->96 @112x112
#: 46-49 -> 27-33 ms, 24->144 @56x56 20-22 -> 15 ms; 128K blocks were slower than one GEMM.
EPILOGUE_BYTES = 1 << 20


def _nchw_memory(a) -> bool:
    """Whether NHWC-shaped ``a`` is a transposed C-contiguous NCHW array."""
    return not a.flags.c_contiguous and a.transpose(0, 3, 1, 2).flags.c_contiguous


def _subsample(x, g: Geometry, OH: int, OW: int):
    """The OH x OW pixels a strided 1x1 kernel reads, copied NHWC: the product is then one GEMM
    (one GEMM per sample from NCHW memory measured 1.5-2x slower under 2 BLAS threads). At stride
    1 that is all of x, except where conv_transpose2d's backward passes a gradient with the
    extra rows or columns of its output_padding, which no window reads."""
    (SH, SW) = (1, 1) if g is None else g.stride
    if (SH, SW) == (1, 1) and (OH is None or x.shape[1:3] == (OH, OW)):
        return x
    return xp.ascontiguousarray(x[:, :(OH - 1) * SH + 1:SH, :(OW - 1) * SW + 1:SW])


def _pixels_by_sample(a):
    """NCHW-memory ``a`` (N, H, W, C) as (N, C, H*W) without a copy."""
    return a.transpose(0, 3, 1, 2).reshape(a.shape[0], a.shape[3], -1)


def _blocks(n: int, item_bytes: int, tail: bool) -> range:
    """Starts of the blocks of ``n`` items: EPILOGUE_BYTES each with a ``tail``, else one."""
    return range(0, n, max(1, EPILOGUE_BYTES // max(item_bytes, 1)) if tail else max(n, 1))


def pointwise_forward(x, w, b, g=None, OH=None, OW=None, clamp=None, res=None):
    """y = x @ w^T over all (read) pixels; NHWC-shaped in and out (``b``, ``res`` and ``clamp``
    as in ``_im2col.finish``; ``res`` NHWC-shaped, any memory order)."""
    x = _subsample(x, g, OH, OW)
    N, H, W, C = x.shape
    w2 = w.reshape(w.shape[0], C)
    OC = w2.shape[0]
    tail = b is not None or clamp is not None or res is not None
    if _nchw_memory(x):
        xs, y = _pixels_by_sample(x), xp.empty((N, OC, H * W), x.dtype)
        bc = None if b is None else b[:, None]
        rs = None if res is None else xp.ascontiguousarray(res.transpose(0, 3, 1, 2)
                                                           ).reshape(y.shape)

        def run(lo, hi):
            samples = _blocks(hi - lo, OC * H * W * x.itemsize, tail)
            for i in samples:
                s = slice(lo + i, min(hi, lo + i + samples.step))
                xp.matmul(w2, xs[s], out=y[s])
                finish(y[s], bc, clamp, None if rs is None else rs[s])

        parallel_for(run, N, grain(H * W * C * OC), blas=True)
        return y.reshape(N, OC, H, W).transpose(0, 2, 3, 1)
    y = xp.empty((N, H, W, OC), x.dtype)
    bt = None if b is None else xp.tile(b, (W, 1))  # (W, OC): W*OC-long inner loops
    rs = None if res is None else xp.ascontiguousarray(res).reshape(-1, W, OC)

    def run(lo, hi):  # in blocks of image rows (W pixels each)
        xs, ys = x[lo:hi].reshape(-1, W, C), y[lo:hi].reshape(-1, W, OC)
        rows = _blocks(len(xs), W * OC * x.itemsize, tail)
        for r in rows:
            xb, yb = xs[r:r + rows.step], ys[r:r + rows.step]
            xp.matmul(xb.reshape(-1, C), w2.T, out=yb.reshape(-1, OC))
            s = slice(lo * H + r, lo * H + r + len(yb))
            finish(yb, bt, clamp, None if rs is None else rs[s])

    parallel_for(run, N, grain(H * W * C * OC), blas=True)
    return y


def pointwise_grad_input(gy, w, g=None, H=None, W=None):
    """gx = gy @ w at the pixels read; zero at those a stride skips."""
    N, OH, OW, OC = gy.shape
    w2 = w.reshape(OC, -1)
    C = w2.shape[1]
    if _nchw_memory(gy):
        gys, out = _pixels_by_sample(gy), xp.empty((N, C, OH * OW), gy.dtype)

        def run(lo, hi):
            xp.matmul(w2.T, gys[lo:hi], out=out[lo:hi])

        gx = out.reshape(N, C, OH, OW).transpose(0, 2, 3, 1)
    else:
        gx = xp.empty((N, OH, OW, C), gy.dtype)

        def run(lo, hi):
            xp.matmul(gy[lo:hi].reshape(-1, OC), w2, out=gx[lo:hi].reshape(-1, C))
    parallel_for(run, N, grain(OH * OW * C * OC), blas=True)
    if g is None or (g.stride == (1, 1) and (H, W) == (OH, OW)):
        return gx
    (SH, SW) = g.stride
    full = xp.zeros((N, H, W, C), gy.dtype)
    full[:, :(OH - 1) * SH + 1:SH, :(OW - 1) * SW + 1:SW] = gx
    return full


def pointwise_grad_weight(x, gy, g=None, KH=None, KW=None):
    """gw = gy^T @ x summed over all (read) pixels."""
    x = _subsample(x, g, gy.shape[1], gy.shape[2])
    N, OH, OW, OC = gy.shape
    C = x.shape[-1]
    if _nchw_memory(x) and _nchw_memory(gy):
        gys, xs = _pixels_by_sample(gy), _pixels_by_sample(x)

        def run(lo, hi):  # this range's sum
            return xp.matmul(gys[lo:hi], xs[lo:hi].transpose(0, 2, 1)).sum(axis=0)
    else:
        def run(lo, hi):
            return gy[lo:hi].reshape(-1, OC).T @ x[lo:hi].reshape(-1, C)
    gw = sum(parallel_for(run, N, grain(OH * OW * C * OC), blas=True))
    return gw.reshape(OC, C, 1, 1)
