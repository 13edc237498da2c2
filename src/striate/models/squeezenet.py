"""SqueezeNet: "SqueezeNet: AlexNet-level accuracy with 50x fewer parameters and <0.5MB model
size" (Iandola et al. 2016, https://arxiv.org/abs/1602.07360), version 1.1 from the authors'
repository, with torchvision's layout and names (``features.3.expand3x3.weight``).

The Fire module squeezes the channels with 1x1 convolutions and expands them again with a mix of
1x1 and 3x3 filters: fewer 3x3 filters, and fewer input channels to each. There are no fully
connected layers: a 1x1 convolution gives one map per class, averaged over the image. Version 1.1
starts with a 3x3/64 convolution and pools earlier, for 2.4x less computation than 1.0.
"""
from __future__ import annotations

from .. import functional as F
from .. import nn
from .registry import register

__all__ = ["Fire", "SqueezeNet", "squeezenet1_1"]


class Fire(nn.Module):
    """squeeze 1x1 (ReLU), then expand 1x1 and expand 3x3 (ReLU) concatenated along channels.

    Args:
        inplanes (int): input channels.
        squeeze_planes (int): channels after the squeeze.
        expand1x1_planes, expand3x3_planes (int): the two expand widths.

    Shape: (N, inplanes, H, W) -> (N, expand1x1_planes + expand3x3_planes, H, W).
    """

    def __init__(self, inplanes: int, squeeze_planes: int, expand1x1_planes: int,
                 expand3x3_planes: int):
        super().__init__()
        self.squeeze = nn.Conv2d(inplanes, squeeze_planes, kernel_size=1)
        self.squeeze_activation = nn.ReLU()
        self.expand1x1 = nn.Conv2d(squeeze_planes, expand1x1_planes, kernel_size=1)
        self.expand1x1_activation = nn.ReLU()
        self.expand3x3 = nn.Conv2d(squeeze_planes, expand3x3_planes, kernel_size=3, padding=1)
        self.expand3x3_activation = nn.ReLU()

    def forward(self, x):
        x = self.squeeze_activation(self.squeeze(x))
        return F.concat([self.expand1x1_activation(self.expand1x1(x)),
                         self.expand3x3_activation(self.expand3x3(x))], axis=1)


class SqueezeNet(nn.Module):
    """SqueezeNet 1.1: conv 3x3/2 (64), max pools 3x3/2 (ceil mode) after conv1, fire3 and fire5,
    eight Fire modules, dropout 0.5, a 1x1 convolution to ``num_classes`` maps with ReLU, and a
    global average pool.

    Args:
        num_classes (int, default 1000), in_channels (int, default 3), dropout (float, 0.5).

    Shape: (N, in_channels, H, W) -> (N, num_classes); H, W at least 17 (native 224).
    """

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5):
        super().__init__()
        self.num_classes = num_classes
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 64, kernel_size=3, stride=2), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            Fire(64, 16, 64, 64), Fire(128, 16, 64, 64),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            Fire(128, 32, 128, 128), Fire(256, 32, 128, 128),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            Fire(256, 48, 192, 192), Fire(384, 48, 192, 192),
            Fire(384, 64, 256, 256), Fire(512, 64, 256, 256),
        )
        final_conv = nn.Conv2d(512, num_classes, kernel_size=1)
        self.classifier = nn.Sequential(nn.Dropout(dropout), final_conv, nn.ReLU(),
                                        nn.AdaptiveAvgPool2d((1, 1)))
        # torchvision: He uniform convs, N(0, 0.01) for the class convolution, zero biases
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                if m is final_conv:
                    nn.init.normal_(m.weight, 0.0, 0.01)
                else:
                    nn.init.kaiming_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.classifier(self.features(x))
        return x.reshape(x.shape[0], -1)


@register
def squeezenet1_1(num_classes: int = 1000, in_channels: int = 3,
                  dropout: float = 0.5) -> SqueezeNet:
    """SqueezeNet 1.1 (Iandola et al. 2016) with torchvision's names; 1,235,496 parameters.

    Args:
        num_classes (int, default 1000), in_channels (int, default 3),
        dropout (float, default 0.5): before the class convolution.

    Shape: (N, in_channels, H, W) -> (N, num_classes); native 224, any size from 17 up.

    >>> model = squeezenet1_1(num_classes=10)
    """
    return SqueezeNet(num_classes, in_channels, dropout)
