"""Safe checkpoints: ``save`` / ``load`` in the safetensors format, written with NumPy alone.

A file is ``[8-byte little-endian header length][UTF-8 JSON header][raw little-endian
array bytes]``, the safetensors layout, so the ``safetensors`` package (and any tool that
reads it) sees every array under a readable name. The nested structure around the arrays
(dicts, lists, numbers, strings) and the user's metadata travel as JSON strings in the
header's ``__metadata__``. Loading parses JSON and copies bytes into fresh arrays: nothing is
ever unpickled, so a file cannot run code. Every header field is checked against the file
size before anything is allocated, and every write goes to a temporary file that replaces the
target only when complete.

The container itself (the dtype allow-list, the header layout, atomic writes and the validating
reader) is in :mod:`striate._safetensors`; this module maps the user's structure onto it.
"""

from __future__ import annotations

import json
import math
import os
import sys
from importlib import metadata as _importlib_metadata

from ._safetensors import (  # noqa: F401 - MAX_HEADER_BYTES and _DTYPES are re-exported
    _CODES,
    _DTYPES,
    MAX_HEADER_BYTES,
    CheckpointError,
    _atomic_write,
    _layout,
    _open,
    _parse_json,
    _read_array,
    _read_header,
    _write_payload,
)
from .backend import xp
from .tensor import Tensor

__all__ = ["save", "load", "load_metadata", "CheckpointError", "FORMAT"]

#: Written to every file; a reader refuses a newer major version.
FORMAT = "striate.checkpoint/1"


# ---- encoding the structure ----
def _encode(obj, arrays: dict, names: set, where: list, active: set):
    """JSON for ``obj``; arrays go into ``arrays`` under a readable dotted name."""
    if isinstance(obj, (Tensor, xp.ndarray, xp.generic)):
        arr = obj.data if isinstance(obj, Tensor) else xp.asarray(obj)
        if arr.dtype.newbyteorder("<") not in _CODES:
            raise TypeError(
                f"save: the array at {_where(where)} has dtype {arr.dtype}; supported dtypes are "
                "bool, int8-64, uint8-64, float16, float32 and float64"
            )
        name = ".".join(str(w) for w in where) or "_"
        base, n = name, 1
        while name in names:
            name, n = f"{base}#{n}", n + 1
        names.add(name)
        arrays[name] = arr
        return {"$scalar" if isinstance(obj, xp.generic) else "$array": name}
    # NumPy scalars are handled above: np.float64 is also a Python float
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return float(obj) if math.isfinite(obj) else {"$float": repr(float(obj))}
    if id(obj) in active:
        raise ValueError(f"save: the state contains itself at {_where(where)}")
    if isinstance(obj, (list, tuple, dict)):
        active.add(id(obj))
        try:
            if isinstance(obj, dict):
                plain = all(isinstance(k, str) and not k.startswith("$") for k in obj)
                items = []
                for k, v in obj.items():
                    if not isinstance(k, (str, int)) or isinstance(k, bool):
                        raise TypeError(
                            f"save: dict keys must be str or int, got {type(k).__name__} {k!r} "
                            f"at {_where(where)}"
                        )
                    items.append((k, _encode(v, arrays, names, where + [k], active)))
                return dict(items) if plain else {"$dict": [[k, v] for k, v in items]}
            out = [_encode(v, arrays, names, where + [i], active) for i, v in enumerate(obj)]
            return out if isinstance(obj, list) else {"$tuple": out}
        finally:
            active.discard(id(obj))
    raise TypeError(
        f"save: cannot store a {type(obj).__name__} at {_where(where)}; a checkpoint holds dicts, "
        "lists, tuples, str, int, float, bool, None, ndarrays and Tensors"
    )


def _where(where: list) -> str:
    return "state" + "".join(f"[{w!r}]" for w in where)


def _decode(node, arrays: dict, fail):
    """Inverse of :func:`_encode`; ``fail(reason)`` raises for anything malformed."""
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, list):
        return [_decode(v, arrays, fail) for v in node]
    if not isinstance(node, dict):
        fail(f"unexpected {type(node).__name__} in the structure")
    if len(node) == 1:
        ((key, value),) = node.items()
        if key in ("$array", "$scalar"):
            if not isinstance(value, str) or value not in arrays:
                fail(f"the structure refers to an array {value!r} that the file does not hold")
            return arrays[value][()] if key == "$scalar" else arrays[value]
        if key == "$float":
            if value not in ("nan", "inf", "-inf"):
                fail(f"bad float {value!r}")
            return float(value)
        if key == "$tuple":
            if not isinstance(value, list):
                fail("a tuple node must hold a list")
            return tuple(_decode(v, arrays, fail) for v in value)
        if key == "$dict":
            if not isinstance(value, list) or not all(
                isinstance(kv, list)
                and len(kv) == 2
                and isinstance(kv[0], (str, int))
                and not isinstance(kv[0], bool)
                for kv in value
            ):
                fail("a dict node must hold [key, value] pairs with str or int keys")
            return {k: _decode(v, arrays, fail) for k, v in value}
    if any(k.startswith("$") for k in node):
        fail(f"unknown node {sorted(node)[:3]} in the structure")
    return {k: _decode(v, arrays, fail) for k, v in node.items()}


# ---- writing ----
def save(state, path, metadata: dict | None = None) -> None:
    """Write ``state`` (nested dicts/lists of arrays, numbers, strings) to ``path`` atomically.

    The file is a valid safetensors file: each array is stored raw under its dotted position in
    ``state`` (``"model.conv1.weight"``, ``"optimizer.state.0.exp_avg"``). The write goes to a
    temporary file in the same folder, is flushed and fsynced, then renamed over ``path``, so a
    crash at any moment leaves either the old file or the new one, never a torn one.

    Args:
        state: dicts (str or int keys), lists, tuples, ndarrays, Tensors (stored as arrays),
            NumPy scalars, int, float (inf/nan too), bool, None and str, nested freely.
        path (str or os.PathLike): destination; its folder must exist.
        metadata (dict, optional): JSON-like information stored beside the state (model name,
            constructor arguments, ...); read it back with :func:`load_metadata`. The striate
            version is added as ``"striate_version"``.

    Example:
        >>> striate.save({"model": model.state_dict(), "epoch": 3}, "ckpt.safetensors",
        ...              metadata={"model": "lenet5", "kwargs": {"num_classes": 10}})
        >>> state = striate.load("ckpt.safetensors")

    Reference: the safetensors format, https://github.com/huggingface/safetensors#format
    """
    path = os.fspath(path)
    arrays: dict = {}
    try:
        tree = _encode(state, arrays, set(), [], set())
    except RecursionError:
        raise ValueError("save: the state is nested too deeply") from None
    if metadata is not None and not isinstance(metadata, dict):
        raise TypeError(f"save: metadata must be a dict, got {type(metadata).__name__}")
    meta_arrays: dict = {}
    user_meta = _encode(dict(metadata or {}), meta_arrays, set(), ["metadata"], set())
    if meta_arrays:
        raise TypeError("save: metadata cannot hold arrays; put them in the state")
    header_meta = {
        "format": FORMAT,
        "striate_version": _version(),
        "striate.tree": json.dumps(tree, separators=(",", ":"), allow_nan=False),
        "striate.metadata": json.dumps(user_meta, separators=(",", ":"), allow_nan=False),
    }
    header, blobs = _layout(arrays, header_meta)
    _atomic_write(path, lambda f: _write_payload(f, header, blobs))


def _version() -> str:
    # the parent package is always imported (maybe half-way) before this submodule runs
    version = getattr(sys.modules.get(__package__), "__version__", None)
    if version is None:
        try:
            version = _importlib_metadata.version("striate")
        except _importlib_metadata.PackageNotFoundError:
            version = "unknown"
    return version


# ---- reading ----
def load(path):
    """Read a file written by :func:`save` (or any safetensors file) without running any code.

    Everything in the header is validated against the file before an array is allocated: the
    header length, the JSON, each dtype (from a fixed allow-list), shape and byte range, and the
    total size. A ``.safetensors`` file written by another tool loads as a flat
    ``{name: ndarray}`` dict.

    Args:
        path (str or os.PathLike): the file.

    Returns:
        The saved structure, with ndarrays where arrays or Tensors were saved, tuples and dicts
        with int keys restored. Arrays are fresh, writable and aligned.

    Raises:
        FileNotFoundError: the file does not exist.
        CheckpointError (a ValueError): truncated, corrupted, not a striate/safetensors file,
            a pickle or a zip, or written by a newer striate.

    Example:
        >>> state = striate.load("ckpt.safetensors")
        >>> model.load_state_dict(state["model"])
    """
    path = os.fspath(path)
    with _open(path) as f:
        meta, entries, data_start = _read_header(f, path)
        tree = _tree(meta, path)
        fail = _failer(path)
        if tree is not None:  # check the structure before reading a single byte of data
            dummy = xp.zeros(())
            _guarded_decode(tree, {e[0]: dummy for e in entries}, fail)
        arrays = {
            name: _read_array(f, path, data_start, name, code, shape, b, e)
            for name, code, shape, b, e in entries
        }
    if tree is None:
        return arrays
    return _guarded_decode(tree, arrays, fail)


def load_metadata(path) -> dict:
    """The metadata passed to :func:`save`, plus ``"striate_version"``; reads the header only.

    For a safetensors file written by another tool, its ``__metadata__`` (a str -> str dict).

    Example:
        >>> striate.load_metadata("ckpt.safetensors")
        {'striate_version': '0.1.0', 'model': 'lenet5', 'kwargs': {'num_classes': 10}}
    """
    path = os.fspath(path)
    with _open(path) as f:
        meta, entries, _ = _read_header(f, path)
    if "striate.metadata" not in meta:
        return dict(meta)
    user = _guarded_decode(
        _parse_json(meta["striate.metadata"], path, "the metadata"), {}, _failer(path)
    )
    if not isinstance(user, dict):
        raise CheckpointError(path, "the metadata is not a JSON object")
    return {"striate_version": meta.get("striate_version", "unknown"), **user}


def _failer(path):
    def fail(reason):
        raise CheckpointError(path, reason)

    return fail


def _guarded_decode(tree, arrays, fail):
    try:
        return _decode(tree, arrays, fail)
    except RecursionError:
        fail("the structure is nested too deeply")


def _tree(meta: dict, path: str):
    """The saved structure's JSON, or None for a plain safetensors file."""
    if "striate.tree" not in meta:
        return None
    fmt = meta.get("format", "")
    family, _, major = fmt.partition("/")
    if family != FORMAT.split("/")[0] or not major.isdigit():
        raise CheckpointError(path, f"holds a striate structure but its format marker is {fmt!r}")
    if int(major) > int(FORMAT.split("/")[1]):
        raise CheckpointError(
            path,
            f"written in format {fmt} by a newer striate "
            f"({meta.get('striate_version', '?')}); this one reads {FORMAT}",
        )
    return _parse_json(meta["striate.tree"], path, "the structure")
