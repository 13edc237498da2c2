"""Fuzzing max, min, average, stochastic, adaptive and global pooling against torch (see
``_harness`` for the promise: the same result as torch in float64, or a clear ValueError/TypeError
naming the op)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import striate.functional as F

from ._harness import (
    FUZZ,
    HUGE,
    MUST_AGREE,
    SHORT,
    Raised,
    assert_same,
    compare,
    ours,
    rand,
    theirs,
)

torch = pytest.importorskip("torch")
tF = torch.nn.functional

# the mean of nothing is NaN, as in torch; NumPy warns about it
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


# ---- pooling ----
POOL_BREAKS = ["none"] * 5 + [
    "nan", "x_ndim", "x_int", "x_list", "kernel", "stride", "padding", "zero_size",
    "zero_batch", "huge_kernel", "huge_stride"]


@st.composite
def pool_case(draw):
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 8)),
             draw(st.integers(1, 8)))
    stride = draw(st.one_of(st.none(), st.integers(1, 3),
                            st.tuples(st.integers(1, 3), st.integers(1, 3))))
    padding = draw(st.one_of(st.just(0), st.tuples(st.integers(0, k[0] // 2),
                                                    st.integers(0, k[1] // 2))))
    kw = dict(kernel_size=k, stride=stride, padding=padding, ceil_mode=draw(st.booleans()))
    seed = draw(st.integers(0, 2**16))
    x = rand(seed, shape)
    brk = draw(st.sampled_from(POOL_BREAKS))
    if brk == "nan":
        x = rand(seed, shape, nan=True)
    elif brk == "x_ndim":
        x = x[0]
    elif brk == "x_int":
        x = np.ones(shape, dtype=np.int64)
    elif brk == "x_list":
        x = x.tolist()
    elif brk in ("kernel", "stride"):
        kw[brk + ("_size" if brk == "kernel" else "")] = draw(
            st.sampled_from([0, -1, 2.0, (1, 2, 3), "2", (1, None)]))
    elif brk == "padding":
        kw["padding"] = draw(st.sampled_from([-1, k[0] // 2 + 1, 1.5, "bogus"]))
    elif brk == "zero_size":
        x = x[:, :, :0]
    elif brk == "zero_batch":
        x = x[:0]
    elif brk == "huge_kernel":
        kw["kernel_size"] = draw(HUGE)
    elif brk == "huge_stride":
        kw["stride"] = draw(HUGE)
    return x, kw, brk


def _torch_stride(kw):
    s = kw["stride"]  # torch overflows on a huge stride; past the input every stride is one
    return 10**6 if isinstance(s, int) and s > 10**6 else s


@FUZZ
@given(pool_case(), st.sampled_from(["max_pool2d", "min_pool2d", "avg_pool2d"]),
       st.booleans())
def test_pooling_matches_torch_or_raises_clear_error(case, op, count_include_pad):
    x, kw, brk = case
    tkw = dict(kw, stride=_torch_stride(kw))
    if op == "max_pool2d":
        fn, tfn = F.max_pool2d, tF.max_pool2d
    elif op == "min_pool2d":
        fn, tfn = F.min_pool2d, (lambda x, **a: -tF.max_pool2d(-x, **a))
    else:
        def fn(x, **a):
            return F.avg_pool2d(x, **a, count_include_pad=count_include_pad)

        def tfn(x, **a):
            return tF.avg_pool2d(x, **a, count_include_pad=count_include_pad)
    # NOTE: with a NaN in a window the gradient goes to a different element than torch's
    compare(op, lambda x: fn(x, **kw), lambda x: tfn(x, **tkw), (x,), grads=brk != "nan",
            stricter=brk not in MUST_AGREE)


@SHORT
@given(pool_case(), st.booleans())
def test_stochastic_pool2d_picks_from_window_or_raises_clear_error(case, training):
    x, kw, brk = case
    assume(brk != "nan")
    op = "stochastic_pool2d"
    kw = dict(kernel_size=kw["kernel_size"], stride=kw["stride"])
    y = ours(op, lambda: F.stochastic_pool2d(x, training=training, **kw))
    a = torch.from_numpy(x).clamp(min=0) if isinstance(x, np.ndarray) and x.dtype.kind == "f" \
        and x.ndim == 4 else None
    tkw = dict(kw, stride=_torch_stride(kw))
    if a is None or theirs(lambda: tF.max_pool2d(a, **tkw)).__class__ is Raised:
        assert isinstance(y, Raised), f"{op}: computed {y!r} for a call max_pool2d refuses"
        return
    assert not isinstance(y, Raised), f"{op}: refused a valid call: {y!r}"
    total = tF.avg_pool2d(a, **tkw)
    if training:  # one activation of the window, at most its maximum, 0 where none is positive
        hi = tF.max_pool2d(a, **tkw).numpy()
        ok = (y.data <= hi + 1e-12) & ((y.data > 0) | (total.numpy() <= 0))
        assert ok.all(), f"{op}: picked values outside their windows"
    else:  # expectation sum(a^2) / sum(a) over positive activations
        ref = torch.where(total > 0, tF.avg_pool2d(a * a, **tkw) / total, 0)
        assert_same(op, y, ref)


# ---- adaptive and global pooling ----
SIZES = st.one_of(st.integers(1, 9), st.tuples(st.one_of(st.none(), st.integers(1, 9)),
                                               st.one_of(st.none(), st.integers(1, 9))))


@FUZZ
@given(st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 7), st.integers(0, 7)),
       st.one_of(SIZES, st.sampled_from([0, -2, 2.5, (1, 2, 3), "3", 10**12, (10**9, 10**9)])),
       st.sampled_from(["adaptive_avg_pool2d", "adaptive_max_pool2d"]),
       st.integers(0, 2**16))
def test_adaptive_pooling_matches_torch_or_raises_clear_error(shape, size, op, seed):
    assume(shape[0] * shape[1] > 0 or shape[2] * shape[3] > 0)
    x = rand(seed, shape)
    fn, tfn = getattr(F, op), getattr(tF, op)
    # torch refuses inputs without channels (striate pools them to an empty output) but
    # averages empty maps to NaN for output size 1 (striate refuses them whatever the size),
    # and pools to an output size of 0 (striate refuses it)
    zero = size == 0 or (isinstance(size, tuple) and 0 in size)
    compare(op, lambda x: fn(x, size), lambda x: tfn(x, size), (x,), lenient=shape[1] == 0,
            stricter=x.size == 0 or zero)


@SHORT
@given(st.tuples(*[st.integers(0, 4)] * 4) | st.tuples(*[st.integers(1, 3)] * 3),
       st.sampled_from(["global_avg_pool2d", "global_max_pool2d"]), st.booleans(),
       st.integers(0, 2**16))
def test_global_pooling_matches_torch_or_raises_clear_error(shape, op, as_int, seed):
    x = np.ones(shape, dtype=np.int64) if as_int else rand(seed, shape)
    red = torch.mean if op == "global_avg_pool2d" else torch.amax
    # torch averages an empty map to NaN; striate refuses it, as torch's adaptive pooling does
    compare(op, getattr(F, op), lambda x: red(x, dim=(2, 3)), (x,),
            stricter=as_int or (len(shape) == 4 and shape[2] * shape[3] == 0))
