"""GoogLeNet (Inception v1): "Going Deeper with Convolutions" (Szegedy et al. 2014,
https://arxiv.org/abs/1409.4842), with torchvision's layout and names.

As in torchvision, every convolution is followed by batch normalization (``BasicConv2d``), the
max pools round up (``ceil_mode=True``) and the "5x5" branch of each Inception block uses a 3x3
kernel (a known quirk of the reference weights that torchvision keeps for compatibility).
6,624,904 parameters without the auxiliary classifiers, 13,004,888 with them.
"""
from __future__ import annotations

from collections import OrderedDict

from .. import functional as F
from .. import nn
from .registry import register

__all__ = ["BasicConv2d", "GoogLeNet", "Inception", "InceptionAux", "googlenet"]


class BasicConv2d(nn.Module):
    """Conv2d (no bias) - BatchNorm2d (eps 1e-3) - ReLU; ``kwargs`` go to the convolution."""

    def __init__(self, in_channels: int, out_channels: int, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x):
        return F.relu(nn.conv_bn_act(self.conv, self.bn, None, x))


class Inception(nn.Concat):
    """The Inception block: four branches on the same input, concatenated along channels.

    branch1: 1x1 conv; branch2: 1x1 reduce then 3x3; branch3: 1x1 reduce then 3x3 (the paper's
    5x5, as in torchvision); branch4: 3x3/1 max pool then 1x1 projection. The fusion is
    ``nn.Concat``; its branches are renamed ``branch1``..``branch4`` so the parameter names
    match torchvision's (``inception3a.branch2.1.conv.weight``).

    Args:
        in_channels (int): input channels.
        ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj (int): the branch widths of
            Table 1 of the paper.

    Shape: (N, in_channels, H, W) -> (N, ch1x1 + ch3x3 + ch5x5 + pool_proj, H, W).
    """

    def __init__(self, in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int,
                 ch5x5red: int, ch5x5: int, pool_proj: int):
        super().__init__(
            BasicConv2d(in_channels, ch1x1, kernel_size=1),
            nn.Sequential(BasicConv2d(in_channels, ch3x3red, kernel_size=1),
                          BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1)),
            nn.Sequential(BasicConv2d(in_channels, ch5x5red, kernel_size=1),
                          BasicConv2d(ch5x5red, ch5x5, kernel_size=3, padding=1)),
            nn.Sequential(nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
                          BasicConv2d(in_channels, pool_proj, kernel_size=1)),
            axis=1,
        )
        # Concat runs its children in registration order; only their names change here
        names = ("branch1", "branch2", "branch3", "branch4")
        self.__dict__["_modules"] = OrderedDict(zip(names, self._modules.values()))


class InceptionAux(nn.Module):
    """Auxiliary classifier: 4x4 average pool - 1x1 conv 128 - FC 1024 - ReLU - dropout - FC.

    Shape: (N, in_channels, H, W) -> (N, num_classes).
    """

    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.7):
        super().__init__()
        self.conv = BasicConv2d(in_channels, 128, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        x = self.conv(F.adaptive_avg_pool2d(x, (4, 4)))
        x = F.relu(self.fc1(x.reshape(x.shape[0], -1)))
        return self.fc2(self.dropout(x))


class GoogLeNet(nn.Module):
    """GoogLeNet with torchvision's module names (``conv1.conv.weight``, ``inception4a...``).

    In training mode with ``aux_logits=True`` the forward returns ``(logits, aux2, aux1)``, the
    order of torchvision's ``GoogLeNetOutputs``; the paper weights each auxiliary loss by 0.3.
    Otherwise it returns the logits. Initialisation as torchvision: truncated normal (std 0.01)
    for convolutions and linear layers, zero biases.

    Shape: (N, in_channels, H, W) -> (N, num_classes); native 224x224, any size >= 32 works.
    """

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, aux_logits: bool = False,
                 dropout: float = 0.2, dropout_aux: float = 0.7):
        super().__init__()
        self.aux_logits = aux_logits
        self.conv1 = BasicConv2d(in_channels, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128)
        if aux_logits:
            self.aux1 = InceptionAux(512, num_classes, dropout_aux)
            self.aux2 = InceptionAux(528, num_classes, dropout_aux)
        else:
            self.aux1 = self.aux2 = None
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(1024, num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        with_aux = self.aux_logits and self.training
        aux1 = self.aux1(x) if with_aux else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if with_aux else None
        x = self.maxpool4(self.inception4e(x))
        x = self.avgpool(self.inception5b(self.inception5a(x)))
        x = self.fc(self.dropout(x.reshape(x.shape[0], -1)))
        return (x, aux2, aux1) if with_aux else x


@register
def googlenet(num_classes: int = 1000, in_channels: int = 3, aux_logits: bool = False,
              dropout: float = 0.2, dropout_aux: float = 0.7) -> GoogLeNet:
    """GoogLeNet (Inception v1), torchvision layout.

    Args:
        num_classes (int, default 1000): number of output classes.
        in_channels (int, default 3): input channels.
        aux_logits (bool, default False): add the two auxiliary classifiers after inception4a
            and inception4d (6,624,904 parameters without, 13,004,888 with, for 1000 classes).
        dropout (float, default 0.2): dropout before the final classifier.
        dropout_aux (float, default 0.7): dropout in the auxiliary classifiers.

    Shape: (N, in_channels, H, W) -> (N, num_classes); in training mode with ``aux_logits`` a
    tuple ``(logits, aux2, aux1)``.

    >>> model = googlenet(num_classes=10)
    """
    return GoogLeNet(num_classes, in_channels, aux_logits, dropout, dropout_aux)
