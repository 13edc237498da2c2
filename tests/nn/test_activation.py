"""Activation layers: parity with torch (forward and input gradient), arguments, repr."""
import numpy as np
import pytest

import striate
from striate import nn

from ._parity import check_parity

torch = pytest.importorskip("torch")

CASES = [
    (lambda: nn.ReLU(), lambda: torch.nn.ReLU()),
    (lambda: nn.ReLU6(), lambda: torch.nn.ReLU6()),
    (lambda: nn.LeakyReLU(), lambda: torch.nn.LeakyReLU()),
    (lambda: nn.LeakyReLU(0.2), lambda: torch.nn.LeakyReLU(0.2)),
    (lambda: nn.Sigmoid(), lambda: torch.nn.Sigmoid()),
    (lambda: nn.Tanh(), lambda: torch.nn.Tanh()),
    (lambda: nn.ELU(), lambda: torch.nn.ELU()),
    (lambda: nn.ELU(alpha=0.5), lambda: torch.nn.ELU(alpha=0.5)),
    (lambda: nn.GELU(), lambda: torch.nn.GELU()),
    (lambda: nn.GELU("tanh"), lambda: torch.nn.GELU("tanh")),
    (lambda: nn.SiLU(), lambda: torch.nn.SiLU()),
    (lambda: nn.Hardswish(), lambda: torch.nn.Hardswish()),
    (lambda: nn.Hardsigmoid(), lambda: torch.nn.Hardsigmoid()),
    (lambda: nn.Softmax(axis=1), lambda: torch.nn.Softmax(dim=1)),
    (lambda: nn.Softmax(), lambda: torch.nn.Softmax(dim=-1)),
    (lambda: nn.LogSoftmax(axis=1), lambda: torch.nn.LogSoftmax(dim=1)),
]
IDS = ["relu", "relu6", "leaky", "leaky0.2", "sigmoid", "tanh", "elu", "elu0.5", "gelu",
       "gelu_tanh", "silu", "hardswish", "hardsigmoid", "softmax1", "softmax-1", "logsoftmax1"]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("make,tmake", CASES, ids=IDS)
def test_activation_matches_torch(make, tmake, dtype):
    x = np.random.default_rng(0).standard_normal((3, 4, 5, 2)) * 4  # covers 6 and +-3 kinks
    layer = make()
    assert list(layer.parameters()) == []
    y = check_parity(layer, tmake(), x, dtype)
    assert y.shape == x.shape


def test_activation_accepts_inplace_and_shows_it():
    assert repr(nn.ReLU(inplace=True)) == "ReLU(inplace=True)"
    assert repr(nn.ReLU()) == "ReLU()"
    assert repr(nn.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"
    assert repr(nn.Softmax(axis=1)) == "Softmax(axis=1)"
    assert repr(nn.GELU()) == "GELU(approximate='none')"


def test_activation_bad_arguments_are_clear():
    with pytest.raises(TypeError, match="LeakyReLU: negative_slope must be a number"):
        nn.LeakyReLU("0.1")
    with pytest.raises(TypeError, match="ELU: alpha must be a number"):
        nn.ELU(None)
    with pytest.raises(ValueError, match="GELU: approximate must be 'none' or 'tanh'"):
        nn.GELU("erf")
    with pytest.raises(TypeError, match="Softmax: axis must be an int"):
        nn.Softmax(1.5)


def test_activation_error_names_layer_in_model():
    model = nn.Sequential(nn.ReLU(), nn.Softmax(axis=3))
    with pytest.raises(ValueError, match=r"Softmax '1': softmax: axis 3 is out of range"):
        model(striate.tensor(np.ones((2, 3))))
