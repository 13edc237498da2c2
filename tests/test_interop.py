"""PyTorch state dicts load into the zoo: the same architecture built in torch (torchvision's
layout and names, written out here since torchvision is not a dependency) gives the same
outputs once its weights are copied with ``load_torch_state_dict``."""
import numpy as np
import pytest

import striate
from striate import interop, models, nn

torch = pytest.importorskip("torch")
tnn = torch.nn
TF = torch.nn.functional

TOL = {np.float32: dict(rtol=1e-4, atol=1e-4), np.float64: dict(rtol=1e-7, atol=1e-10)}


# ---- the torch references, in torchvision's layout ----
class TBasicBlock(tnn.Module):
    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = tnn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(planes)
        self.relu = tnn.ReLU(inplace=True)
        self.conv2 = tnn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class TResNet18(tnn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.conv1 = tnn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = tnn.BatchNorm2d(64)
        self.relu = tnn.ReLU(inplace=True)
        self.maxpool = tnn.MaxPool2d(3, 2, 1)
        inplanes = 64
        for i, planes in enumerate((64, 128, 256, 512), 1):
            stride = 1 if i == 1 else 2
            down = None
            if stride != 1 or inplanes != planes:
                down = tnn.Sequential(tnn.Conv2d(inplanes, planes, 1, stride, bias=False),
                                      tnn.BatchNorm2d(planes))
            setattr(self, f"layer{i}", tnn.Sequential(TBasicBlock(inplanes, planes, stride, down),
                                                      TBasicBlock(planes, planes)))
            inplanes = planes
        self.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
        self.fc = tnn.Linear(512, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class TCifarBlock(TBasicBlock):
    """Option A: the shortcut subsamples and appends zero channels (striate's ZeroPadShortcut)."""

    def __init__(self, inplanes, planes, stride=1):
        super().__init__(inplanes, planes, stride)
        self.extra, self.stride = planes - inplanes, stride

    def forward(self, x):
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        s = x[:, :, ::self.stride, ::self.stride]
        return self.relu(out + TF.pad(s, (0, 0, 0, 0, 0, self.extra)))


class TResNet20(tnn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = tnn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(16)
        self.relu = tnn.ReLU()
        inplanes = 16
        for i, planes in enumerate((16, 32, 64), 1):
            blocks = [TCifarBlock(inplanes, planes, 1 if i == 1 else 2)]
            blocks += [TCifarBlock(planes, planes) for _ in range(2)]
            setattr(self, f"layer{i}", tnn.Sequential(*blocks))
            inplanes = planes
        self.fc = tnn.Linear(64, num_classes)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(x.mean((2, 3)))


def t_vgg11(num_classes=1000):
    layers, c = [], 3
    for v in (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"):
        if v == "M":
            layers.append(tnn.MaxPool2d(2, 2))
        else:
            layers += [tnn.Conv2d(c, v, 3, padding=1), tnn.ReLU(inplace=True)]
            c = v
    m = tnn.Module()
    m.features = tnn.Sequential(*layers)
    m.avgpool = tnn.AdaptiveAvgPool2d((7, 7))
    m.classifier = tnn.Sequential(tnn.Linear(512 * 49, 4096), tnn.ReLU(True), tnn.Dropout(),
                                  tnn.Linear(4096, 4096), tnn.ReLU(True), tnn.Dropout(),
                                  tnn.Linear(4096, num_classes))
    m.forward = lambda x: m.classifier(torch.flatten(m.avgpool(m.features(x)), 1))
    return m


def t_alexnet(num_classes=1000):
    m = tnn.Module()
    m.features = tnn.Sequential(
        tnn.Conv2d(3, 64, 11, 4, 2), tnn.ReLU(True), tnn.MaxPool2d(3, 2),
        tnn.Conv2d(64, 192, 5, padding=2), tnn.ReLU(True), tnn.MaxPool2d(3, 2),
        tnn.Conv2d(192, 384, 3, padding=1), tnn.ReLU(True),
        tnn.Conv2d(384, 256, 3, padding=1), tnn.ReLU(True),
        tnn.Conv2d(256, 256, 3, padding=1), tnn.ReLU(True), tnn.MaxPool2d(3, 2))
    m.avgpool = tnn.AdaptiveAvgPool2d((6, 6))
    m.classifier = tnn.Sequential(tnn.Dropout(), tnn.Linear(256 * 36, 4096), tnn.ReLU(True),
                                  tnn.Dropout(), tnn.Linear(4096, 4096), tnn.ReLU(True),
                                  tnn.Linear(4096, num_classes))
    m.forward = lambda x: m.classifier(torch.flatten(m.avgpool(m.features(x)), 1))
    return m


def t_lenet5():
    m = tnn.Module()
    m.features = tnn.Sequential(tnn.Conv2d(1, 6, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2),
                                tnn.Conv2d(6, 16, 5), tnn.ReLU(), tnn.MaxPool2d(2))
    m.classifier = tnn.Sequential(tnn.Flatten(), tnn.Linear(400, 120), tnn.ReLU(),
                                  tnn.Linear(120, 84), tnn.ReLU(), tnn.Linear(84, 10))
    m.forward = lambda x: m.classifier(m.features(x))
    return m


def randomize_bn(tmodel, seed=0):
    """Running statistics and affine parameters away from their trivial starting values."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in tmodel.modules():
            if isinstance(m, tnn.BatchNorm2d):
                n = m.num_features
                m.weight.copy_(torch.rand(n, generator=g) + 0.5)
                m.bias.copy_(torch.rand(n, generator=g) - 0.5)
                m.running_mean.copy_(torch.rand(n, generator=g) * 0.4 - 0.2)
                m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
                m.num_batches_tracked.fill_(7)
    return tmodel


def assert_same_outputs(ours, theirs, shape, dtype, seed=0):
    theirs = randomize_bn(theirs).eval()
    theirs = theirs.double() if dtype == np.float64 else theirs
    ours = ours.double() if dtype == np.float64 else ours
    interop.load_torch_state_dict(ours, theirs.state_dict())  # torch tensors, loaded as they are
    ours.eval()
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    with torch.no_grad():
        ref = theirs(torch.from_numpy(x)).numpy()
    with striate.no_grad():
        out = ours(striate.tensor(x)).data
    assert out.dtype == dtype
    np.testing.assert_allclose(out, ref, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lenet5_matches_torch(dtype):
    torch.manual_seed(0)
    assert_same_outputs(models.lenet5(), t_lenet5(), (3, 1, 28, 28), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_resnet20_option_a_matches_torch(dtype):
    torch.manual_seed(0)
    assert_same_outputs(models.resnet20(), TResNet20(), (2, 3, 32, 32), dtype)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_resnet18_matches_torch(dtype):
    torch.manual_seed(0)
    ours, theirs = models.resnet18(), TResNet18()
    assert_same_outputs(ours, theirs, (2, 3, 64, 64), dtype)
    assert int(ours.layer1[0].bn1.num_batches_tracked.data) == 7


@pytest.mark.slow
def test_vgg11_matches_torch():
    torch.manual_seed(0)
    assert_same_outputs(models.vgg11(), t_vgg11(), (1, 3, 32, 32), np.float32)


@pytest.mark.slow
def test_alexnet_matches_torch():
    torch.manual_seed(0)
    assert_same_outputs(models.alexnet(), t_alexnet(), (1, 3, 64, 64), np.float32)


# ---- what the loader accepts and rejects ----
def _lenet_state(seed=0):
    torch.manual_seed(seed)
    return t_lenet5().state_dict()


def test_numpy_values_and_float64_load_into_float32():
    sd = {k: v.double().numpy() for k, v in _lenet_state().items()}
    model = models.lenet5()
    assert interop.load_torch_state_dict(model, sd) == ([], [])
    np.testing.assert_allclose(model.features[0].weight.data, sd["features.0.weight"], rtol=1e-7)
    assert model.features[0].weight.dtype == np.float32


def test_bfloat16_and_half_tensors_load():
    sd = {k: v.to(torch.bfloat16) for k, v in _lenet_state().items()}
    sd["classifier.5.bias"] = sd["classifier.5.bias"].half()
    model = models.lenet5()
    interop.load_torch_state_dict(model, sd)
    np.testing.assert_array_equal(model.classifier[5].bias.data,
                                  sd["classifier.5.bias"].float().numpy())


def test_wrong_architecture_lists_a_bounded_number_of_keys():
    with pytest.raises(ValueError) as e:
        interop.load_torch_state_dict(models.resnet20(), models.resnet18().state_dict())
    assert "unexpected keys (" in str(e.value) and "more" in str(e.value)
    assert len(str(e.value)) < 5000


def test_errors_list_missing_unexpected_and_mismatched_keys_and_copy_nothing():
    sd = dict(_lenet_state())
    del sd["features.3.bias"]
    sd["features.9.weight"] = torch.zeros(3)
    sd["classifier.1.weight"] = torch.zeros(120, 401)
    model = models.lenet5()
    before = model.features[0].weight.data.copy()
    with pytest.raises(ValueError) as e:
        interop.load_torch_state_dict(model, sd)
    msg = str(e.value)
    assert "lenet5" in msg
    assert "missing keys (1): 'features.3.bias'" in msg
    assert "unexpected keys (1): 'features.9.weight'" in msg
    assert "classifier.1.weight: checkpoint (120, 401), model (120, 400)" in msg
    np.testing.assert_array_equal(model.features[0].weight.data, before)


def test_not_strict_skips_missing_and_unexpected_but_not_shapes():
    sd = dict(_lenet_state())
    del sd["features.3.bias"]
    sd["extra"] = torch.zeros(1)
    model = models.lenet5()
    res = interop.load_torch_state_dict(model, sd, strict=False)
    assert res.missing_keys == ["features.3.bias"] and res.unexpected_keys == ["extra"]
    np.testing.assert_array_equal(model.features[0].weight.data, sd["features.0.weight"].numpy())
    sd["features.0.weight"] = torch.zeros(6, 1, 3, 3)
    with pytest.raises(ValueError, match="features.0.weight: checkpoint"):
        interop.load_torch_state_dict(model, sd, strict=False)


def test_integer_value_for_a_float_parameter_raises():
    sd = dict(_lenet_state())
    sd["features.0.bias"] = torch.zeros(6, dtype=torch.int64)
    with pytest.raises(TypeError, match="features.0.bias"):
        interop.load_torch_state_dict(models.lenet5(), sd)


def test_missing_num_batches_tracked_and_dataparallel_prefix_are_accepted():
    torch.manual_seed(0)
    sd = {"module." + k: v for k, v in randomize_bn(TResNet20()).state_dict().items()
          if not k.endswith("num_batches_tracked")}
    model = models.resnet20()
    assert interop.load_torch_state_dict(model, sd) == ([], [])
    np.testing.assert_array_equal(model.bn1.running_var.data, sd["module.bn1.running_var"].numpy())


def test_legacy_densenet_names_are_renamed():
    ref = models.densenet121()
    legacy = {}
    for k, v in ref.state_dict().items():
        k = k.replace("norm1.", "norm.1.").replace("conv1.", "conv.1.") \
             .replace("norm2.", "norm.2.").replace("conv2.", "conv.2.")
        legacy[k] = v * 2
    assert "features.denseblock1.denselayer1.norm.1.weight" in legacy
    model = models.densenet121()
    interop.load_torch_state_dict(model, legacy)
    np.testing.assert_array_equal(model.features.denseblock4.denselayer16.conv2.weight.data,
                                  2 * ref.features.denseblock4.denselayer16.conv2.weight.data)


@pytest.mark.parametrize("bad, err", [
    ([1, 2], TypeError), ({1: 2}, TypeError), ({"features.0.bias": {"y": 1}}, TypeError),
    ({"features.0.bias": "abc"}, TypeError), ({"features.0.bias": object()}, TypeError),
])
def test_bad_state_dicts_raise(bad, err):
    with pytest.raises(err, match="load_torch_state_dict"):
        interop.load_torch_state_dict(models.lenet5(), bad, strict=False)


# ---- transfer learning ----
def test_replace_classifier_freezes_everything_but_the_new_head(rng):
    model = models.resnet20(num_classes=10)
    old = {k: v.copy() for k, v in model.state_dict().items()}
    interop.replace_classifier(model, 4, freeze=True)
    assert (model.fc.in_features, model.fc.out_features) == (64, 4)
    assert model.config["kwargs"]["num_classes"] == 4
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable == ["fc.weight", "fc.bias"]
    x = striate.tensor(rng.standard_normal((2, 3, 16, 16)).astype(np.float32))
    model.eval()
    striate.F.cross_entropy(model(x), np.array([0, 3])).backward()
    assert model.fc.weight.grad is not None and model.conv1.weight.grad is None
    for k, v in model.state_dict().items():
        if not k.startswith("fc."):
            np.testing.assert_array_equal(v, old[k])


def test_replace_classifier_in_a_sequential_head_and_squeezenet_conv(rng):
    lenet = interop.replace_classifier(models.lenet5(), 3)
    assert lenet.classifier[5].out_features == 3
    assert lenet(striate.tensor(np.zeros((1, 1, 28, 28), np.float32))).shape == (1, 3)
    squeeze = interop.replace_classifier(models.squeezenet1_1(), 5)
    assert isinstance(squeeze.classifier[1], nn.Conv2d)
    assert squeeze(striate.tensor(np.zeros((1, 3, 32, 32), np.float32))).shape == (1, 5)


def test_replace_classifier_without_a_classifier_head_raises():
    with pytest.raises(ValueError, match="RBFOutput 'output'"):
        interop.replace_classifier(models.lenet5(variant="lecun1998"), 3)
    with pytest.raises(ValueError, match="no layer with weights"):
        interop.replace_classifier(nn.ReLU(), 3)
    with pytest.raises(ValueError, match="num_classes"):
        interop.replace_classifier(models.lenet5(), 0)
