"""Decaying learning-rate schedules: step, multi-step, exponential, linear (and linear warmup)
and cosine annealing, with PyTorch's chainable update rules and closed forms.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter

from .optimizer import Optimizer, _is_real
from .scheduler_base import LRScheduler, _check_gamma, _check_positive_int

__all__ = [
    "CosineAnnealingLR",
    "ExponentialLR",
    "LinearLR",
    "LinearWarmup",
    "MultiStepLR",
    "StepLR",
]


class StepLR(LRScheduler):
    """Multiply the rate by ``gamma`` every ``step_size`` epochs.

    ``lr = base_lr * gamma ** (epoch // step_size)``.

    Args:
        optimizer (Optimizer): wrapped optimizer.
        step_size (int): period of the decay, in epochs.
        gamma (float, default 0.1): multiplicative factor.
        last_epoch (int, default -1): index of the last epoch.

    Example:
        >>> sched = StepLR(opt, step_size=30, gamma=0.1)  # 0.1 for 30 epochs, then 0.01, ...
        >>> for epoch in range(90): train_one_epoch(); sched.step()
    """

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        _check_positive_int("StepLR", "step_size", step_size)
        _check_gamma("StepLR", gamma)
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current()
        return [lr * self.gamma for lr in self._current()]

    def _get_closed_form_lr(self) -> list[float]:
        return [b * self.gamma ** (self.last_epoch // self.step_size) for b in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply the rate by ``gamma`` at each milestone epoch.

    Args:
        optimizer (Optimizer): wrapped optimizer.
        milestones (list of int): epochs at which to decay (a repeated epoch decays twice).
        gamma (float, default 0.1): multiplicative factor.
        last_epoch (int, default -1): index of the last epoch.

    Example:
        >>> sched = MultiStepLR(opt, milestones=[30, 80], gamma=0.1)
    """

    def __init__(
        self, optimizer: Optimizer, milestones, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        milestones = list(milestones)
        if not all(isinstance(m, int) and not isinstance(m, bool) and m >= 0 for m in milestones):
            raise ValueError(f"MultiStepLR: milestones must be ints >= 0, got {milestones!r}")
        _check_gamma("MultiStepLR", gamma)
        self.milestones, self.gamma = Counter(milestones), gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch not in self.milestones:
            return self._current()
        return [lr * self.gamma ** self.milestones[self.last_epoch] for lr in self._current()]

    def _get_closed_form_lr(self) -> list[float]:
        n = bisect_right(sorted(self.milestones.elements()), self.last_epoch)
        return [b * self.gamma**n for b in self.base_lrs]

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["milestones"] = sorted(self.milestones.elements())  # a Counter has int keys
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        self.milestones = Counter(int(m) for m in state_dict["milestones"])


class ExponentialLR(LRScheduler):
    """Multiply the rate by ``gamma`` every epoch: ``lr = base_lr * gamma ** epoch``.

    Args:
        optimizer (Optimizer): wrapped optimizer.
        gamma (float): multiplicative factor.
        last_epoch (int, default -1): index of the last epoch.

    Example:
        >>> sched = ExponentialLR(opt, gamma=0.95)
    """

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        _check_gamma("ExponentialLR", gamma)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return self._current()
        return [lr * self.gamma for lr in self._current()]

    def _get_closed_form_lr(self) -> list[float]:
        return [b * self.gamma**self.last_epoch for b in self.base_lrs]


class LinearLR(LRScheduler):
    """Scale the rate linearly from ``start_factor`` to ``end_factor`` over ``total_iters`` epochs.

    ``lr = base_lr * (start + (end - start) * min(epoch, total_iters) / total_iters)``.

    Args:
        optimizer (Optimizer): wrapped optimizer.
        start_factor (float, default 1/3): factor at epoch 0, in (0, 1].
        end_factor (float, default 1.0): factor from ``total_iters`` on, in [0, 1].
        total_iters (int, default 5): length of the ramp, in epochs.
        last_epoch (int, default -1): index of the last epoch.

    Example:
        >>> sched = LinearLR(opt, start_factor=0.1, total_iters=5)
    """

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        name = type(self).__name__
        if not (_is_real(start_factor) and 0 < start_factor <= 1):
            raise ValueError(f"{name}: start_factor must be in (0, 1], got {start_factor!r}")
        if not (_is_real(end_factor) and 0 <= end_factor <= 1):
            raise ValueError(f"{name}: end_factor must be in [0, 1], got {end_factor!r}")
        _check_positive_int(name, "total_iters", total_iters)
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0:
            return [lr * self.start_factor for lr in self._current()]
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._current()
        delta = self.end_factor - self.start_factor
        ratio = 1.0 + delta / (self.total_iters * self.start_factor + (self.last_epoch - 1) * delta)
        return [lr * ratio for lr in self._current()]

    def _get_closed_form_lr(self) -> list[float]:
        frac = min(self.total_iters, self.last_epoch) / self.total_iters
        return [
            b * (self.start_factor + (self.end_factor - self.start_factor) * frac)
            for b in self.base_lrs
        ]


class LinearWarmup(LinearLR):
    """Warm the rate up linearly from ``start_factor * lr`` to ``lr`` over ``warmup_steps`` steps.

    A :class:`LinearLR` with ``end_factor=1``; combine it with a decay through
    :class:`SequentialLR`, e.g. warmup then cosine annealing.

    Args:
        optimizer (Optimizer): wrapped optimizer.
        warmup_steps (int): length of the warmup, in scheduler steps.
        start_factor (float, default 0.1): fraction of the rate used at step 0, in (0, 1].
        last_epoch (int, default -1): index of the last step.

    Example:
        >>> warm = LinearWarmup(opt, warmup_steps=5)
        >>> sched = SequentialLR(opt, [warm, CosineAnnealingLR(opt, T_max=45)], milestones=[5])

    Reference: Goyal et al., "Accurate, Large Minibatch SGD", https://arxiv.org/abs/1706.02677
    """

    def __init__(
        self,
        optimizer: Optimizer,
        warmup_steps: int,
        start_factor: float = 0.1,
        last_epoch: int = -1,
    ) -> None:
        super().__init__(
            optimizer,
            start_factor=start_factor,
            end_factor=1.0,
            total_iters=warmup_steps,
            last_epoch=last_epoch,
        )


class CosineAnnealingLR(LRScheduler):
    """Anneal the rate along a cosine from ``base_lr`` down to ``eta_min`` over ``T_max`` epochs.

    ``lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2``.

    Args:
        optimizer (Optimizer): wrapped optimizer.
        T_max (int): half period, in epochs (the rate reaches ``eta_min`` at ``T_max``).
        eta_min (float, default 0): minimum rate.
        last_epoch (int, default -1): index of the last epoch.

    Example:
        >>> sched = CosineAnnealingLR(opt, T_max=50)

    Reference: Loshchilov & Hutter, "SGDR", ICLR 2017, https://arxiv.org/abs/1608.03983
    """

    def __init__(
        self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1
    ) -> None:
        _check_positive_int("CosineAnnealingLR", "T_max", T_max)
        if not (_is_real(eta_min) and eta_min >= 0):
            raise ValueError(f"CosineAnnealingLR: eta_min must be a number >= 0, got {eta_min!r}")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        e, T, lo = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._current()
        if self._step_count == 1 and e > 0:
            return [lo + (b - lo) * (1 + math.cos(e * math.pi / T)) / 2 for b in self.base_lrs]
        if (e - 1 - T) % (2 * T) == 0:
            return [
                lr + (b - lo) * (1 - math.cos(math.pi / T)) / 2
                for b, lr in zip(self.base_lrs, self._current())
            ]
        ratio = (1 + math.cos(math.pi * e / T)) / (1 + math.cos(math.pi * (e - 1) / T))
        return [ratio * (lr - lo) + lo for lr in self._current()]

    def _get_closed_form_lr(self) -> list[float]:
        c = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
        return [self.eta_min + (b - self.eta_min) * c for b in self.base_lrs]
