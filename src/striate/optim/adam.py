"""Adam and AdamW: adaptive moment estimation, with L2 or decoupled weight decay."""

from __future__ import annotations

from ..backend import xp
from .optimizer import Optimizer, _is_real


def _lerp_(a, b, w: float, tmp) -> None:
    """``a += w * (b - a)`` in place, rounded as ``torch.lerp_`` rounds it."""
    diff = xp.subtract(b, a, out=tmp)
    if w < 0.5:
        diff *= w
        a += diff
    else:  # PyTorch switches to b - (1 - w) * (b - a) for large weights
        diff *= 1.0 - w
        xp.subtract(b, diff, out=a)


class Adam(Optimizer):
    r"""Adam; PyTorch's update rule, bias correction included.

    With ``d = grad + weight_decay * p``: ``m = beta1 m + (1 - beta1) d``,
    ``v = beta2 v + (1 - beta2) d^2`` (``v_max = max(v_max, v)`` with ``amsgrad``), then
    ``p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)``.

    Args:
        params: iterable of Tensors or of parameter-group dicts (see :class:`Optimizer`).
        lr (float, default 1e-3): learning rate.
        betas ((float, float), default (0.9, 0.999)): decay rates of the two moment estimates.
        eps (float, default 1e-8): added to the denominator for stability.
        weight_decay (float, default 0): L2 penalty added to the gradient.
        amsgrad (bool, default False): use the running maximum of ``v`` (AMSGrad).
        maximize (bool, default False): ascend the objective instead of descending it.

    Example:
        >>> opt = striate.optim.Adam(model.parameters(), lr=1e-3)
        >>> loss.backward(); opt.step(); opt.zero_grad()

    Reference: Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015,
    https://arxiv.org/abs/1412.6980; AMSGrad: Reddi et al., https://openreview.net/forum?id=ryQu7f-RZ
    """

    _decoupled = False

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _check_options(self, options: dict) -> None:
        super()._check_options(options)
        eps, betas = options["eps"], options["betas"]
        if not (_is_real(eps) and eps >= 0):
            raise ValueError(f"{self._name}: invalid eps={eps!r}, expected a number >= 0")
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
            raise ValueError(f"{self._name}: betas must be a pair of numbers, got {betas!r}")
        for i, beta in enumerate(betas):
            if not (_is_real(beta) and 0 <= beta < 1):
                raise ValueError(
                    f"{self._name}: invalid betas[{i}]={beta!r}, expected 0 <= beta < 1"
                )

    def _update(self, p, g, state: dict, group: dict) -> None:
        lr, eps, wd = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        s0, s1 = self._scratch(p, 0), self._scratch(p, 1)
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(p)
            state["exp_avg_sq"] = xp.zeros_like(p)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = xp.zeros_like(p)
        state["step"] += 1
        t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]

        d = xp.negative(g, out=s0) if group["maximize"] else g
        if wd != 0:
            if self._decoupled:
                p *= 1.0 - lr * wd
            else:
                d = xp.add(d, xp.multiply(p, wd, out=s1), out=s0)
        _lerp_(m, d, 1.0 - beta1, s1)
        v *= beta2
        sq = xp.multiply(d, d, out=s1)
        sq *= 1.0 - beta2
        v += sq

        step_size = lr / (1.0 - beta1**t)
        bias_correction2_sqrt = (1.0 - beta2**t) ** 0.5
        if group["amsgrad"]:
            vmax = state.setdefault("max_exp_avg_sq", xp.zeros_like(p))
            v = xp.maximum(vmax, v, out=vmax)
        denom = xp.sqrt(v, out=s1)
        denom /= bias_correction2_sqrt
        denom += eps
        step = xp.divide(m, denom, out=s1)
        step *= step_size
        p -= step


class AdamW(Adam):
    r"""Adam with decoupled weight decay: ``p *= 1 - lr * weight_decay`` before the Adam step.

    Args:
        params: iterable of Tensors or of parameter-group dicts (see :class:`Optimizer`).
        lr (float, default 1e-3): learning rate.
        betas ((float, float), default (0.9, 0.999)): decay rates of the two moment estimates.
        eps (float, default 1e-8): added to the denominator for stability.
        weight_decay (float, default 1e-2): decoupled weight decay factor.
        amsgrad (bool, default False): use the running maximum of ``v`` (AMSGrad).
        maximize (bool, default False): ascend the objective instead of descending it.

    Example:
        >>> opt = striate.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)

    Reference: Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019,
    https://arxiv.org/abs/1711.05101
    """

    _decoupled = True

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params,
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
        )
