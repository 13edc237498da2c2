"""Property-based fuzzing of the functional ops and tensor ops against the "clear errors" promise.

Every call with random shapes and arguments (valid ones and deliberately broken ones) must
either compute what PyTorch computes in float64 (forward and gradients) or raise a ValueError or
TypeError whose message names the op, never another exception type and never NumPy's own
message. Where striate and torch disagree on whether a call is valid, the test fails too, except
for the documented differences in ``_STRIATE_ONLY`` / ``_STRICTER``.
"""
from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import striate
import striate.functional as F

torch = pytest.importorskip("torch")
tF = torch.nn.functional

# STRIATE_FUZZ_SCALE=20 runs twenty times as many examples (a deeper search, by hand)
SCALE = int(os.environ.get("STRIATE_FUZZ_SCALE", "1"))
FUZZ = settings(max_examples=60 * SCALE, deadline=None, suppress_health_check=list(HealthCheck))
SHORT = settings(max_examples=30 * SCALE, deadline=None, suppress_health_check=list(HealthCheck))

# Fragments of NumPy's own messages: a clear error restates the problem in striate's words.
NUMPY_MESSAGES = (
    "could not be broadcast", "cannot reshape array", "zero-size array", "array is too big",
    "is out of bounds for", "not understood", "ufunc", "cannot be interpreted as an integer",
    "Python int too large", "empty sequence", "setting an array element", "AxisError",
    "could not convert", "only integers, slices", "division by zero", "modulo by zero",
    "maximum supported dimension", "negative dimensions are not allowed", "Unable to allocate",
)

HUGE = st.sampled_from([10**7, 10**9, 10**12, 10**30])


class Raised:
    """The outcome of a call that raised: the exception, kept for the messages."""

    def __init__(self, exc: BaseException):
        self.exc = exc

    def __repr__(self):
        return f"Raised({type(self.exc).__name__}: {self.exc})"


def ours(op: str, fn, *, index_ok: bool = False):
    """Run a striate call: its result, or ``Raised`` after checking the error is a clear one."""
    try:
        return fn()
    except (ValueError, TypeError, IndexError) as e:
        if isinstance(e, IndexError) and not index_ok:
            raise AssertionError(f"{op} raised IndexError: {e}") from e
        msg = str(e)
        assert op in msg, f"{op}: the error does not name the op: {type(e).__name__}: {msg}"
        bad = [m for m in NUMPY_MESSAGES if m in msg]
        assert not bad, f"{op}: NumPy's own message leaked ({bad}): {msg}"
        assert type(e).__module__ == "builtins", f"{op}: raised {type(e)}: {msg}"
        return Raised(e)


def theirs(fn):
    """Run the torch reference: its result, or ``Raised`` for any error it reports."""
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 - torch reports bad input with several types
        return Raised(e)


def to_np(v):
    if isinstance(v, (tuple, list)):
        return [to_np(a) for a in v]
    if isinstance(v, striate.Tensor):
        return v.data
    return v.detach().numpy()


def assert_same(op, a, e, rtol=1e-7, atol=1e-9):
    """Both raised, or both computed the same arrays (shape, dtype kind and values)."""
    if isinstance(a, Raised) or isinstance(e, Raised):
        assert isinstance(a, Raised) == isinstance(e, Raised), (
            f"{op}: striate gives {a!r} but torch gives {e!r}")
        return
    a, e = to_np(a), to_np(e)
    if isinstance(e, list):
        assert isinstance(a, list) and len(a) == len(e), f"{op}: {len(a)} pieces vs {len(e)}"
        for ai, ei in zip(a, e):
            assert_same(op, ai, ei, rtol, atol)
        return
    assert a.shape == e.shape, f"{op}: shape {a.shape} but torch gives {e.shape}"
    np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=op)


def rand(seed: int, shape, dtype=np.float64, nan: bool = False):
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    if nan and x.size:
        x.flat[seed % x.size] = np.nan
    return x


def grads_match(op, y, yt, inputs, tinputs, seed):
    """Backward the same random gy through both graphs; compare every input's gradient."""
    if isinstance(y, Raised) or y.size == 0 or not y.requires_grad:
        return
    gy = rand(seed + 1, y.shape)
    y.backward(gy)
    yt.backward(torch.from_numpy(gy))
    for i, (a, e) in enumerate(zip(inputs, tinputs)):
        if a is not None and a.requires_grad:
            assert_same(f"{op} grad of input {i}", a.grad, e.grad)


def leaves(*arrays):
    """striate and torch leaves (float64, requiring grad) for the float arrays; others as is."""
    s, t = [], []
    for a in arrays:
        if isinstance(a, np.ndarray) and a.dtype == np.float64:
            s.append(striate.tensor(a, requires_grad=True))
            t.append(torch.tensor(a, requires_grad=True))
        elif isinstance(a, np.ndarray):
            s.append(a)
            t.append(torch.from_numpy(a))
        else:
            s.append(a)
            t.append(a)
    return s, t


# ---- convolutions ----
CONV_BREAKS = ["none"] * 6 + [
    "nan", "x_ndim", "w_ndim", "channels", "groups", "stride", "padding", "dilation",
    "x_int", "x_f32", "x_list", "bias_shape", "bias_list", "zero_batch", "zero_size",
    "zero_kernel", "zero_channels", "huge_padding", "huge_stride",
]


@st.composite
def conv_case(draw, nd: int):
    """Arguments of conv1d (nd=1) or conv2d (nd=2): valid, then at most one thing broken."""
    G, cg, ocg = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    N = draw(st.integers(1, 3))
    k = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    size = tuple(draw(st.integers(1, 9)) for _ in range(nd))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    padding = draw(st.one_of(st.integers(0, 3), st.sampled_from(["valid", "same", "full"]),
                             st.tuples(*[st.integers(0, 3)] * nd)))
    if padding == "same":
        stride = (1,) * nd
    seed = draw(st.integers(0, 2**16))
    x = rand(seed, (N, G * cg) + size)
    w = rand(seed + 1, (G * ocg, cg) + k)
    b = rand(seed + 2, (G * ocg,)) if draw(st.booleans()) else None
    kw = dict(stride=stride if nd == 2 else stride[0], padding=padding,
              dilation=dilation if nd == 2 else dilation[0], groups=G)
    if isinstance(padding, tuple) and nd == 1:
        kw["padding"] = padding[0]
    brk = draw(st.sampled_from(CONV_BREAKS))
    if brk == "nan":
        x = rand(seed, x.shape, nan=True)
    elif brk == "x_ndim":
        x = x.reshape(x.shape + (1,)) if draw(st.booleans()) else x.reshape(x.shape[0], -1)
    elif brk == "w_ndim":
        w = w[..., 0] if draw(st.booleans()) else w[..., None]
    elif brk == "channels":
        x = rand(seed, (N, G * cg + draw(st.sampled_from([-1, 1, 2]))) + size)
    elif brk == "groups":
        kw["groups"] = draw(st.sampled_from([0, -1, G + 1, 1.5, True, "2"]))
    elif brk in ("stride", "padding", "dilation"):
        kw[brk] = draw(st.sampled_from([0, -1, 1.5, (1,) * (nd + 1), "2", None]))
    elif brk == "x_int":
        x = np.ones(x.shape, dtype=np.int64)
    elif brk == "x_f32":
        x = x.astype(np.float32)
    elif brk == "x_list":
        x = x.tolist()
    elif brk == "bias_shape":
        b = rand(seed + 2, (G * ocg + 1,))
    elif brk == "bias_list":
        b = [0.0] * (G * ocg)
    elif brk == "zero_batch":
        x = x[:0]
    elif brk == "zero_size":
        x = x[..., :0]
    elif brk == "zero_kernel":
        w = w[..., :0]
    elif brk == "zero_channels":
        x, w, kw["groups"] = x[:, :0], w[:, :0], 1
    elif brk == "huge_padding":
        kw["padding"] = draw(HUGE)
    elif brk == "huge_stride":
        kw["stride"] = draw(HUGE)
    return x, w, b, kw


def _torch_padding(padding, w, dilation, nd):
    """torch has no 'full': pass its explicit size, (k - 1) * dilation on each side."""
    if padding != "full":
        return padding
    d = (dilation,) * nd if isinstance(dilation, int) else dilation
    return tuple(di * (k - 1) for di, k in zip(d, w.shape[2:]))


def _conv_check(op, fn, tfn, case, nd):
    x, w, b, kw = case
    (xs, ws, bs), (xt, wt, bt) = leaves(x, w, b)
    y = ours(op, lambda: fn(xs, ws, bs, **kw))
    tkw = dict(kw)
    if isinstance(w, np.ndarray) and w.ndim == nd + 2:
        tkw["padding"] = _torch_padding(kw["padding"], w, kw["dilation"], nd)
    yt = theirs(lambda: tfn(xt, wt, bt, **tkw))
    assert_same(op, y, yt)
    grads_match(op, y, yt, (xs, ws, bs), (xt, wt, bt), seed=3)


@FUZZ
@given(conv_case(2))
def test_conv2d_matches_torch_or_raises_clear_error(case):
    _conv_check("conv2d", F.conv2d, tF.conv2d, case, 2)


@SHORT
@given(conv_case(1))
def test_conv1d_matches_torch_or_raises_clear_error(case):
    _conv_check("conv1d", F.conv1d, tF.conv1d, case, 1)
