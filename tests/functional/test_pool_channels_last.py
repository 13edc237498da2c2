"""Max and min pooling on channels-last memory (how the convolutions return their output):
the same values and gradients as on NCHW memory, ties and padding as PyTorch, gradcheck."""
import numpy as np
import pytest
from reference_pooling import pool2d

import striate
import striate.functional as F
from striate.functional import window_pool
from striate.functional.pooling import _pool_args
from tests.functional.test_pooling import CONFIGS, IDS, _input, _torch_check


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def _channels_last(a):
    """``a`` with the same shape and values, its memory laid out (N, H, W, C)."""
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


@pytest.mark.parametrize("shape,k,s,p,ceil", CONFIGS, ids=IDS)
@pytest.mark.parametrize("C", [16, 3])  # 16: pooled in that layout; 3: copied to NCHW first
@pytest.mark.parametrize("mode", ["max", "min"])
def test_max_min_pool2d_channels_last_matches_nchw_forward_and_backward(shape, k, s, p, ceil,
                                                                        C, mode):
    shape = (shape[0], C) + shape[2:]
    x = _input(shape)
    fn = F.max_pool2d if mode == "max" else F.min_pool2d
    results = []
    for a in (x, _channels_last(x)):
        xs = striate.tensor(a, requires_grad=True)
        y = fn(xs, k, s, p, ceil)
        y.backward(np.random.default_rng(2).standard_normal(y.shape))
        results.append((y, xs.grad.data))
    (y, gx), (yl, gxl) = results
    np.testing.assert_array_equal(yl.data, y.data)
    np.testing.assert_array_equal(gxl, gx)
    np.testing.assert_allclose(y.data, pool2d(x, mode, k, s, p, ceil), rtol=1e-12)
    # with enough channels, or windows that tile the input, the output stays channels-last for
    # the next convolution, and so does the input gradient for the one before
    tiled = _pool_args("max_pool2d", shape, k, s, p, ceil).fast
    last = C >= 16 or tiled
    assert (np.moveaxis(yl.data, 1, -1) if last else yl.data).flags.c_contiguous
    assert (np.moveaxis(gxl, 1, -1) if last else gxl).flags.c_contiguous


def test_max_pool2d_channels_last_ties_and_padding_match_torch(torch):
    x = np.random.default_rng(0).integers(0, 3, (2, 16, 9, 8)).astype(np.float64)  # many ties
    TF = torch.nn.functional
    for kw in (dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=2),
               dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)):
        _torch_check(torch, lambda a: F.max_pool2d(a, **kw), lambda a: TF.max_pool2d(a, **kw),
                     _channels_last(x))


def test_max_pool2d_channels_last_gradcheck():
    x = _channels_last(_input((1, 16, 5, 4)))
    assert striate.gradcheck(lambda a: F.max_pool2d(a, 3, 2, 1), [x])


def test_max_pool2d_stride_past_kernel_leaves_unread_inputs_without_gradient():
    x = _input((1, 16, 8, 8))
    xs = striate.tensor(_channels_last(x), requires_grad=True)
    F.max_pool2d(xs, 2, 3).sum().backward()
    unread = np.ones((8, 8), bool)
    for i in (0, 3, 6):  # windows at 0, 3 and 6 along each axis
        for j in (0, 3, 6):
            unread[i:i + 2, j:j + 2] = False
    assert np.all(xs.grad.data[:, :, unread] == 0)
    np.testing.assert_allclose(xs.grad.data.sum(axis=(2, 3)), 9.0)  # one maximum per window


@pytest.mark.parametrize("shape,k,s,p", [((5, 16, 9, 9), 3, 2, 1), ((4, 3, 8, 8), 3, 1, 1)])
def test_max_pool2d_offsets_run_in_sample_blocks_with_the_same_results(monkeypatch, shape, k, s,
                                                                      p):
    x = _input(shape)
    gy = np.random.default_rng(3).standard_normal(
        F.max_pool2d(striate.tensor(x), k, s, p).shape)
    results = []
    for block_bytes in (1 << 40, 1):  # all of a thread's samples at once; one sample per run
        monkeypatch.setattr(window_pool, "BLOCK_BYTES", block_bytes)
        for memory in (x, _channels_last(x)):
            xs = striate.tensor(memory, requires_grad=True)
            y = F.max_pool2d(xs, k, s, p)
            y.backward(gy)
            results.append((y.data, xs.grad.data))
    for y, gx in results[1:]:
        np.testing.assert_array_equal(y, results[0][0])
        np.testing.assert_array_equal(gx, results[0][1])
    expected = pool2d(x, "max", k, s, p)
    np.testing.assert_allclose(results[0][0], expected, rtol=0, atol=0)
