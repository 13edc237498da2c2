"""The array module every kernel uses.

Kernels call ``xp`` (NumPy today) instead of importing numpy, so that a CuPy backend can be
plugged in later without touching them (the DeZero ``cuda.py`` pattern).
"""
from __future__ import annotations

import numpy

xp = numpy
#: dtype of tensors built from Python floats and of freshly initialised parameters.
default_dtype = numpy.float32

_rng = numpy.random.default_rng()


def get_array_module(*arrays):
    """Return the array module for ``arrays`` (always NumPy until a GPU backend exists)."""
    return xp


def manual_seed(seed: int) -> None:
    """Seed every random thing in striate (initialisation, dropout, stochastic pooling, shuffling)."""
    global _rng
    if not isinstance(seed, (int, numpy.integer)) or isinstance(seed, bool):
        raise TypeError(f"manual_seed expects an int, got {type(seed).__name__}")
    _rng = numpy.random.default_rng(int(seed))


def rng() -> numpy.random.Generator:
    """The global generator that :func:`manual_seed` resets."""
    return _rng


def get_rng_state() -> dict:
    """The global generator's state as a JSON-safe dict (for crash-proof checkpoints)."""
    return _rng.bit_generator.state


def set_rng_state(state: dict) -> None:
    """Restore a state returned by :func:`get_rng_state`."""
    _rng.bit_generator.state = state
