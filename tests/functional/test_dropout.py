"""dropout and dropout2d: statistics, scaling, backward masks, seeding, identity modes, errors."""
import numpy as np
import pytest

import striate
import striate.functional as F


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_dropout_zeroes_about_p_and_scales_survivors(p):
    x = np.random.default_rng(0).random((200, 500)) + 0.5
    striate.manual_seed(0)
    y = F.dropout(x, p).data
    dropped = y == 0
    # 100000 Bernoulli draws: the standard error of the fraction is below 0.0016
    np.testing.assert_allclose(dropped.mean(), p, atol=0.01)
    np.testing.assert_allclose(y[~dropped], x[~dropped] / (1 - p), rtol=1e-12)


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout_preserves_the_mean(p):
    x = np.full((100000,), 3.0)
    striate.manual_seed(1)
    np.testing.assert_allclose(F.dropout(x, p).data.mean(), 3.0, rtol=0.03)


def test_dropout_backward_uses_the_forward_mask():
    x = np.random.default_rng(0).random((50, 40)) + 0.5
    xs = striate.tensor(x, requires_grad=True)
    striate.manual_seed(3)
    y = F.dropout(xs, 0.3)
    gy = np.random.default_rng(1).standard_normal(x.shape)
    y.backward(gy)
    # d y / d x = mask / (1 - p) = y / x
    np.testing.assert_allclose(xs.grad.data, gy * y.data / x, rtol=1e-12)


def test_dropout_gradcheck_with_fixed_mask():
    def fn(a):
        striate.manual_seed(7)
        return F.dropout(a, 0.4)

    assert striate.gradcheck(fn, [np.random.default_rng(0).standard_normal((4, 6))])


def test_dropout_is_reproducible_under_manual_seed():
    x = np.ones((64, 64), dtype=np.float32)
    striate.manual_seed(123)
    a, b = F.dropout(x, 0.5).data, F.dropout(x, 0.5).data
    striate.manual_seed(123)
    np.testing.assert_array_equal(F.dropout(x, 0.5).data, a)
    np.testing.assert_array_equal(F.dropout(x, 0.5).data, b)
    assert (a != b).any()  # consecutive calls draw fresh masks


def test_dropout_is_identity_when_not_training_or_p_zero():
    xs = striate.tensor(np.random.default_rng(0).random((3, 4)), requires_grad=True)
    assert F.dropout(xs, 0.5, training=False) is xs
    assert F.dropout(xs, 0.0) is xs
    assert F.dropout2d(xs.reshape(1, 3, 2, 2), 0.7, training=False).shape == (1, 3, 2, 2)


def test_dropout_p_one_gives_zeros_and_zero_gradient():
    xs = striate.tensor(np.random.default_rng(0).random((3, 4)), requires_grad=True)
    y = F.dropout(xs, 1.0)
    np.testing.assert_array_equal(y.data, 0.0)
    y.backward(np.ones((3, 4)))
    np.testing.assert_array_equal(xs.grad.data, 0.0)


def test_dropout2d_drops_whole_channels():
    x = np.random.default_rng(0).random((100, 50, 3, 4)) + 0.5
    xs = striate.tensor(x, requires_grad=True)
    striate.manual_seed(0)
    y = F.dropout2d(xs, 0.3)
    ratio = y.data / x
    per_channel = ratio.reshape(100, 50, 12)
    np.testing.assert_allclose(per_channel, per_channel[:, :, :1].repeat(12, axis=2), rtol=1e-12)
    kept = per_channel[:, :, 0] > 0
    np.testing.assert_allclose(per_channel[kept], 1 / 0.7, rtol=1e-12)
    np.testing.assert_allclose(1 - kept.mean(), 0.3, atol=0.03)  # 5000 channels
    y.backward(np.ones(x.shape))
    np.testing.assert_allclose(xs.grad.data, ratio, rtol=1e-12)


def test_dropout2d_gradcheck_with_fixed_mask():
    def fn(a):
        striate.manual_seed(2)
        return F.dropout2d(a, 0.5)

    assert striate.gradcheck(fn, [np.random.default_rng(0).standard_normal((2, 4, 2, 3))])


@pytest.mark.parametrize("fn", [F.dropout, F.dropout2d])
def test_dropout_float32_stays_float32(fn):
    xs = striate.tensor(np.ones((4, 8, 3, 3), np.float32), requires_grad=True)
    y = fn(xs, 0.5)
    assert y.dtype == np.float32
    y.backward(np.ones(y.shape, np.float32))
    assert xs.grad.dtype == np.float32


@pytest.mark.parametrize("call,exc,match", [
    (lambda x: F.dropout(x, -0.1), ValueError,
     r"dropout: dropout probability p must be in \[0, 1\], got -0.1"),
    (lambda x: F.dropout(x, 1.5), ValueError,
     r"dropout: dropout probability p must be in \[0, 1\], got 1.5"),
    (lambda x: F.dropout(x, "half"), TypeError,
     r"dropout: p must be a number in \[0, 1\], got 'half'"),
    (lambda x: F.dropout2d(x, 2.0), ValueError,
     r"dropout2d: dropout probability p must be in \[0, 1\], got 2.0"),
    (lambda x: F.dropout2d(x[0], 0.5), ValueError,
     r"dropout2d: expected a 4-D input \(N, C, H, W\), got shape \(3, 4, 4\)"),
    (lambda x: F.dropout(x.astype(np.int32), 0.5), TypeError,
     r"dropout: expected a floating-point input, got dtype int32"),
    (lambda x: F.dropout([1.0, 2.0], 0.5), TypeError,
     r"dropout: expected a Tensor or an ndarray, got list"),
])
def test_bad_arguments_raise_clear_errors(call, exc, match):
    x = np.ones((2, 3, 4, 4))
    with pytest.raises(exc, match=match):
        call(x)
