"""Passes split over threads (batch norm, relu, relu6, add, linear, the conv bias gradient) give
the one-thread results, forward and backward, in both memory layouts and for odd batch sizes."""
import numpy as np
import pytest

import striate
import striate.functional as F
from striate import threads
from striate.functional.conv import _bias_grad


@pytest.fixture
def split_every_pass(monkeypatch):
    """No minimum size: every pass of a batch of 5 splits over 3 threads."""
    monkeypatch.setattr(threads, "MIN_ELEMENTS", 1)
    before = threads.get_num_threads()
    yield
    threads.set_num_threads(before)


def channels_last(a):
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


def one_and_three_threads(fn, *arrays):
    """(output, input gradients) of ``fn`` on 1 thread and on 3 threads."""
    out = []
    for n in (1, 3):
        threads.set_num_threads(n)
        ts = [striate.tensor(a.copy(order="K"), requires_grad=True) for a in arrays]  # layout kept
        y = fn(*ts)
        y.backward(np.cos(np.arange(y.size)).reshape(y.shape).astype(y.dtype))
        out.append([y.data] + [t.grad.data for t in ts])
    return out


@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_split_over_threads_equals_one_thread(rng, split_every_pass, layout,
                                                         training):
    x = rng.standard_normal((5, 3, 4, 3))
    x = channels_last(x) if layout == "nhwc" else x
    w, b = rng.standard_normal(3), rng.standard_normal(3)
    stats = {n: (np.zeros(3) + 0.1, np.ones(3) * 1.5) for n in (1, 3)}
    calls = iter((1, 3))

    def bn(xt, wt, bt):
        rm, rv = stats[next(calls)]
        return F.batch_norm(xt, rm, rv, wt, bt, training=training)

    one, three = one_and_three_threads(bn, x, w, b)
    for a, e in zip(three, one):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12)
    for a, e in zip(stats[3], stats[1]):  # the running statistics too
        np.testing.assert_allclose(a, e, rtol=1e-12)


@pytest.mark.parametrize("fn", [F.relu, F.relu6, lambda a, b: a + b], ids=["relu", "relu6", "add"])
@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
def test_activation_and_add_split_over_threads_equal_one_thread(rng, split_every_pass, fn,
                                                                 layout):
    x = 4 * rng.standard_normal((5, 3, 4, 3))
    x = channels_last(x) if layout == "nhwc" else x
    arrays = (x, rng.standard_normal(x.shape)) if fn not in (F.relu, F.relu6) else (x,)
    one, three = one_and_three_threads(fn, *arrays)
    for a, e in zip(three, one):
        np.testing.assert_array_equal(a, e)


def test_relu_keeps_nan_and_maps_minus_inf_to_zero():
    y = F.relu(striate.tensor(np.array([np.nan, -np.inf, np.inf, -1.0, 2.0], np.float32)))
    np.testing.assert_array_equal(y.data, [np.nan, 0, np.inf, 0, 2])


@pytest.mark.parametrize("kernel,stride,padding", [(2, 2, 0), (3, 2, 1), (3, 3, 1), (2, 1, 0)])
@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
@pytest.mark.parametrize("channels", [16, 6])  # 6 channels-last: copied to NCHW range by range
def test_max_pool_split_over_threads_equals_one_thread(rng, split_every_pass, kernel, stride,
                                                       padding, layout, channels):
    x = rng.standard_normal((5, channels, 9, 8))
    x[0, 0, :2, :2] = 1.0  # a tie: the gradient must go to the first maximum either way
    x = channels_last(x) if layout == "nhwc" else x
    one, three = one_and_three_threads(lambda t: F.max_pool2d(t, kernel, stride, padding), x)
    for a, e in zip(three, one):
        np.testing.assert_array_equal(a, e)


@pytest.mark.parametrize("fn,x,y,g", [(F.relu, -2.0, 0.0, 0.0), (F.relu, 3.0, 3.0, 1.0),
                                      (F.relu6, 7.0, 6.0, 0.0), (F.relu6, 2.5, 2.5, 1.0)])
def test_relu_and_relu6_of_a_0d_tensor(fn, x, y, g):
    t = striate.tensor(np.float64(x), requires_grad=True)
    out = fn(t)
    out.backward()
    np.testing.assert_array_equal(out.data, y)
    np.testing.assert_array_equal(t.grad.data, g)


@pytest.mark.parametrize("rows", [(7,), (2, 5)])
def test_linear_split_over_threads_equals_one_thread(rng, split_every_pass, monkeypatch, rows):
    monkeypatch.setattr(threads, "MIN_MACS", 0)  # every row range of 7 splits over 3 threads
    x, w, b = rng.standard_normal((*rows, 4)), rng.standard_normal((3, 4)), rng.standard_normal(3)
    one, three = one_and_three_threads(F.linear, x, w, b)
    for a, e in zip(three, one):  # gw sums the ranges' products: same terms, other order
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(one[0], x @ w.T + b, rtol=1e-12)


def test_conv_bias_gradient_split_over_threads_equals_one_thread(rng, split_every_pass):
    gy = channels_last(rng.standard_normal((5, 6, 4, 3)))  # as a following conv hands it back
    got = []
    for n in (1, 3):
        threads.set_num_threads(n)
        got.append(_bias_grad(gy))
    np.testing.assert_allclose(got[1], got[0], rtol=1e-12)
    np.testing.assert_allclose(got[0], gy.sum(axis=(0, 2, 3)), rtol=1e-12)
