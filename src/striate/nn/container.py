"""Containers (``Sequential``, ``ModuleList``, ``ModuleDict``) and the branch modules that
join or cut tensors (``Concat``, ``Residual``, ``Split``, ``ChannelShuffle``)."""
from __future__ import annotations

import operator
from collections import OrderedDict
from typing import Iterable, Iterator

from .. import functional as F
from ..tensor import Tensor
from .fusion import fold_span, run_fused
from .module import Module

__all__ = ["Sequential", "ModuleList", "ModuleDict", "Concat", "Residual", "Split",
           "ChannelShuffle"]


def _shape_of(out) -> str:
    if isinstance(out, (tuple, list)):
        return "(" + ", ".join(_shape_of(o) for o in out) + ")"
    shape = getattr(out, "shape", None)
    return str(tuple(shape)) if shape is not None else type(out).__name__


def _check_module(m, owner: str, where: str) -> Module:
    if not isinstance(m, Module):
        raise TypeError(f"{owner}: {where} is a {type(m).__name__}, not a Module "
                        "(wrap functions in a Module, e.g. nn.ReLU() instead of F.relu)")
    return m


def _index(idx, n: int, owner: str) -> int:
    if isinstance(idx, bool):
        raise TypeError(f"{owner} indices must be int or slice, got bool")
    try:
        idx = operator.index(idx)
    except TypeError:
        raise TypeError(f"{owner} indices must be int or slice, got {type(idx).__name__}") from None
    if not -n <= idx < n:
        raise IndexError(f"{owner} index {idx} is out of range for {n} modules")
    return idx % n


class Sequential(Module):
    """Run modules one after another, each on the previous one's output.

    Children are named "0", "1", ... or by the keys of an ``OrderedDict``. Indexing (negative
    too) gives a layer, slicing gives a new ``Sequential`` sharing the layers. When a layer
    fails, the error names that layer and lists the shapes it went through.

    >>> net = nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2))
    >>> net[:2]      # Sequential of the conv and the ReLU
    """

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], (OrderedDict, dict)):
            for name, m in args[0].items():
                self.add_module(name, _check_module(m, "Sequential", f"entry {name!r}"))
        else:
            for i, m in enumerate(args):
                self.add_module(str(i), _check_module(m, "Sequential", f"argument {i}"))

    def forward(self, x):
        shapes = [("input", _shape_of(x))]
        items = list(self._modules.items())
        layers = [m for _, m in items]
        i = 0
        while i < len(items):
            name, m = items[i]
            span = fold_span(layers[i:i + 3], x)  # conv-bn-act fusion (nn/fusion.py)
            if span:
                try:
                    x, out_shapes = run_fused(layers[i:i + span], x)
                except (ValueError, TypeError):
                    span = 0  # one layer at a time: the error then names the one that failed
            if not span:
                out_shapes = [None]
                try:
                    x = m(x)
                except (ValueError, TypeError) as e:
                    if getattr(e, "_striate_sequential", False):
                        raise
                    raise self._child_error(e, name, m, shapes) from e
            for (name, m), shape in zip(items[i:i + max(span, 1)], out_shapes):
                shapes.append((f"{name} {type(m).__name__}",
                               _shape_of(x) if shape is None else str(tuple(shape))))
            i += max(span, 1)
        return x

    def _child_error(self, e: Exception, name: str, m: Module, shapes) -> Exception:
        cls = TypeError if isinstance(e, TypeError) else ValueError
        width = max(len(s) for s, _ in shapes + [(f"{name} {type(m).__name__}", "")])
        rows = [f"    {s:<{width}}  {shape}" for s, shape in shapes]
        rows.append(f"    {name + ' ' + type(m).__name__:<{width}}  <- failed here")
        err = self._error(f"failed at layer {name!r}: {e}\n  shapes so far:\n" + "\n".join(rows),
                          cls)
        err._striate_sequential = True
        return err

    def __getitem__(self, idx):
        items = list(self._modules.items())
        if isinstance(idx, slice):
            return Sequential(OrderedDict(items[idx]))
        if isinstance(idx, str):
            return self._modules[idx]
        return items[_index(idx, len(items), "Sequential")][1]

    def __setitem__(self, idx: int, module: Module) -> None:
        key = list(self._modules)[_index(idx, len(self), "Sequential")]
        self._modules[key] = _check_module(module, "Sequential", f"item {idx}")

    def __delitem__(self, idx) -> None:
        keys = list(self._modules)
        for key in (keys[idx] if isinstance(idx, slice) else [keys[_index(idx, len(keys),
                                                                          "Sequential")]]):
            del self._modules[key]
        if all(k.isdigit() for k in keys):  # renumber default names so they stay 0..n-1
            self.__dict__["_modules"] = OrderedDict(
                (str(i), m) for i, m in enumerate(self._modules.values()))

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> "Sequential":
        name = str(len(self))
        while name in self._modules:
            name = str(int(name) + 1)
        self.add_module(name, _check_module(module, "Sequential.append", "the argument"))
        return self

    def extend(self, modules: Iterable[Module]) -> "Sequential":
        for m in modules:
            self.append(m)
        return self


class ModuleList(Module):
    """A list of modules, registered so that their parameters are found; index like a list.

    >>> self.blocks = nn.ModuleList([nn.Linear(8, 8) for _ in range(3)])
    """

    def __init__(self, modules: Iterable[Module] | None = None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _renumber(self, mods) -> None:
        self.__dict__["_modules"] = OrderedDict((str(i), m) for i, m in enumerate(mods))

    def __getitem__(self, idx):
        mods = list(self._modules.values())
        if isinstance(idx, slice):
            return ModuleList(mods[idx])
        return mods[_index(idx, len(mods), "ModuleList")]

    def __setitem__(self, idx: int, module: Module) -> None:
        i = _index(idx, len(self), "ModuleList")
        self._modules[str(i)] = _check_module(module, "ModuleList", f"item {idx}")

    def __delitem__(self, idx) -> None:
        mods = list(self._modules.values())
        del mods[idx if isinstance(idx, slice) else _index(idx, len(mods), "ModuleList")]
        self._renumber(mods)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __iadd__(self, modules: Iterable[Module]) -> "ModuleList":
        return self.extend(modules)

    def append(self, module: Module) -> "ModuleList":
        self.add_module(str(len(self)), _check_module(module, "ModuleList.append", "the argument"))
        return self

    def extend(self, modules: Iterable[Module]) -> "ModuleList":
        for i, m in enumerate(modules):
            self.add_module(str(len(self)), _check_module(m, "ModuleList", f"item {i}"))
        return self

    def insert(self, index: int, module: Module) -> None:
        mods = list(self._modules.values())
        mods.insert(index, _check_module(module, "ModuleList.insert", "the argument"))
        self._renumber(mods)

    def forward(self, *args):
        raise NotImplementedError("ModuleList has no forward: iterate over it in your forward")


class ModuleDict(Module):
    """A dict of modules, registered under their keys; ordered by insertion.

    >>> heads = nn.ModuleDict({"cls": nn.Linear(64, 10), "box": nn.Linear(64, 4)})
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        if key not in self._modules:
            raise KeyError(f"ModuleDict has no key {key!r}; keys are {list(self._modules)}")
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, _check_module(module, "ModuleDict", f"value for {key!r}"))

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: str) -> bool:
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def pop(self, key: str) -> Module:
        m = self[key]
        del self._modules[key]
        return m

    def clear(self) -> None:
        self._modules.clear()

    def update(self, modules) -> None:
        items = modules.items() if hasattr(modules, "items") else modules
        for key, m in items:
            self[key] = m

    def forward(self, *args):
        raise NotImplementedError("ModuleDict has no forward: index it in your forward")


class Concat(Module):
    """Run every branch on the same input and concatenate the results along ``axis``: the
    fusion layer of an Inception module (Szegedy et al. 2014, https://arxiv.org/abs/1409.4842).

    Args:
        *branches (Module): the parallel paths, named "0", "1", ...
        axis (int, default 1): the axis to concatenate along (channels for NCHW).

    Shape:
        every branch's output must agree on all axes but ``axis``; the output's ``axis`` is the
        sum of theirs.

    >>> block = nn.Concat(nn.Conv2d(3, 8, 1), nn.Conv2d(3, 4, 3, padding=1))   # 12 channels
    """

    def __init__(self, *branches: Module, axis: int = 1):
        super().__init__()
        if len(branches) == 1 and isinstance(branches[0], (list, tuple)):
            branches = tuple(branches[0])
        if not branches:
            raise ValueError("Concat needs at least one branch")
        for i, b in enumerate(branches):
            self.add_module(str(i), _check_module(b, "Concat", f"branch {i}"))
        self.axis = axis

    def forward(self, x):
        outs = [b(x) for b in self._modules.values()]
        ref = outs[0].shape
        ax = self.axis % len(ref) if -len(ref) <= self.axis < len(ref) else None
        for i, o in enumerate(outs):
            if ax is None or len(o.shape) != len(ref) or any(
                    a != b for k, (a, b) in enumerate(zip(o.shape, ref)) if k != ax):
                shapes = ", ".join(f"branch {k} gives {tuple(o.shape)}" for k, o in enumerate(outs))
                raise self._error(f"cannot concatenate along axis {self.axis}: the branches must "
                                  f"agree on every other axis, but {shapes}")
        return F.concat(outs, axis=self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class Residual(Module):
    """``activation(body(x) + shortcut(x))``, with the identity as the default shortcut
    (He et al. 2015, https://arxiv.org/abs/1512.03385).

    Args:
        body (Module): the residual branch.
        shortcut (Module or None, default None): projection for the skip path (identity if None).
        activation (Module or None, default None): applied after the sum.

    >>> block = nn.Residual(nn.Sequential(nn.Conv2d(16, 16, 3, padding=1), nn.BatchNorm2d(16)),
    ...                     activation=nn.ReLU())
    """

    def __init__(self, body: Module, shortcut: Module | None = None,
                 activation: Module | None = None):
        super().__init__()
        self.body = _check_module(body, "Residual", "body")
        for name, m in (("shortcut", shortcut), ("activation", activation)):
            setattr(self, name, None if m is None else _check_module(m, "Residual", name))

    def forward(self, x):
        y = self.body(x)
        s = x if self.shortcut is None else self.shortcut(x)
        if tuple(y.shape) != tuple(s.shape):
            path = "the identity shortcut" if self.shortcut is None else "the shortcut"
            raise self._error(
                f"cannot add the paths: the body gives shape {tuple(y.shape)} but {path} gives "
                f"{tuple(s.shape)} (input shape {tuple(x.shape)}); give a shortcut that maps the "
                "input to the body's output shape"
            )
        y = y + s
        return y if self.activation is None else self.activation(y)


class Split(Module):
    """Cut the input along ``axis`` into a tuple of tensors (``torch.split`` semantics).

    Args:
        sections_or_sizes (int or list of int): an int is the size of each piece (the last may
            be smaller); a list gives each piece's size.
        axis (int, default 1): the axis to cut.

    >>> a, b = nn.Split([16, 48])(x)     # x: (N, 64, H, W)
    """

    def __init__(self, sections_or_sizes: int | list[int], axis: int = 1):
        super().__init__()
        self.sections_or_sizes = sections_or_sizes
        self.axis = axis

    def forward(self, x) -> tuple[Tensor, ...]:
        return tuple(F.split(x, self.sections_or_sizes, axis=self.axis))

    def extra_repr(self) -> str:
        return f"{self.sections_or_sizes}, axis={self.axis}"


class ChannelShuffle(Module):
    """Interleave the channels of ``groups`` groups (ShuffleNet, https://arxiv.org/abs/1707.01083).

    Args:
        groups (int): number of channel groups; must divide the channel count.

    >>> nn.ChannelShuffle(2)(x)     # channels 0..5 become 0, 3, 1, 4, 2, 5
    """

    def __init__(self, groups: int):
        super().__init__()
        if not isinstance(groups, int) or groups < 1:
            raise ValueError(f"ChannelShuffle: groups must be a positive int, got {groups!r}")
        self.groups = groups

    def forward(self, x):
        self._check_tensor(x)
        if x.ndim != 4:
            raise self._error(f"expects a 4-D input (N, C, H, W), got shape {tuple(x.shape)}")
        if x.shape[1] % self.groups:
            raise self._error(f"groups={self.groups} does not divide the {x.shape[1]} input "
                              f"channels (input shape {tuple(x.shape)})")
        return F.channel_shuffle(x, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"
