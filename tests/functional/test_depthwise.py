"""The depthwise kernels' bands (functional/_depthwise.py): any cut of the output rows into bands,
per-tap or by einsum, gives the loop reference's result and PyTorch's gradients, including bands
whose windows read only padding and bands that no tap covers whole; the stride-1 input gradient
runs the banded forward kernel on gy (padding wider than the kernel makes its own padding
negative), a strided one that kernel once per phase of the input."""
import numpy as np
import pytest

import striate.functional as F
from striate import threads
from striate.functional import _depthwise
from tests.functional.test_conv import assert_matches_torch
from tests.reference import conv2d_ref

# (x shape, weight shape, kwargs); every case is depthwise (groups == input channels)
CASES = [
    ((2, 4, 6, 5), (4, 1, 3, 3), dict(padding=1)),
    ((2, 3, 9, 8), (3, 1, 3, 3), dict(stride=2, padding=1)),  # strided taps
    ((1, 2, 11, 10), (6, 1, 3, 2), dict(stride=(3, 2), padding=(1, 2), dilation=(2, 3))),  # M=3
    ((2, 3, 5, 5), (3, 1, 5, 5), dict(stride=2, padding=2)),  # ragged edge
    ((1, 2, 2, 3), (2, 1, 3, 3), dict(padding=3)),  # outer rows and columns read only padding
    ((2, 3, 4, 4), (3, 1, 1, 1), dict(padding=(1, 0))),  # 1x1: top and bottom rows are padding
    ((2, 3, 8, 7), (3, 1, 2, 2), dict(stride=3, padding=1)),  # gx: phases no tap reaches
    ((1, 2, 9, 9), (4, 1, 3, 3), dict(stride=(3, 2), padding=(0, 1))),  # gx phases, M=2
    ((2, 3, 6, 7), (3, 1, 3, 3), dict(stride=2)),  # gx: unpadded, ragged last window
    ((1, 2, 9, 10), (2, 1, 3, 3), dict(padding=(1, 2), dilation=(2, 3))),  # dilated taps
    ((2, 3, 9, 6), (3, 1, 3, 2), dict(stride=(2, 1), padding=1)),  # strided rows, whole row runs
]


def bands(monkeypatch, band_bytes, path):
    """Bands of ``band_bytes`` (1: one row each), every forward pass on the per-tap path or
    (with padding that is not negative) on the einsum path."""
    monkeypatch.setattr(_depthwise, "BAND_BYTES", band_bytes)
    monkeypatch.setattr(_depthwise, "EINSUM_BAND_BYTES", band_bytes)
    monkeypatch.setattr(_depthwise, "EINSUM_MIN_CHANNELS", 1 if path == "einsum" else 1 << 30)
    if path == "taps":
        monkeypatch.setattr(_depthwise, "_einsum_bands", _depthwise._tap_bands)


@pytest.mark.parametrize("xs,ws,kw", CASES)
@pytest.mark.parametrize("band_bytes", [1, 100, 1 << 30])  # one row per band; a few; whole
@pytest.mark.parametrize("path", ["taps", "einsum"])
def test_depthwise_forward_in_bands_equals_the_loop_reference(rng, monkeypatch, xs, ws, kw,
                                                              band_bytes, path):
    bands(monkeypatch, band_bytes, path)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    y = F.conv2d(x, w, b, groups=xs[1], **kw)
    np.testing.assert_allclose(y.data, conv2d_ref(x, w, b, groups=xs[1], **kw),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("xs,ws,kw", CASES)
@pytest.mark.parametrize("band_bytes", [1, 1 << 30])
@pytest.mark.parametrize("path", ["taps", "einsum"])
def test_depthwise_gradients_in_bands_match_torch(rng, monkeypatch, xs, ws, kw, band_bytes, path):
    bands(monkeypatch, band_bytes, path)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    assert_matches_torch(F.conv2d, x, w, b, groups=xs[1], **kw)


@pytest.mark.parametrize("band_bytes", [1, 1 << 30])
@pytest.mark.parametrize("path", ["taps", "einsum"])
def test_depthwise_forward_bands_split_over_threads_equal_one_thread(rng, monkeypatch,
                                                                    band_bytes, path):
    """Work items are (sample, band) pairs: three threads, and no minimum work per thread."""
    bands(monkeypatch, band_bytes, path)
    monkeypatch.setattr(_depthwise, "PARALLEL_ELEMENTS", 0)
    x, w = rng.standard_normal((3, 5, 7, 6)), rng.standard_normal((5, 1, 3, 3))
    before = threads.get_num_threads()
    try:
        out = []
        for n in (1, 3):
            threads.set_num_threads(n)
            out.append(F.conv2d(x, w, stride=(2, 1), padding=1, groups=5,
                                activation="relu").data)
    finally:
        threads.set_num_threads(before)
    np.testing.assert_array_equal(out[1], out[0])  # each band is computed the same way
    np.testing.assert_allclose(out[0], np.maximum(conv2d_ref(x, w, stride=(2, 1), padding=1,
                                                             groups=5), 0), rtol=1e-12)


@pytest.mark.parametrize("channels,stride,path", [(63, 2, "taps"), (64, 2, "einsum"),
                                                 (16, 1, "einsum"), (16, (1, 2), "taps")])
def test_depthwise_forward_takes_einsum_at_stride_1_or_from_64_channels(rng, monkeypatch,
                                                                        channels, stride, path):
    calls = []
    for name in ("_tap_bands", "_einsum_bands"):
        real = getattr(_depthwise, name)
        monkeypatch.setattr(_depthwise, name,
                            lambda *a, _real=real, _name=name: calls.append(_name) or _real(*a))
    x = rng.standard_normal((1, channels, 5, 4)).astype(np.float32)
    w = rng.standard_normal((channels, 1, 3, 3)).astype(np.float32)
    y = F.conv2d(x, w, stride=stride, padding=1, groups=channels)
    assert calls == [f"_{'tap' if path == 'taps' else 'einsum'}_bands"]
    np.testing.assert_allclose(y.data, conv2d_ref(x.astype(np.float64), w.astype(np.float64),
                                                  stride=stride, padding=1, groups=channels),
                               rtol=1e-4, atol=1e-5)
