"""Max and min pooling on channels-last memory (how the convolutions return their output):
the same values and gradients as on NCHW memory, ties and padding as PyTorch, gradcheck."""
import numpy as np
import pytest
from reference_pooling import pool2d

import striate
import striate.functional as F
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
