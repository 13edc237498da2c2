"""Rebuild zoo models by name or from a checkpoint's metadata (used by the CLI, viz and export).

A checkpoint written by ``striate train`` stores ``metadata = {"model": name, "model_kwargs":
{...}, "input_shape": [C, H, W], "mean": [...], "std": [...], "classes": [...], ...}`` next to
the weights, so a model can be rebuilt from the file alone, without flags.
"""
from __future__ import annotations

import inspect
import os

from . import models, serialization

__all__ = ["UserError", "build_model", "load_model", "model_kwargs"]


class UserError(Exception):
    """A failure caused by the user's input: the CLI reports it in one line with exit code 1."""


def model_kwargs(name: str, in_channels: int | None = None, num_classes: int | None = None,
                 input_size=None) -> dict:
    """The data-dependent arguments that the builder ``name`` takes, of those given.

    ``input_size`` (an int or (H, W)) goes to builders with an ``input_size`` parameter: as
    the pair where the parameter's default is one (DeepID), else as one side for a square
    image (LeNet-5, the highway net). Unknown names raise :class:`UserError`.
    """
    if name not in models.list_models():
        raise UserError(f"unknown model {name!r}; known models: {', '.join(models.list_models())}")
    # pass each only where the builder has the parameter (highway_net has no in_channels, say),
    # without hiding a TypeError raised inside a builder
    accepted = inspect.signature(models.registry.builder(name)).parameters
    if input_size is not None and "input_size" in accepted:
        input_size = (input_size,) * 2 if isinstance(input_size, int) else tuple(input_size)
        pair = isinstance(accepted["input_size"].default, tuple) or input_size[0] != input_size[1]
        input_size = [int(n) for n in input_size] if pair else int(input_size[0])
    return {k: v for k, v in (("in_channels", in_channels), ("num_classes", num_classes),
                              ("input_size", input_size)) if v is not None and k in accepted}


def build_model(name: str, in_channels: int | None = None, num_classes: int | None = None,
                input_size=None, **kwargs):
    """``models.get`` with ``in_channels``, ``num_classes`` and ``input_size`` passed only where
    the builder takes them (:func:`model_kwargs`)."""
    return models.get(name, **model_kwargs(name, in_channels, num_classes, input_size), **kwargs)


def load_model(path: str):
    """The model a checkpoint was trained with, in eval mode, and the checkpoint's metadata.

    Raises:
        UserError: the file is missing, not a striate checkpoint, or has no model metadata.
    """
    if not os.path.exists(path):
        raise UserError(f"no such checkpoint: {path}")
    try:
        state = serialization.load(path)
    except (ValueError, OSError) as e:
        raise UserError(str(e)) from None
    meta = state.get("metadata") if isinstance(state, dict) else None
    if not meta or "model" not in meta or "model" not in state:
        raise UserError(f"{path}: the checkpoint has no model metadata (was it written by striate train?)")
    model = build_model(meta["model"], **meta.get("model_kwargs", {}))
    try:
        model.load_state_dict(state["model"])
    except ValueError as e:
        raise UserError(f"{path}: {e}") from None
    model.eval()
    return model, meta
