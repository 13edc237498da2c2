"""The model registry: every constructor in ``striate.models`` registers itself by name.

A family file decorates each public builder with :func:`register`; ``striate.models.get(name)``
and the command line (``striate train NAME``, ``striate summary NAME``) look builders up here.
The decorator also stamps each built model with ``model.config = {"name": ..., "kwargs": {...}}``
so a checkpoint can rebuild the same architecture with ``get(config["name"], **config["kwargs"])``.
"""
from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

__all__ = ["builder", "get", "list_models", "register"]

_BUILDERS: dict[str, Callable[..., Any]] = {}


def register(
    fn: Callable | None = None, *, name: str | None = None, input_shape: tuple = (3, 224, 224)
):
    """Register a model builder under its function name (or ``name``).

    The returned builder is the original one, wrapped so that the model it returns carries
    ``config = {"name": name, "kwargs": every argument, defaults filled in}``.

    Args:
        fn: the builder; lets ``@register`` be used without parentheses.
        name (str, optional): the registry key; defaults to ``fn.__name__``.
        input_shape (tuple, default (3, 224, 224)): the native (C, H, W) input, stamped on
            the model as ``model.input_shape`` (C follows an ``in_channels`` argument) unless the
            builder set one itself (e.g. for a variant with another input size).

    >>> @register
    ... def tiny_net(num_classes: int = 10): ...
    """
    def decorate(builder: Callable) -> Callable:
        key = name or builder.__name__
        if key in _BUILDERS:
            raise ValueError(f"register: a model named {key!r} is already registered")
        sig = inspect.signature(builder)

        @functools.wraps(builder)
        def build(*args, **kwargs):
            try:
                bound = sig.bind(*args, **kwargs)
            except TypeError as e:
                raise TypeError(f"{key}: {e}") from None
            bound.apply_defaults()
            model = builder(*args, **kwargs)
            model.config = {"name": key, "kwargs": _flatten_arguments(sig, bound.arguments)}
            if getattr(model, "input_shape", None) is None:
                c = model.config["kwargs"].get("in_channels", input_shape[0])
                model.input_shape = (c, *input_shape[1:])
            return model

        _BUILDERS[key] = build
        return build

    return decorate(fn) if fn is not None else decorate


def _flatten_arguments(sig: inspect.Signature, arguments: dict) -> dict:
    """Bound arguments as one flat keyword dict (a ``**kwargs`` parameter is merged in)."""
    out = {}
    for pname, value in arguments.items():
        if sig.parameters[pname].kind is inspect.Parameter.VAR_KEYWORD:
            out.update(value)
        else:
            out[pname] = value
    return out


def list_models() -> list[str]:
    """Names of every registered model, sorted.

    >>> "resnet18" in striate.models.list_models()
    True
    """
    return sorted(_BUILDERS)


def builder(name: str) -> Callable[..., Any]:
    """The registered builder ``name`` (its signature shows the arguments it takes)."""
    if name not in _BUILDERS:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(list_models())}")
    return _BUILDERS[name]


def get(name: str, **kwargs) -> Any:
    """Build the registered model ``name`` with the builder's keyword arguments.

    Args:
        name (str): a name from :func:`list_models`.
        **kwargs: passed to the builder (``num_classes``, ``in_channels``, ``variant``, ...).

    Raises:
        ValueError: the name is not registered; the message lists the known names.

    >>> model = striate.models.get("resnet20", num_classes=10)
    """
    if not isinstance(name, str):
        raise TypeError(f"models.get: name must be a str, got {type(name).__name__}")
    try:
        builder = _BUILDERS[name]
    except KeyError:
        raise ValueError(
            f"models.get: unknown model {name!r}; known models: {', '.join(list_models())}"
        ) from None
    return builder(**kwargs)
