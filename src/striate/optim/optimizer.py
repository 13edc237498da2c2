"""``Optimizer``: the base every optimizer shares (parameter groups, state, state_dict).

Subclasses implement ``_update(p, g, state, group)`` on bare arrays; the base walks the groups,
skips parameters without a gradient and keeps a small shared workspace so that updates run in
place without allocating a fresh temporary per parameter per step.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable

from ..backend import xp
from ..tensor import Tensor


class Optimizer:
    """Base class of all optimizers (the ``torch.optim.Optimizer`` interface).

    Args:
        params: an iterable of Tensors to optimize, or of dicts (parameter groups) each holding a
            ``"params"`` entry plus options that override ``defaults`` for that group, e.g.
            ``[{"params": backbone, "lr": 1e-4}, {"params": head}]``.
        defaults (dict): the default options (``lr``, ...) of every group.

    Attributes:
        param_groups (list[dict]): the groups, each with ``"params"`` and every option.
        state (dict): per-parameter state (momentum buffers, moments), keyed by the Tensor.

    Example:
        >>> w = striate.tensor([1.0, 2.0], requires_grad=True)
        >>> opt = striate.optim.SGD([w], lr=0.1)
        >>> (w * w).sum().backward(); opt.step(); opt.zero_grad()
    """

    def __init__(self, params, defaults: dict) -> None:
        self.defaults = dict(defaults)
        self._check_options(self.defaults)
        self.state: dict[Tensor, dict] = {}
        self.param_groups: list[dict] = []
        self._work: dict = {}
        if isinstance(params, Tensor):
            raise TypeError(
                f"{self._name}: params must be an iterable of Tensors or dicts, "
                "got a single Tensor; wrap it in a list"
            )
        if not isinstance(params, Iterable):
            raise TypeError(
                f"{self._name}: params must be an iterable, got {type(params).__name__}"
            )
        groups = list(params)
        if not groups:
            raise ValueError(f"{self._name}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    @property
    def _name(self) -> str:
        return type(self).__name__

    # ---- groups ----
    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own options (e.g. a new head when fine-tuning).

        Args:
            param_group (dict): ``{"params": Tensor or iterable of Tensors, **options}``;
                missing options are taken from the optimizer's defaults.
        """
        if not isinstance(param_group, dict):
            raise TypeError(
                f"{self._name}: a parameter group must be a dict, got {type(param_group).__name__}"
            )
        if "params" not in param_group:
            raise ValueError(f"{self._name}: a parameter group needs a 'params' entry")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(f"{self._name}: params must be an ordered collection, not a set")
        else:
            params = list(params)
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"{self._name}: can only optimize Tensors, but parameter {i} of the group "
                    f"is a {type(p).__name__}"
                )
            if not p.is_leaf:
                raise ValueError(
                    f"{self._name}: can't optimize a non-leaf Tensor (shape {p.shape})"
                )
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{self._name}: a parameter group contains the same parameter twice")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError(
                f"{self._name}: some parameters appear in more than one parameter group"
            )
        group = {**self.defaults, **param_group, "params": params}
        self._check_options(group)
        self.param_groups.append(group)

    def _check_options(self, options: dict) -> None:
        """Raise ValueError for invalid hyperparameters; subclasses extend it."""
        lr = options.get("lr")
        if lr is not None and not (_is_real(lr) and lr >= 0):
            raise ValueError(
                f"{self._name}: invalid learning rate lr={lr!r}, expected a number >= 0"
            )
        wd = options.get("weight_decay", 0)
        if not (_is_real(wd) and wd >= 0):
            raise ValueError(f"{self._name}: invalid weight_decay={wd!r}, expected a number >= 0")

    # ---- the step ----
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients: set ``.grad`` to None (default) or fill it with zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.data[...] = 0

    def step(self, closure=None):
        """Update every parameter that has a gradient, in place; returns ``closure()`` if given."""
        loss = None
        if closure is not None:
            loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad.data if isinstance(p.grad, Tensor) else xp.asarray(p.grad)
                if g.shape != p.data.shape:
                    raise ValueError(
                        f"{self._name}.step: gradient of shape {g.shape} "
                        f"for a parameter of shape {p.data.shape}"
                    )
                if g.dtype != p.data.dtype:
                    g = g.astype(p.data.dtype)
                self._update(p.data, g, self.state.setdefault(p, {}), group)
        return loss

    def _update(self, p, g, state: dict, group: dict) -> None:
        raise NotImplementedError

    def _scratch(self, p, k: int = 0):
        """Workspace ``k`` shaped like ``p``; shared by all parameters (costs one largest one)."""
        key = (p.dtype.str, k)
        buf = self._work.get(key)
        if buf is None or buf.size < p.size:
            buf = self._work[key] = xp.empty(p.size, dtype=p.dtype)
        return buf[: p.size].reshape(p.shape)

    # ---- state_dict ----
    def state_dict(self) -> dict:
        """The state as plain data: ``{"state": {index: {...}}, "param_groups": [...]}``.

        Parameters are referred to by their index across all groups (as in PyTorch); arrays are
        copies, tuples become lists, so the result can go straight to :func:`striate.save`.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: _plain(v) for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {}
        for p, s in self.state.items():
            if id(p) in index and s:
                state[index[id(p)]] = {
                    k: (v.copy() if isinstance(v, xp.ndarray) else _plain(v)) for k, v in s.items()
                }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Load a state from :meth:`state_dict`; the parameter groups must have the same sizes.

        Everything is checked before anything changes: a bad state leaves the optimizer as it was.
        """
        name = f"{self._name}.load_state_dict"
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= state_dict.keys():
            raise ValueError(f"{name}: expected a dict with 'state' and 'param_groups' entries")
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}: the state dict has {len(saved_groups)} parameter groups, "
                f"the optimizer has {len(self.param_groups)}"
            )
        by_index = {}
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"{name}: parameter group {i} has {len(group['params'])} parameters "
                    "in the optimizer "
                    f"but {len(saved['params'])} in the state dict"
                )
            by_index.update(zip((int(k) for k in saved["params"]), group["params"]))
        new_state = {}
        for k, s in state_dict["state"].items():
            try:
                p = by_index[int(k)]
            except (KeyError, ValueError):
                raise ValueError(f"{name}: state for unknown parameter index {k!r}") from None
            new_state[p] = {
                key: _restore(key, v, p, f"{name}: state[{k}][{key!r}]") for key, v in s.items()
            }
        new_groups = []
        for group, saved in zip(self.param_groups, saved_groups):
            new = dict(group)
            for key, v in saved.items():
                if key != "params":
                    new[key] = tuple(v) if isinstance(group.get(key), tuple) else v
            self._check_options(new)
            new_groups.append(new)
        self.state = new_state
        self.param_groups = new_groups

    def __repr__(self) -> str:
        lines = [f"{self._name} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k != "params"]
        return "\n".join(lines + [")"])


def _is_real(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and not math.isnan(v)


def _plain(v):
    """Tuples become lists, NumPy scalars Python numbers: what a JSON header can hold."""
    if isinstance(v, (tuple, list)):
        return [_plain(x) for x in v]
    if isinstance(v, xp.generic):
        return v.item()
    return v


def _restore(key: str, v, p: Tensor, where: str):
    """A saved state entry made ready for ``p``: arrays copied, cast to p's dtype, shape checked."""
    if isinstance(v, Tensor):
        v = v.data
    if key == "step":  # a count, whatever container it arrived in
        return int(v)
    if isinstance(v, xp.ndarray):
        if v.shape != p.data.shape:
            raise ValueError(
                f"{where} has shape {v.shape}, but the parameter has shape {p.data.shape}"
            )
        return v.astype(p.data.dtype if v.dtype.kind == "f" else v.dtype, copy=True)
    return v
