"""Residual networks for ImageNet, with torchvision's layout and names.

- ResNet: "Deep Residual Learning for Image Recognition" (He, Zhang, Ren, Sun 2015,
  https://arxiv.org/abs/1512.03385), torchvision's v1.5 (stride on the bottleneck's 3x3 conv).
- ResNeXt: "Aggregated Residual Transformations" (Xie et al. 2016,
  https://arxiv.org/abs/1611.05431).
- Wide ResNet-50-2: "Wide Residual Networks" (Zagoruyko, Komodakis 2016,
  https://arxiv.org/abs/1605.07146), torchvision's bottleneck version.
- SE-ResNet and CBAM-ResNet: any ResNet with ``attention="se"`` or ``"cbam"`` (see attention.py).

Parameter names match torchvision's (``conv1.weight``, ``layer1.0.bn1.running_mean``,
``layer2.0.downsample.0.weight``, ``fc.bias``) so its state dicts load into these models.
"""
from __future__ import annotations

from .. import functional as F
from .. import nn
from .attention import make_attention
from .registry import register

__all__ = [
    "BasicBlock",
    "Bottleneck",
    "ResNet",
    "cbam_resnet50",
    "conv1x1",
    "conv3x3",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "resnext50_32x4d",
    "se_resnet50",
    "wide_resnet50_2",
]


def conv3x3(in_planes: int, out_planes: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    """3x3 convolution with padding 1 and no bias (a BatchNorm follows)."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1,
                     groups=groups, bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution without bias."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class _ResidualBlock(nn.Module):
    """Shared tail of the blocks: optional attention on the branch, shortcut, add, ReLU."""

    def _add_attention(self, kind: str | None, channels: int, reduction: int) -> None:
        made = make_attention(kind, channels, reduction)
        self.attention = None if made is None else made[0]
        if made is not None:
            setattr(self, made[0], made[1])

    def _finish(self, conv, bn, out, x):
        """relu(bn(conv(out)) [-> attention] + shortcut(x)). Without attention the sum and
        the ReLU go into ``conv_bn_act``: at inference, into the folded convolution's blocks."""
        identity = x if self.downsample is None else self.downsample(x)
        if self.attention is None:
            return nn.conv_bn_act(conv, bn, self.relu, out, residual=identity)
        out = getattr(self, self.attention)(nn.conv_bn_act(conv, bn, None, out))
        return F.add_relu(out, identity)


class BasicBlock(_ResidualBlock):
    """Two 3x3 convolutions with BatchNorm; the shortcut adds the input (ResNet-18/34).

    Args:
        inplanes (int): input channels.
        planes (int): output channels (``expansion`` = 1).
        stride (int, default 1): stride of the first convolution.
        downsample (Module, optional): projection for the shortcut when the shape changes.
        attention (str, optional): ``"se"`` or ``"cbam"`` on the residual branch.
        reduction (int, default 16): the attention's channel reduction.

    Shape: (N, inplanes, H, W) -> (N, planes, ceil(H / stride), ceil(W / stride)).
    """

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample=None,
                 groups: int = 1, base_width: int = 64, attention: str | None = None,
                 reduction: int = 16):
        super().__init__()
        if groups != 1 or base_width != 64:
            raise ValueError(f"BasicBlock supports only groups=1 and base_width=64, got "
                             f"groups={groups}, base_width={base_width}")
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self._add_attention(attention, planes, reduction)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        out = nn.conv_bn_act(self.conv1, self.bn1, self.relu, x)
        return self._finish(self.conv2, self.bn2, out, x)


class Bottleneck(_ResidualBlock):
    """1x1 reduce - 3x3 (stride, groups) - 1x1 expand by 4, with BatchNorm (ResNet-50 and up).

    The 3x3 convolution has ``int(planes * base_width / 64) * groups`` channels: ``planes``
    for ResNet, 32 groups of 4 per 64 planes for ResNeXt-50 32x4d, twice ``planes`` for
    Wide ResNet-50-2.

    Shape: (N, inplanes, H, W) -> (N, 4 * planes, ceil(H / stride), ceil(W / stride)).
    """

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample=None,
                 groups: int = 1, base_width: int = 64, attention: str | None = None,
                 reduction: int = 16):
        super().__init__()
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride, groups)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU()
        self._add_attention(attention, planes * self.expansion, reduction)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        out = nn.conv_bn_act(self.conv1, self.bn1, self.relu, x)
        out = nn.conv_bn_act(self.conv2, self.bn2, self.relu, out)
        return self._finish(self.conv3, self.bn3, out, x)


class ResNet(nn.Module):
    """ResNet for ImageNet-sized inputs: 7x7/2 conv, 3x3/2 max pool, four stages, global average
    pool, fully connected layer.

    Args:
        block (type): :class:`BasicBlock` or :class:`Bottleneck`.
        layers (list of 4 ints): blocks per stage.
        num_classes (int, default 1000).
        in_channels (int, default 3).
        zero_init_residual (bool, default False): zero the last BN's weight in each block.
        groups, width_per_group (int): ResNeXt cardinality and width (1, 64 for ResNet).
        attention (str, optional): ``"se"`` or ``"cbam"`` in every block.
        reduction (int, default 16): the attention's channel reduction.

    Shape: (N, in_channels, H, W) -> (N, num_classes); the trunk divides H and W by 32
    (rounding up), so any size works, 224 being native.
    """

    def __init__(self, block: type, layers: list[int], num_classes: int = 1000,
                 in_channels: int = 3, zero_init_residual: bool = False, groups: int = 1,
                 width_per_group: int = 64, attention: str | None = None, reduction: int = 16):
        super().__init__()
        if len(layers) != 4:
            raise ValueError(f"ResNet: layers must list 4 stage depths, got {layers}")
        self.inplanes, self.groups, self.base_width = 64, groups, width_per_group
        self.attention, self.reduction = attention, reduction
        self.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.zeros_(m.bn3.weight)
                elif isinstance(m, BasicBlock):
                    nn.init.zeros_(m.bn2.weight)

    def _make_layer(self, block: type, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       nn.BatchNorm2d(planes * block.expansion))
        extra = {"groups": self.groups, "base_width": self.base_width,
                 "attention": self.attention, "reduction": self.reduction}
        layers = [block(self.inplanes, planes, stride, downsample, **extra)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes, **extra) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward_features(self, x) -> list:
        """The outputs of layer1 .. layer4 (strides 4, 8, 16, 32), for dense prediction heads."""
        x = self.maxpool(nn.conv_bn_act(self.conv1, self.bn1, self.relu, x))
        feats = []
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = layer(x)
            feats.append(x)
        return feats

    def forward(self, x):
        x = self.avgpool(self.forward_features(x)[-1])
        return self.fc(x.reshape(x.shape[0], -1))


_ARGS_DOC = """
    Args:
        num_classes (int, default 1000): number of output classes.
        in_channels (int, default 3): input channels.
        attention (str, optional): ``"se"`` (squeeze-and-excitation) or ``"cbam"`` in every
            residual block.
        reduction (int, default 16): channel reduction of the attention blocks.
        zero_init_residual (bool, default False): start each block as the identity.

    Shape: (N, in_channels, H, W) -> (N, num_classes); native 224x224.

    >>> model = {name}(num_classes=10)
    """


def _builder(name: str, block: type, layers: list[int], summary: str, **fixed):
    def build(num_classes: int = 1000, in_channels: int = 3, attention: str | None = None,
              reduction: int = 16, zero_init_residual: bool = False) -> ResNet:
        return ResNet(block, layers, num_classes, in_channels, zero_init_residual,
                      attention=attention, reduction=reduction, **fixed)

    build.__name__ = build.__qualname__ = name
    build.__doc__ = summary + "\n" + _ARGS_DOC.format(name=name)
    return register(build)


resnet18 = _builder("resnet18", BasicBlock, [2, 2, 2, 2],
                    "ResNet-18 (He et al. 2015), 11,689,512 parameters.")
resnet34 = _builder("resnet34", BasicBlock, [3, 4, 6, 3],
                    "ResNet-34 (He et al. 2015), 21,797,672 parameters.")
resnet50 = _builder("resnet50", Bottleneck, [3, 4, 6, 3],
                    "ResNet-50 (He et al. 2015), 25,557,032 parameters.")
resnet101 = _builder("resnet101", Bottleneck, [3, 4, 23, 3],
                     "ResNet-101 (He et al. 2015), 44,549,160 parameters.")
resnet152 = _builder("resnet152", Bottleneck, [3, 8, 36, 3],
                     "ResNet-152 (He et al. 2015), 60,192,808 parameters.")
resnext50_32x4d = _builder("resnext50_32x4d", Bottleneck, [3, 4, 6, 3],
                           "ResNeXt-50 32x4d (Xie et al. 2016), 25,028,904 parameters.",
                           groups=32, width_per_group=4)
wide_resnet50_2 = _builder("wide_resnet50_2", Bottleneck, [3, 4, 6, 3],
                           "Wide ResNet-50-2 (Zagoruyko and Komodakis 2016), 68,883,240 "
                           "parameters.", width_per_group=128)


@register
def se_resnet50(num_classes: int = 1000, in_channels: int = 3, reduction: int = 16) -> ResNet:
    """SE-ResNet-50 (Hu et al. 2018): ResNet-50 with a squeeze-and-excitation block on every
    bottleneck's residual branch (reduction 16), 28,088,024 parameters.

    Args:
        num_classes (int, default 1000), in_channels (int, default 3), reduction (int, default 16).

    Shape: (N, in_channels, H, W) -> (N, num_classes).

    >>> model = se_resnet50(num_classes=10)
    """
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes, in_channels,
                  attention="se", reduction=reduction)


@register
def cbam_resnet50(num_classes: int = 1000, in_channels: int = 3, reduction: int = 16) -> ResNet:
    """CBAM-ResNet-50 (Woo et al. 2018): ResNet-50 with channel and spatial attention on every
    bottleneck's residual branch, 28,089,624 parameters.

    Args:
        num_classes (int, default 1000), in_channels (int, default 3), reduction (int, default 16).

    Shape: (N, in_channels, H, W) -> (N, num_classes).

    >>> model = cbam_resnet50(num_classes=10)
    """
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes, in_channels,
                  attention="cbam", reduction=reduction)
