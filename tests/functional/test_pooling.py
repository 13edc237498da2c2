"""Pooling: loop references, finite differences, torch parity, fast path, seeds, errors.
Stochastic pooling and channels-last memory have their own files (test_stochastic_pool.py,
test_pool_channels_last.py)."""
import numpy as np
import pytest
from reference_pooling import (
    adaptive_pool2d, pool2d, pool2d_same, shuffled_linspace,
)

import striate
import striate.functional as F
from striate.functional.pooling import (
    AvgPool2d, MaxPool2d, MinPool2d, StochasticPool2d, _divisor, _pool_args,
)
from striate.tensor import apply


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


# (input shape, kernel, stride, padding, ceil_mode): square and not, overlapping, padded, ragged
CONFIGS = [
    ((1, 2, 8, 8), 2, None, 0, False),
    ((2, 1, 7, 9), 2, None, 0, False),
    ((1, 2, 7, 9), 2, None, 0, True),
    ((1, 2, 7, 6), 3, 2, 1, False),
    ((1, 2, 7, 6), 3, 2, 1, True),
    ((1, 2, 6, 7), (2, 3), (1, 2), (1, 0), False),
    ((1, 2, 9, 5), (3, 2), (2, 3), (1, 1), True),
    ((2, 1, 5, 5), 3, 1, 1, False),
    ((1, 2, 5, 5), 1, 2, 0, True),
    ((1, 1, 2, 2), 3, 2, 0, True),  # kernel past the input: ceil mode keeps one window
]
IDS = [f"{s[2]}x{s[3]}-k{k}-s{st}-p{p}-{'ceil' if c else 'floor'}" for s, k, st, p, c in CONFIGS]


def _input(shape, seed=0):
    return shuffled_linspace(shape, np.random.default_rng(seed))


# ---- forward against the loop reference ----
@pytest.mark.parametrize("shape,k,s,p,ceil", CONFIGS, ids=IDS)
@pytest.mark.parametrize("mode", ["max", "min"])
def test_max_min_pool2d_forward_matches_loops(shape, k, s, p, ceil, mode):
    x = _input(shape)
    fn = F.max_pool2d if mode == "max" else F.min_pool2d
    expected = pool2d(x, mode, k, s, p, ceil)
    np.testing.assert_allclose(fn(x, k, s, p, ceil).data, expected, rtol=1e-12)


@pytest.mark.parametrize("shape,k,s,p,ceil", CONFIGS, ids=IDS)
@pytest.mark.parametrize("include", [True, False])
def test_avg_pool2d_forward_matches_loops(shape, k, s, p, ceil, include):
    x = _input(shape)
    y = F.avg_pool2d(x, k, s, p, ceil, count_include_pad=include)
    np.testing.assert_allclose(y.data, pool2d(x, "avg", k, s, p, ceil, include), rtol=1e-12)


@pytest.mark.parametrize(
    "hw,k,s",
    [((7, 7), 2, 2), ((6, 5), 3, 1), ((5, 8), 3, 2), ((9, 4), (2, 3), (3, 1)), ((4, 4), 1, 3)],
)
@pytest.mark.parametrize("mode", ["max", "min", "avg"])
def test_same_pooling_matches_keras_loops(hw, k, s, mode):
    x = _input((2, 3) + hw)
    fn = {"max": F.max_pool2d, "min": F.min_pool2d, "avg": F.avg_pool2d}[mode]
    expected = pool2d_same(x, mode, k, s)
    np.testing.assert_allclose(fn(x, k, s, padding="same").data, expected, rtol=1e-12)


def test_same_pooling_28x28x32_gives_14x14x32():
    # the seeds' SAME pooling: 2x2 windows, stride 2
    x = striate.tensor(np.random.default_rng(0).random((1, 32, 28, 28), dtype=np.float32))
    for fn in (F.max_pool2d, F.avg_pool2d, F.min_pool2d):
        assert fn(x, 2, 2, padding="same").shape == (1, 32, 14, 14)
    assert F.max_pool2d(x, 3, 2, padding="same").shape == (1, 32, 14, 14)


def test_valid_padding_equals_zero_padding():
    x = _input((1, 2, 7, 7))
    expected = F.max_pool2d(x, 3, 2, 0).data
    np.testing.assert_array_equal(F.max_pool2d(x, 3, 2, "valid").data, expected)


def test_stride_none_means_kernel_size():
    x = _input((1, 1, 6, 6))
    np.testing.assert_array_equal(F.avg_pool2d(x, 3).data, F.avg_pool2d(x, 3, 3).data)
    assert F.max_pool2d(x, (3, 2)).shape == (1, 1, 2, 3)


# ---- finite differences ----
@pytest.mark.parametrize("shape,k,s,p,ceil", CONFIGS, ids=IDS)
@pytest.mark.parametrize("mode", ["max", "min", "avg", "avg_nopad"])
def test_pool2d_gradcheck(shape, k, s, p, ceil, mode):
    fn = {
        "max": lambda x: F.max_pool2d(x, k, s, p, ceil),
        "min": lambda x: F.min_pool2d(x, k, s, p, ceil),
        "avg": lambda x: F.avg_pool2d(x, k, s, p, ceil),
        "avg_nopad": lambda x: F.avg_pool2d(x, k, s, p, ceil, count_include_pad=False),
    }[mode]
    assert striate.gradcheck(fn, [_input(shape)])


@pytest.mark.parametrize("mode", ["max", "min", "avg"])
def test_same_pooling_gradcheck(mode):
    fn = {"max": F.max_pool2d, "min": F.min_pool2d, "avg": F.avg_pool2d}[mode]
    assert striate.gradcheck(lambda x: fn(x, 3, 2, padding="same"), [_input((1, 2, 6, 5))])


# ---- torch parity (float64) ----
def _torch_check(torch, ours, theirs, x, rtol=1e-7):
    xs = striate.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    y, yt = ours(xs), theirs(xt)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=rtol, atol=1e-12)
    gy = np.random.default_rng(7).standard_normal(y.shape)
    y.backward(gy)
    yt.backward(torch.tensor(gy))
    np.testing.assert_allclose(xs.grad.data, xt.grad.numpy(), rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("seed", range(12))
def test_max_avg_pool2d_match_torch_on_random_configs(torch, seed):
    r = np.random.default_rng(seed)
    kh, kw = r.integers(1, 5, 2)
    sh, sw = r.integers(1, 4, 2)
    ph, pw = r.integers(0, kh // 2 + 1), r.integers(0, kw // 2 + 1)
    ceil, include = bool(r.integers(2)), bool(r.integers(2))
    shape = (2, 3, int(r.integers(kh, 12)), int(r.integers(kw, 12)))
    kw = dict(kernel_size=(int(kh), int(kw)), stride=(int(sh), int(sw)),
              padding=(int(ph), int(pw)), ceil_mode=ceil)
    x = _input(shape, seed)
    TF = torch.nn.functional
    _torch_check(torch, lambda a: F.max_pool2d(a, **kw), lambda a: TF.max_pool2d(a, **kw), x)
    _torch_check(
        torch, lambda a: F.avg_pool2d(a, **kw, count_include_pad=include),
        lambda a: TF.avg_pool2d(a, **kw, count_include_pad=include), x,
    )


@pytest.mark.parametrize("out", [1, 2, (3, 4), (5, 2), (7, 3), (9, 11), (None, 4), (2, None)])
def test_adaptive_pool2d_matches_torch(torch, out):
    x = _input((2, 3, 7, 6))
    TF = torch.nn.functional
    for ours, theirs in ((F.adaptive_avg_pool2d, TF.adaptive_avg_pool2d),
                         (F.adaptive_max_pool2d, TF.adaptive_max_pool2d)):
        _torch_check(torch, lambda a: ours(a, out), lambda a: theirs(a, out), x)


def test_global_pool2d_matches_torch(torch):
    x = _input((3, 4, 5, 6))
    TF = torch.nn.functional
    _torch_check(torch, F.global_avg_pool2d, lambda a: TF.adaptive_avg_pool2d(a, 1).flatten(1), x)
    _torch_check(torch, F.global_max_pool2d, lambda a: TF.adaptive_max_pool2d(a, 1).flatten(1), x)


def test_max_pool2d_ties_send_gradient_to_first_max_like_torch(torch):
    x = np.random.default_rng(0).integers(0, 3, (2, 2, 7, 7)).astype(np.float64)  # many ties
    TF = torch.nn.functional
    for kw in (dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
               dict(kernel_size=3, stride=1, padding=1, ceil_mode=True)):
        _torch_check(torch, lambda a: F.max_pool2d(a, **kw), lambda a: TF.max_pool2d(a, **kw), x)
    _torch_check(torch, lambda a: F.adaptive_max_pool2d(a, 3),
                 lambda a: TF.adaptive_max_pool2d(a, 3), x)
    _torch_check(torch, F.global_max_pool2d, lambda a: TF.adaptive_max_pool2d(a, 1).flatten(1), x)


# ---- adaptive and global against loops ----
@pytest.mark.parametrize("out", [(1, 1), (2, 3), (3, 3), (4, 5), (7, 6), (9, 8)])
@pytest.mark.parametrize("mode", ["avg", "max"])
def test_adaptive_pool2d_matches_loops_and_gradcheck(out, mode):
    x = _input((1, 2, 7, 6))
    fn = F.adaptive_avg_pool2d if mode == "avg" else F.adaptive_max_pool2d
    np.testing.assert_allclose(fn(x, out).data, adaptive_pool2d(x, out, mode), rtol=1e-12)
    assert striate.gradcheck(lambda a: fn(a, out), [x])


def test_adaptive_output_size_none_keeps_input_size():
    x = _input((1, 2, 7, 6))
    assert F.adaptive_avg_pool2d(x, (None, 3)).shape == (1, 2, 7, 3)
    assert F.adaptive_max_pool2d(x, (2, None)).shape == (1, 2, 2, 6)


def test_global_pool2d_values_shapes_and_gradcheck():
    x = _input((2, 3, 4, 5))
    np.testing.assert_allclose(F.global_avg_pool2d(x).data, x.mean(axis=(2, 3)), rtol=1e-12)
    np.testing.assert_allclose(F.global_max_pool2d(x).data, x.max(axis=(2, 3)), rtol=1e-12)
    assert striate.gradcheck(F.global_avg_pool2d, [x])
    assert striate.gradcheck(F.global_max_pool2d, [x])


# ---- the reshape fast path ----
def _slow(g):
    return g._replace(fast=False)


@pytest.mark.parametrize(
    "shape,k", [((2, 3, 8, 8), 2), ((2, 3, 12, 9), 3), ((1, 2, 6, 8), (3, 2)), ((2, 1, 4, 4), 1)]
)
@pytest.mark.parametrize("fn_cls", [MaxPool2d, MinPool2d, AvgPool2d, StochasticPool2d])
def test_fast_path_equals_general_path_forward_and_backward(shape, k, fn_cls):
    x = _input(shape)
    g = _pool_args("pool", shape, k, None, 0)
    assert g.fast
    extra = {AvgPool2d: {"div": _divisor(g, True, x.dtype)}, StochasticPool2d: {"training": False}}
    extra = extra.get(fn_cls, {})
    gy = np.random.default_rng(1).standard_normal(g.shape[:2] + g.out)
    grads = []
    for geo in (g, _slow(g)):
        xs = striate.tensor(x, requires_grad=True)
        y = apply(fn_cls, xs, g=geo, **extra)
        y.backward(gy)
        grads.append((y.data, xs.grad.data))
    np.testing.assert_array_equal(grads[0][0], grads[1][0])
    np.testing.assert_array_equal(grads[0][1], grads[1][1])


@pytest.mark.parametrize("shape,k,s,p,ceil", [
    ((1, 1, 7, 8), 2, None, 0, False),  # odd height: the last row is left out
    ((1, 1, 7, 8), 2, None, 0, True),  # ceil mode: a half window
    ((1, 1, 8, 8), 2, 1, 0, False),  # overlapping
    ((1, 1, 8, 8), 2, 3, 0, False),  # gaps between windows
    ((1, 1, 8, 8), 2, None, 1, False),  # padded
    ((1, 1, 8, 6), (2, 4), None, 0, False),  # width not divisible
])
def test_fast_path_refuses_ragged_and_padded_windows(shape, k, s, p, ceil):
    g = _pool_args("pool", shape, k, s, p, ceil)
    assert not g.fast
    x = _input(shape)
    np.testing.assert_allclose(F.max_pool2d(x, k, s, p, ceil).data, pool2d(x, "max", k, s, p, ceil))
    assert striate.gradcheck(lambda a: F.max_pool2d(a, k, s, p, ceil), [x])


def test_lenet_2x2_pooling_takes_fast_path():
    assert _pool_args("max_pool2d", (128, 6, 28, 28), 2, None, 0).fast
    assert _pool_args("max_pool2d", (128, 16, 10, 10), 2, 2, "same").fast


# ---- the seeds' worked examples ----
def test_max_pooling_routes_each_window_gradient_only_to_its_maximum():
    x = np.array([[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]], dtype=np.float64)
    xs = striate.tensor(x[None, None], requires_grad=True)
    y = F.max_pool2d(xs, 2, 2)
    np.testing.assert_array_equal(y.data[0, 0], [[6, 8], [3, 4]])
    y.backward(np.array([[[[10.0, 20.0], [30.0, 40.0]]]]))
    expected = np.zeros((4, 4))
    expected[1, 1], expected[1, 3], expected[2, 0], expected[3, 3] = 10, 20, 30, 40
    np.testing.assert_array_equal(xs.grad.data[0, 0], expected)


def test_average_pooling_spreads_gradient_evenly():
    xs = striate.tensor(np.arange(16.0).reshape(1, 1, 4, 4), requires_grad=True)
    y = F.avg_pool2d(xs, 2)
    np.testing.assert_array_equal(y.data[0, 0], [[2.5, 4.5], [10.5, 12.5]])
    y.backward(np.array([[[[4.0, 8.0], [12.0, 16.0]]]]))
    np.testing.assert_array_equal(xs.grad.data[0, 0], np.kron([[1, 2], [3, 4]], np.ones((2, 2))))


def test_min_pool2d_equals_negated_max_of_negated_input():
    x = _input((2, 3, 7, 6))
    for args in ((2,), (3, 2, 1), (3, 2, 1, True), (2, 2, "same")):
        a, b = striate.tensor(x, requires_grad=True), striate.tensor(x, requires_grad=True)
        ya, yb = F.min_pool2d(a, *args), -F.max_pool2d(-b, *args)
        np.testing.assert_array_equal(ya.data, yb.data)
        gy = np.random.default_rng(3).standard_normal(ya.shape)
        ya.backward(gy)
        yb.backward(gy)
        np.testing.assert_array_equal(a.grad.data, b.grad.data)


# ---- dtype, no_grad ----
@pytest.mark.parametrize("op", [
    lambda x: F.max_pool2d(x, 2), lambda x: F.max_pool2d(x, 3, 2, 1),
    lambda x: F.min_pool2d(x, 3, 1),
    lambda x: F.avg_pool2d(x, 3, 2, 1, True), lambda x: F.avg_pool2d(x, 2, 2, "same"),
    lambda x: F.stochastic_pool2d(x, 2), lambda x: F.stochastic_pool2d(x, 2, training=False),
    F.global_avg_pool2d, F.global_max_pool2d, lambda x: F.adaptive_avg_pool2d(x, 3),
    lambda x: F.adaptive_max_pool2d(x, (3, 2)), lambda x: F.adaptive_avg_pool2d(x, 2),
])
def test_float32_stays_float32_forward_and_backward(op):
    x = np.random.default_rng(0).random((2, 3, 7, 8), dtype=np.float32)
    xs = striate.tensor(x, requires_grad=True)
    y = op(xs)
    assert y.dtype == np.float32
    y.backward(np.ones(y.shape, np.float32))
    assert xs.grad.dtype == np.float32


def test_no_grad_forward_equals_recording_forward():
    x = _input((2, 3, 9, 8))
    xs = striate.tensor(x, requires_grad=True)
    for args in ((2,), (3, 2, 1, True)):
        with striate.no_grad():
            a = F.max_pool2d(xs, *args).data
            c = F.min_pool2d(xs, *args).data
        np.testing.assert_array_equal(a, F.max_pool2d(xs, *args).data)
        np.testing.assert_array_equal(c, F.min_pool2d(xs, *args).data)


def test_accepts_ndarray_and_tensor_inputs_alike():
    x = _input((1, 2, 4, 4))
    np.testing.assert_array_equal(F.max_pool2d(x, 2).data, F.max_pool2d(striate.tensor(x), 2).data)


# ---- bad input ----
@pytest.mark.parametrize("call,exc,match", [
    (lambda x: F.max_pool2d(x[0], 2), ValueError,
     r"max_pool2d: expected a 4-D input \(N, C, H, W\), got shape \(3, 6, 6\)"),
    (lambda x: F.avg_pool2d(x, 7), ValueError,
     r"avg_pool2d: kernel \(7, 7\) is larger than the padded input"),
    (lambda x: F.max_pool2d(x, 3, 0), ValueError,
     r"max_pool2d: stride must be positive, got \(0, 0\)"),
    (lambda x: F.min_pool2d(x, 3, (1, -1)), ValueError,
     r"min_pool2d: stride must be positive, got \(1, -1\)"),
    (lambda x: F.max_pool2d(x, 0), ValueError, r"max_pool2d: kernel_size must be positive"),
    (lambda x: F.max_pool2d(x, 3, 1, -1), ValueError,
     r"max_pool2d: padding must be non-negative, got \(-1, -1\)"),
    (lambda x: F.avg_pool2d(x, 3, 1, 2), ValueError,
     r"avg_pool2d: padding \(2, 2\) must be at most half the kernel size \(3, 3\)"),
    (lambda x: F.max_pool2d(x, 2, padding="full"), ValueError,
     r"max_pool2d: padding must be .*'same'.*got 'full'"),
    (lambda x: F.max_pool2d(x, 2.5), TypeError,
     r"max_pool2d: kernel_size must be an int or a pair of ints, got 2.5"),
    (lambda x: F.max_pool2d(x, (2, 2, 2)), TypeError, r"kernel_size must be an int or a pair"),
    (lambda x: F.max_pool2d(x.astype(np.int64), 2), TypeError,
     r"max_pool2d: expected a floating-point input, got dtype int64"),
    (lambda x: F.max_pool2d([[1.0]], 2), TypeError,
     r"max_pool2d: expected a Tensor or an ndarray, got list"),
    (lambda x: F.stochastic_pool2d(x, 8), ValueError,
     r"stochastic_pool2d: kernel \(8, 8\) is larger"),
    (lambda x: F.global_avg_pool2d(x[0, 0]), ValueError,
     r"global_avg_pool2d: expected a 4-D input"),
    (lambda x: F.global_max_pool2d(x[None]), ValueError,
     r"global_max_pool2d: expected a 4-D input"),
    (lambda x: F.adaptive_avg_pool2d(x, 0), ValueError,
     r"adaptive_avg_pool2d: output_size must be positive, got 0"),
    (lambda x: F.adaptive_max_pool2d(x, (2, 2, 2)), TypeError,
     r"adaptive_max_pool2d: output_size must be an int or a pair"),
    (lambda x: F.adaptive_avg_pool2d(x, 2.0), TypeError,
     r"adaptive_avg_pool2d: output_size must be an int or a pair"),
])
def test_bad_arguments_raise_clear_errors(call, exc, match):
    x = np.zeros((2, 3, 6, 6))
    with pytest.raises(exc, match=match):
        call(x)
