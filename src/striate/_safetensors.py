"""The safetensors container, written and read with NumPy alone (no ``safetensors`` package).

A file is ``[8-byte little-endian header length][UTF-8 JSON header][raw little-endian
array bytes]``. This module holds the container level of :mod:`striate.serialization`: the dtype
allow-list, :class:`CheckpointError`, laying out the header and the array bytes, the atomic
write (temporary file, fsync, rename), and the reader that checks every header field (length,
JSON, dtype, shape, byte ranges, total size) against the file before an array is allocated.
What the arrays mean (the nested structure, the metadata, the format marker) is
:mod:`striate.serialization`'s business.
"""

from __future__ import annotations

import json
import math
import os
import struct
import tempfile

from .backend import xp

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


# ---- writing ----
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
    itemsize = xp.dtype(_DTYPES[code]).itemsize
    nbytes = math.prod(shape) * itemsize
    if math.prod(max(n, 1) for n in shape) * itemsize > xp.iinfo(xp.intp).max:
        # NumPy refuses such a shape even when a 0 makes it empty
        bad(f"shape {shape} of {code} is too large for an array"[:300])
    if offsets[1] - offsets[0] != nbytes:
        bad(
            f"shape {shape} of {code} needs {nbytes} bytes but data_offsets span "
            f"{offsets[1] - offsets[0]}"
        )
    return name, code, tuple(shape), offsets[0], offsets[1]


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
