"""batch_norm and local_response_norm: loop references, finite differences, torch parity, errors."""
import numpy as np
import pytest
import reference_pooling as ref

import striate
import striate.functional as F

SHAPES = [(6, 3), (4, 3, 5), (3, 3, 4, 5)]  # (N, C), (N, C, L), (N, C, H, W)


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def _data(shape, seed=0):
    r = np.random.default_rng(seed)
    C = shape[1]
    x = r.standard_normal(shape) * 2 + 1
    return x, r.standard_normal(C), r.standard_normal(C), r.standard_normal(C), r.random(C) + 0.5


def _batch_stats(x):
    axes = (0,) + tuple(range(2, x.ndim))
    return x.mean(axis=axes), x.var(axis=axes)


# ---- batch_norm forward against loops ----
@pytest.mark.parametrize("shape", SHAPES)
def test_batch_norm_training_normalizes_with_batch_statistics(shape):
    x, w, b, rm, rv = _data(shape)
    y = F.batch_norm(x, rm, rv, striate.tensor(w), striate.tensor(b), training=True, eps=1e-3)
    mean, var = _batch_stats(x)
    expected = ref.batch_norm(x, mean, var, w, b, 1e-3)
    np.testing.assert_allclose(y.data, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("shape", SHAPES)
def test_batch_norm_eval_uses_running_statistics(shape):
    x, w, b, rm, rv = _data(shape)
    rm0, rv0 = rm.copy(), rv.copy()
    y = F.batch_norm(x, rm, rv, striate.tensor(w), striate.tensor(b), training=False)
    expected = ref.batch_norm(x, rm, rv, w, b, 1e-5)
    np.testing.assert_allclose(y.data, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(rm, rm0)  # eval leaves the running statistics alone
    np.testing.assert_array_equal(rv, rv0)


@pytest.mark.parametrize("shape", SHAPES)
def test_batch_norm_updates_running_stats_in_place_with_unbiased_variance(shape):
    x, w, b, rm, rv = _data(shape)
    rm_t, rv_t = striate.tensor(rm.copy()), striate.tensor(rv.copy())
    arr_m, arr_v = rm_t.data, rv_t.data
    F.batch_norm(x, rm_t, rv_t, training=True, momentum=0.2)
    mean, var = _batch_stats(x)
    M = x.size // x.shape[1]
    assert rm_t.data is arr_m and rv_t.data is arr_v  # the same arrays, updated in place
    np.testing.assert_allclose(arr_m, 0.8 * rm + 0.2 * mean, rtol=1e-12)
    np.testing.assert_allclose(arr_v, 0.8 * rv + 0.2 * var * M / (M - 1), rtol=1e-12)


def test_batch_norm_without_running_stats_always_uses_the_batch():
    x, w, b, _, _ = _data((5, 3, 2, 2))
    mean, var = _batch_stats(x)
    expected = ref.batch_norm(x, mean, var, np.ones(3), np.zeros(3), 1e-5)
    for training in (True, False):
        y = F.batch_norm(x, None, None, training=training)
        np.testing.assert_allclose(y.data, expected, rtol=1e-10, atol=1e-12)


def test_batch_norm_without_affine_parameters_is_plain_standardization():
    x = _data((8, 4, 3, 3))[0]
    y = F.batch_norm(x, None, None, training=True, eps=0.0).data
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0.0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1.0, rtol=1e-10)


# ---- batch_norm gradients ----
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_gradcheck_x_weight_bias(shape, training):
    x, w, b, rm, rv = _data(shape)
    def fn(x, w, b):
        return F.batch_norm(x, rm.copy(), rv.copy(), w, b, training=training)

    assert striate.gradcheck(fn, [x, w, b])


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_gradcheck_without_affine(training):
    x, _, _, rm, rv = _data((4, 3, 2, 3))
    def fn(x):
        return F.batch_norm(x, rm.copy(), rv.copy(), training=training)

    assert striate.gradcheck(fn, [x])


def test_batch_norm_gradient_of_weight_only():
    x, w, _, rm, rv = _data((4, 3, 5))
    xs, ws = striate.tensor(x), striate.tensor(w, requires_grad=True)
    F.batch_norm(xs, rm, rv, ws, training=True).sum().backward()
    # sum(xhat) over the batch is zero for every channel
    np.testing.assert_allclose(ws.grad.data, 0.0, atol=1e-12)


# ---- batch_norm torch parity ----
@pytest.mark.parametrize("shape", SHAPES + [(16, 4, 6, 6)])
def test_batch_norm_matches_torch_over_training_steps_then_eval(torch, shape):
    x, w, b, rm, rv = _data(shape)
    ws, bs = striate.tensor(w, requires_grad=True), striate.tensor(b, requires_grad=True)
    wt, bt = torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)
    rm_s, rv_s = striate.tensor(rm.copy()), striate.tensor(rv.copy())
    rm_t, rv_t = torch.tensor(rm.copy()), torch.tensor(rv.copy())
    r = np.random.default_rng(1)
    for step in range(4):
        training = step < 3
        xb = x * (1 + step) + step  # batches with different statistics
        xs, xt = striate.tensor(xb, requires_grad=True), torch.tensor(xb, requires_grad=True)
        ws.grad = bs.grad = wt.grad = bt.grad = None
        kw = dict(training=training, momentum=0.3, eps=1e-4)
        y = F.batch_norm(xs, rm_s, rv_s, ws, bs, **kw)
        yt = torch.nn.functional.batch_norm(xt, rm_t, rv_t, wt, bt, **kw)
        gy = r.standard_normal(shape)
        y.backward(gy)
        yt.backward(torch.tensor(gy))
        pairs = ((y.data, yt.detach()), (xs.grad.data, xt.grad), (ws.grad.data, wt.grad),
                 (bs.grad.data, bt.grad), (rm_s.data, rm_t), (rv_s.data, rv_t))
        for ours, theirs in pairs:
            np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-7, atol=1e-10)


def test_batch_norm_float32_stays_float32():
    x = np.random.default_rng(0).standard_normal((8, 4, 3, 3)).astype(np.float32)
    xs = striate.tensor(x, requires_grad=True)
    w = striate.tensor(np.ones(4, np.float32), requires_grad=True)
    b = striate.tensor(np.zeros(4, np.float32), requires_grad=True)
    rm, rv = np.zeros(4, np.float32), np.ones(4, np.float32)
    for training in (True, False):
        y = F.batch_norm(xs, rm, rv, w, b, training=training)
        assert y.dtype == np.float32
        y.backward(np.ones(y.shape, np.float32))
        assert xs.grad.dtype == w.grad.dtype == b.grad.dtype == np.float32
    assert rm.dtype == rv.dtype == np.float32


# ---- local response norm ----
@pytest.mark.parametrize("size", [1, 2, 3, 5, 9])
@pytest.mark.parametrize("shape", [(2, 7, 3, 4), (2, 6, 5)])
def test_local_response_norm_matches_loops_and_gradcheck(size, shape):
    x = np.random.default_rng(0).standard_normal(shape)
    y = F.local_response_norm(x, size, alpha=0.1, beta=0.75, k=2.0)
    np.testing.assert_allclose(y.data, ref.local_response_norm(x, size, 0.1, 0.75, 2.0), rtol=1e-12)
    assert striate.gradcheck(lambda a: F.local_response_norm(a, size, 0.1, 0.75, 2.0), [x])


@pytest.mark.parametrize(
    "size,alpha,beta,k",
    [(5, 1e-4, 0.75, 1.0), (2, 0.5, 0.5, 1.0), (4, 0.1, 1.5, 0.5), (3, 1.0, 0.75, 2.0)],
)
@pytest.mark.parametrize("shape", [(3, 8, 4, 5), (2, 5, 6)])
def test_local_response_norm_matches_torch(torch, size, alpha, beta, k, shape):
    x = np.random.default_rng(size).standard_normal(shape) * 3
    xs, xt = striate.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y = F.local_response_norm(xs, size, alpha, beta, k)
    yt = torch.nn.functional.local_response_norm(xt, size, alpha, beta, k)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-7)
    gy = np.random.default_rng(9).standard_normal(shape)
    y.backward(gy)
    yt.backward(torch.tensor(gy))
    np.testing.assert_allclose(xs.grad.data, xt.grad.numpy(), rtol=1e-7, atol=1e-12)


def test_local_response_norm_float32_stays_float32():
    x = np.random.default_rng(0).random((2, 6, 3, 3), dtype=np.float32)
    xs = striate.tensor(x, requires_grad=True)
    y = F.local_response_norm(xs, 5)
    assert y.dtype == np.float32
    y.backward(np.ones(y.shape, np.float32))
    assert xs.grad.dtype == np.float32


# ---- bad input ----
@pytest.mark.parametrize("call,exc,match", [
    (lambda x: F.batch_norm(x[0, 0, 0], None, None), ValueError,
     r"batch_norm: expected an input of shape \(N, C, \.\.\.\), got shape \(4,\)"),
    (lambda x: F.batch_norm(x, np.zeros(4), np.ones(3)), ValueError,
     r"batch_norm: running_mean has shape \(4,\), expected \(3,\) for 3 channels"),
    (lambda x: F.batch_norm(x, np.zeros(3), np.ones((3, 1))), ValueError,
     r"batch_norm: running_var has shape \(3, 1\), expected \(3,\)"),
    (lambda x: F.batch_norm(x, np.zeros(3), None), ValueError,
     r"batch_norm: running_mean and running_var must both be given"),
    (lambda x: F.batch_norm(x, [0, 0, 0], [1, 1, 1]), TypeError,
     r"batch_norm: running_mean must be a floating-point Tensor or ndarray"),
    (lambda x: F.batch_norm(x, None, None, striate.tensor(np.ones(2))), ValueError,
     r"batch_norm: weight must be a Tensor of shape \(3,\), got \(2,\)"),
    (lambda x: F.batch_norm(x, None, None, None, np.ones(3)), ValueError,
     r"batch_norm: bias must be a Tensor of shape \(3,\), got ndarray"),
    (lambda x: F.batch_norm(x[:1, :, :1, :1], None, None, training=True), ValueError,
     r"batch_norm: expected more than 1 value per channel when training, "
     r"got input of shape \(1, 3, 1, 1\)"),
    (lambda x: F.batch_norm(x.astype(int), None, None), TypeError,
     r"batch_norm: expected a floating-point input, got dtype int64"),
    (lambda x: F.batch_norm(x, None, None, momentum=None), TypeError,
     r"batch_norm: momentum must be a number, got None"),
    (lambda x: F.local_response_norm(x[0, 0], 3), ValueError,
     r"local_response_norm: expected an input of shape \(N, C, \.\.\.\) with at least 3 "
     r"dimensions, got shape \(4, 4\)"),
    (lambda x: F.local_response_norm(x, 0), ValueError,
     r"local_response_norm: size must be a positive int, got 0"),
    (lambda x: F.local_response_norm(x, 2.5), ValueError,
     r"local_response_norm: size must be a positive int, got 2.5"),
    (lambda x: F.local_response_norm(x, 3, alpha="a"), TypeError,
     r"local_response_norm: alpha must be a number"),
])
def test_bad_arguments_raise_clear_errors(call, exc, match):
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 4))
    with pytest.raises(exc, match=match):
        call(x)


# ---- layer norm ----
@pytest.mark.parametrize(
    "shape,normalized", [((4, 10), 10), ((2, 3, 4, 5), (4, 5)), ((3, 6), (6,))]
)
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_matches_torch_and_gradcheck(torch, shape, normalized, affine):
    r = np.random.default_rng(0)
    nshape = normalized if isinstance(normalized, tuple) else (normalized,)
    x, w, b = r.standard_normal(shape) * 3 + 1, r.standard_normal(nshape), r.standard_normal(nshape)
    xs, ws, bs = (striate.tensor(a, requires_grad=True) for a in (x, w, b))
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    if not affine:
        ws = bs = wt = bt = None
    y = F.layer_norm(xs, normalized, ws, bs, eps=1e-4)
    yt = torch.nn.functional.layer_norm(xt, nshape, wt, bt, eps=1e-4)
    gy = r.standard_normal(shape)
    y.backward(gy)
    yt.backward(torch.tensor(gy))
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(xs.grad.data, xt.grad.numpy(), rtol=1e-7, atol=1e-12)
    if affine:
        np.testing.assert_allclose(ws.grad.data, wt.grad.numpy(), rtol=1e-7, atol=1e-12)
        np.testing.assert_allclose(bs.grad.data, bt.grad.numpy(), rtol=1e-7, atol=1e-12)
        assert striate.gradcheck(lambda x, w, b: F.layer_norm(x, normalized, w, b), [x, w, b])
    else:
        assert striate.gradcheck(lambda x: F.layer_norm(x, normalized), [x])


def test_layer_norm_float32_stays_float32():
    x = np.random.default_rng(0).random((4, 8), dtype=np.float32)
    xs = striate.tensor(x, requires_grad=True)
    w = striate.tensor(np.ones(8, np.float32), requires_grad=True)
    y = F.layer_norm(xs, 8, w)
    assert y.dtype == np.float32
    y.backward(np.ones(y.shape, np.float32))
    assert xs.grad.dtype == w.grad.dtype == np.float32


@pytest.mark.parametrize("call,exc,match", [
    (lambda x: F.layer_norm(x, 5), ValueError,
     r"layer_norm: input of shape \(2, 3, 4, 4\) does not end with normalized_shape \(5,\)"),
    (lambda x: F.layer_norm(x, (2, 3, 4, 4, 4)), ValueError, r"does not end with normalized_shape"),
    (lambda x: F.layer_norm(x, 4.0), TypeError,
     r"layer_norm: normalized_shape must be an int or a tuple"),
    (lambda x: F.layer_norm(x, (4, 4), striate.tensor(np.ones(4))), ValueError,
     r"layer_norm: weight must be a Tensor of shape \(4, 4\), got \(4,\)"),
])
def test_layer_norm_bad_arguments_raise_clear_errors(call, exc, match):
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 4))
    with pytest.raises(exc, match=match):
        call(x)


# ---- batch_norm on channels-last memory (how the convolutions return their output) ----
def _channels_last(a):
    """``a`` with the same shape and values, its memory laid out with the channels last."""
    return np.moveaxis(np.ascontiguousarray(np.moveaxis(a, 1, -1)), -1, 1)


def _bn_run(x, gy, w, b, rm, rv, training):
    xs = striate.tensor(x, requires_grad=True)
    ws, bs = striate.tensor(w, requires_grad=True), striate.tensor(b, requires_grad=True)
    y = F.batch_norm(xs, rm.copy(), rv.copy(), ws, bs, training=training)
    y.backward(gy)
    return y.data, xs.grad.data, ws.grad.data, bs.grad.data


@pytest.mark.parametrize("shape", [(8, 16, 4, 4), (3, 5, 3, 7), (4, 3, 5), (2, 64, 1, 1)])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("gy_layout", ["same", "other"])
def test_batch_norm_channels_last_input_matches_nchw(shape, training, gy_layout):
    x, w, b, rm, rv = _data(shape)
    gy = np.random.default_rng(3).standard_normal(shape)
    xl = _channels_last(x)
    gyl = _channels_last(gy) if gy_layout == "same" else gy
    want = _bn_run(x, gy, w, b, rm, rv, training)
    got = _bn_run(xl, gyl, w, b, rm, rv, training)
    for g, e in zip(got, want):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-12)
    # the output keeps the input's layout, so the next convolution need not copy it
    assert np.moveaxis(got[0], 1, -1).flags.c_contiguous


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_channels_last_gradcheck(training):
    x, w, b, rm, rv = _data((4, 3, 3, 2))
    def fn(x, w, b):
        return F.batch_norm(x, rm.copy(), rv.copy(), w, b, training=training)

    assert striate.gradcheck(fn, [_channels_last(x), w, b])


def test_batch_norm_without_grad_gives_the_same_output_and_running_stats():
    x, w, b, rm, rv = _data((6, 4, 3, 3))
    rm1, rv1, rm2, rv2 = rm.copy(), rv.copy(), rm.copy(), rv.copy()
    ws, bs = striate.tensor(w, requires_grad=True), striate.tensor(b, requires_grad=True)
    y1 = F.batch_norm(striate.tensor(x, requires_grad=True), rm1, rv1, ws, bs, training=True)
    with striate.no_grad():  # normalizes in place, keeps nothing for a backward
        y2 = F.batch_norm(striate.tensor(x), rm2, rv2, ws, bs, training=True)
    np.testing.assert_allclose(y2.data, y1.data, rtol=1e-14)
    np.testing.assert_allclose(rm2, rm1, rtol=1e-14)
    np.testing.assert_allclose(rv2, rv1, rtol=1e-14)


def test_batch_norm_eval_of_an_empty_batch_is_empty():
    _, w, b, rm, rv = _data((1, 4, 3, 3))
    for x in (np.zeros((0, 4, 3, 3)), _channels_last(np.zeros((0, 4, 3, 3)))):
        y = F.batch_norm(striate.tensor(x), rm, rv, striate.tensor(w), striate.tensor(b))
        assert y.shape == (0, 4, 3, 3)
