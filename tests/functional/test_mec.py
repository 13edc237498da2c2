"""The MEC convolution kernel (functional/_mec.py): which layers take it, torch parity of the
forward and every gradient through it (conv2d, conv1d, conv_transpose2d), and block splits."""
import numpy as np
import pytest

import striate
import striate.functional as F
from striate import threads
from striate.functional import _mec
from striate.functional._im2col import Geometry
from striate.functional.conv import _kernel_kind
from tests.functional.test_conv import assert_matches_torch, randn, run

pytest.importorskip("torch")


def geometry(stride=(1, 1), pads=(0, 0, 0, 0), dilation=(1, 1), groups=1):
    return Geometry(stride, pads, dilation, groups)


@pytest.mark.parametrize("c,hw,g,kind", [
    (16, (32, 32), geometry(pads=(1, 1, 1, 1)), "mec"),  # ResNet-20's first stage
    (6, (14, 14), geometry(), "mec"),  # LeNet-5's second layer
    (64, (8, 8), geometry(pads=(1, 1, 1, 1)), "mec"),  # ResNet-20's last stage
    (65, (8, 8), geometry(pads=(1, 1, 1, 1)), "im2col"),  # not measured above 64
    (64, (56, 56), geometry(pads=(1, 1, 1, 1)), "im2col"),  # ResNet-18: 1 sample per block
    (16, (9, 9), geometry(dilation=(2, 1)), "im2col"),  # rows would not be contiguous in L
    (16, (8, 8), geometry(groups=2), "im2col"),
    (32, (112, 112), geometry(pads=(1, 1, 1, 1)), "im2col"),  # one sample's L: 4.9 MB
    (16, (35, 35), geometry(pads=(1, 1, 1, 1)), "mec"),  # 35*37*48*4 B: 8 samples in 2 MB
    (16, (36, 36), geometry(pads=(1, 1, 1, 1)), "im2col"),  # 36*38*48*4 B: only 7
])
def test_mec_is_chosen_for_5_to_64_channels_when_8_samples_fit_a_block(c, hw, g, kind):
    oc, k = 32, 3
    out = tuple(n + g.pads[2 * i] + g.pads[2 * i + 1] - g.dilation[i] * (k - 1)
                for i, n in enumerate(hw))
    assert _kernel_kind((oc, c // g.groups, k, k), g, hw, out, "auto") == kind


# (x shape, w shape, kwargs): each picks MEC
MEC_CASES = [
    ((2, 16, 8, 8), (16, 16, 3, 3), dict(padding=1)),  # gather gx through MEC
    ((2, 6, 9, 11), (17, 6, 3, 2), dict(stride=(2, 3), padding=(1, 2))),
    ((2, 8, 7, 12), (16, 8, 2, 3), dict(dilation=(1, 3), padding=(0, 2))),
    ((3, 20, 6, 6), (18, 20, 3, 3), dict(stride=2, padding=1)),  # strided: col2im gx
    ((2, 5, 4, 3), (7, 5, 1, 1), dict(padding=1)),  # a padded 1x1
]


@pytest.mark.parametrize("xs,ws,kw", MEC_CASES)
@pytest.mark.parametrize("bias", [True, False])
def test_mec_conv2d_matches_torch(rng, xs, ws, kw, bias):
    x, w, b = randn(rng, *xs), randn(rng, *ws), randn(rng, ws[0]) if bias else None
    assert_matches_torch(F.conv2d, x, w, b, **kw)


def test_mec_conv2d_float32_matches_torch(rng):
    x, w, b = (randn(rng, *s, dtype=np.float32) for s in ((8, 16, 32, 32), (16, 16, 3, 3), (16,)))
    assert_matches_torch(F.conv2d, x, w, b, rtol=1e-4, atol=1e-3, padding=1)


def test_mec_conv2d_gradcheck(rng):
    x, w, b = randn(rng, 2, 5, 5, 6), randn(rng, 3, 5, 3, 2), randn(rng, 3)
    assert striate.gradcheck(lambda a, c, d: F.conv2d(a, c, d, stride=(1, 2), padding=1),
                             [x, w, b])


def test_mec_conv1d_and_conv_transpose2d_match_torch(rng):
    x, w, b = randn(rng, 2, 6, 13), randn(rng, 4, 6, 3), randn(rng, 4)
    assert_matches_torch(F.conv1d, x, w, b, padding=1)
    x, w, b = randn(rng, 2, 6, 5, 5), randn(rng, 6, 8, 3, 3), randn(rng, 8)  # its conv: 8 -> 6
    assert _kernel_kind(w.shape, geometry(stride=(2, 2), pads=(1, 1, 1, 1)), (9, 9), (5, 5),
                        "auto") == "mec"
    assert_matches_torch(F.conv_transpose2d, x, w, b, stride=2, padding=1)


@pytest.mark.parametrize("block_bytes", [1, 2000])  # one sample per block; a few
def test_mec_small_blocks_and_thread_split_equal_one_block(rng, monkeypatch, block_bytes):
    x, w, b = randn(rng, 5, 16, 6, 7), randn(rng, 16, 16, 3, 3), randn(rng, 16)
    y0, gy, *g0 = run(F.conv2d, x, w, b, padding=1)
    monkeypatch.setattr(_mec, "BLOCK_BYTES", block_bytes)
    monkeypatch.setattr(threads, "MIN_MACS", 0)
    before = threads.get_num_threads()
    threads.set_num_threads(3)
    try:
        y1, _, *g1 = run(F.conv2d, x, w, b, padding=1)
    finally:
        threads.set_num_threads(before)
    for a, e in zip((y1, *g1), (y0, *g0)):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12)
