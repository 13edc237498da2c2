"""Property-based fuzzing of the functional ops and tensor ops against the "clear errors" promise.

Every call with random shapes and arguments (valid ones, and valid ones with one thing broken)
must either compute what PyTorch computes in float64 (forward and gradients) or raise a
ValueError or TypeError whose message names the op: never another exception type, never NumPy's
own message. Where only striate computes, the test fails too (a call torch refuses is invalid),
but striate may refuse a broken call that torch tolerates: torch broadcasts biases and targets,
takes unbatched inputs, integer inputs and float targets, and checks nothing on an empty batch.
Calls in ``MUST_AGREE`` are valid: there both libraries must compute the same thing.
"""
from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import striate
import striate.functional as F

torch = pytest.importorskip("torch")
tF = torch.nn.functional

# the mean of nothing is NaN, as in torch; NumPy warns about it
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

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

# The "broken" variants of a case that are in fact valid: striate must compute them as torch.
MUST_AGREE = {"none", "nan", "zero_batch", "huge_stride", "ignored", "weight", "pos_weight",
              "smoothing"}
# Sizes that no output could hold; every caller must refuse them before allocating anything.
HUGE = st.sampled_from([10**12, 10**15, 10**30])


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
        # getitem may quote NumPy's reason after naming the index and the shape
        bad = [m for m in NUMPY_MESSAGES if m in msg and not isinstance(e, IndexError)]
        assert not bad, f"{op}: NumPy's own message leaked ({bad}): {msg}"
        assert type(e).__module__ == "builtins", f"{op}: raised {type(e)}: {msg}"
        return Raised(e)


def theirs(fn):
    """Run the torch reference: its result, or ``Raised`` for any error it reports."""
    try:
        with warnings.catch_warnings():  # torch's advice on odd but valid calls
            warnings.simplefilter("ignore")
            return fn()
    except Exception as e:  # noqa: BLE001 - torch reports bad input with several types
        return Raised(e)


def to_np(v):
    if isinstance(v, (tuple, list)):
        return [to_np(a) for a in v]
    if isinstance(v, striate.Tensor):
        return v.data
    return v if isinstance(v, np.ndarray) else v.detach().numpy()


def assert_same(op, a, e, rtol=1e-7, atol=1e-9, stricter=False, lenient=False):
    """Both raised, or both computed the same arrays (shape and values).

    Documented differences: with ``stricter`` striate may refuse a call torch accepts, with
    ``lenient`` it may compute one torch refuses.
    """
    if isinstance(a, Raised) or isinstance(e, Raised):
        if (stricter and isinstance(a, Raised)) or (lenient and isinstance(e, Raised)):
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


def rand(seed: int, shape, dtype=np.float64, nan: bool = False, scale: float = 1.0):
    x = np.asarray(np.random.default_rng(seed).standard_normal(shape) * scale, dtype=dtype)
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


def compare(op, fn, tfn, arrays, *, grads=True, stricter=False, lenient=False, index_ok=False,
            rtol=1e-7, atol=1e-9):
    """Call ``fn(*inputs)`` and ``tfn(*torch_inputs)`` on the same arrays; check the outcome.

    Where both compute, the outputs must agree, and so must the gradients of every float64
    input for the same random output gradient (unless ``grads`` is False).
    """
    (xs, xt) = leaves(*arrays)
    y = ours(op, lambda: fn(*xs), index_ok=index_ok)
    yt = theirs(lambda: tfn(*xt))
    assert_same(op, y, yt, rtol, atol, stricter, lenient)
    if not grads or isinstance(y, Raised) or isinstance(yt, Raised) \
            or not isinstance(y, striate.Tensor) or not y.requires_grad:
        return y
    gy = rand(7, y.shape)
    y.backward(gy)
    if y.size == 0:  # torch's backward refuses some empty outputs; striate's must just work
        for a in xs:
            if isinstance(a, striate.Tensor) and a.requires_grad:
                assert a.grad.shape == a.shape and not a.grad.data.any(), op
        return y
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
    return x, w, b, kw, brk


def _torch_padding(padding, w, dilation, nd):
    """torch has no 'full': pass its explicit size, (k - 1) * dilation on each side."""
    ints = isinstance(dilation, int) or (isinstance(dilation, tuple)
                                          and all(isinstance(d, int) for d in dilation))
    if padding != "full" or not ints:
        return padding
    d = (dilation,) * nd if isinstance(dilation, int) else dilation
    return tuple(di * (k - 1) for di, k in zip(d, w.shape[2:]))


def _conv_check(op, fn, tfn, case, nd):
    x, w, b, kw, brk = case
    tkw = dict(kw)
    if isinstance(w, np.ndarray) and w.ndim == nd + 2:
        tkw["padding"] = _torch_padding(kw["padding"], w, kw["dilation"], nd)
    if isinstance(kw["stride"], int) and kw["stride"] > 10**6:
        tkw["stride"] = 10**6  # torch overflows; any stride past the padded input is one window
    # NOTE: torch returns oddly shaped empty tensors for inputs without channels
    compare(op, lambda x, w, b: fn(x, w, b, **kw), lambda x, w, b: tfn(x, w, b, **tkw),
            (x, w, b), stricter=brk not in MUST_AGREE)


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
    return x, w, b, kw, brk


@FUZZ
@given(conv_transpose_case())
def test_conv_transpose2d_matches_torch_or_raises_clear_error(case):
    x, w, b, kw, brk = case
    compare("conv_transpose2d", lambda x, w, b: F.conv_transpose2d(x, w, b, **kw),
            lambda x, w, b: tF.conv_transpose2d(x, w, b, **kw), (x, w, b),
            # torch checks no argument of an empty batch, and overflows on a huge stride
            stricter=brk not in MUST_AGREE or len(x) == 0, lenient=brk == "huge_stride")


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
    compare("local_response_norm", lambda x: F.local_response_norm(x, size, alpha, beta, k),
            lambda x: tF.local_response_norm(x, size, alpha, beta, k), (x,),
            stricter=brk == "x_int" or x.size == 0, lenient=size == 10**30 or size == 10**9)


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


# ---- linear and losses ----
@FUZZ
@given(st.lists(st.integers(0, 3), min_size=0, max_size=2), st.integers(0, 4), st.integers(0, 4),
       st.booleans(), st.sampled_from(["none"] * 4 + [
           "features", "w_ndim", "bias_shape", "list", "int", "f32"]), st.integers(0, 2**16))
def test_linear_matches_torch_or_raises_clear_error(batch, fin, fout, bias, brk, seed):
    x, w = rand(seed, tuple(batch) + (fin,)), rand(seed + 1, (fout, fin))
    b = rand(seed + 2, (fout,)) if bias else None
    if brk == "features":
        x = rand(seed, tuple(batch) + (fin + 1,))
    elif brk == "w_ndim":
        w = w.reshape(-1)
    elif brk == "bias_shape":
        b = rand(seed + 2, (fout + 1,))
    elif brk == "list":
        x = x.tolist()
    elif brk in ("int", "f32"):  # striate computes these in NumPy's result type; torch refuses
        xa = np.round(x).astype(np.int64) if brk == "int" else x.astype(np.float32)
        y = ours("linear", lambda: F.linear(xa, w, b))
        ref = tF.linear(torch.from_numpy(xa.astype(np.float64)), torch.from_numpy(w),
                        None if b is None else torch.from_numpy(b))
        assert_same("linear", y, ref, rtol=1e-6)
        return
    compare("linear", F.linear, tF.linear, (x, w, b), stricter=brk not in MUST_AGREE)


@st.composite
def class_targets(draw):
    N, C, d = draw(st.integers(0, 4)), draw(st.integers(1, 4)), draw(st.integers(0, 2))
    seed = draw(st.integers(0, 2**16))
    shape = (N, C) + (2,) * d if d < 2 else (C,)
    x = rand(seed, shape)
    tshape = (N,) + (2,) * d if d < 2 else ()
    t = np.random.default_rng(seed).integers(0, C, tshape)
    kw = dict(reduction=draw(st.sampled_from(["mean", "sum", "none"])))
    brk = draw(st.sampled_from(["none"] * 5 + [
        "out_of_range", "negative", "ignored", "float_target", "target_shape", "weight",
        "weight_shape", "reduction", "smoothing", "bad_smoothing"]))
    if brk in ("out_of_range", "negative") and t.size:
        t.flat[0] = C if brk == "out_of_range" else -1
    elif brk == "ignored" and t.size:
        t.flat[0] = kw["ignore_index"] = draw(st.sampled_from([-100, 0, 7]))
    elif brk == "float_target":
        t = t.astype(np.float64)
    elif brk == "target_shape":
        t = np.zeros(tshape + (2,), dtype=np.int64)
    elif brk == "weight":
        kw["weight"] = np.abs(rand(seed, (C,))) + 0.1
    elif brk == "weight_shape":
        kw["weight"] = np.ones(C + 1)
    elif brk == "reduction":
        kw["reduction"] = draw(st.sampled_from(["avg", None, 1]))
    elif brk == "smoothing":
        kw["label_smoothing"] = draw(st.sampled_from([0.1, 0.5, 1.0]))
    elif brk == "bad_smoothing":
        kw["label_smoothing"] = draw(st.sampled_from([-0.1, 1.5, float("nan"), "0.1"]))
    return x, t, kw, brk


def _torch_kw(kw):
    return {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}


@FUZZ
@given(class_targets(), st.sampled_from(["cross_entropy", "nll_loss"]))
def test_class_losses_match_torch_or_raise_clear_error(case, op):
    x, t, kw, brk = case
    if op == "nll_loss":
        kw.pop("label_smoothing", None)
    compare(op, lambda x: getattr(F, op)(x, t, **kw),
            lambda x: getattr(tF, op)(x, torch.from_numpy(t), **_torch_kw(kw)), (x,),
            # NOTE: torch takes float targets as class probabilities; striate refuses them
            stricter=brk not in MUST_AGREE)


@FUZZ
@given(st.lists(st.integers(0, 3), min_size=0, max_size=3), st.sampled_from(["none"] * 3 + [
    "shape", "weight", "pos_weight", "bad_weight", "str_weight", "reduction", "list"]),
    st.sampled_from(["mse_loss", "binary_cross_entropy_with_logits"]), st.integers(0, 2**16))
def test_elementwise_losses_match_torch_or_raise_clear_error(shape, brk, op, seed):
    x, t = rand(seed, shape), np.random.default_rng(seed).random(shape)
    kw = {}
    if brk == "shape":
        t = rand(seed, tuple(shape) + (2,))
    elif brk == "weight" and op != "mse_loss":
        kw["weight"] = np.asarray(np.abs(rand(seed, shape[-1:])))
    elif brk == "pos_weight" and op != "mse_loss":
        kw["pos_weight"] = np.asarray(np.abs(rand(seed, shape[-1:])) + 0.5)
    elif brk == "bad_weight" and op != "mse_loss":
        kw["weight"] = np.ones(tuple(shape) + (3,))
    elif brk == "str_weight" and op != "mse_loss":
        kw["weight"] = np.array(["a"])
    elif brk == "reduction":
        kw["reduction"] = "avg"
    elif brk == "list":
        x = x.tolist()
    compare(op, lambda x, t: getattr(F, op)(x, t, **kw),
            lambda x, t: getattr(tF, op)(x, t, **_torch_kw(kw)), (x, t),
            stricter=brk not in MUST_AGREE)


# ---- shape ops ----
@FUZZ
@given(st.lists(st.integers(0, 3), min_size=1, max_size=4), st.integers(1, 3),
       st.one_of(st.integers(-5, 4), st.sampled_from([1.0, None])),
       st.sampled_from(["none"] * 3 + ["shape", "ndim", "empty", "tensor", "dtype", "list"]),
       st.integers(0, 2**16))
def test_concat_matches_torch_or_raises_clear_error(shape, n, axis, brk, seed):
    xs = [rand(seed + i, shape) for i in range(n)]
    if brk == "shape":
        xs[-1] = rand(seed, [d + 1 for d in shape])
    elif brk == "ndim":
        xs[-1] = xs[-1][..., None]
    elif brk == "empty":
        xs = []
    elif brk == "dtype":  # NumPy's type promotion, as torch.cat
        xs[-1] = xs[-1].astype(np.float32)
    elif brk == "list":  # nested lists are not tensors
        xs = [x.tolist() for x in xs]
    arg = (lambda s: s[0]) if brk == "tensor" else list
    compare("concat", lambda *s: F.concat(arg(s), axis=axis),
            lambda *s: torch.cat(arg(s), dim=axis), xs, grads=brk != "dtype",
            # NOTE: torch.cat skips empty 1-D tensors whatever the axis (a legacy rule)
            stricter=brk not in MUST_AGREE or shape == [0])


@FUZZ
@given(st.lists(st.integers(0, 4), min_size=1, max_size=3),
       st.one_of(st.integers(-1, 5), st.lists(st.integers(-1, 4), max_size=4),
                 st.sampled_from([2.0, "2", None])),
       st.integers(-4, 3), st.integers(0, 2**16))
def test_split_matches_torch_or_raises_clear_error(shape, sizes, axis, seed):
    # torch splits an empty axis into one empty piece for any size; striate refuses size 0
    compare("split", lambda x: F.split(x, sizes, axis=axis),
            lambda x: list(torch.split(x, sizes, dim=axis)), (rand(seed, shape),),
            grads=False, stricter=sizes == 0 or sizes == [] or isinstance(sizes, list))


@FUZZ
@given(st.lists(st.integers(0, 3), min_size=0, max_size=4),
       st.one_of(st.integers(0, 3), st.tuples(st.integers(0, 3), st.integers(0, 3)),
                 st.tuples(*[st.integers(0, 3)] * 4),
                 st.sampled_from([-1, (1, -1), (1, 2, 3), 1.5, "1", 10**12])),
       st.sampled_from([0.0, -2.5, float("inf"), "0"]), st.integers(0, 2**16))
def test_pad2d_matches_torch_or_raises_clear_error(shape, padding, value, seed):
    x = rand(seed, shape)
    p = padding  # pad2d's (pad_h, pad_w) -> torch's (left, right, top, bottom)
    tp = (p,) * 4 if isinstance(p, int) else (p[1], p[1], p[0], p[0]) if isinstance(p, tuple) \
        and len(p) == 2 else p
    # torch pads (1-D) inputs and takes negative padding (cropping); striate refuses those
    compare("pad2d", lambda x: F.pad2d(x, padding, value), lambda x: tF.pad(x, tp, value=value),
            (x,), stricter=len(shape) < 2 or padding in (-1, (1, -1)) or value == "0")


@FUZZ
@given(st.lists(st.integers(0, 3), min_size=0, max_size=4),
       st.one_of(st.integers(-5, 4), st.just(1.0)), st.one_of(st.integers(-5, 4), st.just(None)),
       st.integers(0, 2**16))
def test_flatten_matches_torch_or_raises_clear_error(shape, start, end, seed):
    kw = {} if end is None else dict(end_axis=end)
    tkw = {} if end is None else dict(end_dim=end)
    # torch flattens a 0-d input (start 0 or -1) to shape (1,); striate needs an axis to merge
    compare("flatten", lambda x: F.flatten(x, start, **kw),
            lambda x: torch.flatten(x, start, **tkw), (rand(seed, shape),),
            stricter=len(shape) == 0)


# ---- tensor ops ----
@FUZZ
@given(st.lists(st.integers(0, 3), min_size=0, max_size=4),
       st.lists(st.one_of(st.integers(-2, 6), st.sampled_from([2.0, 10**20, "2", None])),
                max_size=4), st.integers(0, 2**16))
def test_reshape_matches_torch_or_raises_clear_error(shape, new, seed):
    compare("reshape", lambda x: x.reshape(*new) if new else x.reshape(()),
            lambda x: x.reshape(*new) if new else x.reshape(()), (rand(seed, shape),))


@FUZZ
@given(st.lists(st.integers(1, 3), min_size=0, max_size=4), st.data(), st.integers(0, 2**16))
def test_transpose_matches_torch_or_raises_clear_error(shape, data, seed):
    n = len(shape)
    axes = data.draw(st.one_of(st.permutations(range(n)), st.permutations(range(-n, 0)),
                               st.lists(st.integers(-n - 2, n + 2), max_size=n + 1),
                               st.just([0.0] * n)))
    # torch permutes a 0-d tensor by () only; striate's transpose() of no axes reverses them
    ref = (lambda x: x.permute(tuple(reversed(range(n))))) if not axes else \
        (lambda x: x.permute(*axes))
    compare("transpose", lambda x: x.transpose(*axes), ref, (rand(seed, shape),))


INDEX_ITEM = st.one_of(
    st.integers(-4, 4), st.none(), st.just(Ellipsis),
    st.builds(slice, st.one_of(st.none(), st.integers(-4, 4)),
              st.one_of(st.none(), st.integers(-4, 4)), st.one_of(st.none(), st.integers(1, 3))),
    st.lists(st.integers(-3, 3), min_size=1, max_size=3).map(np.array),
    st.sampled_from([1.5, "a", np.array([True, False, True])]))


@FUZZ
@given(st.lists(st.integers(1, 3), min_size=1, max_size=3),
       st.lists(INDEX_ITEM, min_size=1, max_size=3), st.integers(0, 2**16))
def test_getitem_matches_torch_or_raises_index_error(shape, items, seed):
    index = tuple(items)
    tindex = tuple(torch.from_numpy(i) if isinstance(i, np.ndarray) else i for i in items)
    # NOTE: NumPy rules where torch differs: two Ellipses, mixed advanced indexing order
    assume(sum(i is Ellipsis for i in items) < 2)
    assume(sum(isinstance(i, np.ndarray) for i in items) < 2)
    # NumPy checks integer arrays against the axis even where a slice leaves nothing to index
    empty = theirs(lambda: torch.from_numpy(rand(seed, shape))[tindex])
    compare("getitem", lambda x: x[index], lambda x: x[tindex], (rand(seed, shape),),
            index_ok=True, stricter=not isinstance(empty, Raised) and empty.numel() == 0)


@FUZZ
@given(st.lists(st.integers(0, 3), min_size=0, max_size=3),
       st.sampled_from(["sum", "mean", "max", "min", "var"]),
       st.one_of(st.none(), st.integers(-4, 3), st.lists(st.integers(-4, 3), max_size=3),
                 st.sampled_from([1.0, "0", (0, 0)])),
       st.booleans(), st.integers(0, 2**16))
def test_reductions_match_torch_or_raise_clear_error(shape, op, axis, keepdims, seed):
    # rounded, for ties: max/min split the gradient evenly among them, as torch.amax
    x = np.asarray(np.round(rand(seed, shape), 1))
    ax = tuple(axis) if isinstance(axis, list) else axis
    dim = ax if ax is not None else tuple(range(len(shape))) or None
    ref = {"sum": lambda x: torch.sum(x, dim=dim, keepdim=keepdims),
           "mean": lambda x: torch.mean(x, dim=dim, keepdim=keepdims),
           "max": lambda x: torch.amax(x, dim=() if dim is None else dim, keepdim=keepdims),
           "min": lambda x: torch.amin(x, dim=() if dim is None else dim, keepdim=keepdims),
           "var": lambda x: torch.var(x, dim=dim, correction=0, keepdim=keepdims)}[op]
    if isinstance(ax, tuple) and not ax:  # NumPy reduces over no axes, torch over all of them
        ours(op, lambda: getattr(striate.tensor(x), op)(axis=ax, keepdims=keepdims))
        return
    compare(op, lambda x: getattr(x, op)(axis=ax, keepdims=keepdims), ref, (x,))


SHAPE = st.lists(st.integers(0, 3), min_size=0, max_size=3)


@FUZZ
@given(SHAPE, SHAPE, st.sampled_from(["+", "-", "*", "/", "**", "@"]),
       st.sampled_from(["tensor", "tensor", "array", "number", "list", "str"]),
       st.integers(0, 2**16))
def test_binary_ops_broadcast_like_torch_or_raise_clear_error(sa, sb, sym, kind, seed):
    op = {"+": "add", "-": "sub", "*": "mul", "/": "div", "**": "pow", "@": "matmul"}[sym]
    a, b = rand(seed, sa), rand(seed + 1, sb)
    if sym == "**":  # positive bases: d(a^b)/db = a^b log a is real
        a = np.asarray(np.abs(a) + 0.5)
    fn = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
          "/": lambda a, b: a / b, "**": lambda a, b: a ** b, "@": lambda a, b: a @ b}[sym]
    if kind in ("tensor", "array"):
        bs = b if kind == "array" else None
        if bs is None:
            compare(op, fn, fn, (a, b))
            return
        y = ours(op, lambda: fn(striate.tensor(a), bs))
        assert_same(op, y, theirs(lambda: fn(torch.from_numpy(a), torch.from_numpy(b))))
        return
    other = {"number": 2.5, "list": b.tolist(), "str": "ab"}[kind]
    y = ours(op, lambda: fn(striate.tensor(a), other))
    # a list of Python floats becomes a float32 tensor in striate
    t_other = torch.tensor(other, dtype=torch.float32) if isinstance(other, list) else other
    # torch refuses a str operand with a TypeError of its own; striate must name the op
    # torch's matmul refuses float64 @ float32 and a 0-d float64 tensor does not promote a
    # float32 one in torch; NumPy promotes both to float64
    assert_same(op, y, theirs(lambda: fn(torch.from_numpy(a), t_other)),
                lenient=kind == "list" and sym == "@", rtol=1e-6 if kind == "list" else 1e-7)
