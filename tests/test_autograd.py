"""The Function contract (needs_input_grad, save_for_backward, release, apply with None inputs,
bad backward shapes) and grad mode (no_grad, enable_grad, set_grad_enabled, threads)."""
import threading

import numpy as np
import pytest

import striate
from striate.autograd import Function
from striate.tensor import apply, tensor


class Scale(Function):
    """y = a * x (+ b): records what the engine told it, for the tests below."""

    seen: list = []

    def forward(self, x, b=None, a=2.0):
        Scale.seen.append(self.needs_input_grad)
        self.a, self.has_b = a, b is not None
        self.save_for_backward(x)
        return a * x if b is None else a * x + b

    def backward(self, gy):
        # dy/dx = a, dy/db = 1
        return gy * self.a, (gy if self.has_b else None)


def test_needs_input_grad_is_set_before_forward():
    Scale.seen = []
    x, b = tensor(np.ones(2), requires_grad=True), tensor(np.ones(2))
    apply(Scale, x, b)
    apply(Scale, b, x)
    apply(Scale, x, None)
    assert Scale.seen == [(True, False), (False, True), (True, False)]


def test_apply_passes_hyperparameters_and_none_inputs():
    x = tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = apply(Scale, x, None, a=3.0)
    np.testing.assert_allclose(y.data, [3.0, 6.0])
    y.backward(np.ones(2))
    np.testing.assert_allclose(x.grad.data, [3.0, 3.0])


def test_gradient_goes_only_to_inputs_that_require_it():
    x, b = tensor(np.ones(2), requires_grad=True), tensor(np.ones(2))
    apply(Scale, x, b).sum().backward()
    np.testing.assert_allclose(x.grad.data, [2.0, 2.0])
    assert b.grad is None


def test_save_for_backward_and_release():
    fn = Scale((True,))
    fn.save_for_backward(np.ones(2), np.zeros(1))
    assert len(fn.saved_tensors) == 2
    fn.parents = (object(),)
    fn.release()
    assert fn.saved_tensors == () and fn.parents == ()


def test_backward_returning_a_wrong_shape_is_a_clear_error():
    class Bad(Function):
        def forward(self, x):
            return x.sum()

        def backward(self, gy):
            return (np.ones(3),)

    x = tensor(np.ones((2, 2)), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"Bad.backward returned a gradient of shape \(3,\) for an "
                                           r"input of shape \(2, 2\)"):
        apply(Bad, x).backward()


def test_function_without_backward_says_so():
    class NoBackward(Function):
        def forward(self, x):
            return x * 1

    with pytest.raises(NotImplementedError, match=r"NoBackward has no backward"):
        apply(NoBackward, tensor(np.ones(1), requires_grad=True)).backward(np.ones(1))


def test_no_grad_as_context_manager_and_decorator_restores_mode():
    x = tensor(np.ones(2), requires_grad=True)

    @striate.no_grad()
    def infer(t):
        return t * 2

    assert not infer(x).requires_grad
    assert striate.is_grad_enabled()
    with striate.no_grad():
        assert not striate.is_grad_enabled()
        with striate.enable_grad():
            assert (x * 2).requires_grad
        assert not (x * 2).requires_grad
    assert striate.is_grad_enabled()


def test_grad_mode_is_restored_after_an_exception():
    with pytest.raises(KeyError):
        with striate.no_grad():
            raise KeyError("boom")
    assert striate.is_grad_enabled()


def test_set_grad_enabled_toggles_recording():
    x = tensor(np.ones(2), requires_grad=True)
    try:
        striate.set_grad_enabled(False)
        assert not (x + 1).requires_grad
    finally:
        striate.set_grad_enabled(True)
    assert (x + 1).requires_grad


def test_grad_mode_is_per_thread():
    seen = []
    with striate.no_grad():
        t = threading.Thread(target=lambda: seen.append(striate.is_grad_enabled()))
        t.start()
        t.join()
    assert seen == [True]
