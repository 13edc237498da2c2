"""The 1cycle learning-rate policy, :class:`OneCycleLR` (stepped once per batch), which also
cycles momentum or Adam's ``beta1`` the opposite way.
"""

from __future__ import annotations

import math

from .optimizer import Optimizer, _is_real
from .scheduler_base import LRScheduler, _check_positive_int

__all__ = ["OneCycleLR"]


def _per_group(owner: str, name: str, optimizer: Optimizer, value) -> list:
    if isinstance(value, (list, tuple)):
        if len(value) != len(optimizer.param_groups):
            raise ValueError(
                f"{owner}: expected {len(optimizer.param_groups)} values for {name} "
                f"(one per parameter group), got {len(value)}"
            )
        return list(value)
    return [value] * len(optimizer.param_groups)


class OneCycleLR(LRScheduler):
    """The 1cycle policy: warm up to ``max_lr`` then anneal far below the start; step it per batch.

    The rate goes from ``max_lr / div_factor`` up to ``max_lr`` over the first ``pct_start`` of
    the steps, then down to ``max_lr / div_factor / final_div_factor``; momentum (SGD's
    ``momentum`` or Adam's ``beta1``) cycles the opposite way between ``max_momentum`` and
    ``base_momentum`` when ``cycle_momentum``.

    Args:
        optimizer (Optimizer): wrapped optimizer.
        max_lr (float or list of float): peak rate, per group if a list.
        total_steps (int, optional): number of steps; else ``epochs * steps_per_epoch``.
        epochs (int, optional), steps_per_epoch (int, optional): used when total_steps is None.
        pct_start (float, default 0.3): fraction of the steps spent increasing the rate.
        anneal_strategy ('cos' or 'linear', default 'cos'): shape of the ramps.
        cycle_momentum (bool, default True): cycle momentum inversely to the rate.
        base_momentum (float or list, default 0.85), max_momentum (float or list, default 0.95).
        div_factor (float, default 25): initial rate is ``max_lr / div_factor``.
        final_div_factor (float, default 1e4): final rate is ``initial_lr / final_div_factor``.
        three_phase (bool, default False): ramp back to the initial rate before the final anneal.
        last_epoch (int, default -1): index of the last step.

    Example:
        >>> sched = OneCycleLR(opt, max_lr=0.1, epochs=10, steps_per_epoch=len(loader))
        >>> for x, y in loader: ...; opt.step(); sched.step()

    Reference: Smith & Topin, "Super-Convergence", https://arxiv.org/abs/1708.07120
    """

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr,
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum=0.85,
        max_momentum=0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"OneCycleLR: {type(optimizer).__name__} is not an Optimizer")
        if total_steps is not None:
            _check_positive_int("OneCycleLR", "total_steps", total_steps)
        elif epochs is not None and steps_per_epoch is not None:
            _check_positive_int("OneCycleLR", "epochs", epochs)
            _check_positive_int("OneCycleLR", "steps_per_epoch", steps_per_epoch)
            total_steps = epochs * steps_per_epoch
        else:
            raise ValueError(
                "OneCycleLR: pass either total_steps or both epochs and steps_per_epoch"
            )
        if not (_is_real(pct_start) and 0 <= pct_start <= 1):
            raise ValueError(f"OneCycleLR: pct_start must be a number in [0, 1], got {pct_start!r}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(
                f"OneCycleLR: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}"
            )
        for name, v in (("div_factor", div_factor), ("final_div_factor", final_div_factor)):
            if not (_is_real(v) and v > 0):
                raise ValueError(f"OneCycleLR: {name} must be a number > 0, got {v!r}")
        self.total_steps, self.anneal_strategy = total_steps, anneal_strategy
        up = float(pct_start * total_steps) - 1
        if three_phase:
            ends = [up, float(2 * pct_start * total_steps) - 2, total_steps - 1]
            keys = [
                ("initial_lr", "max_lr", "max_momentum", "base_momentum"),
                ("max_lr", "initial_lr", "base_momentum", "max_momentum"),
                ("initial_lr", "min_lr", "max_momentum", "max_momentum"),
            ]
        else:
            ends = [up, total_steps - 1]
            keys = [
                ("initial_lr", "max_lr", "max_momentum", "base_momentum"),
                ("max_lr", "min_lr", "base_momentum", "max_momentum"),
            ]
        if any(b == a for a, b in zip([0.0] + ends[:-1], ends)):  # would divide 0 by 0
            raise ValueError(
                f"OneCycleLR: pct_start={pct_start} with total_steps={total_steps} leaves a phase "
                "with no steps; use more steps or another pct_start"
            )
        self._schedule_phases = [
            dict(end_step=e, start_lr=k[0], end_lr=k[1], start_momentum=k[2], end_momentum=k[3])
            for e, k in zip(ends, keys)
        ]
        max_lrs = _per_group("OneCycleLR", "max_lr", optimizer, max_lr)
        if last_epoch == -1:
            for m, group in zip(max_lrs, optimizer.param_groups):
                group["initial_lr"] = m / div_factor
                group["max_lr"] = m
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(
                    f"OneCycleLR: cycle_momentum needs an optimizer with momentum or betas, "
                    f"{type(optimizer).__name__} has neither (pass cycle_momentum=False)"
                )
            self.use_beta1 = "betas" in optimizer.defaults
            maxs = _per_group("OneCycleLR", "max_momentum", optimizer, max_momentum)
            bases = _per_group("OneCycleLR", "base_momentum", optimizer, base_momentum)
            if last_epoch == -1:
                for m, b, group in zip(maxs, bases, optimizer.param_groups):
                    self._set_momentum(group, m)
                    group["max_momentum"], group["base_momentum"] = m, b
        super().__init__(optimizer, last_epoch)

    def _set_momentum(self, group: dict, m: float) -> None:
        if self.use_beta1:
            group["betas"] = (m, *group["betas"][1:])
        else:
            group["momentum"] = m

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        n = self.last_epoch
        if n > self.total_steps:
            raise ValueError(
                f"OneCycleLR: tried to step {n} times, but total_steps is {self.total_steps}"
            )
        lrs = []
        for group in self.optimizer.param_groups:
            start = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end = phase["end_step"]
                if n <= end or i == len(self._schedule_phases) - 1:
                    pct = (n - start) / (end - start)
                    lrs.append(self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct))
                    if self.cycle_momentum:
                        self._set_momentum(
                            group,
                            self._anneal(
                                group[phase["start_momentum"]], group[phase["end_momentum"]], pct
                            ),
                        )
                    break
                start = end
        return lrs
