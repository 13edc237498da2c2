"""Fuzzing conv2d, conv1d and conv_transpose2d against torch (see ``_harness`` for the
promise: the same result as torch in float64, or a clear ValueError/TypeError naming the op)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import striate.functional as F

from ._harness import FUZZ, HUGE, MUST_AGREE, SHORT, compare, rand

torch = pytest.importorskip("torch")
tF = torch.nn.functional

# the mean of nothing is NaN, as in torch; NumPy warns about it
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


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
