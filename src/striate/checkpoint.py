"""Rebuild zoo models by name or from a checkpoint's metadata (used by the CLI, viz and export).

A checkpoint written by ``striate train`` stores ``metadata = {"model": name, "model_kwargs":
{...}, "input_shape": [C, H, W], "mean": [...], "std": [...], "classes": [...], ...}`` next to
the weights, so a model can be rebuilt from the file alone, without flags.
"""
from __future__ import annotations

import inspect
import os

from . import models, serialization

__all__ = ["UserError", "build_model", "load_model"]


class UserError(Exception):
    """A failure caused by the user's input: the CLI reports it in one line with exit code 1."""


def build_model(name: str, in_channels: int | None = None, num_classes: int | None = None, **kwargs):
    """``models.get`` with ``in_channels``/``num_classes`` passed only where the builder takes them."""
    if name not in models.list_models():
        raise UserError(f"unknown model {name!r}; known models: {', '.join(models.list_models())}")
    # pass each only where the builder has the parameter (highway_net has no in_channels, say),
    # without hiding a TypeError raised inside a builder
    accepted = inspect.signature(models.registry.builder(name)).parameters
    extra = {k: v for k, v in (("in_channels", in_channels), ("num_classes", num_classes))
             if v is not None and k in accepted}
    return models.get(name, **extra, **kwargs)


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
