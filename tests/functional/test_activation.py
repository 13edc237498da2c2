"""Activations: finite differences, torch parity (float64), kinks, extremes, dtypes, errors."""
import math

import numpy as np
import pytest

import striate
import striate.functional as F
from striate.functional.activation import _erfc

torch = pytest.importorskip("torch")
TF = torch.nn.functional

# name -> (striate fn, torch fn, points where the derivative jumps)
ACTS = {
    "relu": (F.relu, TF.relu, [0.0]),
    "leaky_relu": (F.leaky_relu, TF.leaky_relu, [0.0]),
    "leaky_relu_0.2": (lambda x: F.leaky_relu(x, 0.2), lambda x: TF.leaky_relu(x, 0.2), [0.0]),
    "sigmoid": (F.sigmoid, torch.sigmoid, []),
    "tanh": (F.tanh, torch.tanh, []),
    "elu": (F.elu, TF.elu, [0.0]),
    "elu_0.5": (lambda x: F.elu(x, alpha=0.5), lambda x: TF.elu(x, alpha=0.5), [0.0]),
    "gelu": (F.gelu, TF.gelu, []),
    "gelu_tanh": (lambda x: F.gelu(x, "tanh"), lambda x: TF.gelu(x, approximate="tanh"), []),
    "relu6": (F.relu6, TF.relu6, [0.0, 6.0]),
    "hardsigmoid": (F.hardsigmoid, TF.hardsigmoid, [-3.0, 3.0]),
    "hardswish": (F.hardswish, TF.hardswish, [-3.0, 3.0]),
    "silu": (F.silu, TF.silu, []),
    "softmax": (F.softmax, lambda x: torch.softmax(x, -1), []),
    "log_softmax": (F.log_softmax, lambda x: torch.log_softmax(x, -1), []),
    "softmax_axis0": (lambda x: F.softmax(x, axis=0), lambda x: torch.softmax(x, 0), []),
    "log_softmax_axis0": (lambda x: F.log_softmax(x, 0), lambda x: torch.log_softmax(x, 0), []),
}
SHAPES = [(7,), (3, 5), (2, 3, 4)]


def _inputs(shape, kinks, seed, scale=4.0):
    """Random float64 values, nudged at least 0.05 away from every kink."""
    x = np.random.default_rng(seed).uniform(-scale, scale, shape)
    for k in kinks:
        x = np.where(np.abs(x - k) < 0.05, k + 0.1, x)
    return x


def _check_torch(fn, tfn, x, rtol=1e-7, atol=1e-12, seed=1):
    xs, xt = striate.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, yt = fn(xs), tfn(xt)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=rtol, atol=atol, err_msg="forward")
    gy = np.random.default_rng(seed).standard_normal(y.shape)
    y.backward(gy)
    yt.backward(torch.tensor(gy))
    np.testing.assert_allclose(xs.grad.data, xt.grad.numpy(), rtol=rtol, atol=atol, err_msg="grad")


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", ACTS)
def test_activation_grad_matches_finite_differences(name, shape):
    fn, _, kinks = ACTS[name]
    assert striate.gradcheck(fn, [_inputs(shape, kinks, seed=len(shape))])


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("name", ACTS)
def test_activation_forward_and_grad_match_torch(name, seed):
    fn, tfn, kinks = ACTS[name]
    shape = [(40,), (6, 7), (3, 4, 5)][seed]
    # |x| < 5 keeps exact GELU away from x Phi(x) underflow, where torch's 1 + erf cancels
    _check_torch(fn, tfn, _inputs(shape, kinks, seed, scale=5.0))


@pytest.mark.parametrize("name", [n for n in ACTS if ACTS[n][2]])
def test_activation_grad_at_kinks_follows_torch(name):
    fn, tfn, kinks = ACTS[name]
    _check_torch(fn, tfn, np.array(kinks + [k + 0.5 for k in kinks] + [k - 0.5 for k in kinks]))


def test_relu_grad_at_zero_is_zero():
    x = striate.tensor(np.array([-1.0, 0.0, 2.0]), requires_grad=True)
    F.relu(x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0, 1.0])


def test_relu_and_leaky_relu_values():
    x = np.array([-2.0, -0.5, 0.0, 3.0])
    np.testing.assert_array_equal(F.relu(striate.tensor(x)).data, [0, 0, 0, 3])
    np.testing.assert_allclose(F.leaky_relu(striate.tensor(x), 0.1).data, [-0.2, -0.05, 0, 3])


def test_softmax_rows_sum_to_one_along_axis():
    x = np.random.default_rng(0).standard_normal((3, 4, 5))
    for axis in (0, 1, 2, -1):
        y = F.softmax(striate.tensor(x), axis=axis).data
        np.testing.assert_allclose(y.sum(axis=axis), 1.0, rtol=1e-12)
        np.testing.assert_allclose(np.log(y), F.log_softmax(striate.tensor(x), axis).data, rtol=1e-12)


def test_erfc_matches_math_to_float64_precision():
    # up to 26, where erfc = 5.6e-296 is still a normal float64 (subnormals lose digits anyway)
    x = np.concatenate([np.linspace(-26, 26, 20001), [0.0, 0.46875, -0.46875, 4.0, -4.0, 1e-300]])
    ref = np.array([math.erfc(v) for v in x])
    np.testing.assert_allclose(_erfc(x), ref, rtol=4e-15, atol=0)


def test_erfc_handles_infinities_and_nan():
    np.testing.assert_array_equal(_erfc(np.array([np.inf, -np.inf, 30.0])), [0.0, 2.0, 0.0])
    assert np.isnan(_erfc(np.array([np.nan]))[0])


def test_gelu_far_tail_is_relatively_accurate():
    # x Phi(x) for x = -10 is -7.6e-23: computing through erfc keeps every digit
    y = F.gelu(striate.tensor(np.array([-10.0, 10.0]))).data
    np.testing.assert_allclose(y, [-10 * 0.5 * math.erfc(10 / math.sqrt(2)), 10.0], rtol=1e-13)


@pytest.mark.parametrize("name", ["sigmoid", "softmax", "log_softmax", "silu", "tanh", "elu"])
def test_activation_is_finite_and_matches_torch_for_logits_of_1000(name):
    fn, tfn, _ = ACTS[name]
    x = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, 999.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        xs = striate.tensor(x, requires_grad=True)
        y = fn(xs)
        y.backward(np.ones(y.shape))
    assert np.isfinite(y.data).all() and np.isfinite(xs.grad.data).all()
    _check_torch(fn, tfn, x)


def test_log_softmax_of_extreme_logits_is_exact():
    y = F.log_softmax(striate.tensor(np.array([1000.0, -1000.0])))
    np.testing.assert_allclose(y.data, [0.0, -2000.0])
    np.testing.assert_allclose(F.sigmoid(striate.tensor(np.array([-1000.0, 1000.0]))).data, [0, 1])


@pytest.mark.parametrize("name", ACTS)
def test_activation_float32_stays_float32(name):
    fn, _, kinks = ACTS[name]
    x = striate.tensor(_inputs((3, 4), kinks, seed=0).astype(np.float32), requires_grad=True)
    y = fn(x)
    y.backward(np.ones(y.shape, np.float32))
    assert y.dtype == np.float32 and x.grad.dtype == np.float32


def test_activation_accepts_ndarray_without_graph():
    y = F.relu(np.array([-1.0, 1.0]))
    assert isinstance(y, striate.Tensor) and not y.requires_grad
    np.testing.assert_array_equal(y.data, [0.0, 1.0])


def test_activation_rejects_list_input():
    with pytest.raises(TypeError, match=r"relu: expected a Tensor or an ndarray, got list"):
        F.relu([1.0, 2.0])


@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax])
def test_softmax_axis_out_of_range_is_a_clear_error(fn):
    with pytest.raises(ValueError, match=r"softmax: axis 2 is out of range for an input with 2 dim"):
        fn(striate.tensor(np.zeros((2, 3))), axis=2)
    with pytest.raises(TypeError, match=r"axis must be an int"):
        fn(striate.tensor(np.zeros((2, 3))), axis=1.0)
    with pytest.raises(ValueError, match=r"at least 1 dimension"):
        fn(striate.tensor(np.float64(1.0)))


def test_gelu_unknown_approximation_is_a_clear_error():
    with pytest.raises(ValueError, match=r"gelu: approximate must be 'none' or 'tanh', got 'erf'"):
        F.gelu(striate.tensor(np.zeros(2)), approximate="erf")


def test_leaky_relu_and_elu_reject_non_numeric_parameters():
    with pytest.raises(TypeError, match=r"leaky_relu: negative_slope must be a number"):
        F.leaky_relu(striate.tensor(np.zeros(2)), "0.1")
    with pytest.raises(TypeError, match=r"elu: alpha must be a number"):
        F.elu(striate.tensor(np.zeros(2)), alpha=None)


def test_relu6_gradient_at_both_kinks_and_outside_matches_torch():
    # backward rebuilds the (0, 6) mask from the saved output: the kinks and the clipped
    # regions must get exactly torch's zeros
    x = np.array([-1.0, 0.0, 1e-300, 3.0, 6.0 - 1e-12, 6.0, 7.0, -np.inf, np.inf])
    xs, xt = striate.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    F.relu6(xs).backward(np.arange(1.0, 10.0))
    TF.relu6(xt).backward(torch.arange(1.0, 10.0, dtype=torch.float64))
    np.testing.assert_array_equal(xs.grad.data, xt.grad.numpy())
    np.testing.assert_array_equal(xs.grad.data, [0, 0, 3, 4, 5, 0, 0, 0, 0])
