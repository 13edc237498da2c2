"""Highway network (Srivastava et al. 2015): the gate formula, the negative gate bias, parameter
count, training step and state_dict."""
import numpy as np
import pytest

import striate
from striate import models
from striate.models.highway import Highway


def digits(rng, n):
    return rng.standard_normal((n, 1, 28, 28)).astype(np.float32)


def test_highway_net_has_85660_parameters(count_params):
    # plain 784*50+50, nine highway layers of 2*(50*50+50), classifier 50*10+10
    assert 784 * 50 + 50 + 9 * 2 * (50 * 50 + 50) + 50 * 10 + 10 == 85_660
    assert count_params(models.highway_net()) == 85_660


def test_highway_net_depth_and_width_change_the_count(count_params):
    assert count_params(models.highway_net(depth=20, width=30)) == (
        784 * 30 + 30 + 19 * 2 * (30 * 30 + 30) + 30 * 10 + 10)


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def test_highway_layer_is_h_times_t_plus_x_times_one_minus_t(rng):
    layer = Highway(6, gate_bias=-1.0).double()
    x = rng.standard_normal((3, 6))
    wh, bh = layer.plain.weight.data, layer.plain.bias.data
    wt, bt = layer.gate.weight.data, layer.gate.bias.data
    h, t = np.maximum(x @ wh.T + bh, 0), sigmoid(x @ wt.T + bt)
    np.testing.assert_allclose(layer(striate.tensor(x)).data, h * t + x * (1 - t), rtol=1e-12)


def test_highway_gate_bias_starts_negative_so_layers_carry_their_input(rng):
    model = models.highway_net()
    for layer in model.highways:
        np.testing.assert_array_equal(layer.gate.bias.data, -2.0)
    layer = Highway(8, gate_bias=-30.0)  # T ~ 0: the layer copies its input
    x = rng.standard_normal((2, 8)).astype(np.float32)
    np.testing.assert_allclose(layer(striate.tensor(x)).data, x, rtol=1e-6, atol=1e-6)


def test_highway_net_output_shape(rng):
    with striate.no_grad():
        assert models.highway_net()(striate.tensor(digits(rng, 2))).shape == (2, 10)


def test_highway_net_sgd_step_lowers_loss(rng, sgd_step):
    striate.manual_seed(0)
    before, after = sgd_step(models.highway_net(), digits(rng, 16), np.arange(16) % 10, lr=0.1)
    assert after < before


def test_highway_net_state_dict_round_trip(rng, round_trip):
    round_trip(models.highway_net, digits(rng, 2))


def test_highway_net_depth_zero_is_value_error():
    with pytest.raises(ValueError, match="depth must be at least 1"):
        models.highway_net(depth=0)
