"""Pooling layers: parity with torch where torch has the layer, SAME padding, min and
stochastic pooling, train/eval, validation and repr."""
import numpy as np
import pytest

import striate
from striate import nn

from ._parity import check_parity

torch = pytest.importorskip("torch")


def _x(shape=(2, 3, 9, 8), seed=0):
    # distinct values: no ties, so max/min gradients are unambiguous
    return np.random.default_rng(seed).permutation(np.prod(shape)).reshape(shape) / 10.0 - 5


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("args", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                  dict(kernel_size=(3, 2), stride=(2, 1)),
                                  dict(kernel_size=3, stride=2, ceil_mode=True)])
def test_maxpool2d_matches_torch(args, dtype):
    check_parity(nn.MaxPool2d(**args), torch.nn.MaxPool2d(**args), _x(), dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("args", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                  dict(kernel_size=3, padding=1, count_include_pad=False),
                                  dict(kernel_size=3, stride=2, ceil_mode=True)])
def test_avgpool2d_matches_torch(args, dtype):
    check_parity(nn.AvgPool2d(**args), torch.nn.AvgPool2d(**args), _x(), dtype)


@pytest.mark.parametrize("out", [1, (3, 2), (4, 5)])
def test_adaptive_pools_match_torch(out):
    check_parity(nn.AdaptiveAvgPool2d(out), torch.nn.AdaptiveAvgPool2d(out), _x())
    check_parity(nn.AdaptiveMaxPool2d(out), torch.nn.AdaptiveMaxPool2d(out), _x())


def test_global_pools_equal_torch_reductions():
    x = _x()
    np.testing.assert_allclose(nn.GlobalAvgPool2d()(striate.tensor(x)).data, x.mean(axis=(2, 3)))
    np.testing.assert_allclose(nn.GlobalMaxPool2d()(striate.tensor(x)).data, x.max(axis=(2, 3)))
    assert nn.GlobalAvgPool2d()(striate.tensor(x)).shape == (2, 3)


def test_minpool2d_is_negated_maxpool_of_negated_input():
    x = _x()
    mn = nn.MinPool2d(3, stride=2, padding=1)(striate.tensor(x)).data
    ref = -torch.nn.MaxPool2d(3, stride=2, padding=1)(torch.tensor(-x)).numpy()
    np.testing.assert_allclose(mn, ref)


@pytest.mark.parametrize("layer", [nn.MaxPool2d(2, padding="same"), nn.AvgPool2d(2, padding="same"),
                                   nn.MinPool2d(2, padding="same"),
                                   nn.StochasticPool2d(2, padding="same")])
def test_same_padding_pools_28_to_14_and_odd_sizes_round_up(layer):
    assert layer(striate.tensor(np.ones((1, 32, 28, 28), np.float32))).shape == (1, 32, 14, 14)
    assert layer(striate.tensor(np.ones((1, 2, 7, 5), np.float32))).shape == (1, 2, 4, 3)


def test_stochastic_pool_eval_is_probability_weighted_average():
    x = np.abs(_x((1, 2, 4, 4))) + 0.1
    layer = nn.StochasticPool2d(2).eval()
    y = layer(striate.tensor(x)).data
    win = x.reshape(1, 2, 2, 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(1, 2, 2, 2, 4)
    np.testing.assert_allclose(y, (win**2).sum(-1) / win.sum(-1))


def test_stochastic_pool_training_picks_a_window_element_seeded():
    x = np.abs(_x((1, 2, 4, 4))) + 0.1
    layer = nn.StochasticPool2d(2)
    striate.manual_seed(0)
    a = layer(striate.tensor(x)).data
    striate.manual_seed(0)
    b = layer(striate.tensor(x)).data
    np.testing.assert_array_equal(a, b)
    win = x.reshape(1, 2, 2, 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(1, 2, 2, 2, 4)
    assert np.all(np.any(win == a[..., None], axis=-1))


def test_pool_wrong_ndim_names_layer():
    model = nn.Sequential(nn.Flatten(), nn.MaxPool2d(2))
    with pytest.raises(ValueError, match=r"MaxPool2d '1' expects a 4-D input \(N, C, H, W\), "
                                         r"got 2-D input of shape \(2, 12\)"):
        model(striate.tensor(np.zeros((2, 3, 2, 2))))


def test_pool_kernel_too_large_names_layer_and_op():
    with pytest.raises(ValueError, match=r"^MaxPool2d: max_pool2d: kernel \(5, 5\) is larger"):
        nn.MaxPool2d(5)(striate.tensor(np.zeros((1, 1, 3, 3))))


def test_pool_repr():
    assert repr(nn.MaxPool2d(2)) == "MaxPool2d(kernel_size=2, stride=2, padding=0, ceil_mode=False)"
    assert repr(nn.AvgPool2d(3, 1, "same")) == (
        "AvgPool2d(kernel_size=3, stride=1, padding='same', ceil_mode=False)")
    assert repr(nn.AdaptiveAvgPool2d((6, 6))) == "AdaptiveAvgPool2d(output_size=(6, 6))"
