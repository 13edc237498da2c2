"""Learning-rate schedules with PyTorch's semantics.

Constructing a scheduler sets each group's ``lr`` to the schedule's first value; call ``step()``
once per epoch (or per batch for :class:`OneCycleLR`) after ``optimizer.step()``. The recursive
("chainable") update rules are PyTorch's, so the learning rates equal torch's step for step and
schedulers compose through :class:`ChainedScheduler` and :class:`SequentialLR`.

This module is the public face of the schedulers and holds the two that compose others; the base
class is in :mod:`.scheduler_base`, the decaying schedules in :mod:`.decay_schedulers` and the
1cycle policy in :mod:`.one_cycle`.
"""

from __future__ import annotations

from bisect import bisect_right

from .decay_schedulers import (
    CosineAnnealingLR,
    ExponentialLR,
    LinearLR,
    LinearWarmup,
    MultiStepLR,
    StepLR,
)
from .one_cycle import OneCycleLR
from .optimizer import Optimizer
from .scheduler_base import LRScheduler

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
