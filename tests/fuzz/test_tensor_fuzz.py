"""Fuzzing the shape ops (concat, split, pad2d, flatten) and the Tensor ops (reshape,
transpose, indexing, reductions, binary operators) against torch (see ``_harness`` for the
promise: the same result as torch in float64, or a clear ValueError/TypeError naming the op)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import striate
import striate.functional as F

from ._harness import FUZZ, MUST_AGREE, Raised, assert_same, compare, ours, rand, theirs

torch = pytest.importorskip("torch")
tF = torch.nn.functional

# the mean of nothing is NaN, as in torch; NumPy warns about it
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


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
    # NOTE: NumPy rules where torch differs: two Ellipses, and where several arrays go when a
    # None separates them (integers with arrays follow torch: tests/ops/test_movement.py)
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
    # torch then rounds the float64 operand to float32 too: a sum that cancels carries that
    # rounding as an absolute error on the operands' scale (seed 661: -1.383 + 1.417)
    scale = max(np.abs(a).max(initial=0), np.abs(b).max(initial=0))
    assert_same(op, y, theirs(lambda: fn(torch.from_numpy(a), t_other)),
                lenient=kind == "list" and sym == "@", rtol=1e-6 if kind == "list" else 1e-7,
                atol=1e-6 * scale if kind == "list" else 1e-9)
