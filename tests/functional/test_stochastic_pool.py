"""Stochastic pooling (Zeiler & Fergus 2013): training picks a window member with probability
proportional to its activation, test mode is the probability-weighted average; frequencies,
gradients, gradcheck and reproducibility under ``manual_seed``."""
import numpy as np
import pytest
from reference_pooling import stochastic_expectation

import striate
import striate.functional as F
from tests.functional.test_pooling import _input


def test_stochastic_pool2d_training_picks_a_member_of_each_window():
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 6))
    striate.manual_seed(1)
    y = F.stochastic_pool2d(x, 2).data
    windows = x.reshape(2, 3, 3, 2, 3, 2).transpose(0, 1, 2, 4, 3, 5).reshape(2, 3, 3, 3, 4)
    positive = (windows > 0).any(-1)
    member = (windows == y[..., None]).any(-1)
    np.testing.assert_array_equal(member | ~positive, True)  # each output is one of its window
    np.testing.assert_array_equal(y[~positive], 0.0)  # no positive activation: 0
    assert (y[positive] > 0).all()  # negatives and zeros have probability 0


def test_stochastic_pool2d_frequencies_match_probabilities():
    # one window [1, 2, 3, 4] repeated: picks must follow p = a / 10
    x = np.tile(np.array([[1.0, 2.0], [3.0, 0.0]]), (20000, 1, 1, 1))
    x[:, 0, 1, 1] = 4.0
    striate.manual_seed(0)
    y = F.stochastic_pool2d(x, 2).data.ravel()
    counts = np.array([(y == v).sum() for v in (1.0, 2.0, 3.0, 4.0)])
    assert counts.sum() == 20000
    expected = 20000 * np.array([0.1, 0.2, 0.3, 0.4])
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 16.3, (counts, chi2)  # 3 degrees of freedom, p = 0.001


def test_stochastic_pool2d_negative_entries_are_never_picked_and_zero_windows_give_zero():
    x = np.array([[[[-5.0, 0.0], [2.0, -1.0]]], [[[-1.0, 0.0], [-3.0, 0.0]]]])
    striate.manual_seed(0)
    for _ in range(20):
        np.testing.assert_array_equal(F.stochastic_pool2d(x, 2).data.ravel(), [2.0, 0.0])


def test_stochastic_pool2d_test_mode_is_the_probability_weighted_average():
    x = np.array([[[[1.0, 2.0, -3.0, 0.0], [3.0, 4.0, 2.0, 2.0]]]])
    y = F.stochastic_pool2d(x, 2, training=False).data
    # (1 + 4 + 9 + 16) / 10 = 3 and (0 + 0 + 4 + 4) / 4 = 2
    np.testing.assert_allclose(y, [[[[3.0, 2.0]]]], rtol=1e-12)
    x = _input((2, 3, 7, 6)) + 0.3
    for k, s in ((2, None), (3, 2), ((2, 3), (1, 2))):
        y = F.stochastic_pool2d(x, k, s, training=False).data
        np.testing.assert_allclose(y, stochastic_expectation(x, k, s), rtol=1e-12)


def test_stochastic_pool2d_training_gradient_reaches_the_picked_element_only():
    x = np.random.default_rng(0).random((1, 2, 4, 4)) + 0.1
    xs = striate.tensor(x, requires_grad=True)
    striate.manual_seed(5)
    y = F.stochastic_pool2d(xs, 2)
    gy = np.arange(1.0, 9.0).reshape(y.shape)
    y.backward(gy)
    g = xs.grad.data.reshape(1, 2, 2, 2, 2, 2)
    picked = x.reshape(1, 2, 2, 2, 2, 2) == y.data[:, :, :, None, :, None]
    np.testing.assert_array_equal(picked.sum(axis=(3, 5)), 1)
    np.testing.assert_array_equal(g, np.where(picked, gy[:, :, :, None, :, None], 0.0))


@pytest.mark.parametrize("shape,k,s", [
    ((1, 2, 6, 7), 2, None), ((1, 2, 6, 6), 2, None), ((1, 2, 6, 7), 3, 2), ((1, 2, 6, 7), (2, 3), 1),
])
def test_stochastic_pool2d_gradcheck(shape, k, s):
    x = _input(shape, 2)  # negative entries included: probability 0, no gradient

    def sampled(a):
        striate.manual_seed(11)  # the same picks at every evaluation
        return F.stochastic_pool2d(a, k, s)

    assert striate.gradcheck(sampled, [x])
    assert striate.gradcheck(lambda a: F.stochastic_pool2d(a, k, s, training=False), [x])


def test_stochastic_pool2d_is_reproducible_under_manual_seed():
    x = np.random.default_rng(0).random((4, 3, 8, 8))
    striate.manual_seed(42)
    a = F.stochastic_pool2d(x, 2).data
    b = F.stochastic_pool2d(x, 2).data
    striate.manual_seed(42)
    np.testing.assert_array_equal(F.stochastic_pool2d(x, 2).data, a)
    assert (a != b).any()
