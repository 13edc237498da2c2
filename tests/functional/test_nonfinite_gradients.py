"""Masked backward passes with inf or NaN gradients and NaN inputs, exactly as PyTorch.

ReLU, ReLU6, the fused clamps of convolution and batch norm, add_relu, clip, hardsigmoid,
hardswish and max pooling send 0 where their mask drops a value, also when the upstream
gradient there is inf or NaN (``gy * mask`` would give NaN), and pass the gradient where the
input is NaN when PyTorch does.
"""
import numpy as np
import pytest

import striate
import striate.functional as F
from striate.functional.activation import zero_where

torch = pytest.importorskip("torch")
TF = torch.nn.functional

pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")

NONFINITE = np.array([np.inf, -np.inf, np.nan, 1.5, -2.0])


def _grads(shape, rng, dtype):
    """Upstream gradients with inf, -inf and NaN spread over every position class."""
    return rng.choice(NONFINITE, size=shape).astype(dtype)


def _both(fn_s, fn_t, x, gy):
    xs = striate.tensor(x, requires_grad=True)
    fn_s(xs).backward(gy)
    xt = torch.from_numpy(x.copy()).requires_grad_()
    fn_t(xt).backward(torch.from_numpy(gy.copy()))
    return xs.grad.numpy(), xt.grad.numpy()


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_zero_where_zeroes_dropped_values_even_inf_and_nan_and_keeps_the_rest_bit_for_bit(dtype):
    g = np.array([np.inf, -np.inf, np.nan, -0.0, 3.0, -1e-3], dtype)
    drop = np.array([True, False, True, False, True, False])
    out = np.full_like(g, 7)
    zero_where(g, drop.copy(), out)
    expected = np.where(drop, dtype(0), g)
    np.testing.assert_array_equal(out.view(f"i{g.itemsize}"),
                                  expected.view(f"i{g.itemsize}"))


def test_zero_where_writes_into_a_transposed_view_and_reads_a_broadcast_gradient():
    g = np.broadcast_to(np.float32(np.inf), (3, 4))
    drop = np.arange(12).reshape(4, 3).T % 2 == 0
    buf = np.zeros((4, 3), np.float32)
    zero_where(g, drop.copy(), buf.T)
    np.testing.assert_array_equal(buf.T, np.where(drop, 0, np.inf))


ACTS = {
    "relu": (F.relu, TF.relu),
    "relu6": (F.relu6, TF.relu6),
    "hardsigmoid": (F.hardsigmoid, TF.hardsigmoid),
    "hardswish": (F.hardswish, TF.hardswish),
    "clip": (lambda t: t.clip(-1.0, 2.0), lambda t: t.clamp(-1.0, 2.0)),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(ACTS))
def test_activation_gradient_with_inf_and_nan_upstream_and_nan_inputs_matches_torch(name, dtype,
                                                                                    rng):
    # every kink, both sides of it, NaN inputs, each met by inf, -inf, NaN and finite gradients.
    # NaN inputs come first: PyTorch's hardtanh (ReLU6) drops their gradient in its vectorised
    # loop but passes it in the scalar loop over the last few elements, so keep them out of those
    kinks = np.array([np.nan, -4.0, -3.0, -1.0, 0.0, 0.5, 2.0, 3.0, 6.0, 7.0])
    x = np.repeat(kinks, len(NONFINITE)).astype(dtype)
    gy = np.tile(NONFINITE, len(kinks)).astype(dtype)
    x, gy = x.reshape(5, -1), gy.reshape(5, -1)
    got, want = _both(*ACTS[name], x, gy)
    # exact at every inf and NaN; PyTorch rounds hardsigmoid's 1/6 to float32 in float64
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=0)


def test_relu_gradient_of_a_zero_dimensional_input_with_inf_upstream_is_zero_where_clipped():
    for v, want in ((-1.0, 0.0), (2.0, np.inf)):
        x = striate.tensor(np.float32(v), requires_grad=True)
        F.relu(x).backward(np.float32(np.inf))
        np.testing.assert_array_equal(x.grad.numpy(), np.float32(want))


def test_add_relu_sends_zero_not_nan_where_the_sum_is_clipped_and_passes_nan_sums(rng):
    a = np.array([-1.0, 2.0, np.nan, 0.0, -3.0], np.float32)
    b = np.array([0.5, -1.0, 1.0, 0.0, 1.0], np.float32)
    gy = np.array([np.inf, np.nan, 2.0, -np.inf, np.nan], np.float32)
    sa, sb = striate.tensor(a, requires_grad=True), striate.tensor(b, requires_grad=True)
    F.add_relu(sa, sb).backward(gy)
    ta, tb = torch.from_numpy(a).requires_grad_(), torch.from_numpy(b).requires_grad_()
    TF.relu(ta + tb).backward(torch.from_numpy(gy))
    np.testing.assert_array_equal(sa.grad.numpy(), ta.grad.numpy())
    np.testing.assert_array_equal(sb.grad.numpy(), tb.grad.numpy())


def _inf_where_clipped(y, rng):
    """Finite gradients, inf wherever the (clipped) output y sits at 0."""
    gy = rng.standard_normal(y.shape).astype(y.dtype)
    gy[y <= 0] = np.inf
    return gy


@pytest.mark.parametrize("activation", ["relu", "relu6"])
def test_fused_conv_activation_keeps_inf_gradients_at_clipped_outputs_out_of_its_gradients(
        activation, rng):
    x = rng.standard_normal((2, 3, 6, 6))
    w = rng.standard_normal((4, 3, 3, 3))
    b = rng.standard_normal(4)
    xs, ws, bs = (striate.tensor(a, requires_grad=True) for a in (x, w, b))
    y = F.conv2d(xs, ws, bs, padding=1, activation=activation)
    gy = _inf_where_clipped(y.numpy(), rng)
    y.backward(gy)
    xt, wt, bt = (torch.from_numpy(a.copy()).requires_grad_() for a in (x, w, b))
    act = TF.relu if activation == "relu" else TF.relu6
    act(TF.conv2d(xt, wt, bt, padding=1)).backward(torch.from_numpy(gy))
    for s, t in ((xs, xt), (ws, wt), (bs, bt)):
        assert np.isfinite(s.grad.numpy()).all()
        np.testing.assert_allclose(s.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-10)


def test_fused_batch_norm_relu_keeps_inf_gradients_at_clipped_outputs_out_of_its_gradients(rng):
    x = rng.standard_normal((4, 3, 5, 5))
    w, b = rng.standard_normal(3), rng.standard_normal(3)
    xs, ws, bs = (striate.tensor(a, requires_grad=True) for a in (x, w, b))
    y = F.batch_norm(xs, None, None, ws, bs, training=True, activation="relu")
    gy = _inf_where_clipped(y.numpy(), rng)
    y.backward(gy)
    xt, wt, bt = (torch.from_numpy(a.copy()).requires_grad_() for a in (x, w, b))
    TF.relu(TF.batch_norm(xt, None, None, wt, bt, training=True)).backward(
        torch.from_numpy(gy))
    for s, t in ((xs, xt), (ws, wt), (bs, bt)):
        assert np.isfinite(s.grad.numpy()).all()
        np.testing.assert_allclose(s.grad.numpy(), t.grad.numpy(), rtol=1e-9, atol=1e-9)


# (shape, kernel, stride, padding, channels-last memory): the tiling 2x2/2 kernel in NCHW and
# channels-last, and the offsets' kernel with overlapping and with padded windows
POOLS = [
    ((2, 3, 6, 6), 2, 2, 0, False),
    ((2, 16, 6, 6), 2, 2, 0, True),
    ((2, 3, 7, 7), 3, 2, 1, False),
    ((2, 16, 7, 7), 3, 2, 1, True),
    ((2, 3, 6, 5), 3, 1, 0, False),
]


@pytest.mark.parametrize("shape,k,s,p,last", POOLS)
def test_max_pool_sends_inf_and_nan_gradients_only_to_each_windows_maximum(shape, k, s, p,
                                                                           last, rng):
    x = rng.permutation(np.prod(shape)).reshape(shape).astype(np.float32)  # no ties
    if last:
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    xs = striate.tensor(x, requires_grad=True)
    y = F.max_pool2d(xs, k, s, p)
    gy = _grads(y.shape, rng, np.float32)
    y.backward(gy)
    xt = torch.from_numpy(np.ascontiguousarray(x)).requires_grad_()
    TF.max_pool2d(xt, k, s, p).backward(torch.from_numpy(gy))
    np.testing.assert_array_equal(xs.grad.numpy(), xt.grad.numpy())
