"""DenseNet: "Densely Connected Convolutional Networks" (Huang, Liu, van der Maaten and
Weinberger 2016, https://arxiv.org/abs/1608.06993), with torchvision's layout and names
(``features.denseblock1.denselayer1.norm1.weight``).

Inside a dense block every layer receives the concatenation of the block input and the outputs
of all earlier layers, and adds ``growth_rate`` new channels to it: features are reused instead
of re-learned, so the layers can be narrow. Each layer is BN-ReLU-conv1x1 (the bottleneck, to
``bn_size * growth_rate`` channels) then BN-ReLU-conv3x3; transition layers between blocks halve
the channels (compression 0.5) and the resolution.
"""
from __future__ import annotations

from collections import OrderedDict

from .. import functional as F
from .. import nn
from .registry import register

__all__ = ["DenseLayer", "DenseBlock", "Transition", "DenseNet", "densenet121"]


class DenseLayer(nn.Module):
    """BN - ReLU - conv 1x1 (``bn_size * growth_rate``) - BN - ReLU - conv 3x3 (``growth_rate``)
    on the concatenation of all earlier feature maps of the block.

    Args:
        num_input_features (int): channels of the concatenated input.
        growth_rate (int), bn_size (int): as :class:`DenseNet`.
        drop_rate (float, default 0.0): dropout on the new features.

    Shape: list of (N, C_i, H, W) with sum C_i = num_input_features -> (N, growth_rate, H, W).
    """

    def __init__(self, num_input_features: int, growth_rate: int, bn_size: int,
                 drop_rate: float = 0.0):
        super().__init__()
        width = bn_size * growth_rate
        self.norm1 = nn.BatchNorm2d(num_input_features)
        self.relu1 = nn.ReLU()
        self.conv1 = nn.Conv2d(num_input_features, width, kernel_size=1, bias=False)
        self.norm2 = nn.BatchNorm2d(width)
        self.relu2 = nn.ReLU()
        self.conv2 = nn.Conv2d(width, growth_rate, kernel_size=3, padding=1, bias=False)
        self.drop_rate = float(drop_rate)

    def forward(self, features):
        x = F.concat(features, axis=1) if isinstance(features, (list, tuple)) else features
        x = self.conv1(self.relu1(self.norm1(x)))
        x = self.conv2(self.relu2(self.norm2(x)))
        return F.dropout(x, self.drop_rate, self.training) if self.drop_rate > 0 else x


class DenseBlock(nn.ModuleDict):
    """``num_layers`` dense layers named ``denselayer1`` ...; the output concatenates the input
    and every layer's new features.

    Shape: (N, C, H, W) -> (N, C + num_layers * growth_rate, H, W).
    """

    def __init__(self, num_layers: int, num_input_features: int, bn_size: int,
                 growth_rate: int, drop_rate: float = 0.0):
        super().__init__()
        for i in range(num_layers):
            self[f"denselayer{i + 1}"] = DenseLayer(num_input_features + i * growth_rate,
                                                    growth_rate, bn_size, drop_rate)

    def forward(self, x):
        # each layer concatenates the list itself (as torchvision), so nothing is copied twice
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return F.concat(features, axis=1)


class Transition(nn.Sequential):
    """BN - ReLU - conv 1x1 - 2x2 average pool: between dense blocks.

    Shape: (N, C_in, H, W) -> (N, C_out, H // 2, W // 2).
    """

    def __init__(self, num_input_features: int, num_output_features: int):
        super().__init__(OrderedDict([
            ("norm", nn.BatchNorm2d(num_input_features)), ("relu", nn.ReLU()),
            ("conv", nn.Conv2d(num_input_features, num_output_features, 1, bias=False)),
            ("pool", nn.AvgPool2d(kernel_size=2, stride=2)),
        ]))


class DenseNet(nn.Module):
    """DenseNet-BC for ImageNet (Table 1 of the paper): conv 7x7/2, max pool 3x3/2, four dense
    blocks with transitions, a final BN, ReLU, global average pooling and a linear classifier.

    Args:
        growth_rate (int, default 32): channels each layer adds (k).
        block_config (tuple of 4 ints, default (6, 12, 24, 16)): layers per block.
        num_init_features (int, default 64): channels of the first convolution.
        bn_size (int, default 4): bottleneck width multiplier (the 1x1 conv gives bn_size * k).
        drop_rate (float, default 0.0), num_classes (int, default 1000),
        in_channels (int, default 3).

    Shape: (N, in_channels, H, W) -> (N, num_classes); the trunk divides H and W by 32.
    """

    def __init__(self, growth_rate: int = 32, block_config=(6, 12, 24, 16),
                 num_init_features: int = 64, bn_size: int = 4, drop_rate: float = 0.0,
                 num_classes: int = 1000, in_channels: int = 3):
        super().__init__()
        self.features = nn.Sequential(OrderedDict([
            ("conv0", nn.Conv2d(in_channels, num_init_features, 7, 2, 3, bias=False)),
            ("norm0", nn.BatchNorm2d(num_init_features)), ("relu0", nn.ReLU()),
            ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
        ]))
        c = num_init_features
        for i, num_layers in enumerate(block_config, 1):
            self.features.add_module(f"denseblock{i}",
                                     DenseBlock(num_layers, c, bn_size, growth_rate, drop_rate))
            c += num_layers * growth_rate
            if i != len(block_config):
                self.features.add_module(f"transition{i}", Transition(c, c // 2))
                c //= 2
        self.features.add_module("norm5", nn.BatchNorm2d(c))
        self.classifier = nn.Linear(c, num_classes)
        for m in self.modules():  # torchvision's initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(F.relu(self.features(x)), (1, 1))
        return self.classifier(x.reshape(x.shape[0], -1))


@register
def densenet121(num_classes: int = 1000, in_channels: int = 3, drop_rate: float = 0.0,
                growth_rate: int = 32) -> DenseNet:
    """DenseNet-121 (Huang et al. 2016), torchvision's names; 7,978,856 parameters.

    Blocks of 6, 12, 24 and 16 layers, growth rate 32, bottleneck 4k, compression 0.5.

    Args:
        num_classes (int, default 1000), in_channels (int, default 3),
        drop_rate (float, default 0.0): dropout after each layer,
        growth_rate (int, default 32): k; other values change the parameter count.

    Shape: (N, in_channels, H, W) -> (N, num_classes); native 224, 32x32 works.

    >>> model = densenet121(num_classes=10)
    """
    return DenseNet(growth_rate, (6, 12, 24, 16), 64, 4, drop_rate, num_classes, in_channels)
