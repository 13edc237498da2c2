"""Dropout and Dropout2d: train/eval behaviour, scaling, masks, seeding, gradients, repr."""
import numpy as np
import pytest

import striate
from striate import nn

torch = pytest.importorskip("torch")


def _ones(shape, dtype=np.float64):
    return striate.tensor(np.ones(shape, dtype), requires_grad=True)


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_dropout_train_zeroes_fraction_p_and_scales_survivors(p):
    striate.manual_seed(0)
    x = _ones((200, 100))
    y = nn.Dropout(p)(x)
    vals = np.unique(y.data)
    np.testing.assert_allclose(vals, [0.0, 1 / (1 - p)])
    np.testing.assert_allclose((y.data == 0).mean(), p, atol=0.01)
    y.backward(np.ones(y.shape))
    np.testing.assert_array_equal(x.grad.data, y.data)  # d/dx (mask * x / (1 - p))


def test_dropout_eval_and_p0_return_input():
    x = _ones((3, 4))
    assert nn.Dropout(0.5).eval()(x) is x
    assert nn.Dropout(0.0)(x) is x


def test_dropout_p1_gives_zeros():
    np.testing.assert_array_equal(nn.Dropout(1.0)(_ones((3, 4))).data, np.zeros((3, 4)))


def test_dropout_same_seed_same_mask():
    striate.manual_seed(3)
    a = nn.Dropout()(_ones((10, 10))).data
    striate.manual_seed(3)
    b = nn.Dropout()(_ones((10, 10))).data
    np.testing.assert_array_equal(a, b)


def test_model_eval_switches_dropout_off_and_train_back_on():
    model = nn.Sequential(nn.Linear(50, 50, dtype=np.float64), nn.Dropout(0.5))
    x = striate.tensor(np.random.default_rng(0).standard_normal((4, 50)))
    model.eval()
    np.testing.assert_array_equal(model(x).data, model(x).data)
    model.train()
    assert np.mean(model(x).data == 0) > 0.3


def test_dropout2d_zeroes_whole_channels():
    striate.manual_seed(1)
    y = nn.Dropout2d(0.5)(_ones((8, 16, 3, 3))).data
    per_channel = y.reshape(8, 16, 9)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2.0).all(-1))
    np.testing.assert_allclose((per_channel[..., 0] == 0).mean(), 0.5, atol=0.15)
    x = _ones((2, 3, 4, 4))
    assert nn.Dropout2d().eval()(x) is x


def test_dropout2d_needs_4d_input():
    with pytest.raises(ValueError, match=r"^Dropout2d expects a 4-D input \(N, C, H, W\), got "
                                         r"2-D input of shape \(2, 3\)"):
        nn.Dropout2d()(_ones((2, 3)))


@pytest.mark.parametrize("p", [-0.1, 1.5, "0.5", True])
def test_dropout_bad_p(p):
    with pytest.raises(ValueError, match="Dropout: p must be a probability in"):
        nn.Dropout(p)


def test_dropout_repr_equals_torch():
    assert repr(nn.Dropout(0.3)) == repr(torch.nn.Dropout(0.3))
    assert repr(nn.Dropout2d()) == repr(torch.nn.Dropout2d())
