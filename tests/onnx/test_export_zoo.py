"""The zoo exports to ONNX and onnxruntime reproduces striate's outputs within 1e-4 (float32).

Weights are re-drawn so the check means something: the zoo's own initialisations leave some
outputs near zero (GoogLeNet's std-0.01 convolutions, FCN's zeroed score layers). Convolutions
get Kaiming-normal weights and every BatchNorm gets random affine parameters and running
statistics calibrated on one training-mode batch, so activations stay of order one, as in a
trained network. The graph is traced at batch 1 and run at batch 2 (the batch axis is dynamic).
"""
import numpy as np
import pytest

import striate
import striate.onnx
from striate import models, nn

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

slow = pytest.mark.slow

# name -> (builder kwargs, input (C, H, W)); inputs are as small as each architecture allows
# while still exercising every layer (the ImageNet trunks end on 1x1 or 2x2 maps, so the
# adaptive pools of AlexNet and VGG take their general, unequal-window form)
ISSUE_MODELS = [
    pytest.param("lenet5", {}, (1, 28, 28), id="lenet5"),
    pytest.param("alexnet", {}, (3, 64, 64), id="alexnet", marks=slow),
    pytest.param("vgg11", {}, (3, 32, 32), id="vgg11", marks=slow),
    pytest.param("googlenet", {}, (3, 48, 48), id="googlenet", marks=slow),
    pytest.param("resnet18", {}, (3, 32, 32), id="resnet18", marks=slow),
    pytest.param("resnet20", {}, (3, 32, 32), id="resnet20"),
    pytest.param("mobilenet_v2", {}, (3, 32, 32), id="mobilenet_v2"),
    pytest.param("densenet121", {}, (3, 32, 32), id="densenet121", marks=slow),
    pytest.param("deepid", {}, (3, 39, 31), id="deepid"),
]
OTHER_MODELS = [
    pytest.param("lenet5", {"variant": "lecun1998"}, (1, 28, 28), id="lenet5-lecun1998"),
    pytest.param("lenet5", {"variant": "lecun1998", "output": "linear"}, (1, 28, 28),
                 id="lenet5-lecun1998-linear"),
    pytest.param("resnet50", {}, (3, 32, 32), id="resnet50", marks=slow),
    pytest.param("resnet20", {"shortcut": "projection", "attention": "cbam"}, (3, 32, 32),
                 id="resnet20-projection-cbam"),
    pytest.param("resnet32", {"attention": "se"}, (3, 32, 32), id="resnet32-se"),
    pytest.param("fcn_resnet18", {"num_classes": 3}, (3, 37, 50), id="fcn_resnet18",
                 marks=slow),
    pytest.param("mobilenet_v1", {}, (3, 32, 32), id="mobilenet_v1"),
    pytest.param("shufflenet_v2_x1_0", {}, (3, 32, 32), id="shufflenet_v2_x1_0"),
    pytest.param("squeezenet1_1", {}, (3, 32, 32), id="squeezenet1_1"),
    pytest.param("xception", {}, (3, 32, 32), id="xception", marks=slow),
    pytest.param("highway_net", {}, (1, 28, 28), id="highway_net"),
]
# The convolutional trunks of big models whose classifier is plain Linear layers (the trunk
# holds every layer type; exporting the 100M-parameter classifiers takes a minute each).
TRUNKS = [
    pytest.param("vgg16_bn", lambda: models.vgg.make_layers(models.vgg.CFGS["D"], True),
                 (3, 32, 32), id="vgg16_bn-features", marks=slow),
    pytest.param("vgg19", lambda: models.vgg.make_layers(models.vgg.CFGS["E"]), (3, 32, 32),
                 id="vgg19-features", marks=slow),
    pytest.param("alexnet", lambda: models.alexnet(variant="krizhevsky2012").features,
                 (3, 67, 67), id="alexnet-krizhevsky2012-features", marks=slow),
]
# Built from the same blocks as a model above (deeper or wider stacks, attention variants
# covered by resnet20/32 with attention); checked once by hand, too slow for every run.
SAME_BLOCKS = ["vgg13", "vgg16", "vgg11_bn", "vgg13_bn", "vgg19_bn", "resnet34",
               "resnet44", "resnet56", "resnet110", "resnet101", "resnet152", "wide_resnet50_2",
               "resnext50_32x4d", "se_resnet50", "cbam_resnet50"]


def prepare(model, shape, rng):
    """Kaiming-normal convolutions; BatchNorms with random affine parameters and running
    statistics halfway between their start (0, 1) and one training-mode batch's."""
    bns = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            w = m.weight.data
            w[...] = rng.standard_normal(w.shape) * np.sqrt(2 / np.prod(w.shape[1:]))
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.weight.data[...] = rng.uniform(0.5, 1.5, m.num_features)
            m.bias.data[...] = rng.uniform(-0.2, 0.2, m.num_features)
            m.momentum = 0.5  # running = (start + batch) / 2: variances >= 0.5, so no layer
            bns.append(m)     # amplifies float32 rounding by dividing by a tiny variance
    if bns:
        model.train()
        with striate.no_grad():
            model(striate.tensor(rng.standard_normal((4,) + shape).astype(np.float32)))
        for m in bns:
            m.momentum = 0.1
    return model.eval()


def check_export(model, shape, tmp_path, rng):
    path = tmp_path / "model.onnx"
    striate.onnx.export(model, rng.standard_normal((1,) + shape).astype(np.float32), path)
    x = rng.standard_normal((2,) + shape).astype(np.float32)
    with striate.no_grad():
        ref = model(striate.tensor(x)).data
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = sess.run(None, {"input": x})
    scale = np.abs(ref).max()
    assert scale > 0.01  # the outputs carry signal
    # 1e-4 of the largest output: deep float32 nets drift that much from their own float64
    # results (DenseNet-121's logits of ~40 by 2e-4), whatever runs them
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4 * max(1.0, scale))


@pytest.mark.parametrize("name, kwargs, shape", ISSUE_MODELS + OTHER_MODELS)
def test_zoo_model_exports_and_matches_onnxruntime(name, kwargs, shape, tmp_path, rng):
    model = prepare(models.get(name, **kwargs), shape, rng)
    check_export(model, shape, tmp_path, rng)


@pytest.mark.parametrize("name, build, shape", TRUNKS)
def test_zoo_trunk_exports_and_matches_onnxruntime(name, build, shape, tmp_path, rng):
    check_export(prepare(build(), shape, rng), shape, tmp_path, rng)


def test_every_zoo_model_is_covered():
    covered = {p.values[0] for p in ISSUE_MODELS + OTHER_MODELS + TRUNKS} | set(SAME_BLOCKS)
    missing = sorted(set(models.list_models()) - covered)
    assert missing == [], f"add these zoo models to the ONNX export tests: {missing}"
