"""DeepID (Sun, Wang and Tang 2014): layer sizes, the hand-counted parameters, the two inputs of
the DeepID layer, locally shared/unshared weights, training step, state_dict."""
import numpy as np
import pytest

import striate
from striate import F, models, nn
from striate.models.deepid import DeepID


def hand_count(in_channels=3, num_classes=10000):
    """Layer by layer from the paper's Fig. 2 (39x31 input)."""
    conv1 = 20 * in_channels * 4 * 4 + 20            # -> 20x36x28, pool 18x14
    conv2 = 40 * 20 * 3 * 3 + 40                     # -> 40x16x12, pool 8x6
    conv3 = (3 * 2) * (60 * 40 * 3 * 3 + 60)         # -> 60x6x4: 3x2 regions of 2x2; pool 3x2
    conv4 = (2 * 1) * (80 * 60 * 2 * 2 + 80)         # -> 80x2x1, every position its own
    deepid = (60 * 3 * 2) * 160 + 160 + (80 * 2 * 1) * 160
    return conv1 + conv2 + conv3 + conv4 + deepid + 160 * num_classes + num_classes


def patches(rng, n, c=3, size=(39, 31)):
    return rng.standard_normal((n, c) + size).astype(np.float32)


def test_deepid_hand_count_is_1870100():
    assert hand_count() == 1_870_100  # the number the docstring states


@pytest.mark.parametrize("in_channels", [3, 1])
def test_deepid_parameter_count_equals_hand_count(count_params, in_channels):
    assert count_params(models.deepid(in_channels=in_channels)) == hand_count(in_channels)


def test_deepid_layers_have_the_papers_weight_sharing():
    model = models.deepid()
    assert isinstance(model.conv1, nn.Conv2d) and isinstance(model.conv2, nn.Conv2d)
    assert model.conv3.weight.shape == (3, 2, 60, 40, 3, 3)   # one kernel bank per 2x2 region
    assert model.conv3.output_size == (6, 4) and model.conv3.region == (2, 2)
    assert model.conv4.weight.shape == (2, 1, 80, 60, 2, 2)   # unshared: one per position
    assert model.fc_pool3.weight.shape == (160, 360)
    assert model.fc_conv4.weight.shape == (160, 160) and model.fc_conv4.bias is None
    assert model.config == {"name": "deepid", "kwargs": {
        "num_classes": 10000, "in_channels": 3, "input_size": (39, 31)}}


def test_deepid_output_and_feature_shapes(rng):
    model = models.deepid(num_classes=50)
    x = striate.tensor(patches(rng, 2))
    with striate.no_grad():
        assert model(x).shape == (2, 50)
        feats = model.features(x)
    assert feats.shape == (2, 160)
    assert (feats.data >= 0).all()  # the DeepID layer is a ReLU layer


def test_deepid_square_31x31_grey_patches(rng):
    model = models.deepid(num_classes=7, in_channels=1, input_size=(31, 31))
    assert model.conv3.output_size == (4, 4) and model.conv4.output_size == (1, 1)
    with striate.no_grad():
        assert model(striate.tensor(patches(rng, 2, 1, (31, 31)))).shape == (2, 7)


def test_deepid_layer_sums_pool3_and_conv4_maps(rng):
    """DeepID = relu(W1 pool3 + W2 conv4 + b), recomputed from the intermediate maps."""
    model = models.deepid(num_classes=5)
    x = striate.tensor(patches(rng, 2))
    with striate.no_grad():
        h = model.pool(F.relu(model.conv1(x)))
        h = model.pool(F.relu(model.conv2(h)))
        pool3 = model.pool(F.relu(model.conv3(h)))
        conv4 = F.relu(model.conv4(pool3))
        got = model.features(x).data
    w1, b1, w2 = model.fc_pool3.weight.data, model.fc_pool3.bias.data, model.fc_conv4.weight.data
    expected = np.maximum(pool3.data.reshape(2, -1) @ w1.T + b1 + conv4.data.reshape(2, -1) @ w2.T,
                          0)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert pool3.shape == (2, 60, 3, 2) and conv4.shape == (2, 80, 2, 1)


def test_deepid_sgd_step_lowers_loss(rng, sgd_step):
    striate.manual_seed(0)
    model = models.deepid(num_classes=10)
    before, after = sgd_step(model, patches(rng, 8), np.arange(8) % 10, lr=0.05)
    assert after < before


def test_deepid_state_dict_round_trip(rng, round_trip):
    round_trip(lambda: models.deepid(num_classes=20), patches(rng, 2))


@pytest.mark.parametrize("size", [(20, 20), (28, 28), (39, 29)])
def test_deepid_too_small_input_is_value_error(size):
    """28x28 leaves a 5x5 second pooling: conv3 fits but conv4's 2x2 kernel would not."""
    with pytest.raises(ValueError, match=r"DeepID: input_size .* at least 6x6"):
        DeepID(input_size=size)


def test_deepid_smallest_inputs_that_fit_run(rng):
    for size in ((32, 32), (39, 31)):  # second pooling 6x6 and the paper's 8x6
        model = DeepID(num_classes=5, input_size=size)
        x = rng.standard_normal((2, 3, *size)).astype(np.float32)
        assert model(striate.tensor(x)).shape == (2, 5)
