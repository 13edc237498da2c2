"""MobileNet v1 (depthwise separable convolutions, width multiplier) and v2 (torchvision
layout): parameter counts, structure, output shapes, training step, state_dict."""
import numpy as np
import pytest

import striate
from striate import models, nn
from striate.models.mobilenet import DepthwiseSeparableConv, InvertedResidual, _make_divisible


def images(rng, n, size, c=3):
    return rng.standard_normal((n, c, size, size)).astype(np.float32)


# ---- v1 ----
def v1_hand_count(alpha=1.0, num_classes=1000):
    """conv 3x3/2 + BN, then per layer a depthwise 3x3 + BN and a pointwise 1x1 + BN."""
    w = [int(c * alpha) for c in (32, 64, 128, 128, 256, 256) + (512,) * 6 + (1024, 1024)]
    n = 3 * 9 * w[0] + 2 * w[0]
    for cin, cout in zip(w, w[1:]):
        n += cin * 9 + 2 * cin + cin * cout + 2 * cout
    return n + w[-1] * num_classes + num_classes


@pytest.mark.parametrize("alpha, expected", [(1.0, 4_231_976), (0.5, 1_331_592)])
def test_mobilenet_v1_parameter_count(skip_init, count_params, alpha, expected):
    assert v1_hand_count(alpha) == expected  # the Keras reference model's trainable counts
    assert count_params(models.mobilenet_v1(width_mult=alpha)) == expected


def test_mobilenet_v1_layers_are_depthwise_then_pointwise(skip_init):
    model = models.mobilenet_v1()
    blocks = [m for m in model.features if isinstance(m, DepthwiseSeparableConv)]
    assert len(blocks) == 13
    b = blocks[1]  # 64 -> 128, stride 2
    assert b.depthwise.groups == 64 and b.depthwise.weight.shape == (64, 1, 3, 3)
    assert b.depthwise.stride == (2, 2)
    assert b.pointwise.weight.shape == (128, 64, 1, 1)
    assert model.fc.weight.shape == (1000, 1024)


def test_mobilenet_v1_small_width_output_shape(rng):
    model = models.mobilenet_v1(num_classes=10, width_mult=0.25).eval()
    assert model.fc.in_features == 256
    with striate.no_grad():
        assert model(striate.tensor(images(rng, 2, 32))).shape == (2, 10)


def test_mobilenet_v1_sgd_step_lowers_loss(rng, sgd_step):
    striate.manual_seed(0)
    model = models.mobilenet_v1(num_classes=4, width_mult=0.25, in_channels=1)
    before, after = sgd_step(model, images(rng, 4, 32, c=1), np.arange(4), lr=0.01)
    assert after < before


def test_mobilenet_v1_state_dict_round_trip(rng, round_trip):
    round_trip(lambda: models.mobilenet_v1(num_classes=5, width_mult=0.25), images(rng, 1, 32))


def test_mobilenet_v1_bad_width_is_value_error():
    with pytest.raises(ValueError, match="width_mult must be positive"):
        models.mobilenet_v1(width_mult=0)


# ---- v2 ----
def test_mobilenet_v2_has_3504872_parameters(skip_init, count_params):
    assert count_params(models.mobilenet_v2()) == 3_504_872


# entries of torchvision.models.mobilenet_v2().state_dict()
TORCHVISION_KEYS = {
    "features.0.0.weight": (32, 3, 3, 3),
    "features.0.1.running_mean": (32,),
    "features.1.conv.0.0.weight": (32, 1, 3, 3),    # expansion 1: no expand conv
    "features.1.conv.1.weight": (16, 32, 1, 1),
    "features.1.conv.2.bias": (16,),
    "features.2.conv.0.0.weight": (96, 16, 1, 1),
    "features.2.conv.1.0.weight": (96, 1, 3, 3),
    "features.2.conv.2.weight": (24, 96, 1, 1),
    "features.2.conv.3.running_var": (24,),
    "features.17.conv.2.weight": (320, 960, 1, 1),
    "features.18.0.weight": (1280, 320, 1, 1),
    "classifier.1.weight": (1000, 1280),
}


def test_mobilenet_v2_state_dict_names_match_torchvision(skip_init):
    sd = models.mobilenet_v2().state_dict()
    for key, shape in TORCHVISION_KEYS.items():
        assert sd[key].shape == shape, key
    assert len(sd) == 314  # 52 convs, 52 BNs x 5 entries, classifier weight and bias


def test_mobilenet_v2_residuals_only_where_shape_is_kept(skip_init):
    blocks = [m for m in models.mobilenet_v2().features if isinstance(m, InvertedResidual)]
    assert len(blocks) == 17
    assert sum(b.use_res_connect for b in blocks) == 10  # 1 + 2 + 3 + 2 + 2 repeats


def test_inverted_residual_adds_the_input(rng):
    block = InvertedResidual(8, 8, 1, 6).eval()
    x = striate.tensor(images(rng, 2, 5, c=8))
    with striate.no_grad():
        np.testing.assert_allclose(block(x).data, x.data + block.conv(x).data, rtol=1e-6)


def test_make_divisible_rounds_to_8_but_not_down_more_than_10_percent():
    assert [_make_divisible(v) for v in (32, 16 * 0.5, 24 * 0.35, 1280, 100, 36)] == [
        32, 8, 8, 1280, 104, 40]


def test_mobilenet_v2_output_shape_at_32x32(rng):
    model = models.mobilenet_v2(num_classes=10).eval()
    with striate.no_grad():
        y = model(striate.tensor(images(rng, 2, 32)))
    assert y.shape == (2, 10)
    assert np.isfinite(y.data).all()


def test_mobilenet_v2_state_dict_round_trip(rng, round_trip):
    round_trip(lambda: models.mobilenet_v2(num_classes=3, width_mult=0.35), images(rng, 1, 32))


def test_mobilenet_v2_stem_uses_relu6_capping_activations_at_6(rng):
    stem = models.mobilenet_v2(width_mult=0.35).features[0].eval()
    assert isinstance(stem[2], nn.ReLU6)
    with striate.no_grad():
        y = stem(striate.tensor(100 * images(rng, 1, 8)))
    assert y.data.max() == 6.0 and y.data.min() == 0.0
