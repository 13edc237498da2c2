"""MobileNets: depthwise separable convolutions for small, fast networks.

- MobileNet v1: "MobileNets: Efficient Convolutional Neural Networks for Mobile Vision
  Applications" (Howard et al. 2017, https://arxiv.org/abs/1704.04861). A standard KxK
  convolution from M to N channels costs K*K*M*N per position; a depthwise KxK convolution (one
  filter per channel) followed by a 1x1 pointwise one costs K*K*M + M*N, about 8-9 times less for
  3x3 kernels. The width multiplier ``alpha`` thins every layer (cost ~ alpha^2).
- MobileNet v2: "MobileNetV2: Inverted Residuals and Linear Bottlenecks" (Sandler et al. 2018,
  https://arxiv.org/abs/1801.04381), with torchvision's layout and names (``features.1.conv.0.0``).
"""
from __future__ import annotations

from collections import OrderedDict

from .. import nn
from .registry import register

__all__ = ["DepthwiseSeparableConv", "MobileNetV1", "InvertedResidual", "MobileNetV2",
           "mobilenet_v1", "mobilenet_v2"]


def _init_weights(model: nn.Module) -> None:
    """torchvision's MobileNet initialisation: He normal (fan_out) convs, N(0, 0.01) linear."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.01)
            nn.init.zeros_(m.bias)


def conv_bn(in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1,
            groups: int = 1, activation: type = nn.ReLU) -> nn.Sequential:
    """Conv2d (no bias, 'same'-style padding) - BatchNorm2d - activation, indexed 0, 1, 2 like
    torchvision's ``Conv2dNormActivation``."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride, (kernel_size - 1) // 2,
                  groups=groups, bias=False),
        nn.BatchNorm2d(out_channels), activation())


# ---- MobileNet v1 ----
class DepthwiseSeparableConv(nn.Sequential):
    """3x3 depthwise conv - BN - ReLU - 1x1 pointwise conv - BN - ReLU (Fig. 3 of the paper).

    Args:
        in_channels (int), out_channels (int), stride (int, default 1): of the depthwise conv.

    Shape: (N, in_channels, H, W) -> (N, out_channels, ceil(H / stride), ceil(W / stride)).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__(OrderedDict([
            ("depthwise", nn.Conv2d(in_channels, in_channels, 3, stride, 1, groups=in_channels,
                                    bias=False)),
            ("bn1", nn.BatchNorm2d(in_channels)), ("relu1", nn.ReLU()),
            ("pointwise", nn.Conv2d(in_channels, out_channels, 1, bias=False)),
            ("bn2", nn.BatchNorm2d(out_channels)), ("relu2", nn.ReLU()),
        ]))


# (output channels, stride) of the 13 depthwise separable layers of Table 1
V1_LAYERS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [
    (1024, 2), (1024, 1)]


class MobileNetV1(nn.Module):
    """MobileNet v1 (Table 1 of Howard et al. 2017): a 3x3/2 convolution, 13 depthwise separable
    layers, global average pooling and a fully connected classifier (softmax in the loss).

    Args:
        num_classes (int, default 1000), in_channels (int, default 3),
        width_mult (float, default 1.0): the width multiplier alpha; layer widths are
            ``int(channels * alpha)`` (at least 1), as in the reference Keras implementation.

    Shape: (N, in_channels, H, W) -> (N, num_classes); the trunk divides H and W by 32
    (rounding up), native 224 (the paper's resolution multiplier is just a smaller input).
    """

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, width_mult: float = 1.0):
        super().__init__()
        if not width_mult > 0:
            raise ValueError(f"MobileNetV1: width_mult must be positive, got {width_mult!r}")

        def width(c: int) -> int:
            return max(1, int(c * width_mult))

        layers = [conv_bn(in_channels, width(32), 3, 2)]
        c = width(32)
        for out, stride in V1_LAYERS:
            layers.append(DepthwiseSeparableConv(c, width(out), stride))
            c = width(out)
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(c, num_classes)
        _init_weights(self)

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.fc(x.reshape(x.shape[0], -1))


# ---- MobileNet v2 ----
def _make_divisible(v: float, divisor: int = 8) -> int:
    """Round ``v`` to the nearest multiple of ``divisor``, never more than 10% down
    (torchvision's and the TensorFlow reference's rule)."""
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


class InvertedResidual(nn.Module):
    """Expand 1x1 (ReLU6) - depthwise 3x3 (ReLU6) - project 1x1 (linear), plus the input when
    the shape is kept: the inverted residual with linear bottleneck (Fig. 3b of the paper).

    Args:
        inp (int), oup (int): input and output channels.
        stride (int): 1 or 2, of the depthwise conv.
        expand_ratio (int): hidden width = ``round(inp * expand_ratio)``; 1 skips the expansion.

    Shape: (N, inp, H, W) -> (N, oup, ceil(H / stride), ceil(W / stride)).
    """

    def __init__(self, inp: int, oup: int, stride: int, expand_ratio: int):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"InvertedResidual: stride must be 1 or 2, got {stride}")
        hidden = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers = [conv_bn(inp, hidden, 1, activation=nn.ReLU6)] if expand_ratio != 1 else []
        layers += [conv_bn(hidden, hidden, 3, stride, groups=hidden, activation=nn.ReLU6),
                   nn.Conv2d(hidden, oup, 1, bias=False), nn.BatchNorm2d(oup)]
        self.conv = nn.Sequential(*layers)
        self.out_channels = oup

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


# expansion t, output channels c, repeats n, first stride s (Table 2 of the paper)
V2_SETTING = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1],
              [6, 160, 3, 2], [6, 320, 1, 1]]


class MobileNetV2(nn.Module):
    """MobileNet v2 (torchvision layout): features.0 conv 3x3/2, 17 inverted residual blocks,
    features.18 conv 1x1 to 1280, global average pooling, dropout 0.2 and a linear classifier.

    Args:
        num_classes (int, default 1000), in_channels (int, default 3),
        width_mult (float, default 1.0): widths rounded by :func:`_make_divisible`.
        dropout (float, default 0.2).

    Shape: (N, in_channels, H, W) -> (N, num_classes); native 224.
    """

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, width_mult: float = 1.0,
                 dropout: float = 0.2):
        super().__init__()
        c = _make_divisible(32 * width_mult)
        self.last_channel = _make_divisible(1280 * max(1.0, width_mult))
        layers = [conv_bn(in_channels, c, 3, 2, activation=nn.ReLU6)]
        for t, out, n, s in V2_SETTING:
            out = _make_divisible(out * width_mult)
            for i in range(n):
                layers.append(InvertedResidual(c, out, s if i == 0 else 1, t))
                c = out
        layers.append(conv_bn(c, self.last_channel, 1, activation=nn.ReLU6))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.classifier = nn.Sequential(nn.Dropout(dropout),
                                        nn.Linear(self.last_channel, num_classes))
        _init_weights(self)

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(x.reshape(x.shape[0], -1))


@register
def mobilenet_v1(num_classes: int = 1000, in_channels: int = 3,
                 width_mult: float = 1.0) -> MobileNetV1:
    """MobileNet v1 (Howard et al. 2017) with width multiplier ``width_mult``; 4,231,976
    parameters at width 1.0 with 1000 classes (the paper's 4.2 million; the BatchNorm running
    statistics are buffers, not parameters).

    Args:
        num_classes (int, default 1000), in_channels (int, default 3),
        width_mult (float, default 1.0): 0.75, 0.5 and 0.25 are the paper's thinner models.

    Shape: (N, in_channels, H, W) -> (N, num_classes); native 224.

    >>> model = mobilenet_v1(num_classes=10, width_mult=0.25)
    """
    return MobileNetV1(num_classes, in_channels, width_mult)


@register
def mobilenet_v2(num_classes: int = 1000, in_channels: int = 3, width_mult: float = 1.0,
                 dropout: float = 0.2) -> MobileNetV2:
    """MobileNet v2 (Sandler et al. 2018) with torchvision's names; 3,504,872 parameters.

    Args:
        num_classes (int, default 1000), in_channels (int, default 3),
        width_mult (float, default 1.0), dropout (float, default 0.2).

    Shape: (N, in_channels, H, W) -> (N, num_classes); native 224.

    >>> model = mobilenet_v2(num_classes=10)
    """
    return MobileNetV2(num_classes, in_channels, width_mult, dropout)
