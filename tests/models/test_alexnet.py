"""AlexNet: torchvision's layout and names, and Krizhevsky et al.'s two-tower original."""
import numpy as np
import pytest

import striate
from striate import models, nn

# torchvision.models.alexnet().state_dict(): name -> shape
TORCHVISION_KEYS = {
    "features.0.weight": (64, 3, 11, 11), "features.0.bias": (64,),
    "features.3.weight": (192, 64, 5, 5), "features.3.bias": (192,),
    "features.6.weight": (384, 192, 3, 3), "features.6.bias": (384,),
    "features.8.weight": (256, 384, 3, 3), "features.8.bias": (256,),
    "features.10.weight": (256, 256, 3, 3), "features.10.bias": (256,),
    "classifier.1.weight": (4096, 9216), "classifier.1.bias": (4096,),
    "classifier.4.weight": (4096, 4096), "classifier.4.bias": (4096,),
    "classifier.6.weight": (1000, 4096), "classifier.6.bias": (1000,),
}


def test_alexnet_torchvision_has_61100840_parameters(skip_init, count_params):
    assert count_params(models.alexnet()) == 61_100_840


def test_alexnet_krizhevsky2012_has_60965224_parameters(skip_init, count_params):
    assert count_params(models.alexnet(variant="krizhevsky2012")) == 60_965_224


def test_alexnet_state_dict_names_and_shapes_match_torchvision(skip_init):
    model = models.alexnet()
    assert [k for k, _ in model.named_parameters()] == list(TORCHVISION_KEYS)
    assert {k: v.shape for k, v in model.named_parameters()} == TORCHVISION_KEYS
    assert not list(model.named_buffers())


def test_alexnet_krizhevsky2012_splits_conv2_conv4_conv5_into_two_towers(skip_init):
    model = models.alexnet(variant="krizhevsky2012")
    shapes = {k: v.shape for k, v in model.named_parameters() if k.endswith("weight")}
    assert shapes == {
        "features.0.weight": (96, 3, 11, 11),      # each GPU's 48 kernels see all 3 channels
        "features.4.weight": (256, 48, 5, 5),      # conv2: 2 groups
        "features.8.weight": (384, 256, 3, 3),     # conv3: crosses the GPUs
        "features.10.weight": (384, 192, 3, 3),    # conv4: 2 groups
        "features.12.weight": (256, 192, 3, 3),    # conv5: 2 groups
        "classifier.0.weight": (4096, 9216),
        "classifier.3.weight": (4096, 4096),
        "classifier.6.weight": (1000, 4096),
    }
    lrns = [m for m in model.features if isinstance(m, nn.LocalResponseNorm)]
    assert [model.features[i] for i in (2, 6)] == lrns
    pools = [m for m in model.features if isinstance(m, nn.MaxPool2d)]
    assert len(pools) == 3


def test_alexnet_krizhevsky2012_uses_the_papers_initialisation(monkeypatch):
    # record the weight draws instead of making 60M random numbers; biases are set for real
    drawn = {}
    monkeypatch.setattr(nn.init, "_reset_default_", lambda *a, **k: None)
    monkeypatch.setattr(nn.init, "normal_",
                        lambda t, mean=0.0, std=1.0, **k: drawn.update({id(t): (mean, std)}))
    model = models.alexnet(num_classes=10, variant="krizhevsky2012")
    weights = {k: drawn.get(id(p)) for k, p in model.named_parameters() if k.endswith("weight")}
    assert set(weights.values()) == {(0.0, 0.01)}, weights
    biases = {k: set(p.data.tolist()) for k, p in model.named_parameters() if k.endswith("bias")}
    assert biases == {"features.0.bias": {0.0}, "features.4.bias": {1.0},
                      "features.8.bias": {0.0}, "features.10.bias": {1.0},
                      "features.12.bias": {1.0}, "classifier.0.bias": {1.0},
                      "classifier.3.bias": {1.0}, "classifier.6.bias": {0.0}}


def test_alexnet_torchvision_output_shape_at_224(rng, skip_init, constant_params):
    model = constant_params(models.alexnet(num_classes=10)).eval()
    x = rng.standard_normal((2, 3, 224, 224)).astype(np.float32)
    with striate.no_grad():
        assert model(striate.tensor(x)).shape == (2, 10)


def test_alexnet_krizhevsky2012_output_shape_at_227(rng, skip_init, constant_params):
    model = constant_params(models.alexnet(num_classes=10, variant="krizhevsky2012")).eval()
    x = rng.standard_normal((2, 3, 227, 227)).astype(np.float32)
    with striate.no_grad():
        y = model(striate.tensor(x))
    assert y.shape == (2, 10)
    assert np.isfinite(y.data).all()


def test_alexnet_krizhevsky2012_rejects_224_input(skip_init):
    model = models.alexnet(variant="krizhevsky2012")
    with pytest.raises(ValueError, match="227x227"):
        model(striate.tensor(np.zeros((1, 3, 224, 224), np.float32)))


def test_alexnet_unknown_variant_raises():
    with pytest.raises(ValueError, match="variant must be 'torchvision' or 'krizhevsky2012'"):
        models.alexnet(variant="zfnet")
