"""Losses: fused Functions with hand-written backward, each above its wrapper.

``reduction`` is ``'mean'`` (default), ``'sum'`` or ``'none'`` everywhere, as in PyTorch.
"""
from __future__ import annotations

import numbers

from ..autograd import Function
from ..backend import xp
from ..tensor import Tensor, apply
from .activation import _as_tensor, _log_softmax, _sigmoid

__all__ = [
    "cross_entropy", "nll_loss", "mse_loss", "binary_cross_entropy_with_logits",
    "binary_cross_entropy",
]

_REDUCTIONS = ("mean", "sum", "none")


# ---- helpers ----
def _check_reduction(reduction, op: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _reduce(loss, reduction: str, denom=None):
    """Reduce per-element losses ``loss``; ``denom`` replaces the element count for 'mean'."""
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "sum":
        return xp.asarray(total, dtype=loss.dtype)
    n = loss.size if denom is None else denom
    with xp.errstate(invalid="ignore", divide="ignore"):  # all targets ignored: 0/0 = nan, as torch
        return xp.asarray(total / n, dtype=loss.dtype)


def _grad_scale(gy, reduction: str, shape, denom=None):
    """d(reduced loss)/d(per-element loss), broadcast to ``shape``."""
    if reduction == "none":
        return gy
    if reduction == "mean" and denom is not None and denom == 0:
        # every target ignored (or weighted 0): the loss is 0/0 = NaN but depends on no input;
        # torch gives zeros too when all are ignored
        return xp.zeros(shape, dtype=gy.dtype)
    n = 1 if reduction == "sum" else (xp.prod(shape, dtype=xp.int64) if denom is None else denom)
    with xp.errstate(invalid="ignore", divide="ignore"):
        return xp.broadcast_to(gy / n, shape)


def _class_targets(logits: Tensor, target, weight, ignore_index: int, op: str):
    """Validate class-index targets against ``logits``.

    Accepts (N, C) logits with (N,) targets, (N, C, d1, ...) with (N, d1, ...), and (C,) with ().
    Returns the targets with ignored entries set to class 0, the mask of non-ignored entries
    (both Tensors) and the weight as an array of the logits' dtype (or None).
    """
    if isinstance(target, Tensor):
        target = target.data
    if not isinstance(target, xp.ndarray):
        target = xp.asarray(target)
    if target.dtype.kind not in "iu":
        raise TypeError(
            f"{op}: target must hold integer class indices, got dtype {target.dtype} "
            "(probability targets are not supported)"
        )
    if target.dtype == xp.uint64 and target.size and target.max() > xp.iinfo(xp.int64).max:
        raise ValueError(f"{op}: target value {int(target.max())} is out of range")
    target = target.astype(xp.int64, copy=False)
    if logits.ndim == 0:
        raise ValueError(f"{op}: expected logits of shape (N, C) or (N, C, d1, ...), got a scalar")
    C = logits.shape[0 if logits.ndim == 1 else 1]
    want = () if logits.ndim == 1 else logits.shape[:1] + logits.shape[2:]
    if target.shape != want:
        raise ValueError(
            f"{op}: input of shape {logits.shape} needs a target of shape {want}, "
            f"got {target.shape}"
        )
    valid = target != ignore_index
    bad = valid & ((target < 0) | (target >= C))
    if bad.any():
        raise ValueError(
            f"{op}: target value {int(target[bad].flat[0])} is out of range for {C} classes "
            f"(expected 0 <= target < {C}, or ignore_index={ignore_index})"
        )
    if weight is not None:
        weight = weight.data if isinstance(weight, Tensor) else xp.asarray(weight)
        if weight.shape != (C,):
            raise ValueError(
                f"{op}: weight must have shape ({C},) for {C} classes, got {weight.shape}"
            )
        weight = weight.astype(logits.dtype, copy=False)
    return Tensor(xp.where(valid, target, 0)), Tensor(valid), weight


def _to_rows(x, axis: int):
    """Move the class axis last and flatten: (N, C, d1, ...) -> (N * d1 * ..., C)."""
    if x.ndim == 1:
        return x[None]
    if x.ndim > 2:
        x = xp.moveaxis(x, axis, -1)
    return x.reshape(-1, x.shape[-1])


def _from_rows(g, shape):
    """Inverse of ``_to_rows`` for a gradient of the original ``shape``."""
    if len(shape) <= 2:
        return g.reshape(shape)
    moved = (shape[0],) + tuple(shape[2:]) + (shape[1],)
    return xp.ascontiguousarray(xp.moveaxis(g.reshape(moved), -1, 1))


class CrossEntropy(Function):
    """log_softmax and the (label-smoothed, weighted) negative log-likelihood in one pass."""

    def forward(self, x, t, valid, weight=None, reduction="mean", label_smoothing=0.0):
        self.x_shape, self.out_shape, self.reduction = x.shape, t.shape, reduction
        z, t, valid = _to_rows(x, 1), t.reshape(-1), valid.reshape(-1)
        C, eps = z.shape[1], label_smoothing
        logp = _log_softmax(z, 1)
        w = xp.ones(C, dtype=z.dtype) if weight is None else weight
        wt = w[t] * valid  # weight of each row's true class, 0 for ignored rows
        rows = xp.arange(len(t))
        loss = -(1 - eps) * wt * logp[rows, t]
        if eps:
            loss = loss - (eps / C) * (logp * w).sum(axis=1) * valid
        self.denom = wt.sum()
        self.save_for_backward(logp, t, valid, w, wt)
        self.eps = eps
        return _reduce(loss.astype(z.dtype).reshape(self.out_shape), reduction, self.denom)

    def backward(self, gy):
        # dl/dz_c = s p_c - (1-eps) w_t [c == t] - eps/C w_c, with s = (1-eps) w_t + eps/C sum(w)
        logp, t, valid, w, wt = self.saved_tensors
        C, eps = logp.shape[1], self.eps
        scale = _grad_scale(gy, self.reduction, self.out_shape, self.denom).reshape(-1, 1)
        s = (1 - eps) * wt + (eps / C) * w.sum() * valid
        g = xp.exp(logp) * s[:, None]
        g[xp.arange(len(t)), t] -= (1 - eps) * wt
        if eps:
            g -= (eps / C) * w * valid[:, None]
        return _from_rows((g * scale).astype(logp.dtype), self.x_shape), None, None, None


def cross_entropy(
    logits: Tensor,
    target,
    weight=None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    ignore_index: int = -100,
) -> Tensor:
    """Cross entropy between ``softmax(logits)`` and integer class targets, fused with log_softmax.

    Args:
        logits (Tensor): unnormalised scores, shape (N, C), (N, C, d1, ...) or (C,).
        target (Tensor or int ndarray): class indices in [0, C), shape (N,), (N, d1, ...) or ().
            Entries equal to ``ignore_index`` contribute nothing.
        weight (Tensor or ndarray, optional): per-class weight of shape (C,); a constant.
        reduction (str, default 'mean'): 'mean' divides by the summed weight of the
            non-ignored targets (their count when unweighted), 'sum', or 'none'.
        label_smoothing (float, default 0.0): in [0, 1]; the target becomes
            ``(1 - eps) one_hot + eps / C`` (Szegedy et al., arXiv:1512.00567).
        ignore_index (int, default -100): target value to skip.

    Shape:
        Output is a scalar, or the target's shape for ``reduction='none'``.

    >>> F.cross_entropy(striate.tensor([[0.0, 0.0]]), np.array([1]))
    tensor(0.6931472, dtype=float32)
    """
    op = "cross_entropy"
    logits = _as_tensor(logits, op)
    _check_reduction(reduction, op)
    if not isinstance(label_smoothing, numbers.Real) or not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(
            f"{op}: label_smoothing must be a number in [0, 1], got {label_smoothing!r}"
        )
    t, valid, w = _class_targets(logits, target, weight, ignore_index, op)
    return apply(CrossEntropy, logits, t, valid, None if w is None else Tensor(w),
                 reduction=reduction, label_smoothing=float(label_smoothing))


class NLLLoss(Function):
    def forward(self, x, t, valid, weight=None, reduction="mean"):
        self.x_shape, self.out_shape, self.reduction = x.shape, t.shape, reduction
        logp, t, valid = _to_rows(x, 1), t.reshape(-1), valid.reshape(-1)
        wt = valid.astype(x.dtype) if weight is None else weight[t] * valid
        self.denom = wt.sum()
        self.save_for_backward(t, wt)
        self.rows_shape = logp.shape
        loss = -wt * logp[xp.arange(len(t)), t]
        return _reduce(loss.astype(x.dtype).reshape(self.out_shape), reduction, self.denom)

    def backward(self, gy):
        # dl/dlogp_c = -w_t [c == t]
        t, wt = self.saved_tensors
        scale = _grad_scale(gy, self.reduction, self.out_shape, self.denom).reshape(-1)
        g = xp.zeros(self.rows_shape, dtype=gy.dtype)
        g[xp.arange(len(t)), t] = -wt * scale
        return _from_rows(g, self.x_shape), None, None, None


def nll_loss(
    log_probs: Tensor, target, weight=None, reduction: str = "mean", ignore_index: int = -100
) -> Tensor:
    """Negative log-likelihood of integer class targets given log-probabilities.

    ``cross_entropy(x, t)`` equals ``nll_loss(log_softmax(x, axis=1), t)``.

    Args:
        log_probs (Tensor): log-probabilities, shape (N, C), (N, C, d1, ...) or (C,).
        target (Tensor or int ndarray): class indices, shape (N,), (N, d1, ...) or ().
        weight (Tensor or ndarray, optional): per-class weight of shape (C,); a constant.
        reduction (str, default 'mean'): 'mean' divides by the summed target weights.
        ignore_index (int, default -100): target value to skip.

    Shape:
        Output is a scalar, or the target's shape for ``reduction='none'``.

    >>> F.nll_loss(striate.tensor([[-0.5, -1.0]]), np.array([0]))
    tensor(0.5, dtype=float32)
    """
    op = "nll_loss"
    log_probs = _as_tensor(log_probs, op)
    _check_reduction(reduction, op)
    t, valid, w = _class_targets(log_probs, target, weight, ignore_index, op)
    return apply(NLLLoss, log_probs, t, valid, None if w is None else Tensor(w),
                 reduction=reduction)


def _check_same_shape(x: Tensor, t: Tensor, op: str) -> None:
    if x.shape != t.shape:
        raise ValueError(
            f"{op}: input of shape {x.shape} and target of shape {t.shape} differ; "
            "expected the same shape"
        )


class MSELoss(Function):
    def forward(self, x, t, reduction="mean"):
        self.reduction, self.dtypes = reduction, (x.dtype, t.dtype)
        d = x - t
        self.save_for_backward(d)
        return _reduce(d * d, reduction)

    def backward(self, gy):
        # d (x - t)^2 / dx = 2 (x - t) = -d/dt
        (d,) = self.saved_tensors
        gx = 2 * d * _grad_scale(gy, self.reduction, d.shape)
        return gx.astype(self.dtypes[0], copy=False), (-gx).astype(self.dtypes[1], copy=False)


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Mean squared error ``(input - target)^2``; both inputs get gradients.

    Args:
        input (Tensor): predictions of any shape.
        target (Tensor or ndarray): same shape as ``input`` (no silent broadcasting).
        reduction (str, default 'mean'): 'mean', 'sum' or 'none'.

    >>> F.mse_loss(striate.tensor([1.0, 3.0]), striate.tensor([0.0, 0.0]))
    tensor(5., dtype=float32)
    """
    input, target = _as_tensor(input, "mse_loss"), _as_tensor(target, "mse_loss")
    _check_reduction(reduction, "mse_loss")
    _check_same_shape(input, target, "mse_loss")
    return apply(MSELoss, input, target, reduction=reduction)


def _constant(v, x: Tensor, op: str, name: str):
    """An optional per-element constant (weight, pos_weight) that broadcasts to ``x``."""
    if v is None:
        return None
    v = v.data if isinstance(v, Tensor) else xp.asarray(v)
    if v.dtype.kind not in "biuf":
        raise TypeError(f"{op}: {name} must be numeric, got dtype {v.dtype}")
    try:  # to the input's shape: a larger weight would change the shape of the loss
        fits = xp.broadcast_shapes(v.shape, x.shape) == x.shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"{op}: {name} of shape {v.shape} does not broadcast to input of shape {x.shape}"
        )
    return Tensor(v.astype(x.dtype, copy=False))


class BCEWithLogits(Function):
    def forward(self, x, t, weight=None, pos_weight=None, reduction="mean"):
        self.reduction = reduction
        sp = xp.logaddexp(0, -x)  # softplus(-x) = -log sigmoid(x), stable for any x
        lw = 1 if pos_weight is None else 1 + (pos_weight - 1) * t
        loss = (1 - t) * x + lw * sp
        w = 1 if weight is None else weight
        self.save_for_backward(x, t, sp, lw, w, pos_weight)
        return _reduce((w * loss).astype(x.dtype), reduction)

    def backward(self, gy):
        # dl/dx = (1 - t) - lw sigmoid(-x);  dl/dt = -x + (pos_weight - 1) softplus(-x)
        x, t, sp, lw, w, pw = self.saved_tensors
        scale = w * _grad_scale(gy, self.reduction, x.shape)
        gx = gt = None
        if self.needs_input_grad[0]:
            gx = (scale * ((1 - t) - lw * _sigmoid(-x))).astype(x.dtype, copy=False)
        if self.needs_input_grad[1]:
            gt = (scale * (-x if pw is None else -x + (pw - 1) * sp)).astype(t.dtype, copy=False)
        return gx, gt, None, None


def binary_cross_entropy_with_logits(
    input: Tensor,  # noqa: A002
    target: Tensor,
    weight=None,
    reduction: str = "mean",
    pos_weight=None,
) -> Tensor:
    """Binary cross entropy of ``sigmoid(input)`` against ``target``, computed stably from logits.

    ``loss = -w [pos_weight t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))]``.

    Args:
        input (Tensor): logits of any shape.
        target (Tensor or ndarray): probabilities in [0, 1], same shape as ``input``.
        weight (Tensor or ndarray, optional): per-element weight broadcast to the input; constant.
        reduction (str, default 'mean'): 'mean', 'sum' or 'none'.
        pos_weight (Tensor or ndarray, optional): weight of the positive term, broadcast to
            the input (usually shape (C,) for C labels); a constant.

    >>> F.binary_cross_entropy_with_logits(striate.tensor([0.0]), striate.tensor([1.0]))
    tensor(0.6931472, dtype=float32)
    """
    op = "binary_cross_entropy_with_logits"
    input, target = _as_tensor(input, op), _as_tensor(target, op)
    _check_reduction(reduction, op)
    _check_same_shape(input, target, op)
    w, pw = _constant(weight, input, op, "weight"), _constant(pos_weight, input, op, "pos_weight")
    return apply(BCEWithLogits, input, target, w, pw, reduction=reduction)


class BCE(Function):
    def forward(self, x, t, weight=None, reduction="mean"):
        self.reduction = reduction
        # log clamped at -100 as PyTorch, so that p = 0 or 1 gives a finite loss
        with xp.errstate(divide="ignore"):
            logx, log1mx = xp.maximum(xp.log(x), -100), xp.maximum(xp.log1p(-x), -100)
        w = 1 if weight is None else weight
        self.save_for_backward(x, t, w, logx, log1mx)
        return _reduce((-w * (t * logx + (1 - t) * log1mx)).astype(x.dtype), reduction)

    def backward(self, gy):
        # dl/dx = (x - t) / (x (1 - x)) (denominator clamped at 1e-12 as PyTorch);
        # dl/dt = log(1 - x) - log(x)
        x, t, w, logx, log1mx = self.saved_tensors
        scale = w * _grad_scale(gy, self.reduction, x.shape)
        gx = gt = None
        if self.needs_input_grad[0]:
            gx = (scale * (x - t) / xp.maximum(x * (1 - x), 1e-12)).astype(x.dtype, copy=False)
        if self.needs_input_grad[1]:
            gt = (scale * (log1mx - logx)).astype(t.dtype, copy=False)
        return gx, gt, None


def binary_cross_entropy(
    input: Tensor, target: Tensor, weight=None, reduction: str = "mean"  # noqa: A002
) -> Tensor:
    """Binary cross entropy between probabilities ``input`` and ``target``.

    Prefer :func:`binary_cross_entropy_with_logits`, which is stable for saturated logits.

    Args:
        input (Tensor): probabilities in [0, 1], any shape.
        target (Tensor or ndarray): probabilities in [0, 1], same shape as ``input``.
        weight (Tensor or ndarray, optional): per-element weight broadcast to the input.
        reduction (str, default 'mean'): 'mean', 'sum' or 'none'.

    >>> F.binary_cross_entropy(striate.tensor([0.5]), striate.tensor([1.0]))
    tensor(0.6931472, dtype=float32)
    """
    op = "binary_cross_entropy"
    input, target = _as_tensor(input, op), _as_tensor(target, op)
    _check_reduction(reduction, op)
    _check_same_shape(input, target, op)
    if input.size and not ((input.data >= 0) & (input.data <= 1)).all():
        lo, hi = float(input.data.min()), float(input.data.max())
        raise ValueError(
            f"{op}: input must hold probabilities in [0, 1], got values in [{lo}, {hi}] "
            "(use binary_cross_entropy_with_logits for logits)"
        )
    return apply(BCE, input, target, _constant(weight, input, op, "weight"), reduction=reduction)
