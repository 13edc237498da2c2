"""VGG-11/13/16/19 with and without batch normalization, torchvision layout."""
import numpy as np
import pytest

import striate
from striate import models, nn

# torchvision.models.vgg*(): parameter counts for 1000 classes
COUNTS = {
    "vgg11": 132_863_336, "vgg13": 133_047_848, "vgg16": 138_357_544, "vgg19": 143_667_240,
    "vgg11_bn": 132_868_840, "vgg13_bn": 133_053_736, "vgg16_bn": 138_365_992,
    "vgg19_bn": 143_678_248,
}


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_vgg_parameter_count(skip_init, count_params, name):
    assert count_params(models.get(name)) == COUNTS[name]


def test_vgg11_state_dict_names_match_torchvision(skip_init):
    convs = [0, 3, 6, 8, 11, 13, 16, 18]
    expected = [f"features.{i}.{p}" for i in convs for p in ("weight", "bias")]
    expected += [f"classifier.{i}.{p}" for i in (0, 3, 6) for p in ("weight", "bias")]
    params = dict(models.vgg11().named_parameters())
    assert list(params) == expected
    assert params["features.18.weight"].shape == (512, 512, 3, 3)
    assert params["classifier.0.weight"].shape == (4096, 512 * 7 * 7)


def test_vgg11_bn_state_dict_has_torchvision_batch_norm_names(skip_init):
    model = models.vgg11_bn()
    sd = dict(list(model.named_parameters()) + list(model.named_buffers()))
    for key in ("features.0.weight", "features.1.weight", "features.1.bias",
                "features.1.running_mean", "features.1.running_var", "features.4.weight",
                "features.25.weight", "features.26.running_var", "classifier.6.bias"):
        assert key in sd, key
    assert sd["features.25.weight"].shape == (512, 512, 3, 3)


@pytest.mark.parametrize("name,convs", [("vgg11", 8), ("vgg13", 10), ("vgg16", 13), ("vgg19", 16)])
def test_vgg_depth_is_convs_plus_three_fc(skip_init, name, convs):
    model = models.get(name)
    assert sum(isinstance(m, nn.Conv2d) for m in model.modules()) == convs
    assert sum(isinstance(m, nn.MaxPool2d) for m in model.modules()) == 5
    assert sum(isinstance(m, nn.Linear) for m in model.modules()) == 3


def test_vgg11_output_shape_at_32x32(rng, skip_init, constant_params):
    model = constant_params(models.vgg11(num_classes=10)).eval()
    x = rng.standard_normal((2, 3, 32, 32)).astype(np.float32)
    with striate.no_grad():
        y = model(striate.tensor(x))
    assert y.shape == (2, 10)
    assert np.isfinite(y.data).all()


def test_vgg_features_trunk_divides_size_by_32(rng):
    trunk = models.vgg.make_layers(models.vgg.CFGS["A"], batch_norm=True, in_channels=1).eval()
    with striate.no_grad():
        y = trunk(striate.tensor(rng.standard_normal((2, 1, 64, 96)).astype(np.float32)))
    assert y.shape == (2, 512, 2, 3)
