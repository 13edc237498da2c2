"""ResNets: ImageNet (torchvision names), ResNeXt, Wide ResNet, CIFAR (options A and B),
and the SE and CBAM attention blocks."""
import numpy as np
import pytest

import striate
from striate import models, nn
from striate.models.attention import CBAM, SqueezeExcitation
from striate.models.resnet_cifar import CifarResNet, ZeroPadShortcut

IMAGENET_COUNTS = {
    "resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032,
    "resnet101": 44_549_160, "resnet152": 60_192_808, "resnext50_32x4d": 25_028_904,
    "wide_resnet50_2": 68_883_240,
    # ResNet-50 + one SE (2C^2/16 + C/16 + C) per block; + CBAM's 7x7 conv and BN (100) per block
    "se_resnet50": 28_088_024, "cbam_resnet50": 28_089_624,
}
CIFAR_COUNTS = {"resnet20": 269_722, "resnet32": 464_154, "resnet44": 658_586,
                "resnet56": 853_018, "resnet110": 1_727_962}


def images(rng, n, size, c=3):
    return rng.standard_normal((n, c, size, size)).astype(np.float32)


# ---- ImageNet ResNets ----
@pytest.mark.parametrize("name", sorted(IMAGENET_COUNTS))
def test_imagenet_resnet_parameter_count(skip_init, count_params, name):
    assert count_params(models.get(name)) == IMAGENET_COUNTS[name]


def torchvision_resnet18_parameter_names():
    """``[k for k, _ in torchvision.models.resnet18().named_parameters()]``."""
    names = ["conv1.weight", "bn1.weight", "bn1.bias"]
    for layer in range(1, 5):
        for block in range(2):
            p = f"layer{layer}.{block}."
            names += [p + "conv1.weight", p + "bn1.weight", p + "bn1.bias",
                      p + "conv2.weight", p + "bn2.weight", p + "bn2.bias"]
            if layer > 1 and block == 0:
                names += [p + "downsample.0.weight", p + "downsample.1.weight",
                          p + "downsample.1.bias"]
    return names + ["fc.weight", "fc.bias"]


def test_resnet18_parameter_names_match_torchvision(skip_init):
    model = models.resnet18()
    assert [k for k, _ in model.named_parameters()] == torchvision_resnet18_parameter_names()
    sd = model.state_dict()
    assert sd["layer2.0.downsample.0.weight"].shape == (128, 64, 1, 1)
    assert sd["layer4.1.bn2.running_var"].shape == (512,)
    assert sd["bn1.running_mean"].shape == (64,)
    assert sd["fc.weight"].shape == (1000, 512)


def test_bottleneck_shapes_match_torchvision(skip_init):
    sd = models.resnet50().state_dict()
    assert sd["layer1.0.conv1.weight"].shape == (64, 64, 1, 1)
    assert sd["layer1.0.conv3.weight"].shape == (256, 64, 1, 1)
    assert sd["layer1.0.downsample.0.weight"].shape == (256, 64, 1, 1)
    assert sd["layer3.5.bn3.running_mean"].shape == (1024,)
    assert sd["fc.weight"].shape == (1000, 2048)
    assert models.resnext50_32x4d().state_dict()["layer1.0.conv2.weight"].shape == (128, 4, 3, 3)
    assert models.wide_resnet50_2().state_dict()["layer1.0.conv2.weight"].shape == (128, 128, 3, 3)


def _torch_resnet18(torch, num_classes):
    """torchvision's ResNet-18, written out in torch.nn with torchvision's attribute names."""
    tnn = torch.nn

    class Block(tnn.Module):
        def __init__(self, inplanes, planes, stride):
            super().__init__()
            self.conv1 = tnn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(planes)
            self.conv2 = tnn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = tnn.BatchNorm2d(planes)
            self.downsample = None
            if stride != 1 or inplanes != planes:
                self.downsample = tnn.Sequential(
                    tnn.Conv2d(inplanes, planes, 1, stride, bias=False), tnn.BatchNorm2d(planes))

        def forward(self, x):
            out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
            return torch.relu(out + (x if self.downsample is None else self.downsample(x)))

    class Net(tnn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = tnn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = tnn.BatchNorm2d(64)
            self.maxpool = tnn.MaxPool2d(3, 2, 1)
            self.layer1 = tnn.Sequential(Block(64, 64, 1), Block(64, 64, 1))
            self.layer2 = tnn.Sequential(Block(64, 128, 2), Block(128, 128, 1))
            self.layer3 = tnn.Sequential(Block(128, 256, 2), Block(256, 256, 1))
            self.layer4 = tnn.Sequential(Block(256, 512, 2), Block(512, 512, 1))
            self.fc = tnn.Linear(512, num_classes)

        def forward(self, x):
            x = self.maxpool(torch.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(x.mean(dim=(2, 3)))

    return Net()


def test_resnet18_state_dict_loads_strictly_into_torch_and_outputs_agree(rng):
    torch = pytest.importorskip("torch")
    model = models.resnet18(num_classes=5).double().eval()
    for name, b in model.named_buffers():   # non-trivial BN statistics
        if name.endswith("running_mean"):
            b.data[...] = rng.standard_normal(b.shape) * 0.1
        elif name.endswith("running_var"):
            b.data[...] = rng.uniform(0.5, 2.0, b.shape)
    ref = _torch_resnet18(torch, 5).double().eval()
    ref.load_state_dict({k: torch.from_numpy(v) for k, v in model.state_dict().items()})
    x = rng.standard_normal((2, 3, 35, 30))
    with striate.no_grad():
        y = model(striate.tensor(x)).data
    with torch.no_grad():
        expected = ref(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(y, expected, rtol=1e-7, atol=1e-9)


def test_resnet18_output_shape_at_64x64(rng):
    model = models.resnet18(num_classes=10).eval()
    with striate.no_grad():
        assert model(striate.tensor(images(rng, 2, 64))).shape == (2, 10)


@pytest.mark.parametrize("name", ["resnet50", "se_resnet50", "cbam_resnet50"])
def test_bottleneck_resnets_output_shape_at_32x32(rng, name):
    model = models.get(name, num_classes=10).eval()
    with striate.no_grad():
        y = model(striate.tensor(images(rng, 2, 32)))
    assert y.shape == (2, 10)
    assert np.isfinite(y.data).all()


def test_resnet18_state_dict_round_trip(rng, round_trip):
    round_trip(lambda: models.resnet18(num_classes=4), images(rng, 1, 32))


def test_attention_blocks_sit_on_every_residual_branch(skip_init):
    se = models.se_resnet50()
    assert sum(isinstance(m, SqueezeExcitation) for m in se.modules()) == 16
    assert se.state_dict()["layer1.0.se.fc1.weight"].shape == (16, 256, 1, 1)
    cbam = models.cbam_resnet50()
    assert sum(isinstance(m, CBAM) for m in cbam.modules()) == 16
    sd = cbam.state_dict()
    assert sd["layer4.2.cbam.channel.fc2.weight"].shape == (2048, 128, 1, 1)
    assert sd["layer4.2.cbam.spatial.conv.weight"].shape == (1, 2, 7, 7)
    r18 = models.resnet18(attention="cbam")
    assert sum(isinstance(m, CBAM) for m in r18.modules()) == 8


def test_zero_init_residual_zeroes_last_bn_of_each_block():
    model = models.resnet18(zero_init_residual=True)
    for name, p in model.named_parameters():
        if name.endswith("bn2.weight"):
            np.testing.assert_array_equal(p.data, 0, err_msg=name)


# ---- attention blocks against NumPy ----
def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def _conv1x1(layer, s):
    w, b = layer.weight.data[:, :, 0, 0], layer.bias.data
    return np.einsum("oc,nchw->nohw", w, s) + b[None, :, None, None]


def test_squeeze_excitation_matches_numpy(rng):
    block = SqueezeExcitation(32, reduction=4).double()
    x = rng.standard_normal((2, 32, 5, 3))
    s = x.mean(axis=(2, 3), keepdims=True)
    gate = _sigmoid(_conv1x1(block.fc2, np.maximum(_conv1x1(block.fc1, s), 0)))
    np.testing.assert_allclose(block(striate.tensor(x)).data, x * gate, rtol=1e-12)
    assert striate.gradcheck(lambda t: block(t), [x[:1, :, :3, :2]])


def test_cbam_matches_numpy_and_gradients(rng):
    block = CBAM(16, reduction=4, kernel_size=3).double().eval()
    block.spatial.bn.running_mean.data[...] = 0.3
    block.spatial.bn.running_var.data[...] = 2.0
    x = rng.standard_normal((2, 16, 4, 5))

    def mlp(s):
        return _conv1x1(block.channel.fc2, np.maximum(_conv1x1(block.channel.fc1, s), 0))

    xc = x * _sigmoid(mlp(x.mean(axis=(2, 3), keepdims=True)) + mlp(x.max(axis=(2, 3),
                                                                           keepdims=True)))
    maps = np.concatenate([xc.mean(axis=1, keepdims=True), xc.max(axis=1, keepdims=True)], 1)
    padded = np.pad(maps, ((0, 0), (0, 0), (1, 1), (1, 1)))
    w = block.spatial.conv.weight.data[0]
    conv = np.zeros((2, 1, 4, 5))
    for i in range(4):
        for j in range(5):
            conv[:, 0, i, j] = (padded[:, :, i:i + 3, j:j + 3] * w).sum(axis=(1, 2, 3))
    bn = block.spatial.bn
    conv = (conv - 0.3) / np.sqrt(2.0 + bn.eps) * bn.weight.data[0] + bn.bias.data[0]
    np.testing.assert_allclose(block(striate.tensor(x)).data, xc * _sigmoid(conv), rtol=1e-10)
    assert striate.gradcheck(lambda t: block(t), [x[:1, :, :3, :3]])


def test_unknown_attention_raises():
    with pytest.raises(ValueError, match="attention must be None or one of"):
        models.resnet20(attention="transformer")


# ---- CIFAR ResNets ----
@pytest.mark.parametrize("name", sorted(CIFAR_COUNTS))
def test_cifar_resnet_option_a_parameter_count(count_params, name):
    assert count_params(models.get(name)) == CIFAR_COUNTS[name]


def test_cifar_resnet20_projection_adds_two_1x1_convs_with_bn(count_params):
    model = models.resnet20(shortcut="projection")
    assert count_params(model) == 269_722 + (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)
    assert model.state_dict()["layer2.0.downsample.0.weight"].shape == (32, 16, 1, 1)


def test_cifar_resnet_depth_counts_weighted_layers():
    for name, depth in (("resnet20", 20), ("resnet56", 56), ("resnet110", 110)):
        model = models.get(name)
        convs = sum(isinstance(m, nn.Conv2d) for m in model.modules())
        assert convs + 1 == depth, name   # + the fully connected layer


def test_cifar_resnet20_output_shape_at_32x32(rng):
    model = models.resnet20().eval()
    with striate.no_grad():
        assert model(striate.tensor(images(rng, 2, 32))).shape == (2, 10)


def test_zero_pad_shortcut_subsamples_and_appends_zero_channels(rng):
    x = rng.standard_normal((2, 3, 5, 4))
    t = striate.tensor(x, requires_grad=True)
    y = ZeroPadShortcut(extra=2, stride=2)(t)
    assert y.shape == (2, 5, 3, 2)
    np.testing.assert_array_equal(y.data[:, :3], x[:, :, ::2, ::2])
    np.testing.assert_array_equal(y.data[:, 3:], 0)
    y.backward(np.ones(y.shape))
    expected = np.zeros_like(x)
    expected[:, :, ::2, ::2] = 1
    np.testing.assert_array_equal(t.grad.data, expected)


def test_option_a_shortcuts_have_no_parameters():
    model = models.resnet20()
    assert isinstance(model.layer2[0].downsample, ZeroPadShortcut)
    assert not any("downsample" in k for k in model.state_dict())


@pytest.mark.parametrize("shortcut", ["identity", "projection"])
def test_cifar_resnet20_sgd_step_lowers_loss(rng, sgd_step, shortcut):
    striate.manual_seed(0)
    before, after = sgd_step(models.resnet20(shortcut=shortcut), images(rng, 8, 16),
                             np.arange(8) % 10, lr=0.05)
    assert after < before


def test_cifar_resnet_with_cbam_trains_and_round_trips(rng, sgd_step, round_trip):
    striate.manual_seed(0)
    x = images(rng, 4, 16)
    before, after = sgd_step(models.resnet20(attention="cbam", reduction=4), x,
                             np.arange(4), lr=0.05)
    assert after < before
    round_trip(lambda: models.resnet20(attention="se", reduction=4), x[:2])


def test_cifar_resnet20_state_dict_round_trip(rng, round_trip):
    round_trip(models.resnet20, images(rng, 2, 32))


def test_cifar_resnet_bad_arguments_raise():
    with pytest.raises(ValueError, match=r"depth must be 6n \+ 2"):
        CifarResNet(depth=21)
    with pytest.raises(ValueError, match="shortcut must be 'identity' or 'projection'"):
        models.resnet20(shortcut="C")


def test_zero_pad_shortcut_keeps_a_channels_last_input_channels_last(rng):
    # the shortcut's output is added to a convolution's (channels-last) output: same layout,
    # so the add and its gradient need no strided pass
    x = rng.standard_normal((2, 16, 6, 6))
    xl = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    t = striate.tensor(xl, requires_grad=True)
    y = ZeroPadShortcut(extra=16, stride=2)(t)
    assert y.data.transpose(0, 2, 3, 1).flags.c_contiguous
    np.testing.assert_array_equal(y.data[:, :16], x[:, :, ::2, ::2])
    np.testing.assert_array_equal(y.data[:, 16:], 0)
    y.backward(np.ones(y.shape))
    assert t.grad.data.transpose(0, 2, 3, 1).flags.c_contiguous
    np.testing.assert_array_equal(t.grad.data[:, :, ::2, ::2], 1)
    np.testing.assert_array_equal(t.grad.data.sum(), 16 * 2 * 9)
