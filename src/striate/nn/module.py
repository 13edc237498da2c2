"""``Module``, the base class of every layer and model.

A Module keeps three ordered registries, filled by plain attribute assignment:
``_parameters`` (``Parameter``), ``_buffers`` (non-trainable Tensors such as BatchNorm's running
statistics, registered with :meth:`Module.register_buffer`) and ``_modules`` (child Modules).
Everything else (parameter iteration, ``state_dict``, ``train``/``eval``, ``repr``) walks them.

Qualified names in errors. A module does not store its own name, because the same layer can sit
in several models and a model can be re-arranged after construction. Instead ``__call__`` keeps a
per-thread stack of the modules currently running. When a layer raises, it takes the outermost
running module (the one the user called) and finds its own path in that module's
``named_modules()``, so ``model(x)`` reports ``Conv2d 'features.3' expects 64 input channels...``.
A layer called on its own reports just its type. The lookup runs only when an error is raised, so
the hot path pays for one list push and pop per call.

Any plain ``ValueError``/``TypeError`` escaping a module's ``forward`` (for example from a
functional op) is re-raised with the same type, prefixed by the layer's type and qualified name.

``state_dict`` and ``load_state_dict`` live in :mod:`._module_state` (a base class of Module).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Callable, Iterator

from ..backend import xp
from ..tensor import Tensor
from ._module_state import IncompatibleKeys, _StateDictMixin  # noqa: F401 - interop imports it
from .hooks import RemovableHandle
from .parameter import Parameter

__all__ = ["Module"]


_local = threading.local()


def _call_stack() -> list:
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


def _check_name(kind: str, name, owner: "Module") -> None:
    if not isinstance(name, str):
        raise TypeError(f"{kind} name must be a str, got {type(name).__name__}")
    if not name or "." in name:
        raise ValueError(f"{kind} name must be non-empty and contain no '.', got {name!r}")
    if hasattr(owner, name) and name not in owner._parameters and name not in owner._buffers \
            and name not in owner._modules:
        raise ValueError(f"attribute {name!r} already exists on {type(owner).__name__}")


class Module(_StateDictMixin):
    """Base class for layers and models: subclass it, assign layers and Parameters in
    ``__init__``, and write ``forward``.

    >>> class Net(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fc = nn.Linear(4, 2)
    ...     def forward(self, x):
    ...         return F.relu(self.fc(x))
    """

    training: bool

    def __init__(self):
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent"] = set()
        d["_modules"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()
        d["_forward_pre_hooks"] = OrderedDict()

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    # ---- calling ----
    def __call__(self, *args, **kwargs):
        stack = _call_stack()
        stack.append(self)
        try:
            if self._forward_pre_hooks:  # (the common case, no hooks, builds no tuple)
                for hook in tuple(self._forward_pre_hooks.values()):
                    res = hook(self, args)
                    if res is not None:
                        args = res if isinstance(res, tuple) else (res,)
            out = self.forward(*args, **kwargs)
            if self._forward_hooks:
                for hook in tuple(self._forward_hooks.values()):
                    res = hook(self, args, out)
                    if res is not None:
                        out = res
            return out
        except (ValueError, TypeError) as e:
            if type(e) not in (ValueError, TypeError) or getattr(e, "_striate_layer", False):
                raise
            raise self._error(str(e), type(e), sep=": ") from e
        finally:
            stack.pop()

    def register_forward_pre_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(module, inputs)`` before ``forward``; a non-None result replaces inputs."""
        handle = RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[handle.id] = hook
        return handle

    def register_forward_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(module, inputs, output)`` after ``forward``; non-None replaces output."""
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        return handle

    # ---- names in errors ----
    def qualified_name(self) -> str:
        """This module's path in the model being called ('' when it is the outermost module)."""
        stack = _call_stack()
        if not stack or stack[0] is self:
            return ""
        for name, m in stack[0].named_modules():
            if m is self:
                return name
        return ""

    def _error(self, msg: str, cls: type = ValueError, sep: str = " ") -> Exception:
        """An exception whose message starts with this layer's type and qualified name."""
        name = self.qualified_name()
        where = type(self).__name__ + (f" {name!r}" if name else "")
        e = cls(f"{where}{sep}{msg}")
        e._striate_layer = True
        return e

    def _check_tensor(self, x) -> None:
        """Raise a named TypeError unless ``x`` is a Tensor or an ndarray."""
        if not isinstance(x, (Tensor, xp.ndarray)):
            raise self._error(f"expects a Tensor, got {type(x).__name__}", TypeError)

    # ---- registration ----
    def register_parameter(self, name: str, param: Parameter | None) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameters before Module.__init__() call")
        _check_name("parameter", name, self)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign {type(param).__name__} as parameter {name!r} "
                "(striate.nn.Parameter or None expected)"
            )
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor, persistent: bool = True) -> None:
        """Register a non-trainable Tensor (saved in ``state_dict`` when ``persistent``)."""
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        _check_name("buffer", name, self)
        if tensor is not None and not isinstance(tensor, Tensor):
            tensor = Tensor(xp.asarray(tensor))
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: "Module | None") -> None:
        if "_modules" not in self.__dict__:
            raise AttributeError("cannot assign module before Module.__init__() call")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {type(module).__name__} is not a Module")
        _check_name("module", name, self)
        self._modules[name] = module

    register_module = add_module

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        params, buffers, modules = d.get("_parameters"), d.get("_buffers"), d.get("_modules")
        if isinstance(value, Parameter):
            for reg in (buffers, modules):
                if reg is not None:
                    reg.pop(name, None)
            d.pop(name, None)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as parameter {name!r} "
                    "(striate.nn.Parameter or None expected)"
                )
            params[name] = None
        elif isinstance(value, Module):
            if modules is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            params.pop(name, None)
            buffers.pop(name, None)
            d.pop(name, None)
            modules[name] = value
        elif modules is not None and name in modules:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as child module {name!r}")
            modules[name] = None
        elif buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                value = Tensor(xp.asarray(value))
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str):
        d = self.__dict__
        for reg in ("_parameters", "_buffers", "_modules"):
            if reg in d and name in d[reg]:
                return d[reg][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        for reg in (self._parameters, self._buffers, self._modules):
            if name in reg:
                del reg[name]
                self._non_persistent.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        keys = list(super().__dir__()) + list(self._parameters) + list(self._buffers)
        return sorted(set(keys + list(self._modules)))

    # ---- traversal ----
    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, "Module"]]:
        """Yield ``(qualified_name, module)`` for this module and every descendant, pre-order."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is not None:
                sub = f"{prefix}.{name}" if prefix else name
                yield from m.named_modules(memo, sub, remove_duplicate)

    def modules(self) -> Iterator["Module"]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self) -> Iterator["Module"]:
        for _, m in self.named_children():
            yield m

    def _named_members(self, registry: str, prefix: str, recurse: bool, remove_duplicate: bool):
        seen = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) \
            if recurse else [(prefix, self)]
        for mod_prefix, m in mods:
            for name, v in getattr(m, registry).items():
                if v is None or (remove_duplicate and id(v) in seen):
                    continue
                seen.add(id(v))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), v

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """Yield ``(qualified_name, Parameter)`` in registration order; a shared one once."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target: str) -> "Module":
        """The descendant at dotted path ``target`` ('' is this module)."""
        m = self
        for part in target.split(".") if target else []:
            child = m._modules.get(part)
            if child is None:
                raise AttributeError(
                    f"{type(m).__name__} has no submodule {part!r} (in {target!r})")
            m = child
        return m

    # ---- modes and bulk updates ----
    def train(self, mode: bool = True) -> "Module":
        """Set training mode on this module and every descendant (BatchNorm, Dropout care)."""
        if not isinstance(mode, bool):
            raise TypeError(f"train: mode must be a bool, got {type(mode).__name__}")
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        """Set ``requires_grad`` on every parameter (False freezes them, for transfer learning)."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's ``.grad`` (set to None; zeros when ``set_to_none=False``)."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad = Tensor(xp.zeros_like(p.data))

    def apply(self, fn: Callable[["Module"], None]) -> "Module":
        """Call ``fn`` on every descendant (children first) and then on this module."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def to(self, dtype) -> "Module":
        """Cast floating-point parameters and buffers to ``dtype`` in place (same objects)."""
        dtype = xp.dtype(dtype)
        for t in list(self.parameters()) + list(self.buffers()):
            if t.data.dtype.kind == "f":
                t.data = t.data.astype(dtype)
                t.grad = None
        return self

    def double(self) -> "Module":
        return self.to(xp.float64)

    def float(self) -> "Module":
        return self.to(xp.float32)

    # ---- repr ----
    def extra_repr(self) -> str:
        """The layer's own settings, shown inside the parentheses of its ``repr``."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        children = [f"({name}): " + repr(m).replace("\n", "\n  ")
                    for name, m in self._modules.items()]
        if not children and len(lines) <= 1:
            return f"{type(self).__name__}({extra})"
        body = "\n  ".join(lines + children)
        return f"{type(self).__name__}(\n  {body}\n)"
