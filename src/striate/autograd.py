"""The ``Function`` base class, the graph walk behind ``Tensor.backward``, and grad mode.

A Function works on plain arrays: ``forward(*arrays, **hyper) -> array`` and
``backward(gy) -> tuple`` with one gradient per input (``None`` where ``needs_input_grad`` is
False). The graph bookkeeping (which Tensors went in, which came out) lives in ``tensor.apply``.
"""
from __future__ import annotations

import contextlib
import threading


class Function:
    """One differentiable operation. Subclasses define ``forward`` and ``backward``.

    ``needs_input_grad`` holds one bool per forward input, set before ``forward`` runs, so a
    kernel can skip saving what backward will not use.
    """

    def __init__(self, needs_input_grad: tuple[bool, ...] = ()):
        self.needs_input_grad = needs_input_grad
        self.saved_tensors: tuple = ()
        self.parents: tuple = ()

    def save_for_backward(self, *arrays) -> None:
        self.saved_tensors = arrays

    def forward(self, *arrays, **hyper):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, gy):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} has no backward")

    def release(self) -> None:
        """Drop saved arrays and parents once backward has used them (frees the graph)."""
        self.saved_tensors = ()
        self.parents = ()


# ---- the graph walk of Tensor.backward (duck-typed: this module sits below tensor.py) ----
# Stands in for the Function of a tensor whose graph backward has freed, so that a second
# backward through it fails loudly instead of treating the tensor as a leaf.
FREED = Function()


def graph_owner(t):
    """The tensor that graph node ``t`` stands for, if ``t`` is a node and it is alive."""
    ref = t.__dict__.get("_owner")
    return None if ref is None else ref()


def mark_freed(t) -> None:
    """Mark ``t``, and its node or the tensor it stands for, as backpropagated through."""
    t._ctx = FREED
    other = t.__dict__.get("_node")
    if other is None:
        other = graph_owner(t)
    if other is not None:
        other._ctx = FREED


def topological_order(root) -> list:
    """Tensors reachable from ``root``, each after every tensor that consumes it (iterative DFS)."""
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        t, done = stack.pop()
        if done:
            order.append(t)
            continue
        if id(t) in seen:
            continue
        seen.add(id(t))
        stack.append((t, True))
        if t._ctx is not None:
            for p in t._ctx.parents:
                if p is not None and p.requires_grad and id(p) not in seen:
                    stack.append((p, False))
    return order[::-1]


# Grad mode is per thread, as in PyTorch, so a background data-loader thread cannot flip it.
_state = threading.local()


def is_grad_enabled() -> bool:
    return getattr(_state, "enabled", True)


def set_grad_enabled(mode: bool) -> None:
    _state.enabled = bool(mode)




class no_grad(contextlib.ContextDecorator):
    """Context manager (and decorator) that records no graph: for inference and updates.

    >>> with striate.no_grad():
    ...     y = model(x)
    """

    def __enter__(self):
        self._prev = is_grad_enabled()
        set_grad_enabled(False)
        return self

    def __exit__(self, *exc):
        set_grad_enabled(self._prev)
        return False


class enable_grad(contextlib.ContextDecorator):
    """Context manager that turns graph recording back on inside a ``no_grad`` block."""

    def __enter__(self):
        self._prev = is_grad_enabled()
        set_grad_enabled(True)
        return self

    def __exit__(self, *exc):
        set_grad_enabled(self._prev)
        return False
