"""The array module every kernel uses, and the process's allocator settings.

Kernels call ``xp`` (NumPy today) instead of importing numpy, so that a CuPy backend can be
plugged in later without touching them (the DeZero ``cuda.py`` pattern).

Allocator. By default glibc's malloc serves every block of 128 KiB or more (a float32 batch of
activations is megabytes) with its own ``mmap`` and hands it back to the kernel on ``free``, so
each training step maps fresh pages for every activation and gradient and page-faults on first
touch. At import, on glibc Linux, striate therefore calls ``mallopt`` to serve blocks up to
256 MiB from the heap (``M_MMAP_THRESHOLD``) and to keep up to 1 GiB of freed heap top
(``M_TRIM_THRESHOLD``), so the next step reuses the same, already mapped, pages. Measured on the
project's 2-core EPYC (one thread, CPU-time medians of alternating processes): a LeNet-5
training step 31.5 -> 26 ms, a ResNet-20 step 1.03 -> 0.86 s, with the same peak resident memory
(ResNet-20, batch 128: 200 vs 198 MiB above the baseline); the resident memory between steps
stays near that peak instead of dropping. The setting is process-wide (it also applies to other
libraries in the process, PyTorch included). Set the environment variable
``STRIATE_NO_MALLOPT=1`` before importing striate to leave malloc as it is; elsewhere (macOS,
Windows, musl) nothing is changed.
"""
from __future__ import annotations

import ctypes
import os
import sys

import numpy

xp = numpy
#: dtype of tensors built from Python floats and of freshly initialised parameters.
default_dtype = numpy.float32

_rng = numpy.random.default_rng()

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # from glibc's <malloc.h>
#: Whether the glibc allocator settings of the module docstring were applied.
malloc_tuned = False


def _tune_malloc() -> bool:
    """Apply the allocator settings of the module docstring; False where they do not apply."""
    if os.environ.get("STRIATE_NO_MALLOPT", "") not in ("", "0") or not sys.platform.startswith(
        "linux"
    ):
        return False
    try:
        libc = ctypes.CDLL(None)
        if not hasattr(libc, "gnu_get_libc_version"):  # musl has no mallopt options to set
            return False
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, 256 << 20)
                    and libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30))
    except (OSError, AttributeError):
        return False


malloc_tuned = _tune_malloc()


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
