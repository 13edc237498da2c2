"""DenseNet-121 (torchvision layout): parameter count, names, dense connectivity, output shape
and state_dict."""
import numpy as np
import pytest

import striate
from striate import models
from striate.models.densenet import DenseBlock


def images(rng, n, size, c=3):
    return rng.standard_normal((n, c, size, size)).astype(np.float32)


def test_densenet121_has_7978856_parameters(skip_init, count_params):
    assert count_params(models.densenet121()) == 7_978_856


TORCHVISION_KEYS = {
    "features.conv0.weight": (64, 3, 7, 7),
    "features.norm0.running_var": (64,),
    "features.denseblock1.denselayer1.norm1.weight": (64,),
    "features.denseblock1.denselayer1.conv1.weight": (128, 64, 1, 1),
    "features.denseblock1.denselayer1.conv2.weight": (32, 128, 3, 3),
    "features.denseblock1.denselayer6.conv1.weight": (128, 224, 1, 1),
    "features.transition1.conv.weight": (128, 256, 1, 1),
    "features.denseblock3.denselayer24.norm1.running_mean": (992,),
    "features.transition3.conv.weight": (512, 1024, 1, 1),
    "features.denseblock4.denselayer16.conv2.weight": (32, 128, 3, 3),
    "features.norm5.weight": (1024,),
    "classifier.weight": (1000, 1024),
}


def test_densenet121_state_dict_names_match_torchvision(skip_init):
    sd = models.densenet121().state_dict()
    for key, shape in TORCHVISION_KEYS.items():
        assert sd[key].shape == shape, key


def test_dense_block_output_concatenates_input_and_every_layer(rng):
    block = DenseBlock(3, 5, bn_size=2, growth_rate=4).eval()
    x = striate.tensor(images(rng, 2, 4, c=5))
    with striate.no_grad():
        y = block(x)
        l1 = block["denselayer1"]([x])
        l2 = block["denselayer2"]([x, l1])
    assert y.shape == (2, 5 + 3 * 4, 4, 4)
    np.testing.assert_array_equal(y.data[:, :5], x.data)  # the input is reused, not transformed
    np.testing.assert_allclose(y.data[:, 5:9], l1.data, rtol=1e-6)
    np.testing.assert_allclose(y.data[:, 9:13], l2.data, rtol=1e-6)
    assert block["denselayer3"].conv1.in_channels == 5 + 2 * 4


def test_densenet121_output_shape_at_32x32(rng):
    model = models.densenet121(num_classes=10).eval()
    with striate.no_grad():
        y = model(striate.tensor(images(rng, 2, 32)))
    assert y.shape == (2, 10)
    assert np.isfinite(y.data).all()


@pytest.mark.slow
def test_densenet121_state_dict_round_trip(rng, round_trip):
    round_trip(lambda: models.densenet121(num_classes=3), images(rng, 1, 32))

