"""The learning-rate scheduler base class, :class:`LRScheduler`, and its argument checks.

A scheduler keeps ``last_epoch`` and ``base_lrs`` and writes the rates ``get_lr()`` computes into
the optimizer's parameter groups on each ``step()``. Constructing one takes the initial step.
The schedules themselves are in :mod:`.decay_schedulers`, :mod:`.one_cycle` and
:mod:`.lr_scheduler` (the public module, which re-exports them all).
"""

from __future__ import annotations

from .optimizer import Optimizer, _is_real

__all__ = ["LRScheduler"]


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
