"""ResNets for CIFAR-10 after He et al. 2015, section 4.2 (https://arxiv.org/abs/1512.03385).

A 3x3 convolution with 16 filters, then three stages of ``n`` basic blocks on 32x32, 16x16 and
8x8 maps with 16, 32 and 64 filters, global average pooling and a 10-way fully connected layer:
``6n + 2`` weighted layers (n = 3, 5, 7, 9, 18 gives ResNet-20, 32, 44, 56, 110).

Shortcuts: the paper's option A (``shortcut="identity"``, the default) keeps every shortcut
parameter-free; where a stage halves the map and doubles the channels it subsamples with stride 2
and pads the new channels with zeros. Option B (``shortcut="projection"``) uses a 1x1 convolution
with BatchNorm there (torchvision's ``downsample.0`` / ``downsample.1`` names).
"""
from __future__ import annotations

from .. import functional as F
from .. import nn
from .registry import register
from .resnet import BasicBlock, conv1x1, conv3x3

__all__ = ["CifarResNet", "ZeroPadShortcut", "resnet20", "resnet32", "resnet44", "resnet56",
           "resnet110"]

_SHORTCUTS = {"identity": "identity", "A": "identity", "projection": "projection",
              "B": "projection"}


class ZeroPadShortcut(nn.Module):
    """Option A shortcut: take every ``stride``-th pixel and append ``extra`` zero channels.

    Shape: (N, C, H, W) -> (N, C + extra, ceil(H / stride), ceil(W / stride)).
    """

    def __init__(self, extra: int, stride: int = 2):
        super().__init__()
        self.extra, self.stride = extra, stride

    def forward(self, x):
        if self.stride != 1:
            x = x[:, :, ::self.stride, ::self.stride]
        if self.extra:
            # pad2d pads the last two axes: on the (N, H, W, C) view it appends channels, and
            # the result is channels-last in memory like the convolutions' outputs it is added to
            x = F.pad2d(x.transpose(0, 2, 3, 1), (0, self.extra, 0, 0)).transpose(0, 3, 1, 2)
        return x

    def extra_repr(self) -> str:
        return f"extra={self.extra}, stride={self.stride}"


class CifarResNet(nn.Module):
    """He et al.'s CIFAR-10 ResNet of depth ``6n + 2``.

    Args:
        depth (int, default 20): 6n + 2.
        num_classes (int, default 10).
        in_channels (int, default 3).
        shortcut (str, default "identity"): ``"identity"`` (option A, zero padding) or
            ``"projection"`` (option B, 1x1 conv + BN where the shape changes); "A"/"B" too.
        attention (str, optional): ``"se"`` or ``"cbam"`` in every block.
        reduction (int, default 16): the attention's channel reduction.
        widths (tuple of 3 ints, default (16, 32, 64)): filters per stage.

    Shape: (N, in_channels, H, W) -> (N, num_classes); native 32x32.
    """

    def __init__(self, depth: int = 20, num_classes: int = 10, in_channels: int = 3,
                 shortcut: str = "identity", attention: str | None = None, reduction: int = 16,
                 widths: tuple[int, int, int] = (16, 32, 64)):
        super().__init__()
        if depth < 8 or (depth - 2) % 6:
            raise ValueError(f"CifarResNet: depth must be 6n + 2 with n >= 1, got {depth}")
        if shortcut not in _SHORTCUTS:
            raise ValueError(f"CifarResNet: shortcut must be 'identity' or 'projection', "
                             f"got {shortcut!r}")
        n = (depth - 2) // 6
        self.shortcut, self.attention, self.reduction = _SHORTCUTS[shortcut], attention, reduction
        self.inplanes = widths[0]
        self.conv1 = conv3x3(in_channels, widths[0])
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU()
        self.layer1 = self._make_layer(widths[0], n, 1)
        self.layer2 = self._make_layer(widths[1], n, 2)
        self.layer3 = self._make_layer(widths[2], n, 2)
        self.fc = nn.Linear(widths[2], num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):  # "the weight initialization in [13]" (He et al. 2015b)
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")

    def _make_layer(self, planes: int, blocks: int, stride: int) -> nn.Sequential:
        layers = []
        for i in range(blocks):
            s = stride if i == 0 else 1
            down = None
            if s != 1 or self.inplanes != planes:
                if self.shortcut == "projection":
                    down = nn.Sequential(conv1x1(self.inplanes, planes, s), nn.BatchNorm2d(planes))
                elif planes < self.inplanes:
                    raise ValueError(f"CifarResNet: option A cannot shrink {self.inplanes} "
                                     f"channels to {planes}; use shortcut='projection'")
                else:
                    down = ZeroPadShortcut(planes - self.inplanes, s)
            layers.append(BasicBlock(self.inplanes, planes, s, down, attention=self.attention,
                                     reduction=self.reduction))
            self.inplanes = planes
        return nn.Sequential(*layers)

    def forward(self, x):
        x = nn.conv_bn_act(self.conv1, self.bn1, self.relu, x)
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(x.mean(axis=(2, 3)))


def _builder(depth: int, count: str):
    def build(num_classes: int = 10, in_channels: int = 3, shortcut: str = "identity",
              attention: str | None = None, reduction: int = 16) -> CifarResNet:
        return CifarResNet(depth, num_classes, in_channels, shortcut, attention, reduction)

    build.__name__ = build.__qualname__ = f"resnet{depth}"
    n = (depth - 2) // 6
    build.__doc__ = f"""ResNet-{depth} for CIFAR-10 (He et al. 2015, section 4.2), n = {n}.

    {count}

    Args:
        num_classes (int, default 10): number of output classes.
        in_channels (int, default 3): input channels.
        shortcut (str, default "identity"): option A (zero-padding identity) or "projection"
            (option B).
        attention (str, optional): ``"se"`` or ``"cbam"`` in every block.
        reduction (int, default 16): channel reduction of the attention blocks.

    Shape: (N, in_channels, 32, 32) -> (N, num_classes) (other sizes work too).

    >>> model = resnet{depth}(shortcut="projection")
    """
    return register(build, input_shape=(3, 32, 32))


resnet20 = _builder(20, "269,722 parameters with option A shortcuts, 272,474 with option B.")
resnet32 = _builder(32, "464,154 parameters with option A shortcuts.")
resnet44 = _builder(44, "658,586 parameters with option A shortcuts.")
resnet56 = _builder(56, "853,018 parameters with option A shortcuts.")
resnet110 = _builder(110, "1,727,962 parameters with option A shortcuts.")
