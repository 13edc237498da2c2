"""VGG: stacks of 3x3 convolutions (Simonyan and Zisserman 2014, https://arxiv.org/abs/1409.1556).

Configurations A, B, D and E of Table 1 of the paper are VGG-11, -13, -16 and -19, with
torchvision's module layout and names (``features.0.weight``, ``classifier.6.bias``), optionally
with batch normalization after every convolution (``vgg16_bn``).
"""
from __future__ import annotations

from .. import nn
from .registry import register

__all__ = [
    "CFGS",
    "VGG",
    "make_layers",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "vgg19_bn",
]

# Output channels of each 3x3 convolution; "M" is a 2x2 max pool with stride 2.
CFGS: dict[str, list] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
          512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
          512, 512, 512, 512, "M"],
}


def make_layers(cfg: list, batch_norm: bool = False, in_channels: int = 3) -> nn.Sequential:
    """The convolutional trunk for one configuration: conv 3x3 (padding 1) [- BN] - ReLU, and
    2x2/2 max pools at each ``"M"``."""
    layers = []
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        layers.append(nn.Conv2d(in_channels, v, kernel_size=3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(v))
        layers.append(nn.ReLU())
        in_channels = v
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """VGG network: a convolutional trunk, a 7x7 adaptive average pool and three FC layers.

    The adaptive pool lets any input of at least 32x32 through (the trunk divides the size by
    32); the paper's input is 224x224. Initialisation as torchvision: Kaiming normal (fan_out)
    for convolutions, N(0, 0.01^2) for linear layers, zero biases.

    Args:
        features (nn.Sequential): the trunk from :func:`make_layers`.
        num_classes (int, default 1000).
        dropout (float, default 0.5).

    Shape: (N, C, H, W) -> (N, num_classes).
    """

    def __init__(self, features: nn.Sequential, num_classes: int = 1000, dropout: float = 0.5):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(4096, num_classes),
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(x.reshape(x.shape[0], -1))


def _vgg(cfg: str, batch_norm: bool, num_classes: int, in_channels: int, dropout: float) -> VGG:
    return VGG(make_layers(CFGS[cfg], batch_norm, in_channels), num_classes, dropout)


_DOC = """VGG-{depth}{bn} (configuration {cfg} of Simonyan and Zisserman 2014){count}.

    Args:
        num_classes (int, default 1000): number of output classes.
        in_channels (int, default 3): input channels.
        dropout (float, default 0.5): dropout probability in the classifier.

    Shape: (N, in_channels, H, W) -> (N, num_classes), H and W at least 32 (native 224).

    >>> model = vgg{depth}{suffix}(num_classes=10)
    """


def _builder(depth: int, cfg: str, batch_norm: bool, count: str = ""):
    def build(num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> VGG:
        return _vgg(cfg, batch_norm, num_classes, in_channels, dropout)

    suffix = "_bn" if batch_norm else ""
    build.__name__ = build.__qualname__ = f"vgg{depth}{suffix}"
    build.__doc__ = _DOC.format(depth=depth, cfg=cfg, suffix=suffix, count=count,
                                bn=" with batch normalization" if batch_norm else "")
    return register(build)


vgg11 = _builder(11, "A", False, ", 132,863,336 parameters")
vgg13 = _builder(13, "B", False, ", 133,047,848 parameters")
vgg16 = _builder(16, "D", False, ", 138,357,544 parameters")
vgg19 = _builder(19, "E", False, ", 143,667,240 parameters")
vgg11_bn = _builder(11, "A", True, ", 132,868,840 parameters")
vgg13_bn = _builder(13, "B", True, ", 133,053,736 parameters")
vgg16_bn = _builder(16, "D", True, ", 138,365,992 parameters")
vgg19_bn = _builder(19, "E", True, ", 143,678,248 parameters")
