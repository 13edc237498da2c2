"""The benchmarked architectures built in PyTorch, with striate's parameter names.

Each builder mirrors the striate model of the same name (``striate.models.get(name)``) layer for
layer, so ``copy_weights`` can move striate's initial weights into the torch model by name and
both sides start equal. resnet18 and mobilenet_v2 follow torchvision's layout and names
(torchvision itself is not a dependency); lenet5 and resnet20 follow ``striate.models``:

- lenet5: conv 6@5x5 pad 2 - ReLU - maxpool 2 - conv 16@5x5 - ReLU - maxpool 2 - FC 120 - ReLU -
  FC 84 - ReLU - FC 10 (``features.*`` / ``classifier.*`` like striate's ``LeNet5``).
- resnet20: He et al. 2015 section 4.2 with option A shortcuts: take every second pixel and
  append zero channels (striate's ``ZeroPadShortcut``); global mean, FC 10.

Only benchmarks and tests import this module; the library never imports torch.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["lenet5", "resnet20", "resnet18", "mobilenet_v2", "build", "copy_weights"]


def lenet5(num_classes: int = 10) -> nn.Module:
    """LeNet-5 (modern ReLU/max-pool variant), 61,706 parameters."""
    features = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2))
    classifier = nn.Sequential(
        nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, num_classes))
    return _Chain(features, classifier)


class _Chain(nn.Module):
    """features then classifier (LeNet-5's two named halves)."""

    def __init__(self, features: nn.Module, classifier: nn.Module):
        super().__init__()
        self.features, self.classifier = features, classifier

    def forward(self, x):
        return self.classifier(self.features(x))


# ---- ResNets ----
def _conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride, 1, bias=False)


class ZeroPadShortcut(nn.Module):
    """Option A: every ``stride``-th pixel, then ``extra`` zero channels appended."""

    def __init__(self, extra: int, stride: int = 2):
        super().__init__()
        self.extra, self.stride = extra, stride

    def forward(self, x):
        x = x[:, :, ::self.stride, ::self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.extra))


class BasicBlock(nn.Module):
    """Two 3x3 conv + BN, shortcut added before the last ReLU (torchvision's names)."""

    def __init__(self, cin: int, cout: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1, self.bn1 = _conv3x3(cin, cout, stride), nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2, self.bn2 = _conv3x3(cout, cout), nn.BatchNorm2d(cout)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class CifarResNet(nn.Module):
    """ResNet-(6n+2) for 32x32 inputs with option A shortcuts (striate's ``CifarResNet``)."""

    def __init__(self, depth: int = 20, num_classes: int = 10):
        super().__init__()
        n = (depth - 2) // 6
        self.conv1, self.bn1, self.relu = _conv3x3(3, 16), nn.BatchNorm2d(16), nn.ReLU(inplace=True)
        cin, stages = 16, []
        for cout, stride in ((16, 1), (32, 2), (64, 2)):
            blocks = []
            for i in range(n):
                s = stride if i == 0 else 1
                down = ZeroPadShortcut(cout - cin, s) if (s != 1 or cin != cout) else None
                blocks.append(BasicBlock(cin, cout, s, down))
                cin = cout
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(x.mean(dim=(2, 3)))


def resnet20(num_classes: int = 10) -> nn.Module:
    """ResNet-20, option A: 269,722 parameters."""
    return CifarResNet(20, num_classes)


class ResNet18(nn.Module):
    """torchvision's resnet18 (11,689,512 parameters)."""

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1, self.relu = nn.BatchNorm2d(64), nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = 64
        for i, (cout, stride) in enumerate(((64, 1), (128, 2), (256, 2), (512, 2)), 1):
            down = None
            if stride != 1 or cin != cout:
                down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                     nn.BatchNorm2d(cout))
            setattr(self, f"layer{i}", nn.Sequential(BasicBlock(cin, cout, stride, down),
                                                     BasicBlock(cout, cout)))
            cin = cout
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet18(num_classes: int = 1000) -> nn.Module:
    return ResNet18(num_classes)


# ---- MobileNetV2 ----
def _conv_bn_relu6(cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1):
    """torchvision's Conv2dNormActivation: conv (no bias) - BN - ReLU6."""
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU6(inplace=True))


class InvertedResidual(nn.Module):
    """Expand 1x1 (if t > 1) - depthwise 3x3 - linear project 1x1; residual when shapes agree."""

    def __init__(self, cin: int, cout: int, stride: int, t: int):
        super().__init__()
        hidden = cin * t
        layers = [_conv_bn_relu6(cin, hidden, 1)] if t != 1 else []
        layers += [_conv_bn_relu6(hidden, hidden, 3, stride, groups=hidden),
                   nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.conv = nn.Sequential(*layers)
        self.use_res_connect = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    """torchvision's mobilenet_v2 at width 1.0 (3,504,872 parameters)."""

    # (expansion t, channels c, repeats n, first stride s): Table 2 of Sandler et al. 2018
    SETTING = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
               (6, 160, 3, 2), (6, 320, 1, 1))

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        layers, cin = [_conv_bn_relu6(3, 32, 3, 2)], 32
        for t, c, n, s in self.SETTING:
            for i in range(n):
                layers.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        layers.append(_conv_bn_relu6(cin, 1280, 1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), 1)
        return self.classifier(torch.flatten(x, 1))


def mobilenet_v2(num_classes: int = 1000) -> nn.Module:
    return MobileNetV2(num_classes)


_BUILDERS = {"lenet5": lenet5, "resnet20": resnet20, "resnet18": resnet18,
             "mobilenet_v2": mobilenet_v2}


def build(name: str) -> nn.Module:
    """The torch twin of ``striate.models.get(name)``; float32, training mode."""
    if name not in _BUILDERS:
        raise ValueError(f"torch_models.build: no torch twin for {name!r}; "
                         f"have {sorted(_BUILDERS)}")
    return _BUILDERS[name]()


def copy_weights(src, dst: nn.Module) -> None:
    """Load a striate model's parameters and buffers into its torch twin ``dst``.

    Names are matched first; if the two state dicts use different names but list the same
    shapes in the same order (a differently named but identical architecture), they are
    matched by position. Anything else raises ValueError naming the first difference.
    """
    s = {k: np.asarray(v) for k, v in src.state_dict().items()}
    t = dst.state_dict()
    if set(s) != set(t):
        s_shapes = [v.shape for v in s.values()]
        t_shapes = [tuple(v.shape) for v in t.values()]
        if s_shapes != t_shapes:
            missing = sorted(set(t) - set(s))[:3]
            raise ValueError(f"copy_weights: striate and torch {type(dst).__name__} differ: "
                             f"{len(s)} vs {len(t)} tensors, torch names absent in striate: "
                             f"{missing}")
        s = dict(zip(t, s.values()))
    state = {}
    for k, v in t.items():
        if tuple(v.shape) != s[k].shape:
            raise ValueError(f"copy_weights: {k!r} is {s[k].shape} in striate, "
                             f"{tuple(v.shape)} in torch")
        state[k] = torch.from_numpy(np.array(s[k], dtype=s[k].dtype))
    dst.load_state_dict(state, strict=True)
