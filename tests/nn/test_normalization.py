"""BatchNorm1d/2d and LocalResponseNorm: parity with torch in train and eval mode, running
statistics and num_batches_tracked, the affine/track_running_stats/momentum options."""
import numpy as np
import pytest

import striate
from striate import nn

from ._parity import check_parity, copy_from_torch

torch = pytest.importorskip("torch")


def _x(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape) * 2 + 0.5


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kwargs", [dict(), dict(affine=False), dict(momentum=None),
                                    dict(bias=False), dict(track_running_stats=False),
                                    dict(momentum=0.3, eps=1e-3)])
def test_batchnorm2d_train_steps_then_eval_match_torch(kwargs, dtype):
    layer, ref = nn.BatchNorm2d(3, **kwargs, dtype=dtype), torch.nn.BatchNorm2d(3, **kwargs)
    for step in range(3):  # output, gradients, running stats and counter after each step
        check_parity(layer, ref, _x((4, 3, 5, 6), step), dtype)
    layer.eval()
    ref.eval()
    check_parity(layer, ref, _x((2, 3, 5, 6), 9), dtype)


@pytest.mark.parametrize("shape", [(6, 4), (5, 4, 7)])
def test_batchnorm1d_matches_torch(shape):
    layer, ref = nn.BatchNorm1d(4, dtype=np.float64), torch.nn.BatchNorm1d(4)
    check_parity(layer, ref, _x(shape))
    check_parity(layer.eval(), ref.eval(), _x(shape, 1))


def test_batchnorm_state_dict_names_equal_torch():
    assert list(nn.BatchNorm2d(8).state_dict()) == list(torch.nn.BatchNorm2d(8).state_dict())
    sd = nn.BatchNorm2d(8).state_dict()
    assert sd["num_batches_tracked"].dtype == np.int64 and sd["num_batches_tracked"].shape == ()
    assert list(nn.BatchNorm2d(8, affine=False, track_running_stats=False).state_dict()) == []


def test_batchnorm_eval_uses_running_stats_and_leaves_them():
    layer = nn.BatchNorm2d(3, dtype=np.float64)
    layer(striate.tensor(_x((8, 3, 4, 4))))
    state = layer.state_dict()
    layer.eval()
    x = _x((2, 3, 4, 4), 5)
    y = layer(striate.tensor(x)).data
    rm, rv = state["running_mean"].reshape(1, 3, 1, 1), state["running_var"].reshape(1, 3, 1, 1)
    np.testing.assert_allclose(y, (x - rm) / np.sqrt(rv + 1e-5), rtol=1e-10)
    for k, v in layer.state_dict().items():
        np.testing.assert_array_equal(v, state[k], err_msg=k)
    layer.train()
    assert not np.allclose(layer(striate.tensor(x)).data, y)  # batch statistics again


def test_batchnorm_running_stats_round_trip_through_state_dict():
    ref = torch.nn.BatchNorm2d(3).double()
    ref(torch.tensor(_x((4, 3, 2, 2))))
    layer = nn.BatchNorm2d(3, dtype=np.float64)
    copy_from_torch(layer, ref)
    other = nn.BatchNorm2d(3, dtype=np.float64)
    other.load_state_dict(layer.state_dict())
    assert other.num_batches_tracked.item() == 1
    np.testing.assert_allclose(other.running_var.data, ref.running_var.numpy(), rtol=1e-12)


def test_batchnorm_input_errors_name_layer():
    model = nn.Sequential(nn.Conv2d(3, 8, 1), nn.BatchNorm2d(16))
    with pytest.raises(ValueError, match=r"BatchNorm2d '1' expects 16 channels \(num_features\), "
                                         r"got 8 \(input shape \(2, 8, 4, 4\)\)"):
        model(striate.tensor(np.zeros((2, 3, 4, 4), np.float32)))
    with pytest.raises(ValueError, match=r"^BatchNorm1d expects a 2-D or 3-D input"):
        nn.BatchNorm1d(3)(striate.tensor(np.zeros((2, 3, 4, 4), np.float32)))
    with pytest.raises(ValueError, match=r"more than one value per channel in training mode"):
        nn.BatchNorm1d(3)(striate.tensor(np.zeros((1, 3), np.float32)))
    nn.BatchNorm1d(3).eval()(striate.tensor(np.zeros((1, 3), np.float32)))  # fine in eval


def test_batchnorm_bad_arguments():
    with pytest.raises(ValueError, match="BatchNorm2d: momentum must be in"):
        nn.BatchNorm2d(3, momentum=2)
    with pytest.raises(ValueError, match="BatchNorm2d: num_features must be a positive int"):
        nn.BatchNorm2d(0)


@pytest.mark.parametrize("kwargs", [dict(), dict(affine=False), dict(bias=False),
                                    dict(eps=1e-3, momentum=None, track_running_stats=False)])
def test_batchnorm_repr_equals_torch(kwargs):
    assert repr(nn.BatchNorm2d(64, **kwargs)) == repr(torch.nn.BatchNorm2d(64, **kwargs))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kwargs", [dict(size=5), dict(size=2, alpha=1e-2, beta=0.5, k=2.0)])
def test_local_response_norm_matches_torch(kwargs, dtype):
    layer = nn.LocalResponseNorm(**kwargs)
    check_parity(layer, torch.nn.LocalResponseNorm(**kwargs), _x((2, 7, 3, 4)), dtype)
    assert repr(layer) == repr(torch.nn.LocalResponseNorm(**kwargs))
