"""Highway networks: "Highway Networks" / "Training Very Deep Networks" (Srivastava, Greff and
Schmidhuber 2015, https://arxiv.org/abs/1505.00387, https://arxiv.org/abs/1507.06228).

A highway layer learns how much of its input to transform and how much to carry through
unchanged: y = H(x) * T(x) + x * (1 - T(x)), with a sigmoid transform gate T. Starting the gate's
bias negative makes every layer begin close to the identity, so very deep stacks of plain
fully connected layers train with SGD: the gated shortcut that residual networks later made
ungated.
"""
from __future__ import annotations

from .. import functional as F
from .. import nn
from .registry import register

__all__ = ["Highway", "HighwayNet", "highway_net"]


class Highway(nn.Module):
    """One fully connected highway layer: ``y = H(x) * T(x) + x * (1 - T(x))``.

    H(x) = ReLU(x W_H^T + b_H) is the plain layer, T(x) = sigmoid(x W_T^T + b_T) the transform
    gate (its complement is the carry gate). Computed as ``x + T * (H - x)``.

    Args:
        features (int): input and output width (a highway layer keeps the width).
        gate_bias (float, default -2.0): initial b_T; negative means "carry" at the start.

    Shape: (N, features) -> (N, features).

    >>> Highway(50)(striate.tensor(np.zeros((4, 50), np.float32))).shape
    (4, 50)
    """

    def __init__(self, features: int, gate_bias: float = -2.0):
        super().__init__()
        self.plain = nn.Linear(features, features)
        self.gate = nn.Linear(features, features)
        nn.init.constant_(self.gate.bias, gate_bias)

    def forward(self, x):
        h = F.relu(self.plain(x))
        t = F.sigmoid(self.gate(x))
        return x + t * (h - x)


class HighwayNet(nn.Module):
    """The thin MNIST highway network of Srivastava et al. 2015 (section 3.1).

    A fully connected plain layer (flattened image -> ``width``, ReLU), ``depth - 1`` highway
    layers of ``width`` units and a linear classifier (softmax in the loss).

    Args:
        num_classes (int, default 10), in_channels (int, default 1),
        input_size (int, default 28): the square image side,
        width (int, default 50), depth (int, default 10): layers before the classifier,
        gate_bias (float, default -2.0): initial transform-gate bias.

    Shape: (N, in_channels, input_size, input_size) -> (N, num_classes).
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, input_size: int = 28,
                 width: int = 50, depth: int = 10, gate_bias: float = -2.0):
        super().__init__()
        if depth < 1:
            raise ValueError(f"HighwayNet: depth must be at least 1 (the plain first layer), "
                             f"got {depth}")
        self.input_shape = (in_channels, input_size, input_size)  # for summary and the CLI
        self.flatten = nn.Flatten()
        self.plain = nn.Linear(in_channels * input_size * input_size, width)
        self.highways = nn.Sequential(*[Highway(width, gate_bias) for _ in range(depth - 1)])
        self.classifier = nn.Linear(width, num_classes)

    def forward(self, x):
        return self.classifier(self.highways(F.relu(self.plain(self.flatten(x)))))


@register(input_shape=(1, 28, 28))
def highway_net(num_classes: int = 10, in_channels: int = 1, input_size: int = 28,
                width: int = 50, depth: int = 10, gate_bias: float = -2.0) -> HighwayNet:
    """A 10-layer highway network for MNIST (Srivastava et al. 2015), 85,660 parameters.

    As in the paper's MNIST experiments: thin layers of 50 units, a plain first layer followed by
    9 highway layers, then the softmax layer. The paper initialises the transform-gate biases
    negative so that each layer starts by carrying its input; -2 here.

    Parameters: plain layer 784*50 + 50 = 39,250; each highway layer two 50x50 maps with biases,
    2 * (50*50 + 50) = 5,100, nine of them 45,900; classifier 50*10 + 10 = 510; total 85,660.

    Args:
        num_classes (int, default 10), in_channels (int, default 1), input_size (int, default 28),
        width (int, default 50), depth (int, default 10), gate_bias (float, default -2.0).

    Shape: (N, in_channels, input_size, input_size) -> (N, num_classes).

    >>> model = highway_net(depth=20)
    """
    return HighwayNet(num_classes, in_channels, input_size, width, depth, gate_bias)
