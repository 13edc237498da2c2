"""AlexNet: torchvision's single-tower layout and Krizhevsky et al.'s 2012 two-GPU original.

"ImageNet Classification with Deep Convolutional Neural Networks" (Krizhevsky, Sutskever, Hinton
2012, https://papers.nips.cc/paper/4824). torchvision's layout follows "One weird trick for
parallelizing convolutional neural networks" (Krizhevsky 2014, https://arxiv.org/abs/1404.5997).
"""
from __future__ import annotations

from .. import nn
from .registry import register

__all__ = ["AlexNet", "AlexNetKrizhevsky2012", "alexnet"]


class AlexNet(nn.Module):
    """AlexNet with torchvision's module names (``features.0.weight``, ``classifier.6.bias``).

    61,100,840 parameters for 1000 classes. The adaptive average pool makes the classifier
    accept any input of at least 63x63; 224x224 is the native size.

    Shape: (N, in_channels, H, W) -> (N, num_classes).
    """

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(),
            nn.Dropout(dropout), nn.Linear(4096, 4096), nn.ReLU(),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(x.reshape(x.shape[0], -1))


class AlexNetKrizhevsky2012(nn.Module):
    """The original two-tower AlexNet on 227x227 input, 60,965,224 parameters for 1000 classes.

    96@11x11/4 - ReLU - LRN - maxpool 3/2 - 256@5x5 (2 groups) - ReLU - LRN - maxpool 3/2 -
    384@3x3 - ReLU - 384@3x3 (2 groups) - ReLU - 256@3x3 (2 groups) - ReLU - maxpool 3/2 -
    FC 4096 - ReLU - dropout - FC 4096 - ReLU - dropout - FC ``num_classes``.

    The two GPUs become ``groups=2``: conv2, conv4 and conv5 see only the maps on their own GPU,
    conv3 and the fully connected layers see both. Conv1 is one ungrouped convolution (each GPU's
    48 kernels read all 3 channels, which is what groups=1 computes). LRN uses the paper's
    k=2, n=5, alpha=1e-4, beta=0.75; the paper's alpha multiplies the plain sum of squares, and
    PyTorch-style LRN divides alpha by n, so the layer gets alpha = 5e-4. Overlapping max
    pooling (3/2) and the paper's initialisation: weights N(0, 0.01^2), biases 1 in conv2, conv4,
    conv5 and the hidden fully connected layers, 0 elsewhere.

    Shape: (N, in_channels, 227, 227) -> (N, num_classes).
    """

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5):
        super().__init__()

        def lrn():
            return nn.LocalResponseNorm(size=5, alpha=5e-4, beta=0.75, k=2.0)

        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 96, kernel_size=11, stride=4), nn.ReLU(), lrn(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(96, 256, kernel_size=5, padding=2, groups=2), nn.ReLU(), lrn(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 384, kernel_size=3, padding=1, groups=2), nn.ReLU(),
            nn.Conv2d(384, 256, kernel_size=3, padding=1, groups=2), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.classifier = nn.Sequential(
            nn.Linear(256 * 6 * 6, 4096), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(4096, num_classes),
        )
        bias_one = {id(self.features[i]) for i in (4, 10, 12)}
        bias_one |= {id(self.classifier[i]) for i in (0, 3)}
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.constant_(m.bias, 1.0 if id(m) in bias_one else 0.0)

    def forward(self, x):
        if x.ndim == 4 and x.shape[-2:] != (227, 227):
            raise ValueError(f"expects 227x227 input (the paper's), got {tuple(x.shape)}; "
                             "alexnet() (torchvision layout) accepts other sizes")
        x = self.features(x)
        return self.classifier(x.reshape(x.shape[0], -1))


@register
def alexnet(num_classes: int = 1000, in_channels: int = 3, variant: str = "torchvision",
            dropout: float = 0.5) -> nn.Module:
    """AlexNet.

    Args:
        num_classes (int, default 1000): number of output classes.
        in_channels (int, default 3): input channels.
        variant (str, default "torchvision"): ``"torchvision"`` (single tower, 61,100,840
            parameters, 224x224) or ``"krizhevsky2012"`` (two towers as groups=2, LRN,
            227x227, 60,965,224 parameters).
        dropout (float, default 0.5): dropout probability in the classifier.

    Shape: (N, in_channels, 224, 224) -> (N, num_classes) (227x227 for ``"krizhevsky2012"``).

    >>> alexnet(variant="krizhevsky2012")
    """
    if variant == "torchvision":
        return AlexNet(num_classes, in_channels, dropout)
    if variant == "krizhevsky2012":
        model = AlexNetKrizhevsky2012(num_classes, in_channels, dropout)
        model.input_shape = (in_channels, 227, 227)
        return model
    raise ValueError(f"alexnet: variant must be 'torchvision' or 'krizhevsky2012', got {variant!r}")
