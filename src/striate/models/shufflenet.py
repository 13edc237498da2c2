"""ShuffleNet v2: "ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture Design"
(Ma, Zhang, Zheng and Sun 2018, https://arxiv.org/abs/1807.11164), with torchvision's layout and
names (``stage2.0.branch1.0.weight``).

Each unit splits its channels in two: one half passes through untouched, the other goes through
1x1 - depthwise 3x3 - 1x1 convolutions with equal widths (cheap on memory access, guideline G1),
and the halves are concatenated and shuffled (``F.channel_shuffle``) so that information crosses
between the two halves in the next unit. A stride-2 unit sends the whole input down two branches
and doubles the channels.
"""
from __future__ import annotations

from .. import functional as F
from .. import nn
from .registry import register

__all__ = ["ShuffleUnit", "ShuffleNetV2", "shufflenet_v2_x1_0"]


def _depthwise(channels: int, stride: int) -> nn.Conv2d:
    return nn.Conv2d(channels, channels, 3, stride, 1, groups=channels, bias=False)


class ShuffleUnit(nn.Module):
    """The ShuffleNet v2 unit (Fig. 3c, stride 1, and 3d, stride 2, of the paper); torchvision
    calls it ``InvertedResidual``.

    Args:
        inp (int), oup (int): input and output channels (``oup`` even; ``inp == oup`` at
            stride 1).
        stride (int): 1 or 2.

    Shape: (N, inp, H, W) -> (N, oup, ceil(H / stride), ceil(W / stride)).
    """

    def __init__(self, inp: int, oup: int, stride: int):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"ShuffleUnit: stride must be 1 or 2, got {stride}")
        if oup % 2 or (stride == 1 and inp != oup):
            raise ValueError(f"ShuffleUnit: needs an even oup, and inp == oup at stride 1; got "
                             f"inp={inp}, oup={oup}, stride={stride}")
        self.stride = stride
        half = oup // 2
        if stride > 1:
            self.branch1 = nn.Sequential(
                _depthwise(inp, stride), nn.BatchNorm2d(inp),
                nn.Conv2d(inp, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU())
        else:
            self.branch1 = nn.Sequential()  # the identity half (no parameters, as torchvision)
        self.branch2 = nn.Sequential(
            nn.Conv2d(inp if stride > 1 else half, half, 1, bias=False), nn.BatchNorm2d(half),
            nn.ReLU(), _depthwise(half, stride), nn.BatchNorm2d(half),
            nn.Conv2d(half, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU())

    def forward(self, x):
        if self.stride == 1:
            x1, x2 = F.split(x, x.shape[1] // 2, axis=1)
            out = F.concat([x1, self.branch2(x2)], axis=1)
        else:
            out = F.concat([self.branch1(x), self.branch2(x)], axis=1)
        return F.channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    """ShuffleNet v2 (Table 5 of the paper): conv1 3x3/2, max pool 3x3/2, stages 2-4 of shuffle
    units (the first of each with stride 2), conv5 1x1, global average pooling, fc.

    Args:
        stages_repeats (list of 3 ints): units per stage ([4, 8, 4]).
        stages_out_channels (list of 5 ints): widths of conv1, stages 2-4 and conv5.
        num_classes (int, default 1000), in_channels (int, default 3).

    Shape: (N, in_channels, H, W) -> (N, num_classes); the trunk divides H and W by 32.
    """

    def __init__(self, stages_repeats: list[int], stages_out_channels: list[int],
                 num_classes: int = 1000, in_channels: int = 3):
        super().__init__()
        if len(stages_repeats) != 3 or len(stages_out_channels) != 5:
            raise ValueError(f"ShuffleNetV2: expects 3 stage depths and 5 widths, got "
                             f"{stages_repeats} and {stages_out_channels}")
        c = stages_out_channels[0]
        self.conv1 = nn.Sequential(nn.Conv2d(in_channels, c, 3, 2, 1, bias=False),
                                   nn.BatchNorm2d(c), nn.ReLU())
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        for i, (repeats, out) in enumerate(zip(stages_repeats, stages_out_channels[1:4]), 2):
            units = [ShuffleUnit(c, out, 2)] + [ShuffleUnit(out, out, 1)
                                                 for _ in range(repeats - 1)]
            setattr(self, f"stage{i}", nn.Sequential(*units))
            c = out
        last = stages_out_channels[-1]
        self.conv5 = nn.Sequential(nn.Conv2d(c, last, 1, bias=False), nn.BatchNorm2d(last),
                                   nn.ReLU())
        self.fc = nn.Linear(last, num_classes)

    def forward(self, x):
        x = self.maxpool(self.conv1(x))
        x = self.conv5(self.stage4(self.stage3(self.stage2(x))))
        return self.fc(x.mean(axis=(2, 3)))  # global average pooling


@register
def shufflenet_v2_x1_0(num_classes: int = 1000, in_channels: int = 3) -> ShuffleNetV2:
    """ShuffleNet v2 1.0x (Ma et al. 2018) with torchvision's names; 2,278,604 parameters.

    Stages of 4, 8 and 4 units with 116, 232 and 464 channels; conv1 24, conv5 1024. Weights
    start with the layers' default (PyTorch) initialisation, as in torchvision.

    Args:
        num_classes (int, default 1000), in_channels (int, default 3).

    Shape: (N, in_channels, H, W) -> (N, num_classes); native 224.

    >>> model = shufflenet_v2_x1_0(num_classes=10)
    """
    return ShuffleNetV2([4, 8, 4], [24, 116, 232, 464, 1024], num_classes, in_channels)
