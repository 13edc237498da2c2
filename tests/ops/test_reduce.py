"""Reductions sum, mean, max, min, var over axis (None, int, negative, tuple) and keepdims:
finite differences, torch parity (float64), ties, ddof, dtypes and axis errors."""
import numpy as np
import pytest

import striate
from striate import ops, tensor

torch = pytest.importorskip("torch")


def _torch_axis(axis, ndim):
    return tuple(range(ndim)) if axis is None else axis


REDUCE = {
    "sum": (lambda x, ax, kd: x.sum(axis=ax, keepdims=kd),
            lambda x, ax, kd: x.sum(dim=_torch_axis(ax, x.ndim), keepdim=kd)),
    "mean": (lambda x, ax, kd: x.mean(axis=ax, keepdims=kd),
             lambda x, ax, kd: x.mean(dim=_torch_axis(ax, x.ndim), keepdim=kd)),
    # amax/amin share the gradient among ties, as striate's max/min do
    "max": (lambda x, ax, kd: x.max(axis=ax, keepdims=kd),
            lambda x, ax, kd: x.amax(dim=_torch_axis(ax, x.ndim), keepdim=kd)),
    "min": (lambda x, ax, kd: x.min(axis=ax, keepdims=kd),
            lambda x, ax, kd: x.amin(dim=_torch_axis(ax, x.ndim), keepdim=kd)),
    "var": (lambda x, ax, kd: x.var(axis=ax, keepdims=kd),
            lambda x, ax, kd: x.var(dim=_torch_axis(ax, x.ndim), keepdim=kd, correction=0)),
}
AXES = [None, 0, 1, -1, (0, 2), (1,), (0, 1, 2)]


def _distinct(shape, seed):
    """Values that are far apart, so max/min have a unique winner and finite differences agree."""
    n = int(np.prod(shape))
    return np.random.default_rng(seed).permutation(n).reshape(shape) * 0.1 + 0.05


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("name", REDUCE)
def test_reduction_grad_matches_finite_differences(name, axis, keepdims):
    fn = REDUCE[name][0]
    assert striate.gradcheck(lambda x: fn(x, axis, keepdims), [_distinct((2, 3, 4), seed=1)])


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("name", REDUCE)
def test_reduction_matches_torch(name, axis, keepdims):
    fn, tfn = REDUCE[name]
    x = np.random.default_rng(2).standard_normal((2, 3, 4))
    xs, xt = tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, yt = fn(xs, axis, keepdims), tfn(xt, axis, keepdims)
    assert y.shape == tuple(yt.shape)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-7)
    gy = np.random.default_rng(3).standard_normal(y.shape)
    y.backward(gy)
    yt.backward(torch.tensor(gy))
    np.testing.assert_allclose(xs.grad.data, xt.grad.numpy(), rtol=1e-7, atol=1e-14)


@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("axis", [None, 1])
def test_max_min_share_gradient_among_ties_like_torch_amax(name, axis):
    x = np.array([[1.0, 3.0, 3.0, -2.0], [-2.0, 0.0, -2.0, 3.0]])
    fn, tfn = REDUCE[name]
    xs, xt = tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    fn(xs, axis, False).sum().backward()
    tfn(xt, axis, False).sum().backward()
    np.testing.assert_allclose(xs.grad.data, xt.grad.numpy())


def test_max_gradient_goes_only_to_the_maximum():
    x = tensor(np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 1.0]]), requires_grad=True)
    x.max(axis=1).backward(np.array([10.0, 20.0]))
    np.testing.assert_array_equal(x.grad.data, [[0, 10, 0], [20, 0, 0]])


@pytest.mark.parametrize("ddof", [0, 1])
def test_var_ddof_matches_numpy_and_finite_differences(ddof):
    x = np.random.default_rng(4).standard_normal((3, 5))
    np.testing.assert_allclose(tensor(x).var(axis=1, ddof=ddof).data, x.var(axis=1, ddof=ddof))
    assert striate.gradcheck(lambda a: a.var(axis=0, ddof=ddof), [x])


def test_reductions_of_a_scalar_tensor():
    x = tensor(np.array(3.0), requires_grad=True)
    (x.sum() + x.mean() + x.max()).backward()
    np.testing.assert_allclose(x.grad.data, 3.0)


@pytest.mark.parametrize("name", REDUCE)
def test_reduction_float32_stays_float32(name):
    x = tensor(_distinct((3, 4), 0).astype(np.float32), requires_grad=True)
    y = REDUCE[name][0](x, 1, False)
    y.sum().backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32


def test_bad_axis_is_a_clear_error():
    x = tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"sum: axis 2 is out of range for an input with 2 dim"):
        x.sum(axis=2)
    with pytest.raises(ValueError, match=r"mean: repeated axis in \(1, -1\)"):
        x.mean(axis=(1, -1))
    with pytest.raises(TypeError, match=r"var: axis must be an int or a tuple of ints, got 1.0"):
        x.var(axis=1.0)
    with pytest.raises(TypeError, match=r"sum: axis must be an int or a tuple of ints, got True"):
        x.sum(axis=True)
    with pytest.raises(ValueError, match=r"max: cannot reduce an empty (array|axis)"):
        tensor(np.zeros((0, 3))).max()


def test_normalize_axis_sorts_and_wraps():
    assert ops.normalize_axis((-1, 0), 3, "sum") == (0, 2)
    assert ops.normalize_axis(np.int64(1), 3, "sum") == (1,)
    assert ops.normalize_axis([np.int32(2), 0], 3, "sum") == (0, 2)
    assert ops.normalize_axis(None, 2, "sum") == (0, 1)
    assert ops.normalize_axis(-2, 2, "sum") == (0,)


# ---- gradients laid out like their input (channels-last activations stay channels-last) ----
@pytest.mark.parametrize("name", ["sum", "mean"])
@pytest.mark.parametrize("axis,keepdims",
                         [((2, 3), False), ((2, 3), True), (None, False), (1, True)])
def test_sum_mean_gradient_has_the_input_memory_layout_and_values(name, axis, keepdims):
    base = np.random.default_rng(0).standard_normal((2, 5, 3, 4))
    nhwc = np.ascontiguousarray(base.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    fn = REDUCE[name][0]
    grads = []
    for a in (base, nhwc):
        x = tensor(a, requires_grad=True)
        y = fn(x, axis, keepdims)
        y.backward(np.arange(1.0, y.size + 1).reshape(y.shape))
        grads.append(x.grad.data)
    np.testing.assert_array_equal(grads[1], grads[0])
    assert grads[0].flags.c_contiguous
    assert grads[1].transpose(0, 2, 3, 1).flags.c_contiguous


def test_memory_order_and_empty_in_order_round_trip():
    from striate.ops.broadcast import empty_in_order, memory_order

    a = np.empty((2, 3, 4, 5)).transpose(0, 2, 3, 1)
    order = memory_order(a)
    assert order == (0, 3, 1, 2)
    b = empty_in_order(a.shape, a.dtype, order, zero=True)
    assert b.shape == a.shape and b.strides == a.strides and not b.any()
    assert memory_order(np.empty((3, 1, 2))) == (0, 1, 2)
