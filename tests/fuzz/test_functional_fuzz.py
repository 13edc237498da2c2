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


def assert_same(op, a, e, rtol=1e-7, atol=1e-9, stricter=False):
    """Both raised, or both computed the same arrays (shape and values).

    ``stricter``: striate may refuse a call torch accepts (a documented difference).
    """
    if isinstance(a, Raised) or isinstance(e, Raised):
        if stricter and isinstance(a, Raised):
            return
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


def compare(op, fn, tfn, arrays, *, grads=True, stricter=False, index_ok=False, rtol=1e-7,
            atol=1e-9):
    """Call ``fn(*inputs)`` and ``tfn(*torch_inputs)`` on the same arrays; check the outcome.

    Where both compute, the outputs must agree, and so must the gradients of every float64
    input for the same random output gradient (unless ``grads`` is False).
    """
    (xs, xt) = leaves(*arrays)
    y = ours(op, lambda: fn(*xs), index_ok=index_ok)
    yt = theirs(lambda: tfn(*xt))
    assert_same(op, y, yt, rtol, atol, stricter)
    if not grads or isinstance(y, Raised) or not isinstance(y, striate.Tensor) \
            or not y.requires_grad:
        return y
    gy = rand(7, y.shape)
    y.backward(gy)
    yt.backward(torch.from_numpy(gy))
    for i, (a, e) in enumerate(zip(xs, xt)):
        if isinstance(a, striate.Tensor) and a.requires_grad:
            assert_same(f"{op} (gradient of input {i})", a.grad, e.grad, rtol, atol)
    return y


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
    tkw = dict(kw)
    if isinstance(w, np.ndarray) and w.ndim == nd + 2:
        tkw["padding"] = _torch_padding(kw["padding"], w, kw["dilation"], nd)
    if isinstance(kw["stride"], int) and kw["stride"] > 10**6:
        tkw["stride"] = 10**6  # torch overflows; any stride past the padded input is one window
    # striate refuses inputs without channels (torch returns an oddly shaped empty tensor)
    stricter = isinstance(x, np.ndarray) and x.ndim > 1 and x.shape[1] == 0
    compare(op, lambda x, w, b: fn(x, w, b, **kw), lambda x, w, b: tfn(x, w, b, **tkw),
            (x, w, b), stricter=stricter)


@FUZZ
@given(conv_case(2))
def test_conv2d_matches_torch_or_raises_clear_error(case):
    _conv_check("conv2d", F.conv2d, tF.conv2d, case, 2)


@SHORT
@given(conv_case(1))
def test_conv1d_matches_torch_or_raises_clear_error(case):
    _conv_check("conv1d", F.conv1d, tF.conv1d, case, 1)


@st.composite
def conv_transpose_case(draw):
    G, cg, ocg = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    N, H, W = draw(st.integers(1, 2)), draw(st.integers(1, 5)), draw(st.integers(1, 5))
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    kw = dict(stride=s, padding=(draw(st.integers(0, 2)), draw(st.integers(0, 2))),
              output_padding=(draw(st.integers(0, 2)), draw(st.integers(0, 2))), groups=G,
              dilation=d)
    seed = draw(st.integers(0, 2**16))
    x, w = rand(seed, (N, G * cg, H, W)), rand(seed + 1, (G * cg, ocg, *k))
    b = rand(seed + 2, (G * ocg,)) if draw(st.booleans()) else None
    brk = draw(st.sampled_from(["none"] * 4 + [
        "channels", "groups", "padding_str", "negative", "zero_kernel", "zero_batch",
        "huge_stride", "huge_padding", "x_int", "bias_shape"]))
    if brk == "channels":
        x = rand(seed, (N, G * cg + 1, H, W))
    elif brk == "groups":
        kw["groups"] = draw(st.sampled_from([0, G + 1, 2.0]))
    elif brk == "padding_str":
        kw["padding"] = "same"
    elif brk == "negative":
        kw[draw(st.sampled_from(["stride", "padding", "output_padding", "dilation"]))] = -1
    elif brk == "zero_kernel":
        w = w[..., :0]
    elif brk == "zero_batch":
        x = x[:0]
    elif brk == "huge_stride":
        kw["stride"] = draw(HUGE)
    elif brk == "huge_padding":
        kw["padding"] = draw(HUGE)
    elif brk == "x_int":
        x = np.ones(x.shape, dtype=np.int64)
    elif brk == "bias_shape":
        b = rand(seed + 2, (G * ocg + 2,))
    return x, w, b, kw


@FUZZ
@given(conv_transpose_case())
def test_conv_transpose2d_matches_torch_or_raises_clear_error(case):
    x, w, b, kw = case
    compare("conv_transpose2d", lambda x, w, b: F.conv_transpose2d(x, w, b, **kw),
            lambda x, w, b: tF.conv_transpose2d(x, w, b, **kw), (x, w, b))


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
    compare(op, lambda x: fn(x, **kw), lambda x: tfn(x, **tkw), (x,), grads=brk != "nan")


@SHORT
@given(pool_case(), st.booleans())
def test_stochastic_pool2d_picks_from_window_or_raises_clear_error(case, training):
    x, kw, brk = case
    op = "stochastic_pool2d"
    kw = dict(kernel_size=kw["kernel_size"], stride=kw["stride"])
    y = ours(op, lambda: F.stochastic_pool2d(x, training=training, **kw))
    a = torch.from_numpy(x).clamp(min=0) if isinstance(x, np.ndarray) and x.dtype.kind == "f" \
        else None
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
    tsize = size if not isinstance(size, (int, tuple)) or "3" == size else size
    compare(op, lambda x: fn(x, size), lambda x: tfn(x, tsize), (x,))


@SHORT
@given(st.tuples(*[st.integers(0, 4)] * 4) | st.tuples(*[st.integers(1, 3)] * 3),
       st.sampled_from(["global_avg_pool2d", "global_max_pool2d"]), st.booleans(),
       st.integers(0, 2**16))
def test_global_pooling_matches_torch_or_raises_clear_error(shape, op, as_int, seed):
    x = np.ones(shape, dtype=np.int64) if as_int else rand(seed, shape)
    red = torch.mean if op == "global_avg_pool2d" else torch.amax
    # torch averages an empty map to NaN; striate refuses it, as torch's adaptive pooling does
    compare(op, getattr(F, op), lambda x: red(x, dim=(2, 3)), (x,),
            stricter=len(shape) == 4 and shape[2] * shape[3] == 0)
