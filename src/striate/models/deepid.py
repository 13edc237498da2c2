"""DeepID: "Deep Learning Face Representation from Predicting 10,000 Classes" (Sun, Wang and Tang,
CVPR 2014,
https://openaccess.thecvf.com/content_cvpr_2014/papers/Sun_Deep_Learning_Face_2014_CVPR_paper.pdf).

A ConvNet trained to tell 10,000 identities apart from a 39x31 face patch; its last hidden layer,
the 160-unit "DeepID" vector, is the face representation. Weights are shared less the higher the
layer, because aligned faces have different statistics in different regions: conv1 and conv2 are
ordinary convolutions, conv3 shares its weights only within each 2x2 region of its output, and
conv4 shares none (locally connected). The DeepID layer is fully connected to both pool3 (more
global features) and conv4 (more local ones), "multi-scale" input that the paper credits for
better features.
"""
from __future__ import annotations

from .. import functional as F
from .. import nn
from .registry import register

__all__ = ["DeepID", "deepid"]


def _conv_out(n: int, k: int) -> int:
    return n - k + 1


class DeepID(nn.Module):
    """The DeepID ConvNet of Sun, Wang and Tang 2014, Fig. 2.

    conv1 20@4x4 - max pool 2 - conv2 40@3x3 - max pool 2 - conv3 60@3x3 (weights shared within
    2x2 output regions) - max pool 2 - conv4 80@2x2 (locally connected), ReLU after each
    convolution; DeepID = ReLU(W1 flatten(pool3) + W2 flatten(conv4) + b) with 160 units; a
    linear classifier over the identities (its softmax is in the loss).

    Args:
        num_classes (int, default 10000): identities.
        in_channels (int, default 3): 3 for colour patches, 1 for grey.
        input_size ((int, int), default (39, 31)): the patch's (H, W); the paper also uses 31x31.

    Shape: (N, in_channels, H, W) -> (N, num_classes); :meth:`features` gives (N, 160).
    """

    def __init__(self, num_classes: int = 10000, in_channels: int = 3,
                 input_size: tuple[int, int] = (39, 31)):
        super().__init__()
        h, w = input_size
        self.input_size = (int(h), int(w))
        self.input_shape = (in_channels,) + self.input_size  # for summary and the CLI
        self.conv1 = nn.Conv2d(in_channels, 20, 4)
        self.conv2 = nn.Conv2d(20, 40, 3)
        self.pool = nn.MaxPool2d(2)
        h, w = _conv_out(h, 4) // 2, _conv_out(w, 4) // 2  # 18x14
        h, w = _conv_out(h, 3) // 2, _conv_out(w, 3) // 2  # 8x6
        if min(h, w) < 6:  # conv3 (3x3) then a 2x2 pool must leave conv4's 2x2 kernel room
            raise ValueError(f"DeepID: input_size {input_size} is too small; conv3 and conv4 need "
                             f"the second pooling layer to be at least 6x6, got {h}x{w}")
        self.conv3 = nn.LocallyConnected2d(40, 60, (h, w), 3, region=2)
        h, w = _conv_out(h, 3) // 2, _conv_out(w, 3) // 2  # 3x2
        self.conv4 = nn.LocallyConnected2d(60, 80, (h, w), 2)
        self.fc_pool3 = nn.Linear(60 * h * w, 160)
        self.fc_conv4 = nn.Linear(80 * (h - 1) * (w - 1), 160, bias=False)  # one bias in total
        self.classifier = nn.Linear(160, num_classes)

    def features(self, x):
        """The 160-dimensional DeepID vector."""
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        pool3 = self.pool(F.relu(self.conv3(x)))
        conv4 = F.relu(self.conv4(pool3))
        n = pool3.shape[0]
        return F.relu(self.fc_pool3(pool3.reshape(n, -1)) + self.fc_conv4(conv4.reshape(n, -1)))

    def forward(self, x):
        return self.classifier(self.features(x))


@register(input_shape=(3, 39, 31))
def deepid(num_classes: int = 10000, in_channels: int = 3,
           input_size: tuple[int, int] = (39, 31)) -> DeepID:
    """DeepID (Sun, Wang and Tang 2014) for 39x31 face patches; 1,870,100 parameters with the
    defaults (1,869,460 for grey patches, ``in_channels=1``).

    The count, layer by layer (3x39x31 input, 10,000 identities):

    ========================  =======================  ============================  =========
    layer                     output                   weights + biases              params
    ========================  =======================  ============================  =========
    conv1 20@4x4              20x36x28, pool 20x18x14  20*3*4*4 + 20                       980
    conv2 40@3x3              40x16x12, pool 40x8x6    40*20*3*3 + 40                    7,240
    conv3 60@3x3, 2x2 shared  60x6x4, pool 60x3x2      6 regions * (60*40*3*3 + 60)    129,960
    conv4 80@2x2, unshared    80x2x1                   2 positions * (80*60*2*2 + 80)   38,560
    DeepID from pool3         160                      360*160 + 160                    57,760
    DeepID from conv4         160                      160*160                          25,600
    softmax                   10,000                   160*10,000 + 10,000           1,610,000
    ========================  =======================  ============================  =========

    Args:
        num_classes (int, default 10000): identities.
        in_channels (int, default 3): 3 (colour) or 1 (grey).
        input_size ((int, int), default (39, 31)): patch size; (31, 31) for square patches.

    Shape: (N, in_channels, 39, 31) -> (N, num_classes).

    >>> model = deepid(num_classes=100, in_channels=1)
    """
    return DeepID(num_classes, in_channels, input_size)
