"""Linear, Flatten, Identity: parity with torch, shapes, validation."""
import numpy as np
import pytest

import striate
from striate import nn

from ._parity import check_parity

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(6, 5), (2, 3, 5)])
def test_linear_matches_torch(shape, bias, dtype):
    layer = nn.Linear(5, 3, bias=bias, dtype=dtype)
    assert layer.weight.shape == (3, 5) and layer.weight.dtype == dtype
    x = np.random.default_rng(1).standard_normal(shape)
    y = check_parity(layer, torch.nn.Linear(5, 3, bias=bias), x, dtype)
    assert y.shape == shape[:-1] + (3,)


def test_linear_without_bias_has_no_bias_parameter():
    layer = nn.Linear(4, 2, bias=False)
    assert layer.bias is None
    assert list(layer.state_dict()) == ["weight"]


def test_linear_in_features_mismatch_names_layer():
    model = nn.Sequential(nn.Flatten(), nn.Linear(400, 120))
    with pytest.raises(ValueError) as info:
        model(striate.tensor(np.zeros((8, 16, 4, 4), np.float32)))
    assert ("Linear '1' expects 400 input features (the last axis), got 256 "
            "(input shape (8, 256))") in str(info.value)


def test_linear_bad_constructor_arguments():
    with pytest.raises(ValueError, match="Linear: in_features must be a positive int, got 0"):
        nn.Linear(0, 3)
    with pytest.raises(TypeError, match="Linear: parameters must have a floating dtype"):
        nn.Linear(2, 3, dtype=np.int32)


def test_linear_repr():
    assert repr(nn.Linear(400, 120)) == "Linear(in_features=400, out_features=120, bias=True)"


@pytest.mark.parametrize("start", [1, 2])
def test_flatten_matches_torch(start):
    x = np.random.default_rng(2).standard_normal((2, 3, 4, 5))
    y = check_parity(nn.Flatten(start), torch.nn.Flatten(start), x)
    assert y.shape == torch.flatten(torch.zeros(2, 3, 4, 5), start).shape


def test_flatten_default_keeps_batch_axis():
    assert nn.Flatten()(striate.tensor(np.zeros((8, 16, 5, 5)))).shape == (8, 400)
    assert repr(nn.Flatten()) == "Flatten(start_axis=1)"


def test_identity_returns_input_and_ignores_arguments():
    x = striate.tensor(np.ones(3))
    assert nn.Identity(54, unused="x")(x) is x
