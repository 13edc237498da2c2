"""Elementwise primitives: bare-array forward/backward, unbroadcast, finite differences and torch
parity (float64) with broadcasting, and PyTorch's conventions at kinks and ties."""
import numpy as np
import pytest

import striate
from striate import ops, tensor

torch = pytest.importorskip("torch")


def _check_torch(fn, tfn, arrays, rtol=1e-7, atol=1e-12, seed=1):
    xs = [tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, yt = fn(*xs), tfn(*ts)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=rtol, atol=atol, err_msg="forward")
    gy = np.random.default_rng(seed).standard_normal(y.shape)
    y.backward(gy)
    yt.backward(torch.tensor(gy))
    for k, (a, b) in enumerate(zip(xs, ts)):
        assert a.grad.shape == a.shape, f"grad {k} not reduced to its input's shape"
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=rtol, atol=atol,
                                   err_msg=f"grad of input {k}")


# ---- unbroadcast ----
@pytest.mark.parametrize("g_shape, shape", [
    ((2, 3), (2, 3)), ((2, 3), (3,)), ((2, 3), (1, 3)), ((2, 3), (2, 1)), ((2, 3), ()),
    ((4, 2, 3), (2, 1)), ((4, 1, 3), (1, 1, 1)),
], ids=str)
def test_unbroadcast_sums_broadcast_axes(g_shape, shape):
    g = np.random.default_rng(0).standard_normal(g_shape)
    got = ops.unbroadcast(g, shape)
    lead = len(g_shape) - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1)
    np.testing.assert_allclose(got, g.sum(axis=axes).reshape(shape))
    assert got.shape == shape


# ---- binary ops with broadcasting ----
BINARY = {
    "add": (lambda a, b: a + b, lambda a, b: a + b),
    "sub": (lambda a, b: a - b, lambda a, b: a - b),
    "mul": (lambda a, b: a * b, lambda a, b: a * b),
    "div": (lambda a, b: a / b, lambda a, b: a / b),
    "pow": (lambda a, b: a ** b, lambda a, b: a ** b),
    "maximum": (lambda a, b: a.maximum(b), torch.maximum),
}
PAIRS = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 3, 4), (3, 1)), ((1, 4), (3, 1)), ((3,), ())]


def _positive_pair(sa, sb, seed):
    rng = np.random.default_rng(seed)
    return [rng.uniform(0.5, 2.0, sa), rng.uniform(0.5, 2.0, sb)]  # pow and div need a, b > 0


@pytest.mark.parametrize("shapes", PAIRS, ids=str)
@pytest.mark.parametrize("name", BINARY)
def test_binary_op_grad_matches_finite_differences(name, shapes):
    assert striate.gradcheck(BINARY[name][0], _positive_pair(*shapes, seed=len(shapes[0])))


@pytest.mark.parametrize("shapes", PAIRS, ids=str)
@pytest.mark.parametrize("name", BINARY)
def test_binary_op_matches_torch_with_broadcasting(name, shapes):
    sa, sb = shapes
    _check_torch(*BINARY[name], _positive_pair(sa, sb, seed=7))
    _check_torch(*BINARY[name], _positive_pair(sb, sa, seed=8))


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "pow"])
def test_binary_op_with_python_scalar_on_either_side(name):
    fn, tfn = BINARY[name]
    x = _positive_pair((3, 2), (), 0)[0]
    _check_torch(lambda a: fn(a, 1.5), lambda a: tfn(a, 1.5), [x])
    _check_torch(lambda a: fn(1.5, a), lambda a: tfn(1.5, a), [x])


def test_maximum_splits_ties_evenly_like_torch():
    a, b = np.array([1.0, 2.0, 3.0]), np.array([1.0, 5.0, 0.0])
    _check_torch(lambda x, y: x.maximum(y), torch.maximum, [a, b])


def test_pow_grad_for_exponent_at_zero_base_is_zero():
    a = tensor(np.array([0.0, 2.0]))
    b = tensor(np.array([2.0, 3.0]), requires_grad=True)
    (a ** b).sum().backward()
    np.testing.assert_allclose(b.grad.data, [0.0, 8 * np.log(2)])


# ---- unary ops ----
UNARY = {
    "neg": (lambda x: -x, lambda x: -x, (-3, 3)),
    "exp": (lambda x: x.exp(), torch.exp, (-3, 3)),
    "log": (lambda x: x.log(), torch.log, (0.1, 5)),
    "sqrt": (lambda x: x.sqrt(), torch.sqrt, (0.1, 5)),
    "abs": (lambda x: x.abs(), torch.abs, (-3, 3)),
    "tanh": (lambda x: x.tanh(), torch.tanh, (-3, 3)),
    "clip": (lambda x: x.clip(-1.0, 0.5), lambda x: x.clamp(-1.0, 0.5), (-3, 3)),
    "clip_min": (lambda x: x.clip(min=0.2), lambda x: x.clamp(min=0.2), (-3, 3)),
    "clip_max": (lambda x: x.clip(max=0.2), lambda x: x.clamp(max=0.2), (-3, 3)),
}


def _unary_input(name, shape, seed):
    lo, hi = UNARY[name][2]
    x = np.random.default_rng(seed).uniform(lo, hi, shape)
    for k in (0.0, -1.0, 0.5, 0.2):  # keep finite differences off the kinks of abs and clip
        x = np.where(np.abs(x - k) < 0.05, k + 0.1, x)
    return x


@pytest.mark.parametrize("shape", [(5,), (2, 3), ()], ids=str)
@pytest.mark.parametrize("name", UNARY)
def test_unary_op_grad_matches_finite_differences(name, shape):
    assert striate.gradcheck(UNARY[name][0], [_unary_input(name, shape, 0)])


@pytest.mark.parametrize("name", UNARY)
def test_unary_op_matches_torch(name):
    fn, tfn, _ = UNARY[name]
    _check_torch(fn, tfn, [_unary_input(name, (4, 5), 1)])


def test_abs_and_clip_grads_at_kinks_follow_torch():
    x = np.array([-1.0, 0.0, 0.5, 1.0])
    _check_torch(lambda a: a.abs(), torch.abs, [x])
    _check_torch(lambda a: a.clip(-1.0, 0.5), lambda a: a.clamp(-1.0, 0.5), [x])


# ---- bare arrays ----
def test_functions_work_on_bare_arrays():
    a, b = np.array([1.0, 2.0]), np.array([[3.0], [4.0]])
    fn = ops.Mul((True, True))
    y = fn.forward(a, b)
    np.testing.assert_allclose(y, a * b)
    ga, gb = fn.backward(np.ones((2, 2)))
    np.testing.assert_allclose(ga, [7.0, 7.0])
    np.testing.assert_allclose(gb, [[3.0], [3.0]])


def test_mul_skips_gradients_not_needed():
    fn = ops.Mul((True, False))
    fn.forward(np.ones(2), np.ones(2))
    ga, gb = fn.backward(np.ones(2))
    assert ga is not None and gb is None


def test_where_routes_gradient_by_condition():
    fn = ops.Where((False, True, True))
    cond = np.array([True, False, True])
    y = fn.forward(cond, np.array([1.0, 2.0, 3.0]), np.array([9.0]))
    np.testing.assert_allclose(y, [1.0, 9.0, 3.0])
    gc, ga, gb = fn.backward(np.array([1.0, 2.0, 4.0]))
    assert gc is None
    np.testing.assert_allclose(ga, [1.0, 0.0, 4.0])
    np.testing.assert_allclose(gb, [2.0])


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "tanh", "abs", "clip"])
def test_unary_float32_stays_float32(name):
    x = tensor(_unary_input(name, (3,), 0).astype(np.float32), requires_grad=True)
    y = UNARY[name][0](x)
    y.sum().backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32


def test_add_of_differently_laid_out_operands_takes_the_first_layout():
    r = np.random.default_rng(0)
    a = np.ascontiguousarray(r.standard_normal((2, 4, 5, 3))).transpose(0, 3, 1, 2)
    b = r.standard_normal((2, 3, 4, 5))
    x, y = tensor(a, requires_grad=True), tensor(b, requires_grad=True)
    z = x + y
    np.testing.assert_array_equal(z.data, a + b)
    assert z.data.transpose(0, 2, 3, 1).flags.c_contiguous  # a's (channels-last) layout
    assert (y + x).data.flags.c_contiguous  # b's
    z.backward(np.ones(z.shape))
    np.testing.assert_array_equal(x.grad.data, 1)
    np.testing.assert_array_equal(y.grad.data, 1)
