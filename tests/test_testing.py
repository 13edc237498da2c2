"""striate.gradcheck and numerical_grad: they pass correct gradients, catch wrong ones, and
handle float32 inputs, non-contiguous arrays, non-float arguments and unused inputs."""
import numpy as np
import pytest

import striate
from striate.autograd import Function
from striate.tensor import apply
from striate.testing import numerical_grad


class WrongSquare(Function):
    """x**2 with a deliberately wrong derivative (x instead of 2x)."""

    def forward(self, x):
        self.save_for_backward(x)
        return x * x

    def backward(self, gy):
        (x,) = self.saved_tensors
        return (gy * x,)


class WrongSecondInput(Function):
    """a * b whose gradient for b is off by a sign."""

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a * b

    def backward(self, gy):
        a, b = self.saved_tensors
        return gy * b, -gy * a


def test_gradcheck_passes_a_correct_gradient():
    rng = np.random.default_rng(0)
    assert striate.gradcheck(lambda a, b: (a * b).exp() / (a * a + 1), [rng.random((3, 2)),
                                                                       rng.random((3, 2))])


def test_gradcheck_catches_a_wrong_derivative():
    with pytest.raises(AssertionError, match=r"gradcheck: gradient of input 0 \(shape \(4,\)\) "
                                             r"differs"):
        striate.gradcheck(lambda x: apply(WrongSquare, x), [np.array([0.5, 1.0, -2.0, 3.0])])


def test_gradcheck_names_the_input_whose_gradient_is_wrong():
    rng = np.random.default_rng(1)
    with pytest.raises(AssertionError, match=r"gradient of input 1 \(shape \(2, 3\)\)"):
        striate.gradcheck(lambda a, b: apply(WrongSecondInput, a, b),
                          [rng.random((2, 3)) + 0.5, rng.random((2, 3)) + 0.5])


def test_gradcheck_catches_a_missing_gradient():
    class Detached(Function):
        def forward(self, x):
            return 3 * x

        def backward(self, gy):
            return (None,)

    with pytest.raises(AssertionError, match=r"gradient of input 0"):
        striate.gradcheck(lambda x: apply(Detached, x), [np.ones(3)])


def test_gradcheck_upcasts_float32_inputs_to_float64():
    seen = []

    def fn(x):
        seen.append(x.dtype)
        return x * x

    assert striate.gradcheck(fn, [np.ones(3, np.float32)])
    assert set(seen) == {np.dtype(np.float64)}


def test_gradcheck_accepts_tensors_and_passes_non_float_arguments_through():
    idx = np.array([2, 0, 2])
    x = striate.tensor(np.array([1.0, 2.0, 3.0]))
    assert striate.gradcheck(lambda a, i, k: a[i] * k, [x, idx, 3])


def test_gradcheck_handles_non_contiguous_inputs():
    # a Fortran-ordered array used to be perturbed in a temporary copy, giving zero numerical grads
    x = np.asfortranarray(np.random.default_rng(0).random((3, 4)))
    assert striate.gradcheck(lambda t: (t * t).sum(axis=0), [x])
    assert striate.gradcheck(lambda t: t * 2, [np.random.default_rng(0).random((4, 3)).T])


def test_gradcheck_accepts_an_unused_input():
    assert striate.gradcheck(lambda a, b: a * 2, [np.ones(2), np.ones(3)])


def test_numerical_grad_matches_a_known_derivative_and_restores_input():
    x = striate.tensor(np.array([0.5, -1.0, 2.0]))
    before = x.data.copy()
    g = numerical_grad(lambda: x * x * x, x, np.ones(3))
    np.testing.assert_allclose(g, 3 * before**2, rtol=1e-8)
    np.testing.assert_array_equal(x.data, before)


def test_numerical_grad_of_a_scalar_input():
    x = striate.tensor(np.array(2.0))
    np.testing.assert_allclose(numerical_grad(lambda: x.exp(), x, np.float64(1.0)), np.exp(2.0),
                               rtol=1e-8)
