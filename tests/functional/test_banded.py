"""The banded convolution kernel (functional/_banded.py) and the banded input gradient
(_im2col.banded_grad_input): when they are chosen, and torch parity of the forward and every
gradient through them, for conv2d, conv1d and conv_transpose2d."""
import numpy as np
import pytest

import striate
import striate.functional as F
from striate import threads
from striate.functional import _im2col, _mec
from striate.functional._banded import band_width
from striate.functional._im2col import Geometry, out_size
from striate.functional.conv import _kernel_kind
from tests.functional.test_conv import assert_matches_torch, randn

pytest.importorskip("torch")


def geometry(stride=(1, 1), pads=(0, 0, 0, 0), dilation=(1, 1), groups=1):
    return Geometry(stride, pads, dilation, groups)


@pytest.mark.parametrize("oc,kw,ow,g,expected", [
    (6, 5, 28, geometry(), 7),  # LeNet-5's first layer: 7 * 6 = 42 >= 32 columns
    (6, 5, 14, geometry(), 7),
    (8, 5, 8, geometry(stride=(1, 2)), 4),  # Bi = 3*2 + 5 = 11 <= 2.5 * 5
    (11, 3, 12, geometry(dilation=(1, 2)), 3),  # Bi = 2 + 4 + 1 = 7 <= 7.5
    (16, 5, 28, geometry(), None),  # 16 columns already: plain im2col
    (6, 5, 13, geometry(), None),  # 13 has no divisor in 6..7 and 13 is too wide
    (6, 1, 28, geometry(), None),  # a 1-wide kernel has nothing to band
    (6, 5, 28, geometry(groups=2), None),
    (6, 5, 28, geometry(stride=(1, 2)), None),  # B = 6: Bi = 15 is 3x the work
])
def test_band_width_is_smallest_divisor_of_ow_with_32_columns(oc, kw, ow, g, expected):
    assert band_width(oc, kw, ow, g) == expected


# (x shape, w shape, kwargs), each chosen so that conv2d picks the banded kernel
BANDED_CASES = [
    ((2, 1, 14, 14), (6, 1, 5, 5), dict(padding=2)),  # LeNet-5's first layer, B = 7; stem gx
    ((2, 3, 7, 19), (8, 3, 3, 5), dict(stride=(1, 2))),  # B = 4, strided along the band
    ((2, 5, 6, 12), (11, 5, 3, 3), dict(dilation=(1, 2), padding=(1, 2))),  # B = 3; im2col gx
    ((3, 6, 9, 14), (8, 6, 2, 3), dict(stride=(2, 1), padding=(1, 0))),  # B = 4, uneven kernel
]


def kind_for(xs, ws, kw):
    s = kw.get("stride", 1)
    s = (s, s) if isinstance(s, int) else s
    d = kw.get("dilation", 1)
    d = (d, d) if isinstance(d, int) else d
    p = kw.get("padding", 0)
    p = (p, p) if isinstance(p, int) else p
    g = geometry(s, (p[0], p[0], p[1], p[1]), d)
    out = tuple(out_size(xs[i + 2], ws[i + 2], s[i], 2 * p[i], d[i]) for i in (0, 1))
    return _kernel_kind(ws, g, xs[2:], out, "auto")


@pytest.mark.parametrize("xs,ws,kw", BANDED_CASES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("runner", ["mec", "im2col"])
def test_banded_conv2d_matches_torch(rng, monkeypatch, xs, ws, kw, bias, runner):
    assert kind_for(xs, ws, kw) == "banded"
    if runner == "im2col":  # the banded convolution itself run by im2col, not MEC
        monkeypatch.setattr(_mec, "MAX_CHANNELS", 0)
    calls = []
    real = _mec.mec_forward
    monkeypatch.setattr(_mec, "mec_forward", lambda *a: calls.append(1) or real(*a))
    x, w, b = randn(rng, *xs), randn(rng, *ws), randn(rng, ws[0]) if bias else None
    assert_matches_torch(F.conv2d, x, w, b, **kw)
    assert bool(calls) == (runner == "mec")


def test_banded_conv2d_float32_matches_torch(rng):
    x, w, b = (randn(rng, *s, dtype=np.float32) for s in ((4, 1, 28, 28), (6, 1, 5, 5), (6,)))
    assert_matches_torch(F.conv2d, x, w, b, rtol=1e-4, atol=1e-4, padding=2)


def test_banded_conv2d_gradcheck(rng):
    x, w, b = randn(rng, 2, 2, 5, 8), randn(rng, 8, 2, 3, 3), randn(rng, 8)
    assert kind_for(x.shape, w.shape, dict(padding=1)) == "banded"  # OW = 8, B = 4
    assert striate.gradcheck(lambda a, c, d: F.conv2d(a, c, d, padding=1), [x, w, b])


def test_banded_conv1d_matches_torch(rng):
    x, w, b = randn(rng, 2, 3, 28), randn(rng, 6, 3, 5), randn(rng, 6)
    assert_matches_torch(F.conv1d, x, w, b, padding=2)


def test_banded_conv_transpose2d_matches_torch(rng):
    # weight (C_in=6, C_out=2): the conv2d it transposes has 6 output channels over x's 14
    # columns, so its backward's input gradient runs the banded forward (B = 7)
    x, w, b = randn(rng, 2, 6, 5, 14), randn(rng, 6, 2, 5, 5), randn(rng, 2)
    assert _kernel_kind(w.shape, geometry(pads=(1, 1, 1, 1)), (7, 16), (5, 14), "auto") == \
        "banded"
    assert_matches_torch(F.conv_transpose2d, x, w, b, padding=1)


# ---- the banded input gradient (_im2col.banded_grad_input) for few input channels ----
@pytest.fixture
def banded_widths(monkeypatch):
    """The B of every banded_grad_input call, to prove a test went through it."""
    widths = []
    real = _im2col.banded_grad_input
    monkeypatch.setattr(_im2col, "banded_grad_input",
                        lambda *a: widths.append(a[-1]) or real(*a))
    return widths


@pytest.mark.parametrize("xs,ws,kw,B", [
    ((3, 6, 14, 14), (16, 6, 5, 5), {}, 5),  # LeNet-5's second layer: adds band by band
    ((2, 3, 9, 12), (32, 3, 3, 3), dict(stride=2, padding=1), 2),  # strided (NCHW stem kind)
    ((2, 3, 9, 8), (32, 3, 3, 3), dict(stride=2, padding=1), 2),  # strided, band by band
    ((2, 5, 7, 10), (32, 5, 3, 3), dict(dilation=2, padding=2), 2),
    ((2, 4, 6, 20), (8, 4, 2, 5), dict(stride=(2, 1), padding=(1, 0)), 8),  # also banded fwd
])
def test_banded_input_gradient_matches_torch(rng, banded_widths, xs, ws, kw, B):
    x, w, b = randn(rng, *xs), randn(rng, *ws), randn(rng, ws[0])
    assert_matches_torch(F.conv2d, x, w, b, **kw)
    assert banded_widths == [B]


def test_banded_input_gradient_split_over_threads_equals_one_thread(rng, monkeypatch):
    monkeypatch.setattr(threads, "MIN_MACS", 0)
    x, w = randn(rng, 5, 6, 14, 14), randn(rng, 16, 6, 5, 5)
    before, got = threads.get_num_threads(), []
    try:
        for n in (1, 3):
            threads.set_num_threads(n)
            xt = striate.tensor(x, requires_grad=True)
            F.conv2d(xt, striate.tensor(w)).backward(np.ones((5, 16, 10, 10)))
            got.append(xt.grad.data)
    finally:
        threads.set_num_threads(before)
    np.testing.assert_allclose(got[1], got[0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("xs,ws,kw", [
    ((3, 16, 8, 8), (32, 16, 3, 3), dict(stride=2, padding=1)),  # ResNet-20's 16 -> 32
    ((2, 20, 7, 9), (8, 20, 3, 2), dict(stride=(1, 3), padding=(1, 0), dilation=(2, 1))),
])
def test_strided_input_gradient_with_16_to_63_channels_uses_one_banded_gemm(rng, banded_widths,
                                                                            xs, ws, kw):
    x, w, b = randn(rng, *xs), randn(rng, *ws), randn(rng, ws[0])
    assert_matches_torch(F.conv2d, x, w, b, **kw)
    assert banded_widths == [1]
