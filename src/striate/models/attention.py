"""Channel and spatial attention blocks for residual networks.

- ``SqueezeExcitation``: "Squeeze-and-Excitation Networks" (Hu, Shen, Sun 2018,
  https://arxiv.org/abs/1709.01507).
- ``CBAM``: "CBAM: Convolutional Block Attention Module" (Woo, Park, Lee, Kweon 2018,
  https://arxiv.org/abs/1807.06521).

Both re-weight a residual branch before it is added to the shortcut; ResNet blocks take them
through ``attention="se"`` or ``attention="cbam"`` (see :func:`make_attention`).
"""
from __future__ import annotations

from .. import functional as F
from .. import nn

__all__ = [
    "ATTENTIONS",
    "CBAM",
    "ChannelAttention",
    "SpatialAttention",
    "SqueezeExcitation",
    "make_attention",
]


class SqueezeExcitation(nn.Module):
    """Squeeze (global average pool) and excite (bottleneck MLP, sigmoid) channel gates.

    ``y = x * sigmoid(fc2(relu(fc1(mean_hw(x)))))``. ``fc1``/``fc2`` are 1x1 convolutions with
    bias, equivalent to the paper's fully connected layers (timm's ``se.fc1``/``se.fc2`` names).

    Args:
        channels (int): input channels C.
        reduction (int, default 16): the bottleneck has ``max(1, C // reduction)`` units.

    Shape: (N, C, H, W) -> (N, C, H, W).

    >>> SqueezeExcitation(256)(x)     # 2 * 256 * 16 + 16 + 256 = 8,464 parameters
    """

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.fc1 = nn.Conv2d(channels, hidden, kernel_size=1)
        self.fc2 = nn.Conv2d(hidden, channels, kernel_size=1)

    def forward(self, x):
        s = x.mean(axis=(2, 3), keepdims=True)
        return x * F.sigmoid(self.fc2(F.relu(self.fc1(s))))


class ChannelAttention(nn.Module):
    """CBAM's channel gate: a shared MLP on the average- and max-pooled descriptors, summed.

    ``M_c = sigmoid(MLP(avgpool(x)) + MLP(maxpool(x)))``, the MLP being 1x1 convolutions
    ``fc1`` (C -> C/r, ReLU) and ``fc2`` (C/r -> C) with bias, as the authors' code.

    Shape: (N, C, H, W) -> (N, C, H, W).
    """

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.fc1 = nn.Conv2d(channels, hidden, kernel_size=1)
        self.fc2 = nn.Conv2d(hidden, channels, kernel_size=1)

    def _mlp(self, s):
        return self.fc2(F.relu(self.fc1(s)))

    def forward(self, x):
        avg = x.mean(axis=(2, 3), keepdims=True)
        mx = x.max(axis=(2, 3), keepdims=True)
        return x * F.sigmoid(self._mlp(avg) + self._mlp(mx))


class SpatialAttention(nn.Module):
    """CBAM's spatial gate: a 7x7 convolution over the channel-wise [average, max] maps.

    ``M_s = sigmoid(bn(conv7x7([mean_c(x); max_c(x)])))``. The paper's equation has no batch
    normalization; the authors' code has one (conv without bias, then BN), kept here.

    Shape: (N, C, H, W) -> (N, C, H, W).
    """

    def __init__(self, kernel_size: int = 7):
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"SpatialAttention: kernel_size must be odd, got {kernel_size}")
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)
        self.bn = nn.BatchNorm2d(1)

    def forward(self, x):
        s = F.concat([x.mean(axis=1, keepdims=True), x.max(axis=1, keepdims=True)], axis=1)
        return x * F.sigmoid(self.bn(self.conv(s)))


class CBAM(nn.Module):
    """Convolutional Block Attention Module: channel attention, then spatial attention.

    Args:
        channels (int): input channels C.
        reduction (int, default 16): channel-MLP reduction ratio r.
        kernel_size (int, default 7): spatial-attention kernel.

    Shape: (N, C, H, W) -> (N, C, H, W).

    >>> CBAM(256)(x)     # 8,464 + 100 parameters
    """

    def __init__(self, channels: int, reduction: int = 16, kernel_size: int = 7):
        super().__init__()
        self.channel = ChannelAttention(channels, reduction)
        self.spatial = SpatialAttention(kernel_size)

    def forward(self, x):
        return self.spatial(self.channel(x))


#: attention kinds a ResNet block accepts, and the attribute name the block stores them under
ATTENTIONS = {"se": SqueezeExcitation, "cbam": CBAM}


def make_attention(kind: str | None, channels: int, reduction: int = 16):
    """``(attribute name, module)`` for ``attention=kind`` in a residual block, or None.

    The attribute is ``"se"`` or ``"cbam"``, so parameter names read ``layer1.0.se.fc1.weight``.
    """
    if kind is None:
        return None
    if kind not in ATTENTIONS:
        raise ValueError(f"attention must be None or one of {sorted(ATTENTIONS)}, got {kind!r}")
    return kind, ATTENTIONS[kind](channels, reduction)
