"""Looking inside a model without changing it: eval mode, frozen parameters and forward hooks
that are all undone afterwards, and the names of the layers worth drawing."""
from __future__ import annotations

import contextlib
import re

from ..autograd import no_grad
from ..backend import xp
from ..tensor import Tensor

_SPATIAL = re.compile(r"conv|pool|subsampling", re.IGNORECASE)


def spatial_layers(model) -> list[str]:
    """Names of the leaf conv and pooling layers (Conv2d, MaxPool2d, LeNet's Subsampling2d...),
    in registration order."""
    return [name for name, m in model.named_modules()
            if name and not m._modules and _SPATIAL.search(type(m).__name__)]


def resolve(model, names, op: str) -> list[tuple[str, object]]:
    """``[(name, module)]`` for layer names; ValueError naming the unknown one otherwise."""
    if isinstance(names, str):
        names = [names]
    table = dict(model.named_modules())
    out = []
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"{op}: layer names must be str, got {type(name).__name__}")
        if name not in table:
            known = [n for n in table if n]
            hint = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "")
            raise ValueError(f"{op}: model {type(model).__name__} has no layer {name!r}; "
                             f"its layers are: {hint}")
        out.append((name, table[name]))
    return out


@contextlib.contextmanager
def inspecting(model):
    """Eval mode with every parameter's ``requires_grad`` off; both restored on exit.

    Freezing the parameters keeps ``.grad`` of the model untouched when a visualisation
    backpropagates to the input.
    """
    modes = [(m, m.training) for m in model.modules()]
    params = [(p, p.requires_grad, p.grad) for p in model.parameters()]
    model.eval()
    for p, _, _ in params:
        p.requires_grad_(False)
    try:
        yield model
    finally:
        for m, mode in modes:
            m.training = mode
        for p, flag, grad in params:
            p.requires_grad_(flag)
            p.grad = grad


@contextlib.contextmanager
def capturing(modules: list[tuple[str, object]], stop_after: str | None = None):
    """Record each named module's output (the first call) in the yielded dict.

    With ``stop_after``, the forward pass is cut short by :class:`StopForward` right after
    that module runs (callers catch it), so layers after it cost nothing.
    """
    outputs: dict[str, Tensor] = {}
    handles = []

    def hook_for(name):
        def hook(module, inputs, output):
            outputs.setdefault(name, output)
            if name == stop_after:
                raise StopForward
        return hook

    try:
        for name, m in modules:
            handles.append(m.register_forward_hook(hook_for(name)))
        yield outputs
    finally:
        for h in handles:
            h.remove()


class StopForward(BaseException):
    """Ends a forward pass early; a BaseException so no ``except Exception`` swallows it."""


def predict_classes(model, x, batch_size: int = 256):
    """Predicted class per image of (N, C, H, W) ``x``, in eval mode under ``no_grad``.

    (``striate.train.predict`` returns probabilities; it is not used here because ``train``
    imports ``viz.history`` for its curves.)
    """
    out = []
    with inspecting(model), no_grad():
        for i in range(0, len(x), batch_size):
            out.append(model(Tensor(x[i:i + batch_size])).data.argmax(axis=1))
    return xp.concatenate(out) if out else xp.zeros((0,), dtype=xp.int64)
