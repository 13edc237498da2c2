"""The convolution kernels (conv2d's fast paths, batch blocks, thread splits, the bias
gradient) give the general im2col path's results, forward and backward, in every memory order."""
import numpy as np
import pytest

import striate
import striate.functional as F
from striate import threads
from striate.functional import _depthwise, _im2col
from striate.functional.conv import (Conv2dFunction, ConvTranspose2dFunction, _bias_grad,
                                    _kernel_kind)
from striate.tensor import apply
from tests.functional.test_conv import randn, run

pytest.importorskip("torch")


# ---- fast paths equal the general im2col path ----
def channels_last(a):
    """The same NCHW array, stored NHWC in memory (as conv outputs are)."""
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


def chosen_kind(xs, ws, geom):
    """The kernel ``conv2d`` picks for input shape ``xs``, weight shape ``ws`` and ``geom``."""
    (s, d), p = (geom.stride, geom.dilation), geom.pads
    out_hw = tuple(_im2col.out_size(xs[i + 2], ws[i + 2], s[i], p[2 * i] + p[2 * i + 1], d[i])
                   for i in (0, 1))
    return _kernel_kind(ws, geom, xs[2:], out_hw, "auto")


def both_paths(fn_cls, x, w, b, memory="nchw", **hyper):
    """Results of the auto-chosen kernel and of im2col; memory: order of x and gy in memory."""
    out = []
    for algo in ("auto", "im2col"):
        xs, ws, bs = (striate.tensor(a, requires_grad=True) for a in (x, w, b))
        if memory == "nhwc":
            xs.data = channels_last(x)
        y = apply(fn_cls, xs, ws, bs, algo=algo, **hyper)
        gy = np.cos(np.arange(y.size)).reshape(y.shape).astype(y.dtype)
        y.backward(gy if memory == "nchw" else channels_last(gy))
        out.append((y.data, xs.grad.data, ws.grad.data, bs.grad.data))
    return out


FAST_CASES = [  # (x shape, w shape, stride, pads, dilation, groups, expected kernel)
    ((2, 5, 4, 3), (7, 5, 1, 1), (1, 1), (0, 0, 0, 0), (1, 1), 1, "pointwise"),
    ((2, 5, 4, 3), (7, 5, 1, 1), (1, 1), (0, 0, 0, 0), (3, 2), 1, "pointwise"),
    ((2, 5, 4, 3), (7, 5, 1, 1), (2, 1), (0, 0, 0, 0), (1, 1), 1, "pointwise"),
    ((2, 5, 5, 7), (7, 5, 1, 1), (2, 3), (0, 0, 0, 0), (1, 1), 1, "pointwise"),  # ragged edge
    ((1, 6, 4, 4), (3, 6, 1, 1), (3, 3), (0, 0, 0, 0), (2, 2), 1, "pointwise"),
    ((2, 5, 4, 3), (7, 5, 1, 1), (1, 1), (1, 0, 0, 1), (1, 1), 1, "mec"),  # padded 1x1
    ((2, 4, 4, 3), (6, 2, 1, 1), (1, 1), (0, 0, 0, 0), (1, 1), 2, "im2col"),
    ((2, 4, 6, 5), (4, 1, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 4, "depthwise"),
    ((2, 3, 7, 6), (6, 1, 3, 2), (2, 1), (0, 1, 2, 0), (2, 1), 3, "depthwise"),
    ((2, 4, 9, 8), (4, 1, 3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 4, "depthwise"),  # phases
    ((1, 2, 11, 10), (6, 1, 3, 2), (3, 2), (1, 0, 2, 1), (2, 3), 2, "depthwise"),  # M=3
    ((2, 3, 5, 5), (3, 1, 5, 5), (2, 2), (2, 2, 2, 2), (1, 1), 3, "depthwise"),  # ragged edge
    ((2, 4, 6, 5), (4, 2, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 2, "im2col"),
    ((3, 1, 6, 6), (4, 1, 5, 5), (1, 1), (2, 2, 2, 2), (1, 1), 1, "nchw"),
    ((2, 3, 7, 6), (5, 3, 3, 2), (2, 1), (1, 0, 0, 1), (1, 2), 1, "nchw"),
    ((2, 4, 6, 5), (5, 4, 2, 2), (1, 1), (0, 1, 0, 1), (1, 1), 1, "nchw"),
    ((2, 5, 6, 5), (3, 5, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1, "mec"),
    ((3, 16, 6, 7), (17, 16, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1, "mec"),  # MEC gather gx
    ((2, 6, 9, 8), (17, 6, 3, 2), (2, 3), (1, 0, 2, 1), (1, 2), 1, "mec"),  # strides, dilation
    ((2, 20, 7, 9), (16, 20, 2, 3), (2, 1), (0, 1, 1, 0), (1, 1), 1, "mec"),
    ((2, 6, 9, 8), (17, 6, 3, 2), (1, 1), (1, 1, 1, 1), (2, 1), 1, "im2col"),  # dilated rows
    ((2, 65, 5, 5), (16, 65, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1, "im2col"),  # 65 channels
]


@pytest.mark.parametrize("xs,ws,s,p,d,g,kind", FAST_CASES)
@pytest.mark.parametrize("dtype,memory", [(np.float64, "nchw"), (np.float64, "nhwc"),
                                          (np.float64, "mixed"), (np.float32, "nchw")])
def test_conv2d_fast_path_equals_im2col_path(rng, xs, ws, s, p, d, g, kind, dtype, memory):
    geom = _im2col.Geometry(s, p, d, g)
    assert chosen_kind(xs, ws, geom) == kind
    x, w, b = (randn(rng, *shape, dtype=dtype) for shape in (xs, ws, ws[:1]))
    fast, general = both_paths(Conv2dFunction, x, w, b, memory, geometry=geom)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for a, e in zip(fast, general):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, e, rtol=tol, atol=tol)


@pytest.mark.parametrize("xs,ws,kw,size", [
    ((2, 3, 4, 3), (3, 2, 1, 1), {}, (4, 3)),  # pointwise
    ((2, 3, 4, 3), (3, 2, 1, 1), dict(stride=2), (7, 5)),  # strided pointwise
    ((2, 3, 4, 3), (3, 2, 1, 1), dict(stride=2), (8, 6)),  # ... with output_padding
    ((2, 3, 4, 3), (3, 2, 3, 3), dict(groups=3, stride=2), (9, 7)),  # depthwise
])
def test_conv_transpose2d_fast_path_equals_im2col_path(rng, xs, ws, kw, size):
    s = kw.get("stride", 1)
    geom = _im2col.Geometry((s, s), (0, 0, 0, 0), (1, 1), kw.get("groups", 1))
    x, w, b = randn(rng, *xs), randn(rng, *ws), randn(rng, ws[1] * geom.groups)
    fast, general = both_paths(ConvTranspose2dFunction, x, w, b, geometry=geom, output_size=size)
    for a, e in zip(fast, general):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("block_bytes", [1, 3000])
def test_conv2d_batch_blocks_give_same_result(rng, monkeypatch, block_bytes):
    # tiny blocks: one sample per block, or blocks of 2 with a ragged last block of 1
    x, w, b = randn(rng, 5, 4, 6, 6), randn(rng, 6, 2, 3, 3), randn(rng, 6)
    for kw in (dict(padding=1, groups=2), dict(stride=2, groups=2), dict(groups=2)):
        y, gy, *grads = run(F.conv2d, x, w, b, **kw)
        monkeypatch.setattr(_im2col, "BLOCK_BYTES", block_bytes)
        monkeypatch.setattr(_im2col, "WEIGHT_BLOCKS", 0)
        y2, _, *grads2 = run(F.conv2d, x, w, b, **kw)
        monkeypatch.undo()
        for a, e in zip((y2, *grads2), (y, *grads)):
            np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12)
    xd, wd = randn(rng, 5, 3, 6, 6), randn(rng, 3, 1, 3, 3)
    y, gy, *grads = run(F.conv2d, xd, wd, None, groups=3, padding=1)
    monkeypatch.setattr(_im2col, "BLOCK_BYTES", block_bytes)
    monkeypatch.setattr(_im2col, "WEIGHT_BLOCKS", 0)
    y2, _, *grads2 = run(F.conv2d, xd, wd, None, groups=3, padding=1)
    for a, e in zip((y2, *grads2[:2]), (y, *grads[:2])):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12)


# ---- the batch split over threads (striate.threads) equals one thread ----
@pytest.fixture
def split_every_batch(monkeypatch):
    """Three threads, and no minimum work: every kernel splits even a batch of 5."""
    monkeypatch.setattr(threads, "MIN_MACS", 0)
    monkeypatch.setattr(_depthwise, "PARALLEL_ELEMENTS", 0)
    before = threads.get_num_threads()
    yield
    threads.set_num_threads(before)


@pytest.mark.parametrize("xs,ws,s,p,d,g,kind", [
    ((5, 6, 7, 6), (4, 6, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1, "mec"),
    ((5, 16, 7, 6), (16, 16, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1, "mec"),  # MEC gather gx
    ((5, 16, 7, 6), (4, 16, 3, 3), (1, 1), (2, 2, 1, 1), (2, 1), 1, "im2col"),  # gather gx
    ((5, 6, 7, 6), (4, 3, 3, 3), (2, 1), (1, 0, 0, 1), (1, 2), 2, "im2col"),  # col2im gx
    ((5, 2, 7, 6), (4, 2, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1, "nchw"),
    ((5, 6, 4, 3), (7, 6, 1, 1), (1, 1), (0, 0, 0, 0), (1, 1), 1, "pointwise"),
    ((5, 6, 5, 7), (7, 6, 1, 1), (2, 3), (0, 0, 0, 0), (1, 1), 1, "pointwise"),
    ((5, 3, 8, 7), (3, 1, 3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 3, "depthwise"),
    ((5, 3, 8, 7), (6, 1, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 3, "depthwise"),
    ((5, 1, 6, 14), (6, 1, 5, 5), (1, 1), (2, 2, 2, 2), (1, 1), 1, "banded"),  # B = 7
])
def test_conv2d_split_over_threads_equals_one_thread(rng, split_every_batch, xs, ws, s, p, d, g,
                                                     kind):
    geom = _im2col.Geometry(s, p, d, g)
    assert chosen_kind(xs, ws, geom) == kind
    x, w, b = (randn(rng, *shape) for shape in (xs, ws, ws[:1]))
    out = []
    for n in (1, 3):
        threads.set_num_threads(n)
        xt, wt, bt = (striate.tensor(a, requires_grad=True) for a in (x, w, b))
        y = apply(Conv2dFunction, xt, wt, bt, geometry=geom)
        y.backward(np.cos(np.arange(y.size)).reshape(y.shape))
        out.append((y.data, xt.grad.data, wt.grad.data, bt.grad.data))
    for a, e in zip(*out):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("block_bytes", [1, 3500])  # one output row per block; two rows
def test_conv2d_row_blocks_equal_whole_sample_blocks(rng, monkeypatch, block_bytes):
    """A sample whose im2col matrix exceeds BLOCK_BYTES is cut into runs of output rows."""
    geom = _im2col.Geometry((2, 1), (1, 0, 1, 1), (1, 1), 2)
    x, w, b = randn(rng, 3, 4, 7, 6), randn(rng, 6, 2, 3, 3), randn(rng, 6)
    out = []
    monkeypatch.setattr(_im2col, "WEIGHT_BLOCKS", 0)
    for size in (float("inf"), block_bytes):
        monkeypatch.setattr(_im2col, "BLOCK_BYTES", size)
        xt, wt, bt = (striate.tensor(a, requires_grad=True) for a in (x, w, b))
        y = apply(Conv2dFunction, xt, wt, bt, geometry=geom, algo="im2col")
        y.backward(np.cos(np.arange(y.size)).reshape(y.shape))
        out.append((y.data, xt.grad.data, wt.grad.data, bt.grad.data))
    for a, e in zip(*out):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("layout", ["nchw", "nhwc", "strided"])
@pytest.mark.parametrize("shape", [(5, 6, 7, 9), (3, 16, 4, 4), (1, 1, 1, 1), (0, 4, 3, 3)])
def test_bias_gradient_sums_every_layout_over_batch_and_pixels(rng, layout, shape):
    g = rng.standard_normal(shape).astype(np.float32)
    want = g.astype(np.float64).sum(axis=(0, 2, 3))
    if layout == "nhwc":
        g = np.ascontiguousarray(g.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    elif layout == "strided":  # neither layout in memory: NumPy's reduction
        g = np.repeat(g, 2, axis=3)[:, :, :, ::2]
    got = _bias_grad(g)
    assert got.shape == (shape[1],) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_blocks_grow_to_a_multiple_of_the_weight_with_the_same_result(rng, monkeypatch):
    """Deep layers: a block's im2col matrix is at least WEIGHT_BLOCKS times the weight."""
    monkeypatch.setattr(_im2col, "BLOCK_BYTES", 1000)
    monkeypatch.setattr(_im2col, "WEIGHT_BLOCKS", 2)
    assert _im2col.block_len(100, 400) == 2 and _im2col.block_len(100, 400, 2000) == 10
    x, w, b = randn(rng, 7, 8, 5, 5), randn(rng, 16, 8, 3, 3), randn(rng, 16)
    got = []
    for blocks in (0, 2):  # one output row per block; then whole samples (2 * 9216 bytes)
        monkeypatch.setattr(_im2col, "WEIGHT_BLOCKS", blocks)
        xt, wt, bt = (striate.tensor(a, requires_grad=True) for a in (x, w, b))
        y = apply(Conv2dFunction, xt, wt, bt, geometry=_im2col.Geometry((1, 1), (1, 1, 1, 1),
                                                                          (1, 1), 1), algo="im2col")
        y.backward(np.cos(np.arange(y.size)).reshape(y.shape))
        got.append((y.data, xt.grad.data, wt.grad.data))
    for a, e in zip(*got):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12)
