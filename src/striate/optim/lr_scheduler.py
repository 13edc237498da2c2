"""Learning-rate schedules with PyTorch's semantics.

Constructing a scheduler sets each group's ``lr`` to the schedule's first value; call ``step()``
once per epoch (or per batch for :class:`OneCycleLR`) after ``optimizer.step()``. The recursive
("chainable") update rules are PyTorch's, so the learning rates equal torch's step for step and
schedulers compose through :class:`ChainedScheduler` and :class:`SequentialLR`.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter

from .optimizer import Optimizer, _is_real

__all__ = [
    "LRScheduler",
    "StepLR",
    "MultiStepLR",
    "ExponentialLR",
    "LinearLR",
    "LinearWarmup",
    "CosineAnnealingLR",
    "OneCycleLR",
    "SequentialLR",
    "ChainedScheduler",
]


class LRScheduler:
    """Base class: keeps ``last_epoch``, ``base_lrs`` and writes new rates into the optimizer.

    Args:
        optimizer (Optimizer): the optimizer whose ``param_groups[i]["lr"]`` are scheduled.
        last_epoch (int, default -1): index of the last epoch; -1 starts a fresh schedule.
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"{type(self).__name__}: {type(optimizer).__name__} is not an Optimizer"
            )
        if not isinstance(last_epoch, int) or last_epoch < -1:
            raise ValueError(
                f"{type(self).__name__}: last_epoch must be an int >= -1, got {last_epoch!r}"
            )
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"{type(self).__name__}: param_groups[{i}] has no 'initial_lr' "
                        "while resuming "
                        f"with last_epoch={last_epoch}; load the optimizer's state first"
                    )
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        """The next rates, computed from the current ones (the chainable form)."""
        raise NotImplementedError

    def get_last_lr(self) -> list[float]:
        """The learning rates the last ``step()`` set, one per parameter group."""
        return list(self._last_lr)

    def _current(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def step(self) -> None:
        """Advance the schedule by one epoch and write the new rates into the optimizer."""
        self._step_count += 1
        self._update_lr(None)

    def _update_lr(self, epoch: int | None) -> None:
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:  # SequentialLR restarts a scheduler at a milestone from its closed form
            self.last_epoch = epoch
            closed = getattr(self, "_get_closed_form_lr", None)
            values = closed() if closed is not None else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = self._current()

    def state_dict(self) -> dict:
        """Every attribute except the optimizer, as plain data (ready for :func:`striate.save`)."""
        return {
            k: (list(v) if isinstance(v, tuple) else v)
            for k, v in self.__dict__.items()
            if k != "optimizer"
        }

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a state from :meth:`state_dict` (build the scheduler first, then load)."""
        if not isinstance(state_dict, dict):
            raise TypeError(
                f"{type(self).__name__}.load_state_dict: expected a dict, "
                f"got {type(state_dict).__name__}"
            )
        self.__dict__.update(state_dict)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, last_lr={self._last_lr})"


def _check_positive_int(owner: str, name: str, v) -> None:
    if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
        raise ValueError(f"{owner}: {name} must be a positive int, got {v!r}")


def _check_gamma(owner: str, gamma) -> None:
    if not (_is_real(gamma) and gamma > 0):
        raise ValueError(f"{owner}: gamma must be a number > 0, got {gamma!r}")


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


class _Composite(LRScheduler):
    """State handling of schedulers that hold other schedulers."""

    def state_dict(self) -> dict:
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        nested = state_dict["_schedulers"]
        if len(nested) != len(self._schedulers):
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: the state holds {len(nested)} schedulers, "
                f"this one has {len(self._schedulers)}"
            )
        self.__dict__.update({k: v for k, v in state_dict.items() if k != "_schedulers"})
        for s, sub in zip(self._schedulers, nested):
            s.load_state_dict(sub)


class SequentialLR(_Composite):
    """Run schedulers one after another, switching at the given milestones.

    Args:
        optimizer (Optimizer): the optimizer all ``schedulers`` wrap.
        schedulers (list of LRScheduler): the schedules, in order.
        milestones (list of int): the steps at which the next scheduler takes over
            (``len(schedulers) - 1`` of them).
        last_epoch (int, default -1): index of the last step.

    Example:
        >>> sched = SequentialLR(opt, [LinearWarmup(opt, 5), CosineAnnealingLR(opt, T_max=45)],
        ...                      milestones=[5])
    """

    def __init__(
        self, optimizer: Optimizer, schedulers: list, milestones: list, last_epoch: int = -1
    ) -> None:
        _check_members("SequentialLR", optimizer, schedulers)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                f"SequentialLR: expected {len(schedulers) - 1} milestones for {len(schedulers)} "
                f"schedulers, got {len(milestones)}"
            )
        self._schedulers, self._milestones = list(schedulers), list(milestones)
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        for group in optimizer.param_groups:  # undo the initial steps the schedulers already took
            group["lr"] = group["initial_lr"]
        _undo(self)
        idx = bisect_right(self._milestones, 0)
        self._schedulers[idx]._initial_step()
        self._last_lr = self._schedulers[idx].get_last_lr()

    def step(self) -> None:
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()


class ChainedScheduler(_Composite):
    """Step several schedulers together, each multiplying into the same learning rates.

    Args:
        schedulers (list of LRScheduler): schedulers of one optimizer, stepped in order.
        optimizer (Optimizer, optional): that optimizer (default: the first scheduler's).

    Example:
        >>> sched = ChainedScheduler([LinearLR(opt, 0.1, total_iters=5), ExponentialLR(opt, 0.9)])
    """

    def __init__(self, schedulers: list, optimizer: Optimizer | None = None) -> None:
        if not schedulers:
            raise ValueError("ChainedScheduler: expects at least one scheduler")
        optimizer = optimizer or getattr(schedulers[0], "optimizer", None)
        _check_members("ChainedScheduler", optimizer, schedulers)
        self._schedulers, self.optimizer = list(schedulers), optimizer
        self._last_lr = self._current()

    def step(self) -> None:
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = self._current()


def _check_members(owner: str, optimizer, schedulers) -> None:
    if not schedulers:
        raise ValueError(f"{owner}: expects at least one scheduler")
    for i, s in enumerate(schedulers):
        if not isinstance(s, LRScheduler):
            raise TypeError(f"{owner}: schedulers[{i}] is a {type(s).__name__}, not an LRScheduler")
        if s.optimizer is not optimizer:
            raise ValueError(
                f"{owner}: schedulers[{i}] ({type(s).__name__}) wraps a different optimizer"
            )


def _undo(sched) -> None:
    """Step every nested scheduler back by one: their constructors already took a step."""
    for s in getattr(sched, "_schedulers", ()):
        if hasattr(s, "_schedulers"):
            _undo(s)
        else:
            s.last_epoch -= 1
