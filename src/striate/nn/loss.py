"""Loss modules: thin wrappers over :mod:`striate.functional.loss`, called as
``loss_fn(input, target)``. Class weights are buffers, as in PyTorch."""
from __future__ import annotations

from .. import functional as F
from .module import Module

__all__ = ["CrossEntropyLoss", "NLLLoss", "MSELoss", "BCEWithLogitsLoss"]

_REDUCTIONS = ("mean", "sum", "none")


class _Loss(Module):
    def __init__(self, reduction: str = "mean"):
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be one of {_REDUCTIONS}, "
                             f"got {reduction!r}")
        self.reduction = reduction

    def extra_repr(self) -> str:
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class CrossEntropyLoss(_Loss):
    """Cross entropy of ``softmax(logits)`` against integer class targets; see
    :func:`striate.functional.cross_entropy`.

    Args:
        weight (array or Tensor of shape (C,), optional): per-class weights.
        ignore_index (int, default -100): target value that contributes nothing.
        reduction ('mean', 'sum' or 'none', default 'mean').
        label_smoothing (float, default 0.0): in [0, 1].

    Shape:
        logits (N, C) or (N, C, d1, ...), target (N,) or (N, d1, ...); a scalar output, or
        the target's shape for 'none'.

    >>> loss = nn.CrossEntropyLoss()(model(x), y); loss.backward()
    """

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0):
        super().__init__(reduction)
        self.register_buffer("weight", weight)
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input, target):  # noqa: A002 - PyTorch's name
        return F.cross_entropy(input, target, weight=self.weight, reduction=self.reduction,
                               label_smoothing=self.label_smoothing,
                               ignore_index=self.ignore_index)


class NLLLoss(_Loss):
    """Negative log-likelihood of integer class targets given log-probabilities; see
    :func:`striate.functional.nll_loss`.

    Args:
        weight (array or Tensor of shape (C,), optional), ignore_index (int, default -100),
        reduction ('mean', 'sum' or 'none', default 'mean').

    >>> nn.NLLLoss()(F.log_softmax(logits, axis=1), y)
    """

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean"):
        super().__init__(reduction)
        self.register_buffer("weight", weight)
        self.ignore_index = ignore_index

    def forward(self, input, target):  # noqa: A002
        return F.nll_loss(input, target, weight=self.weight, reduction=self.reduction,
                          ignore_index=self.ignore_index)


class MSELoss(_Loss):
    """Mean squared error; see :func:`striate.functional.mse_loss`.

    Args:
        reduction ('mean', 'sum' or 'none', default 'mean').

    >>> nn.MSELoss()(pred, target)
    """

    def forward(self, input, target):  # noqa: A002
        return F.mse_loss(input, target, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross entropy on logits, computed stably; see
    :func:`striate.functional.binary_cross_entropy_with_logits`.

    Args:
        weight (array or Tensor, optional): per-element weight, broadcast to the input.
        reduction ('mean', 'sum' or 'none', default 'mean').
        pos_weight (array or Tensor, optional): weight of the positive term, e.g. shape (C,).

    >>> nn.BCEWithLogitsLoss()(logits, targets.astype(np.float32))
    """

    def __init__(self, weight=None, reduction: str = "mean", pos_weight=None):
        super().__init__(reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input, target):  # noqa: A002
        return F.binary_cross_entropy_with_logits(input, target, weight=self.weight,
                                                  reduction=self.reduction,
                                                  pos_weight=self.pos_weight)
