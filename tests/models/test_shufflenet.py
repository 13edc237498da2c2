"""ShuffleNet v2 1.0x (torchvision layout): parameter count, names, the split-transform-shuffle
unit, output shape, training step and state_dict."""
import numpy as np

import striate
from striate import F, models
from striate.models.shufflenet import ShuffleUnit


def images(rng, n, size, c=3):
    return rng.standard_normal((n, c, size, size)).astype(np.float32)


def test_shufflenet_v2_x1_0_has_2278604_parameters(count_params):
    assert count_params(models.shufflenet_v2_x1_0()) == 2_278_604


# entries of torchvision.models.shufflenet_v2_x1_0().state_dict()
TORCHVISION_KEYS = {
    "conv1.0.weight": (24, 3, 3, 3),
    "conv1.1.running_mean": (24,),
    "stage2.0.branch1.0.weight": (24, 1, 3, 3),
    "stage2.0.branch1.2.weight": (58, 24, 1, 1),
    "stage2.0.branch2.0.weight": (58, 24, 1, 1),
    "stage2.0.branch2.3.weight": (58, 1, 3, 3),
    "stage2.1.branch2.0.weight": (58, 58, 1, 1),
    "stage3.7.branch2.5.weight": (116, 116, 1, 1),
    "stage4.0.branch1.0.weight": (232, 1, 3, 3),
    "conv5.0.weight": (1024, 464, 1, 1),
    "fc.weight": (1000, 1024),
}


def test_shufflenet_v2_state_dict_names_match_torchvision():
    sd = models.shufflenet_v2_x1_0().state_dict()
    for key, shape in TORCHVISION_KEYS.items():
        assert sd[key].shape == shape, key
    assert not any(k.startswith("stage2.1.branch1") for k in sd)  # stride 1: identity half


def test_shuffle_unit_stride1_keeps_half_and_shuffles(rng):
    unit = ShuffleUnit(8, 8, 1).eval()
    x = striate.tensor(images(rng, 2, 5, c=8))
    with striate.no_grad():
        y = unit(x)
        right = unit.branch2(striate.tensor(x.data[:, 4:])).data
    expected = np.concatenate([x.data[:, :4], right], axis=1)
    expected = F.channel_shuffle(striate.tensor(expected), 2).data
    np.testing.assert_allclose(y.data, expected, rtol=1e-6)
    np.testing.assert_array_equal(y.data[:, 0::2], x.data[:, :4])  # untouched half, interleaved


def test_shuffle_unit_stride2_halves_size_and_sets_width(rng):
    unit = ShuffleUnit(6, 16, 2).eval()
    with striate.no_grad():
        assert unit(striate.tensor(images(rng, 2, 7, c=6))).shape == (2, 16, 4, 4)


def test_shufflenet_v2_output_shape_at_32x32(rng):
    model = models.shufflenet_v2_x1_0(num_classes=10).eval()
    with striate.no_grad():
        assert model(striate.tensor(images(rng, 2, 32))).shape == (2, 10)


def test_shufflenet_v2_sgd_step_lowers_loss(rng, sgd_step):
    striate.manual_seed(0)
    model = models.shufflenet_v2_x1_0(num_classes=4)
    before, after = sgd_step(model, images(rng, 4, 32), np.arange(4), lr=0.05)
    assert after < before


def test_shufflenet_v2_state_dict_round_trip(rng, round_trip):
    round_trip(lambda: models.shufflenet_v2_x1_0(num_classes=3), images(rng, 1, 32))
