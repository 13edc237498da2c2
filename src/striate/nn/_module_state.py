"""Saving and loading a Module's parameters and buffers: ``state_dict``, ``load_state_dict``.

:class:`_StateDictMixin` is a base of :class:`striate.nn.Module` and reads its registries
(``_parameters``, ``_buffers`` minus the non-persistent ones, ``_modules``); it holds no state of
its own. ``load_state_dict`` checks every key and shape before copying anything, and returns the
``(missing_keys, unexpected_keys)`` :data:`IncompatibleKeys`.
"""
from __future__ import annotations

from collections import OrderedDict, namedtuple
from typing import Any, Iterator

from ..backend import xp
from ..tensor import Tensor

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def _as_array(value, key: str):
    """The ndarray behind a state-dict value (ndarray, Tensor, number, or a CPU torch tensor)."""
    if isinstance(value, Tensor):
        return value.data
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # duck-typed torch tensor
        value = value.detach().cpu().numpy()
    arr = xp.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"load_state_dict: value for {key!r} is not numeric (dtype {arr.dtype})")
    return arr


class _StateDictMixin:
    """The state-dict methods of :class:`striate.nn.Module` (see there)."""

    def _state_items(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """Parameters and persistent buffers, every alias of a shared tensor included."""
        for name, p in self._parameters.items():
            if p is not None:
                yield prefix + name, p
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent:
                yield prefix + name, b
        for name, m in self._modules.items():
            if m is not None:
                yield from m._state_items(f"{prefix}{name}.")

    def state_dict(self) -> "OrderedDict[str, Any]":
        """``{qualified_name: ndarray copy}`` of every parameter and persistent buffer.

        >>> sd = model.state_dict(); sd["0.weight"].shape
        (6, 1, 5, 5)
        """
        return OrderedDict((k, t.data.copy()) for k, t in self._state_items())

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Copy arrays from ``state_dict`` into this module's parameters and buffers, in place.

        Values may be ndarrays, Tensors or numbers; each is cast to the existing dtype.
        Nothing is copied if there is an error.

        Args:
            state_dict: mapping from qualified name to value.
            strict (bool, default True): raise if a key is missing or unexpected. A shape
                difference raises even when False.

        Returns:
            ``(missing_keys, unexpected_keys)``.
        """
        if not hasattr(state_dict, "items"):
            raise TypeError(f"load_state_dict expects a mapping, got {type(state_dict).__name__}")
        own = OrderedDict(self._state_items())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        arrays, mismatched = {}, []
        for k, t in own.items():
            if k in state_dict:
                arrays[k] = arr = _as_array(state_dict[k], k)
                if arr.shape != t.shape:
                    mismatched.append(f"  shape mismatch for {k!r}: checkpoint has "
                                      f"{tuple(arr.shape)}, model has {tuple(t.shape)}")
        if mismatched or (strict and (missing or unexpected)):
            lines = [f"load_state_dict: error(s) loading state_dict into {type(self).__name__}:"]
            if strict and missing:
                lines.append("  missing keys: " + ", ".join(repr(k) for k in missing))
            if strict and unexpected:
                lines.append("  unexpected keys: " + ", ".join(repr(k) for k in unexpected))
            raise ValueError("\n".join(lines + mismatched))
        for k, arr in arrays.items():
            own[k].data[...] = arr
        return IncompatibleKeys(missing, unexpected)
