"""A small fully convolutional segmentation network on a ResNet-18 trunk, FCN-8s style.

"Fully Convolutional Networks for Semantic Segmentation" (Long, Shelhamer, Darrell 2015,
https://arxiv.org/abs/1411.4038): class scores from the stride-32 features are up-sampled 2x by a
transposed convolution and summed with scores from the stride-16 features, up-sampled 2x again and
summed with the stride-8 scores, then up-sampled 8x to the input grid. The transposed convolutions
start as bilinear interpolation, as in the paper, and are trained.
"""
from __future__ import annotations

from .. import nn
from .registry import register
from .resnet import BasicBlock, ResNet

__all__ = ["FCN", "bilinear_kernel", "fcn_resnet18"]


def bilinear_kernel(size: int) -> list[list[float]]:
    """The ``size x size`` kernel of bilinear up-sampling by ``(size + 1) // 2``."""
    factor = (size + 1) // 2
    center = factor - 1 if size % 2 == 1 else factor - 0.5
    line = [1 - abs(i - center) / factor for i in range(size)]
    return [[a * b for b in line] for a in line]


def _upsampler(channels: int, factor: int) -> nn.ConvTranspose2d:
    """ConvTranspose2d that maps H to exactly ``factor * H``, initialised to bilinear."""
    up = nn.ConvTranspose2d(channels, channels, kernel_size=2 * factor, stride=factor,
                            padding=factor // 2, bias=False)
    up.weight.data[...] = 0
    kernel = bilinear_kernel(2 * factor)
    for c in range(channels):  # each class map up-samples itself
        up.weight.data[c, c] = kernel
    return up


class FCN(nn.Module):
    """FCN-8s-style segmentation head on a ResNet trunk.

    ``backbone`` is a ResNet without its pooling and classifier (names ``backbone.conv1.weight``,
    ``backbone.layer4.1.bn2.running_var`` as torchvision's segmentation models). ``score8``,
    ``score16`` and ``score32`` are 1x1 convolutions to class scores on the layer2, layer3 and
    layer4 features; ``up32`` and ``up16`` double the resolution, ``up8`` multiplies it by 8.
    Every stage of the trunk rounds its size up, so each up-sampled map is at least as large as
    the one it joins and is cropped to it; the final map is cropped to the input size.

    Shape: (N, in_channels, H, W) -> (N, num_classes, H, W) for any H, W >= 1.
    """

    def __init__(self, backbone: ResNet, num_classes: int = 21):
        super().__init__()
        del backbone.avgpool, backbone.fc
        self.backbone = backbone
        exp = backbone.layer4[0].expansion
        self.score8 = nn.Conv2d(128 * exp, num_classes, kernel_size=1)
        self.score16 = nn.Conv2d(256 * exp, num_classes, kernel_size=1)
        self.score32 = nn.Conv2d(512 * exp, num_classes, kernel_size=1)
        self.up32 = _upsampler(num_classes, 2)
        self.up16 = _upsampler(num_classes, 2)
        self.up8 = _upsampler(num_classes, 8)
        for m in (self.score8, self.score16, self.score32):
            nn.init.zeros_(m.weight)  # FCN zero-initialises its score layers
            nn.init.zeros_(m.bias)

    def forward(self, x):
        if x.ndim != 4:
            raise ValueError(f"expects a 4-D input (N, C, H, W), got shape {tuple(x.shape)}")
        h, w = x.shape[-2:]
        _, f8, f16, f32 = self.backbone.forward_features(x)
        s = self.score16(f16) + _crop(self.up32(self.score32(f32)), f16.shape)
        s = self.score8(f8) + _crop(self.up16(s), f8.shape)
        return _crop(self.up8(s), (h, w))


def _crop(x, shape):
    """Keep the top-left ``shape[-2:]`` of ``x``'s spatial grid."""
    h, w = shape[-2], shape[-1]
    return x if x.shape[-2:] == (h, w) else x[:, :, :h, :w]


@register
def fcn_resnet18(num_classes: int = 21, in_channels: int = 3) -> FCN:
    """FCN-8s-style segmentation net on ResNet-18 with transposed-convolution up-sampling.

    11,322,399 parameters for 21 classes (Pascal VOC: 20 classes and background).

    Args:
        num_classes (int, default 21): classes per pixel.
        in_channels (int, default 3): input channels.

    Shape: (N, in_channels, H, W) -> (N, num_classes, H, W), any H and W.

    >>> fcn_resnet18(num_classes=2)(x).shape   # x (2, 3, 37, 50) -> (2, 2, 37, 50)
    """
    return FCN(ResNet(BasicBlock, [2, 2, 2, 2], in_channels=in_channels), num_classes)
