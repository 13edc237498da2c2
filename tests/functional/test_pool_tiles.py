"""Max and min pooling over windows that tile the input: without autograd (``_tile_reduce``)
and with it (``_tile_argmax`` / ``_tile_route``): torch parity in both memory layouts and window
shapes, ties, NaN, the batch split over threads, and the windows the fast path must refuse."""
import numpy as np
import pytest

import striate
import striate.functional as F
from striate import threads
from striate.functional import window_pool
from striate.functional._pool_windows import _pool_args

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def channels_last(a):
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


def pooled(fn, x, **kw):
    with striate.no_grad():
        return fn(striate.tensor(x), **kw).data


def spy(monkeypatch, name):
    """Records the input shape of every call of ``window_pool.<name>``, to prove a test went
    through that kernel (or not)."""
    calls = []
    real = getattr(window_pool, name)
    monkeypatch.setattr(window_pool, name, lambda *a: calls.append(a[0].shape) or real(*a))
    return calls


@pytest.fixture
def tile_calls(monkeypatch):
    return spy(monkeypatch, "_tile_reduce")


@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
@pytest.mark.parametrize("shape,k", [
    ((3, 6, 28, 28), 2),  # LeNet-5's first pool: few channels, channels-last from the conv
    ((2, 16, 10, 10), 2),
    ((2, 5, 9, 8), (3, 2)),  # uneven window
    ((2, 4, 6, 9), (1, 3)),  # one row per window
    ((2, 4, 6, 9), (2, 1)),  # one column per window
    ((1, 3, 4, 4), 4),  # one window per image
])
def test_tiling_max_pool_without_grad_matches_torch(rng, tile_calls, layout, shape, k):
    x = rng.standard_normal(shape)
    x = channels_last(x) if layout == "nhwc" else x
    y = pooled(F.max_pool2d, x, kernel_size=k)
    np.testing.assert_array_equal(y, TF.max_pool2d(torch.tensor(x), k).numpy())
    assert len(tile_calls) == 1
    if layout == "nhwc":  # pooled in the input's layout, without a copy to NCHW
        assert y.transpose(0, 2, 3, 1).flags.c_contiguous


def test_tiling_min_pool_without_grad_is_minus_max_of_minus(rng, tile_calls):
    x = channels_last(rng.standard_normal((2, 6, 8, 6)))
    y = pooled(F.min_pool2d, x, kernel_size=2)
    np.testing.assert_array_equal(y, -TF.max_pool2d(torch.tensor(-x), 2).numpy())
    assert len(tile_calls) == 1


def test_tiling_max_pool_propagates_nan_as_torch(rng, tile_calls):
    x = rng.standard_normal((1, 2, 4, 4)).astype(np.float32)
    x[0, 0, 1, 1] = x[0, 1, 2, 3] = np.nan
    y = pooled(F.max_pool2d, channels_last(x), kernel_size=2)
    np.testing.assert_array_equal(y, TF.max_pool2d(torch.tensor(x), 2).numpy())
    assert np.isnan(y[0, 0, 0, 0]) and np.isnan(y[0, 1, 1, 1])


def test_tiling_max_pool_split_over_threads_equals_one_thread(rng, monkeypatch):
    monkeypatch.setattr(threads, "MIN_ELEMENTS", 1)  # a batch of 5 splits over 3 threads
    x = channels_last(rng.standard_normal((5, 6, 8, 8)))
    before = threads.get_num_threads()
    try:
        got = []
        for n in (1, 3):
            threads.set_num_threads(n)
            got.append(pooled(F.max_pool2d, x, kernel_size=2))
    finally:
        threads.set_num_threads(before)
    np.testing.assert_array_equal(got[1], got[0])
    np.testing.assert_array_equal(got[0], TF.max_pool2d(torch.tensor(x), 2).numpy())


@pytest.mark.parametrize("kw", [dict(kernel_size=2, stride=1), dict(kernel_size=2, padding=1),
                                dict(kernel_size=3), dict(kernel_size=2, ceil_mode=True)])
def test_windows_that_do_not_tile_take_the_general_path(rng, tile_calls, kw):
    x = channels_last(rng.standard_normal((2, 6, 7, 7)))  # 7 is not a multiple of 2 or 3...
    assert not _pool_args("max_pool2d", x.shape, kw["kernel_size"], kw.get("stride"),
                          kw.get("padding", 0), kw.get("ceil_mode", False)).fast
    y = pooled(F.max_pool2d, x, **kw)
    np.testing.assert_array_equal(y, TF.max_pool2d(torch.tensor(x), **kw).numpy())
    assert tile_calls == []


def test_tiling_windows_with_grad_keep_the_first_maximum_for_backward(rng, tile_calls):
    x = np.zeros((1, 1, 2, 2))  # all tied: the gradient goes to the first, as in torch
    xt = striate.tensor(x, requires_grad=True)
    F.max_pool2d(xt, 2).backward(np.ones((1, 1, 1, 1)))
    np.testing.assert_array_equal(xt.grad.data[0, 0], [[1, 0], [0, 0]])
    assert tile_calls == []  # the rows-first order finds a maximum, not the first one


# ---- with autograd: columns, then rows, keeping the winners ----
@pytest.fixture
def argmax_calls(monkeypatch):
    return spy(monkeypatch, "_tile_argmax")


def torch_pool_and_grad(x, gy, mode, k):
    xt = torch.tensor(x, requires_grad=True)
    y = (TF.max_pool2d(xt, k) if mode == "max" else -TF.max_pool2d(-xt, k))
    y.backward(torch.tensor(gy))
    return y.detach().numpy(), xt.grad.numpy()


@pytest.mark.parametrize("mode", ["max", "min"])
@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
@pytest.mark.parametrize("shape,k", [
    ((3, 6, 28, 28), 2),  # LeNet-5's first pool (6 channels: pooled in an NCHW copy)
    ((2, 16, 10, 10), 2),  # LeNet-5's second (16 channels-last: pooled in that layout)
    ((2, 16, 9, 8), (3, 2)),  # more rows than columns per window
    ((2, 5, 6, 9), (2, 3)),  # more columns than rows
    ((2, 4, 6, 9), (1, 3)),  # one row per window
    ((2, 17, 6, 9), (2, 1)),  # one column per window
    ((1, 3, 4, 4), 4),  # one window per image
])
def test_tiling_pool_with_grad_matches_torch_with_ties(rng, argmax_calls, mode, layout, shape,
                                                       k):
    x = rng.integers(-2, 3, shape).astype(np.float64)  # five values: ties in most windows
    x = channels_last(x) if layout == "nhwc" else x
    xs = striate.tensor(x, requires_grad=True)
    y = (F.max_pool2d if mode == "max" else F.min_pool2d)(xs, k)
    gy = rng.standard_normal(y.shape)
    y.backward(gy)
    want_y, want_gx = torch_pool_and_grad(x, gy, mode, k)
    np.testing.assert_array_equal(y.data, want_y)
    np.testing.assert_array_equal(xs.grad.data, want_gx)  # each to the first extremum
    assert len(argmax_calls) == 1
    if layout == "nhwc" and shape[1] >= 16:  # pooled in the input's layout, no NCHW copy
        assert y.data.transpose(0, 2, 3, 1).flags.c_contiguous


def test_tiling_pool_with_grad_split_over_threads_equals_one_thread(rng, monkeypatch):
    monkeypatch.setattr(threads, "MIN_ELEMENTS", 1)  # a batch of 5 splits over 3 threads
    x = channels_last(rng.integers(-2, 3, (5, 16, 8, 8)).astype(np.float32))
    gy = rng.standard_normal((5, 16, 4, 4)).astype(np.float32)
    before, got = threads.get_num_threads(), []
    try:
        for n in (1, 3):
            threads.set_num_threads(n)
            xs = striate.tensor(x, requires_grad=True)
            F.max_pool2d(xs, 2).backward(gy)
            got.append(xs.grad.data)
    finally:
        threads.set_num_threads(before)
    np.testing.assert_array_equal(got[1], got[0])
    np.testing.assert_array_equal(got[0], torch_pool_and_grad(x, gy, "max", 2)[1])


def test_tiling_pool_with_grad_gradcheck(rng):
    x = striate.tensor(rng.standard_normal((2, 3, 6, 4)), requires_grad=True)
    assert striate.gradcheck(lambda a: F.max_pool2d(a, (3, 2)), [x])


def test_tiling_pool_with_grad_nan_gives_nan_output_as_torch(rng):
    x = rng.standard_normal((1, 2, 4, 4)).astype(np.float32)
    x[0, 0, 1, 1] = np.nan
    y = F.max_pool2d(striate.tensor(x, requires_grad=True), 2)
    np.testing.assert_array_equal(y.data, TF.max_pool2d(torch.tensor(x), 2).numpy())
