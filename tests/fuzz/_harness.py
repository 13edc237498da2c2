"""Property-based fuzzing of the functional ops and tensor ops against the "clear errors" promise.

Every call with random shapes and arguments (valid ones, and valid ones with one thing broken)
must either compute what PyTorch computes in float64 (forward and gradients) or raise a
ValueError or TypeError whose message names the op: never another exception type, never NumPy's
own message. Where only striate computes, the test fails too (a call torch refuses is invalid),
but striate may refuse a broken call that torch tolerates: torch broadcasts biases and targets,
takes unbatched inputs, integer inputs and float targets, and checks nothing on an empty batch.
Calls in ``MUST_AGREE`` are valid: there both libraries must compute the same thing.

This module is the shared harness of the ``test_*_fuzz.py`` files beside it (one per op family):
the run settings, ``ours``/``theirs`` (run a call, keep what it raised), ``assert_same`` and
``compare`` (outputs and gradients against torch), and the input helpers.
"""
from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

import striate

torch = pytest.importorskip("torch")

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
