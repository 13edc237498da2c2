"""Refuse, before allocating, an array that could never fit in this machine's memory.

A huge padding, stride or output size asks for an output of terabytes. NumPy would answer with
its own MemoryError or "array is too big" (and on a system that overcommits memory, the
allocation may even succeed and the process be killed later), so the ops whose output size comes
from their arguments rather than from their input check it here first. The limit is half the
physical memory: an op holds its input, its output and temporaries at the same time.
"""
from __future__ import annotations

import math
import os

from ..backend import xp


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # not POSIX: NumPy's own limit
        return int(xp.iinfo(xp.intp).max)


#: Bytes of physical memory; no single array may be larger than half of it.
MEMORY_BYTES = _physical_memory()


def check_alloc(op: str, what: str, shape, dtype) -> None:
    """Raise a ValueError naming ``op`` if an array of ``shape`` and ``dtype`` cannot fit."""
    # an empty axis does not excuse absurd others: NumPy refuses those shapes too
    nbytes = math.prod(max(int(n), 1) for n in shape) * xp.dtype(dtype).itemsize
    if 2 * nbytes > MEMORY_BYTES:
        raise ValueError(
            f"{op}: the {what} would have shape {tuple(shape)}, {nbytes / 2**30:.4g} GiB, more "
            f"than half of this machine's {MEMORY_BYTES / 2**30:.4g} GiB of memory; check the "
            "arguments"
        )
