"""Safe checkpoints: ``save`` / ``load`` in the safetensors format, written with NumPy alone.

A file is ``[8-byte little-endian header length][UTF-8 JSON header][raw little-endian
array bytes]``, the safetensors layout, so the ``safetensors`` package (and any tool that
reads it) sees every array under a readable name. The nested structure around the arrays
(dicts, lists, numbers, strings) and the user's metadata travel as JSON strings in the
header's ``__metadata__``. Loading parses JSON and copies bytes into fresh arrays: nothing is
ever unpickled, so a file cannot run code. Every header field is checked against the file
size before anything is allocated, and every write goes to a temporary file that replaces the
target only when complete.
"""

from __future__ import annotations

import json
import math
import os
import struct
import sys
import tempfile
from importlib import metadata as _importlib_metadata

from .backend import xp
from .tensor import Tensor

__all__ = ["save", "load", "load_metadata", "CheckpointError", "FORMAT"]

#: Written to every file; a reader refuses a newer major version.
FORMAT = "striate.checkpoint/1"
MAX_HEADER_BYTES = 100 * 2**20
_DTYPES = {  # safetensors dtype code <-> little-endian NumPy dtype; nothing else is accepted
    "BOOL": "|b1",
    "U8": "|u1",
    "I8": "|i1",
    "U16": "<u2",
    "I16": "<i2",
    "F16": "<f2",
    "U32": "<u4",
    "I32": "<i4",
    "F32": "<f4",
    "U64": "<u8",
    "I64": "<i8",
    "F64": "<f8",
}
_CODES = {xp.dtype(v): k for k, v in _DTYPES.items()}
_MAX_NDIM = 64


class CheckpointError(ValueError):
    """A file that is not a valid striate/safetensors checkpoint; ``path`` names it."""

    def __init__(self, path, reason: str) -> None:
        self.path, self.reason = os.fspath(path), reason
        super().__init__(f"cannot load '{self.path}': {reason}")


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


def _layout(arrays: dict, header_meta: dict):
    """The header bytes (padded to 8) and the arrays in file order, as contiguous little-endian."""
    order = sorted(arrays, key=lambda n: -arrays[n].dtype.itemsize)  # keeps each array aligned
    header, blobs, offset = {"__metadata__": header_meta}, [], 0
    for name in order:
        arr = arrays[name]
        arr = arr.astype(arr.dtype.newbyteorder("<"), order="C", copy=False)
        header[name] = {
            "dtype": _CODES[arr.dtype],
            "shape": list(arr.shape),
            "data_offsets": [offset, offset + arr.nbytes],
        }
        offset += arr.nbytes
        blobs.append(arr)
    raw = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw, blobs


def _write_payload(f, header: bytes, blobs: list) -> None:
    f.write(header)
    for arr in blobs:
        if arr.size:
            f.write(arr.reshape(-1).view(xp.uint8))


def _atomic_write(path: str, write) -> None:
    """Run ``write(file)`` on a temporary file beside ``path``, fsync, rename it over ``path``."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"save: the folder '{folder}' for '{path}' does not exist")
    if os.path.isdir(path):
        raise IsADirectoryError(f"save: '{path}' is a directory")
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would make checkpoints private by surprise
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_folder(folder)


def _fsync_folder(folder: str) -> None:
    """Make the rename itself durable (POSIX); Windows cannot open folders and skips it."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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


def _open(path: str):
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise FileNotFoundError(f"load: no such file: '{path}'") from None
    except IsADirectoryError:
        raise IsADirectoryError(f"load: '{path}' is a directory, not a checkpoint file") from None


_MAGIC = [  # what a file that is not ours probably is, for the error message
    (
        b"\x80",
        "looks like a pickle file (torch.save / pickle.dump); striate never unpickles, "
        "so convert it with its own library to arrays and striate.save them",
    ),
    (
        b"PK\x03\x04",
        "looks like a zip archive (torch.save writes these, holding a pickle); "
        "striate never unpickles",
    ),
    (b"\x93NUMPY", "looks like a .npy file; read it with numpy.load(path, allow_pickle=False)"),
    (b"\x1f\x8b", "looks like a gzip-compressed file"),
]


def _not_ours(path: str, head: bytes, reason: str):
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise CheckpointError(path, what)
    raise CheckpointError(path, f"not a striate/safetensors file ({reason})")


def _read_header(f, path: str):
    """Parse and check the header: (metadata, [(name, dtype, shape, begin, end)], data start)."""
    size = os.fstat(f.fileno()).st_size
    if size == 0:
        raise CheckpointError(path, "the file is empty (0 bytes)")
    head = f.read(9)
    if size < 8:
        _not_ours(path, head, f"only {size} bytes, fewer than the 8-byte header length")
    n = struct.unpack("<Q", head[:8])[0]
    if n > MAX_HEADER_BYTES:
        _not_ours(
            path,
            head,
            f"the header length field says {n} bytes, over the "
            f"{MAX_HEADER_BYTES // 2**20} MB limit",
        )
    if n > size - 8:
        if head[8:9] == b"{":
            raise CheckpointError(
                path,
                f"truncated: the header says it is {n} bytes "
                f"but only {size - 8} bytes follow the length field",
            )
        _not_ours(path, head, f"the header length field says {n} bytes but the file has {size}")
    if head[8:9] != b"{":
        _not_ours(path, head, "the header does not start with '{'")
    f.seek(8)
    header = _parse_json(f.read(n), path, "the header")
    if not isinstance(header, dict):
        raise CheckpointError(path, "the header is not a JSON object")
    meta = header.pop("__metadata__", {})
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise CheckpointError(path, "__metadata__ must map strings to strings")
    entries = [_check_entry(path, name, info) for name, info in header.items()]
    end = 0
    for name, _, _, b, e in sorted(entries, key=lambda t: (t[3], t[4])):
        if b != end:
            where = "overlaps the previous one" if b < end else f"leaves a gap at byte {end}"
            raise CheckpointError(path, f"the byte range of array {name!r} {where}")
        end = e
    data = size - 8 - n
    if end > data:
        raise CheckpointError(
            path, f"truncated: the header says {end} bytes of array data but the file has {data}"
        )
    if end < data:
        raise CheckpointError(path, f"{data - end} unexpected bytes after the array data")
    return meta, entries, 8 + n


def _parse_json(raw, path: str, what: str):
    def reject_duplicates(pairs):
        keys = [k for k, _ in pairs]
        if len(set(keys)) != len(keys):
            raise CheckpointError(path, f"{what} repeats a key")
        return dict(pairs)

    def reject_constant(name):
        raise CheckpointError(path, f"{what} holds the non-JSON constant {name}")

    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        return json.loads(text, object_pairs_hook=reject_duplicates, parse_constant=reject_constant)
    except UnicodeDecodeError:
        raise CheckpointError(path, f"{what} is not UTF-8 text") from None
    except RecursionError:
        raise CheckpointError(path, f"{what} is nested too deeply") from None
    except ValueError as e:
        if isinstance(e, CheckpointError):
            raise
        raise CheckpointError(path, f"{what} is not valid JSON ({e})") from None


def _is_count(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _check_entry(path: str, name: str, info):
    def bad(reason):
        raise CheckpointError(path, f"array {name!r}: {reason}")

    if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
        bad("expected exactly the fields dtype, shape and data_offsets")
    code, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if not isinstance(code, str) or code not in _DTYPES:
        bad(f"unsupported dtype {code!r} (allowed: {', '.join(_DTYPES)})")
    if not (isinstance(shape, list) and len(shape) <= _MAX_NDIM and all(map(_is_count, shape))):
        bad(f"shape must be a list of at most {_MAX_NDIM} non-negative ints, got {shape!r}"[:300])
    if not (
        isinstance(offsets, list)
        and len(offsets) == 2
        and all(map(_is_count, offsets))
        and offsets[0] <= offsets[1]
    ):
        bad(f"data_offsets must be [begin, end] with 0 <= begin <= end, got {offsets!r}"[:300])
    nbytes = math.prod(shape) * xp.dtype(_DTYPES[code]).itemsize
    if offsets[1] - offsets[0] != nbytes:
        bad(
            f"shape {shape} of {code} needs {nbytes} bytes but data_offsets span "
            f"{offsets[1] - offsets[0]}"
        )
    return name, code, tuple(shape), offsets[0], offsets[1]


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


def _read_array(f, path: str, start: int, name: str, code: str, shape: tuple, b: int, e: int):
    arr = xp.empty(shape, dtype=_DTYPES[code])
    if arr.nbytes:
        f.seek(start + b)
        view, got = memoryview(arr.reshape(-1).view(xp.uint8)), 0
        while got < arr.nbytes:
            n = f.readinto(view[got:])
            if not n:
                raise CheckpointError(
                    path, f"truncated while reading array {name!r} (the file shrank)"
                )
            got += n
        if code == "BOOL" and arr.view(xp.uint8).max() > 1:
            raise CheckpointError(path, f"array {name!r}: bool data holds bytes other than 0 and 1")
    return arr
