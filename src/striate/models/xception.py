"""Xception: "Xception: Deep Learning with Depthwise Separable Convolutions" (Chollet 2017,
https://arxiv.org/abs/1610.02357).

Inception modules decouple cross-channel and spatial correlations partly; Xception makes the
"extreme" version of that hypothesis and decouples them completely: 36 convolutional layers,
almost all of them depthwise separable (a depthwise 3x3 then a pointwise 1x1), arranged in 14
modules with linear residual connections around all but the first and last. The layout and the
names follow the Keras reference model as ported to PyTorch by Cadene's ``pretrainedmodels``
(``block1.rep.0.conv1.weight``, ``block1.skip.weight``).
"""
from __future__ import annotations

from .. import nn
from .registry import register

__all__ = ["SeparableConv2d", "XceptionBlock", "Xception", "xception"]


class SeparableConv2d(nn.Module):
    """Depthwise KxK convolution (``conv1``) then pointwise 1x1 (``pointwise``), no bias and no
    nonlinearity in between (the paper finds it trains better without one).

    Shape: (N, in_channels, H, W) -> (N, out_channels, OH, OW) as a Conv2d with the same
    kernel_size, stride and padding.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3,
                 stride: int = 1, padding: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, in_channels, kernel_size, stride, padding,
                               groups=in_channels, bias=False)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x):
        return self.pointwise(self.conv1(x))


class XceptionBlock(nn.Module):
    """``reps`` x [ReLU - SeparableConv 3x3 - BN], an optional 3x3/2 max pool, plus a shortcut
    (identity, or 1x1 conv with stride and BN when the shape changes).

    Args:
        in_filters (int), out_filters (int): channels in and out.
        reps (int): separable convolutions in the block.
        strides (int, default 1): stride of the max pool (and of the shortcut's 1x1 conv).
        start_with_relu (bool, default True): False for the first block, which follows a ReLU.
        grow_first (bool, default True): change the width at the first separable conv (else at
            the last, as the exit flow does).

    Shape: (N, in_filters, H, W) -> (N, out_filters, ceil(H / strides), ceil(W / strides)).
    """

    def __init__(self, in_filters: int, out_filters: int, reps: int, strides: int = 1,
                 start_with_relu: bool = True, grow_first: bool = True):
        super().__init__()
        if out_filters != in_filters or strides != 1:
            self.skip = nn.Conv2d(in_filters, out_filters, 1, stride=strides, bias=False)
            self.skipbn = nn.BatchNorm2d(out_filters)
        else:
            self.skip = None
        widths = [out_filters] * reps
        if not grow_first:  # keep the width until the last separable conv
            widths = [in_filters] * (reps - 1) + [out_filters]
        rep, c = [], in_filters
        for w in widths:
            rep += [nn.ReLU(), SeparableConv2d(c, w, 3, 1, 1), nn.BatchNorm2d(w)]
            c = w
        if not start_with_relu:
            rep = rep[1:]
        if strides != 1:
            rep.append(nn.MaxPool2d(3, strides, 1))
        self.rep = nn.Sequential(*rep)

    def forward(self, x):
        skip = x if self.skip is None else self.skipbn(self.skip(x))
        return self.rep(x) + skip


class Xception(nn.Module):
    """Xception (Fig. 5 of the paper): entry flow (two convolutions and three blocks to 728
    channels at stride 16), middle flow (eight 728-channel blocks of three separable
    convolutions), exit flow (a block to 1024 channels, separable convolutions to 1536 and 2048),
    global average pooling and a linear classifier.

    Args:
        num_classes (int, default 1000), in_channels (int, default 3).

    Shape: (N, in_channels, H, W) -> (N, num_classes); native 299x299 (10x10 before the pool);
    at least 29x29.
    """

    def __init__(self, num_classes: int = 1000, in_channels: int = 3):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 32, 3, 2, 0, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(32, 64, 3, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.relu2 = nn.ReLU()
        self.block1 = XceptionBlock(64, 128, 2, 2, start_with_relu=False)
        self.block2 = XceptionBlock(128, 256, 2, 2)
        self.block3 = XceptionBlock(256, 728, 2, 2)
        for i in range(4, 12):
            setattr(self, f"block{i}", XceptionBlock(728, 728, 3, 1))
        self.block12 = XceptionBlock(728, 1024, 2, 2, grow_first=False)
        self.conv3 = SeparableConv2d(1024, 1536, 3, 1, 1)
        self.bn3 = nn.BatchNorm2d(1536)
        self.relu3 = nn.ReLU()
        self.conv4 = SeparableConv2d(1536, 2048, 3, 1, 1)
        self.bn4 = nn.BatchNorm2d(2048)
        self.relu4 = nn.ReLU()
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(2048, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward_features(self, x):
        x = nn.conv_bn_act(self.conv1, self.bn1, self.relu1, x)
        x = nn.conv_bn_act(self.conv2, self.bn2, self.relu2, x)
        for i in range(1, 13):
            x = getattr(self, f"block{i}")(x)
        x = nn.conv_bn_act(self.conv3, self.bn3, self.relu3, x)
        return nn.conv_bn_act(self.conv4, self.bn4, self.relu4, x)

    def forward(self, x):
        x = self.avgpool(self.forward_features(x))
        return self.fc(x.reshape(x.shape[0], -1))


@register(input_shape=(3, 299, 299))
def xception(num_classes: int = 1000, in_channels: int = 3) -> Xception:
    """Xception (Chollet 2017); 22,855,952 parameters.

    The paper's Table 3 gives 22,855,952 trainable parameters, and so does the Keras reference
    model (``keras.applications.Xception``, whose summary says 22,910,480 in total because it also
    counts the 54,528 BatchNorm moving means and variances; here those are buffers). The
    convolutions have no biases (every one is followed by BatchNorm); the classifier has one.

    Args:
        num_classes (int, default 1000), in_channels (int, default 3).

    Shape: (N, in_channels, H, W) -> (N, num_classes); native 299x299.

    >>> model = xception(num_classes=10)
    """
    return Xception(num_classes, in_channels)
