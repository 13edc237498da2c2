"""Stochastic gradient descent with momentum, Nesterov momentum and weight decay."""

from __future__ import annotations

from ..backend import xp
from .optimizer import Optimizer, _is_real


class SGD(Optimizer):
    r"""Stochastic gradient descent, optionally with (Nesterov) momentum; PyTorch's update rule.

    With ``d = grad + weight_decay * p`` (``-grad`` when ``maximize``), each step does
    ``buf = d`` on the first step and ``buf = momentum * buf + (1 - dampening) * d`` afterwards,
    then ``d = d + momentum * buf`` (Nesterov) or ``d = buf``, and finally ``p -= lr * d``.

    Args:
        params: iterable of Tensors or of parameter-group dicts (see :class:`Optimizer`).
        lr (float): learning rate.
        momentum (float, default 0): momentum factor.
        dampening (float, default 0): dampening of the momentum.
        nesterov (bool, default False): Nesterov momentum (needs momentum > 0 and dampening = 0).
        weight_decay (float, default 0): L2 penalty added to the gradient.
        maximize (bool, default False): ascend the objective instead of descending it.

    Example:
        >>> opt = striate.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
        >>> loss.backward(); opt.step(); opt.zero_grad()

    Reference: Sutskever et al., "On the importance of initialization and momentum in deep
    learning", ICML 2013, http://proceedings.mlr.press/v28/sutskever13.html
    """

    def __init__(
        self,
        params,
        lr: float,
        momentum: float = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            nesterov=nesterov,
            weight_decay=weight_decay,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _check_options(self, options: dict) -> None:
        super()._check_options(options)
        momentum, dampening = options["momentum"], options["dampening"]
        if not (_is_real(momentum) and momentum >= 0):
            raise ValueError(f"SGD: invalid momentum={momentum!r}, expected a number >= 0")
        if not _is_real(dampening):
            raise ValueError(f"SGD: invalid dampening={dampening!r}, expected a number")
        if options["nesterov"] and (momentum <= 0 or dampening != 0):
            raise ValueError(
                f"SGD: Nesterov momentum requires momentum > 0 and dampening = 0, "
                f"got momentum={momentum}, dampening={dampening}"
            )

    def _update(self, p, g, state: dict, group: dict) -> None:
        lr, wd = float(group["lr"]), float(group["weight_decay"])
        momentum, dampening = float(group["momentum"]), float(group["dampening"])
        s0, s1 = self._scratch(p, 0), self._scratch(p, 1)
        d = g
        if wd != 0:
            d = xp.multiply(p, wd, out=s0)
            if group["maximize"]:
                d -= g
            else:
                d += g
        elif group["maximize"]:
            d = xp.negative(g, out=s0)
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:  # the first step starts the buffer at d, not at zero (PyTorch)
                buf = state["momentum_buffer"] = d.copy()
            else:
                buf *= momentum
                buf += d if dampening == 0 else xp.multiply(d, 1.0 - dampening, out=s1)
            if group["nesterov"]:
                t = xp.multiply(buf, momentum, out=s1)
                t += d
                d = t
            else:
                d = buf
        p -= xp.multiply(d, lr, out=s1)
