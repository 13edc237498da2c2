"""``conv_bn_act``: Conv2d -> BatchNorm2d (-> ReLU / ReLU6), fused where nothing can tell.

``Sequential`` calls it for every such run of its children, and the model zoo's blocks call
it where they chain the three layers by hand.
- At inference (batch norm in eval mode with running statistics, and nothing needing a
  gradient: under ``striate.no_grad()``, or no parameter or input requiring one) the three
  are one convolution: batch norm folded into its weight and bias, the activation a clamp of
  its output (``functional.conv2d_bn``).
- Otherwise (training) the activation is fused into batch norm: one pass less each way, and
  no buffer of its own (``functional.batch_norm(activation=...)``).
- Conv2d -> ReLU / ReLU6 with no batch norm between (LeNet-5, VGG, AlexNet) clips inside the
  convolution kernel, in training and at inference (``functional.conv2d(activation=...)``).
- Conv2d -> ReLU / ReLU6 -> MaxPool2d (LeNet-5, VGG, AlexNet) pools first and clips after
  (``pool_then_act``): a clip is monotone, so max(clip(v)) = clip(max(v)) exactly, and the
  gradients agree too (below). The activation and its backward mask then cover a quarter of
  the elements for a 2x2 pool.
Each fusion needs the layers' own ``forward`` (not a subclass's) and no hooks on them. Where
it does not apply, and on any error, the layers run one by one, so results, gradients, hooks
and error messages are those of ``act(bn(conv(x)))``.
"""
from __future__ import annotations

from .. import functional as F
from ..autograd import is_grad_enabled
from ..tensor import Tensor
from .activation import ReLU, ReLU6
from .conv import Conv2d
from .module import Module
from .normalization import BatchNorm2d, _BatchNorm
from .pooling import MaxPool2d

__all__ = ["conv_bn_act", "fold_span", "foldable", "pool_then_act", "run_fused"]

_ACTIVATIONS = {ReLU: "relu", ReLU6: "relu6"}


def _plain(m: Module, cls: type, base: type) -> bool:
    """``m`` is a ``cls`` running ``base``'s forward, with no hooks."""
    return (isinstance(m, cls) and type(m).forward is base.forward
            and not m._forward_hooks and not m._forward_pre_hooks)


def _plain_act(act: Module) -> bool:
    return type(act) in _ACTIVATIONS and _plain(act, type(act), type(act))


def foldable(conv: Module, bn: Module | None, act: Module | None, x) -> bool:
    """Whether ``conv_bn_act(conv, bn, act, x)`` runs as one folded convolution."""
    if not (_plain(conv, Conv2d, Conv2d) and bn is not None and _plain(bn, BatchNorm2d, _BatchNorm)
            and not bn.training and bn.running_mean is not None):
        return False
    if act is not None and not _plain_act(act):
        return False
    if not is_grad_enabled():
        return True
    params = (conv.weight, conv.bias, bn.weight, bn.bias)
    return not (isinstance(x, Tensor) and x.requires_grad) and not any(
        p is not None and p.requires_grad for p in params)


def conv_bn_act(conv: Module, bn: Module | None, act: Module | None, x, residual=None):
    """``act(bn(conv(x)) + residual)``, folded into one convolution when :func:`foldable` says
    nothing can tell (see :func:`striate.functional.conv2d_bn`); otherwise with the activation
    fused into batch norm, or (``bn=None``) into the convolution (``F.conv2d(activation=...)``).

    Args:
        conv (Conv2d), bn (BatchNorm2d or None), act (ReLU, ReLU6, any Module or None), x.
        residual (Tensor, default None): a residual block's shortcut, added before ``act``; at
            inference the folded convolution adds it to each block of its output in cache.

    >>> model.eval()
    >>> with striate.no_grad():
    ...     y = nn.conv_bn_act(block.conv1, block.bn1, block.relu, x)
    """
    if foldable(conv, bn, act, x):
        try:
            return F.conv2d_bn(x, conv.weight, conv.bias, bn.running_mean, bn.running_var,
                               bn.weight, bn.bias, bn.eps, conv.stride, conv.padding,
                               conv.dilation, conv.groups, activation=_ACTIVATIONS.get(type(act)),
                               residual=residual)
        except (ValueError, TypeError):
            pass  # bad input: the layers below raise it with their own names
    if residual is not None:  # the layers one by one, the sum and a ReLU in one pass
        y = conv(x) if bn is None else bn(conv(x))
        if type(act) is ReLU and _plain_act(act):
            return F.add_relu(y, residual)
        y = y + residual
        return y if act is None else act(y)
    if bn is None:
        if act is not None and _plain(conv, Conv2d, Conv2d) and _plain_act(act):
            try:
                return conv._conv(x, _ACTIVATIONS[type(act)])
            except (ValueError, TypeError):
                pass  # as above
        y = conv(x)
        return y if act is None else act(y)
    y = conv(x)
    if act is not None and _fusable(bn, act):
        bn._check_input(y)
        return bn._normalize(y, _ACTIVATIONS[type(act)])
    y = bn(y)
    return y if act is None else act(y)


def _fusable(bn: Module, act: Module) -> bool:
    """Whether ``act`` can run inside ``bn`` (training mode, or eval with autograd)."""
    return _plain(bn, _BatchNorm, _BatchNorm) and _plain_act(act)


def fold_span(layers: list, x) -> int:
    """How many of ``layers`` (a Sequential's children, in order) :func:`run_fused` would run
    as one on input ``x``: 3 (conv, bn, ReLU/ReLU6; or conv, ReLU/ReLU6, MaxPool2d), 2 (conv,
    bn: only folded at inference; or conv, ReLU/ReLU6) or 0 (no fusion starts at the first
    layer)."""
    if len(layers) < 2 or type(layers[0]) is not Conv2d:  # the common case, decided at once
        return 0
    conv, bn = layers[:2]
    if type(bn) in _ACTIVATIONS:
        if not (_plain(conv, Conv2d, Conv2d) and _plain_act(bn)):
            return 0
        return 3 if len(layers) > 2 and _plain(layers[2], MaxPool2d, MaxPool2d) else 2
    act = layers[2] if len(layers) > 2 and type(layers[2]) in _ACTIVATIONS else None
    if not (isinstance(bn, _BatchNorm) and bn.num_features == conv.out_channels):
        return 0
    if foldable(conv, bn, act, x):
        return 2 if act is None else 3
    return 3 if act is not None and _fusable(bn, act) else 0


def pool_then_act(act: Module, pool: Module, y):
    """``pool(act(y))`` computed as ``act(pool(y))``, for a ReLU or ReLU6 ``act`` and a max
    pool: the same output, and the same gradients.

    A clip is monotone, so each window's maximum of the clipped values is the clip of its
    maximum. Backward: where a window's maximum lies strictly inside the clip's range, both
    orders pick the same element (the first maximum: clipping changes no value there) and pass
    its gradient; where it lies at or beyond a bound, the clipped order's pick has a zero
    activation gradient, and so does the clip of the maximum. Only a window holding a NaN can
    route differently. For LeNet-5 (batch 128) the clip and its mask then cover 150K and 51K
    elements instead of 602K and 205K.
    """
    return act(pool(y))


def run_fused(layers: list, x) -> tuple:
    """Run the ``fold_span`` layers picked as one: (conv, bn[, act]), (conv, act) or (conv,
    act, max pool). Returns the output and each layer's output shape (None: the output's)."""
    conv, *rest = layers
    if isinstance(rest[-1], MaxPool2d):
        y = conv(x)
        return pool_then_act(rest[0], rest[1], y), [y.shape, y.shape, None]
    bn = rest[0] if isinstance(rest[0], _BatchNorm) else None
    y = conv_bn_act(conv, bn, rest[-1] if type(rest[-1]) in _ACTIVATIONS else None, x)
    return y, [None] * len(layers)
