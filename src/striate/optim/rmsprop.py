"""RMSprop: divide the gradient by a running root-mean-square of recent gradients."""

from __future__ import annotations

from ..backend import xp
from .adam import _lerp_
from .optimizer import Optimizer, _is_real


class RMSprop(Optimizer):
    r"""RMSprop; PyTorch's update rule.

    With ``d = grad + weight_decay * p``: ``v = alpha v + (1 - alpha) d^2``; with ``centered``,
    ``a = alpha a + (1 - alpha) d`` and the denominator is ``sqrt(v - a^2) + eps``, else
    ``sqrt(v) + eps``. Then ``buf = momentum buf + d / denom`` and ``p -= lr * buf`` when
    ``momentum > 0``, else ``p -= lr * d / denom``.

    Args:
        params: iterable of Tensors or of parameter-group dicts (see :class:`Optimizer`).
        lr (float, default 1e-2): learning rate.
        alpha (float, default 0.99): smoothing constant of the squared-gradient average.
        eps (float, default 1e-8): added to the denominator for stability.
        weight_decay (float, default 0): L2 penalty added to the gradient.
        momentum (float, default 0): momentum factor.
        centered (bool, default False): normalise by an estimate of the gradient's variance.
        maximize (bool, default False): ascend the objective instead of descending it.

    Example:
        >>> opt = striate.optim.RMSprop(model.parameters(), lr=1e-3, momentum=0.9)

    Reference: Hinton, Neural Networks for Machine Learning, lecture 6e,
    https://www.cs.toronto.edu/~tijmen/csc321/slides/lecture_slides_lec6.pdf;
    centered: Graves, https://arxiv.org/abs/1308.0850
    """

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            alpha=alpha,
            eps=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            centered=centered,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _check_options(self, options: dict) -> None:
        super()._check_options(options)
        for key in ("alpha", "eps", "momentum"):
            v = options[key]
            if not (_is_real(v) and v >= 0):
                raise ValueError(f"RMSprop: invalid {key}={v!r}, expected a number >= 0")

    def _update(self, p, g, state: dict, group: dict) -> None:
        lr, alpha, eps = float(group["lr"]), float(group["alpha"]), float(group["eps"])
        wd, momentum = float(group["weight_decay"]), float(group["momentum"])
        s0, s1 = self._scratch(p, 0), self._scratch(p, 1)
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(p)
            if momentum > 0:
                state["momentum_buffer"] = xp.zeros_like(p)
            if group["centered"]:
                state["grad_avg"] = xp.zeros_like(p)
        state["step"] += 1

        d = xp.negative(g, out=s0) if group["maximize"] else g
        if wd != 0:
            d = xp.add(d, xp.multiply(p, wd, out=s1), out=s0)
        v = state["square_avg"]
        v *= alpha
        sq = xp.multiply(d, d, out=s1)
        sq *= 1.0 - alpha
        v += sq
        if group["centered"]:
            a = state.setdefault("grad_avg", xp.zeros_like(p))
            _lerp_(a, d, 1.0 - alpha, s1)
            denom = xp.subtract(v, xp.multiply(a, a, out=s1), out=s1)
            xp.sqrt(denom, out=denom)
        else:
            denom = xp.sqrt(v, out=s1)
        denom += eps
        step = xp.divide(d, denom, out=s1)
        if momentum > 0:
            buf = state.setdefault("momentum_buffer", xp.zeros_like(p))
            buf *= momentum
            buf += step
            step = xp.multiply(buf, lr, out=s1)
        else:
            step *= lr
        p -= step
