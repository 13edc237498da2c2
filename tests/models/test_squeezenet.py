"""SqueezeNet 1.1 (torchvision layout): parameter count, names, the Fire module, output shape,
training step and state_dict."""
import numpy as np

import striate
from striate import models
from striate.models.squeezenet import Fire


def images(rng, n, size, c=3):
    return rng.standard_normal((n, c, size, size)).astype(np.float32)


def fire_count(inp, s, e1, e3):
    return inp * s + s + s * e1 + e1 + s * 9 * e3 + e3


def test_squeezenet1_1_has_1235496_parameters(count_params):
    fires = [(64, 16, 64, 64), (128, 16, 64, 64), (128, 32, 128, 128), (256, 32, 128, 128),
             (256, 48, 192, 192), (384, 48, 192, 192), (384, 64, 256, 256), (512, 64, 256, 256)]
    hand = 3 * 9 * 64 + 64 + sum(fire_count(*f) for f in fires) + 512 * 1000 + 1000
    assert hand == 1_235_496
    assert count_params(models.squeezenet1_1()) == 1_235_496


def test_squeezenet1_1_state_dict_names_match_torchvision():
    sd = models.squeezenet1_1().state_dict()
    expected = {"features.0.weight": (64, 3, 3, 3), "features.3.squeeze.weight": (16, 64, 1, 1),
                "features.3.expand1x1.weight": (64, 16, 1, 1),
                "features.3.expand3x3.weight": (64, 16, 3, 3),
                "features.12.expand3x3.bias": (256,), "classifier.1.weight": (1000, 512, 1, 1),
                "classifier.1.bias": (1000,)}
    for key, shape in expected.items():
        assert sd[key].shape == shape, key
    assert len(sd) == 2 + 8 * 6 + 2


def test_fire_concatenates_expand1x1_and_expand3x3(rng):
    fire = Fire(6, 3, 4, 5)
    x = striate.tensor(images(rng, 2, 5, c=6))
    with striate.no_grad():
        y = fire(x)
        s = fire.squeeze_activation(fire.squeeze(x))
        a, b = fire.expand1x1(s).data, fire.expand3x3(s).data
    assert y.shape == (2, 9, 5, 5)
    np.testing.assert_allclose(y.data, np.maximum(np.concatenate([a, b], axis=1), 0), rtol=1e-6)


def test_squeezenet1_1_output_shape_at_64x64(rng):
    model = models.squeezenet1_1(num_classes=10).eval()
    with striate.no_grad():
        assert model(striate.tensor(images(rng, 2, 64))).shape == (2, 10)


def test_squeezenet1_1_sgd_step_lowers_loss(rng, sgd_step):
    striate.manual_seed(0)
    model = models.squeezenet1_1(num_classes=4, dropout=0.0)
    before, after = sgd_step(model, images(rng, 4, 32), np.arange(4), lr=0.005)
    assert after < before


def test_squeezenet1_1_state_dict_round_trip(rng, round_trip):
    round_trip(lambda: models.squeezenet1_1(num_classes=3), images(rng, 1, 32))
