"""Fuzzing batch_norm, local_response_norm, dropout, the activations and softmax against
torch (see ``_harness`` for the promise: the same result as torch in float64, or a clear
ValueError/TypeError naming the op)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import striate
import striate.functional as F

from ._harness import FUZZ, MUST_AGREE, SHORT, Raised, assert_same, compare, ours, rand

torch = pytest.importorskip("torch")
tF = torch.nn.functional

# the mean of nothing is NaN, as in torch; NumPy warns about it
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


# ---- normalization and dropout ----
@st.composite
def batch_norm_case(draw):
    ndim = draw(st.integers(2, 4))
    shape = (draw(st.integers(1, 4)), draw(st.integers(1, 3))) + tuple(
        draw(st.integers(1, 3)) for _ in range(ndim - 2))
    seed = draw(st.integers(0, 2**16))
    C = shape[1]
    x = rand(seed, shape)
    stats = (rand(seed + 1, (C,)), np.abs(rand(seed + 2, (C,))) + 0.5) \
        if draw(st.booleans()) else (None, None)
    w = rand(seed + 3, (C,)) if draw(st.booleans()) else None
    b = rand(seed + 4, (C,)) if draw(st.booleans()) else None
    kw = dict(training=draw(st.booleans()), momentum=draw(st.sampled_from([0.1, 0.0, 1.0, 0.5])),
              eps=draw(st.sampled_from([1e-5, 1e-3, 1.0])))
    brk = draw(st.sampled_from(["none"] * 5 + [
        "x_ndim", "x_int", "stats_shape", "stats_int", "stats_one", "weight_shape", "one_value",
        "zero_batch", "zero_channels", "momentum"]))
    if brk == "x_ndim":
        x = x.reshape(-1)
    elif brk == "x_int":
        x = np.ones(shape, dtype=np.int64)
    elif brk == "stats_shape":
        stats = (rand(seed, (C + 1,)), np.ones(C + 1))
    elif brk == "stats_int":
        stats = (np.zeros(C, dtype=np.int64), np.ones(C, dtype=np.int64))
    elif brk == "stats_one":
        stats = (rand(seed, (C,)), None)
    elif brk == "weight_shape":
        w = rand(seed, (C, 1))
    elif brk == "one_value":
        x, kw["training"] = rand(seed, (1, C)), True
    elif brk == "zero_batch":
        x = x[:0]
    elif brk == "zero_channels":
        x = x[:, :0]
    elif brk == "momentum":
        kw["momentum"] = draw(st.sampled_from(["0.1", None]))
    return x, stats, w, b, kw, brk


@FUZZ
@given(batch_norm_case())
def test_batch_norm_matches_torch_or_raises_clear_error(case):
    x, (rm, rv), w, b, kw, brk = case
    rms, rvs = (None if v is None else v.copy() for v in (rm, rv))
    rmt, rvt = (None, None) if not isinstance(rm, np.ndarray) or rm.dtype.kind != "f" \
        else (torch.tensor(rm), None if rv is None else torch.tensor(rv))
    training = kw["training"] or rm is None  # without running statistics torch needs training
    y = compare("batch_norm",
                lambda x, w, b: F.batch_norm(x, rms, rvs, w, b, **kw),
                lambda x, w, b: tF.batch_norm(x, rmt, rvt, w, b, **dict(kw, training=training)),
                (x, w, b),
                # NOTE: torch skips the one-value-per-channel check for an empty batch
                stricter=brk not in MUST_AGREE or brk == "zero_batch")
    if not isinstance(y, Raised) and rmt is not None and rvt is not None:
        assert_same("batch_norm running_mean", striate.tensor(rms), rmt)
        assert_same("batch_norm running_var", striate.tensor(rvs), rvt)


@SHORT
@given(st.tuples(st.integers(0, 2), st.integers(0, 6), st.integers(1, 3)),
       st.one_of(st.integers(1, 8), st.sampled_from([0, -1, 2.5, "3", 10**9, 10**30])),
       st.sampled_from([(1e-4, 0.75, 1.0), (1.0, 0.5, 2.0), (0.5, 1.5, 0.5)]),
       st.sampled_from(["ok", "x_2d", "x_int"]), st.integers(0, 2**16))
def test_local_response_norm_matches_torch_or_raises_clear_error(shape, size, abk, brk, seed):
    x = rand(seed, shape + (2,))
    if brk == "x_2d":
        x = x[:, :, 0, 0]
    elif brk == "x_int":
        x = np.ones(x.shape, dtype=np.int64)
    alpha, beta, k = abk
    t_size, t_alpha = size, alpha
    if size in (10**9, 10**30):
        # torch pads the channel axis by size - 1: 16 GB and more here, which once ran CI out of
        # memory. A window this wide covers every channel, as 2C + 1 does, so torch gets that
        # size with the same alpha / size: the same numbers
        t_size = 2 * x.shape[1] + 1
        t_alpha = alpha * t_size / size
    compare("local_response_norm", lambda x: F.local_response_norm(x, size, alpha, beta, k),
            lambda x: tF.local_response_norm(x, t_size, t_alpha, beta, k), (x,),
            stricter=brk == "x_int" or x.size == 0)


@SHORT
@given(st.lists(st.integers(0, 4), min_size=0, max_size=4),
       st.one_of(st.floats(0, 1), st.sampled_from([-0.1, 1.5, float("nan"), "0.5", True, None])),
       st.booleans(), st.sampled_from(["dropout", "dropout2d"]),
       st.sampled_from(["float", "int", "list"]), st.integers(0, 2**16))
def test_dropout_keeps_or_scales_each_element_or_raises_clear_error(shape, p, training, op,
                                                                     kind, seed):
    x = rand(seed, shape) + 10  # no zeros: a zero in the output means dropped
    x = {"float": x, "int": np.ones(shape, dtype=np.int64), "list": x.tolist()}[kind]
    xs = striate.tensor(x, requires_grad=True) if kind == "float" else x
    y = ours(op, lambda: getattr(F, op)(xs, p=p, training=training))
    valid = kind == "float" and isinstance(p, float) and 0 <= p <= 1 \
        and (op == "dropout" or len(shape) == 4)
    assert isinstance(y, Raised) != valid, f"{op}: {y!r} for p={p!r}, {kind} {shape}"
    if not valid:
        return
    if not training or p == 0:
        np.testing.assert_array_equal(y.data, x)
        return
    kept = y.data != 0
    np.testing.assert_allclose(y.data[kept], x[kept] / (1 - p), rtol=1e-12)
    if op == "dropout2d" and y.size:  # whole channels go together
        assert (kept == kept[:, :, :1, :1]).all()
    if y.requires_grad:
        y.backward(np.ones(y.shape))
        np.testing.assert_allclose(xs.grad.data, kept / (1 - p) if p < 1 else 0, rtol=1e-12)


# ---- activations ----
ACTIVATIONS = {
    "relu": (F.relu, tF.relu), "sigmoid": (F.sigmoid, torch.sigmoid), "tanh": (F.tanh, torch.tanh),
    "relu6": (F.relu6, tF.relu6), "hardswish": (F.hardswish, tF.hardswish),
    "hardsigmoid": (F.hardsigmoid, tF.hardsigmoid), "silu": (F.silu, tF.silu),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), lambda x: tF.leaky_relu(x, 0.2)),
    "elu": (lambda x: F.elu(x, 0.7), lambda x: tF.elu(x, 0.7)),
    "gelu": (F.gelu, tF.gelu),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"),
                  lambda x: tF.gelu(x, approximate="tanh")),
}


@FUZZ
@given(st.lists(st.integers(0, 3), min_size=0, max_size=4), st.sampled_from(sorted(ACTIVATIONS)),
       st.sampled_from(["float", "nan", "large", "int", "list"]), st.integers(0, 2**16))
def test_activations_match_torch_or_raise_clear_error(shape, name, kind, seed):
    op = name.split("_tanh")[0]
    fn, tfn = ACTIVATIONS[name]
    x = rand(seed, shape, nan=kind == "nan", scale=1e3 if kind == "large" else 3)
    if kind == "int":  # striate computes integer inputs in float64; compare with that
        xi = np.asarray(np.round(x), dtype=np.int64)
        y = ours(op, lambda: fn(xi))
        assert_same(op, y, tfn(torch.from_numpy(xi.astype(np.float64))), stricter=True)
        return
    compare(op, fn, tfn, (x.tolist() if kind == "list" else x,), grads=kind != "nan")


@FUZZ
@given(st.lists(st.integers(0, 3), min_size=0, max_size=4),
       st.one_of(st.integers(-5, 4), st.sampled_from([1.0, "1", None, (0, 1)])),
       st.sampled_from(["softmax", "log_softmax"]), st.sampled_from(["float", "large", "list"]),
       st.integers(0, 2**16))
def test_softmax_matches_torch_or_raises_clear_error(shape, axis, op, kind, seed):
    x = rand(seed, shape, scale=1e3 if kind == "large" else 3)
    x = x.tolist() if kind == "list" else x
    # torch accepts dim 0 or -1 for a 0-d input, and dim=None; striate needs an axis
    compare(op, lambda x: getattr(F, op)(x, axis=axis), lambda x: getattr(tF, op)(x, dim=axis),
            (x,), stricter=len(shape) == 0 or axis is None)
