"""Safe checkpoints against hostile and broken files: crafted headers, truncation, random and
corrupted bytes, huge size claims, pickles and torch.save zips, deep nesting. Each raises
CheckpointError naming the path and the problem, allocates nothing absurd and runs no code."""
import io
import json
import os
import pickle
import struct
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from striate import serialization
from striate.serialization import FORMAT, CheckpointError, load, load_metadata, save


def _craft(header: dict, data: bytes = b"", length: int | None = None) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw) if length is None else length) + raw + data


def _raw(text: bytes) -> bytes:
    return struct.pack("<Q", len(text)) + text


def _write(tmp_path, content: bytes, name="bad.safetensors"):
    path = tmp_path / name
    path.write_bytes(content)
    return path


def _entry(dtype="F32", shape=(2,), offsets=(0, 8)):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


BAD_FILES = {
    "empty": (b"", "the file is empty"),
    "short": (b"\x01\x02\x03", "only 3 bytes"),
    "garbage_text": (b"hello, this is not a checkpoint at all", "not a striate/safetensors file"),
    "huge_header_claim": (struct.pack("<Q", 2**62) + b"{}", "over the 100 MB limit"),
    "header_past_eof": (
        struct.pack("<Q", 1000) + b'{"a": 1}',
        "truncated: the header says it is 1000",
    ),
    "not_json": (_raw(b"{]"), "not valid JSON"),
    "not_utf8": (_raw(b"{\xff\xfe}"), "not UTF-8"),
    "header_is_list": (_raw(b"[]"), "does not start with '{'"),
    "nan_constant": (_raw(b'{"x": NaN}'), "NaN"),
    "duplicate_key": (_raw(b'{"a": {}, "a": {}}'), "repeats a key"),
    "metadata_not_str": (_craft({"__metadata__": {"a": 1}}), "__metadata__ must map strings"),
    "entry_not_dict": (_craft({"w": [1, 2]}), "expected exactly the fields"),
    "bad_dtype": (_craft({"w": _entry(dtype="OBJ")}, b"\0" * 8), "unsupported dtype 'OBJ'"),
    "bf16_unsupported": (
        _craft({"w": _entry(dtype="BF16", offsets=(0, 4))}, b"\0" * 4),
        "unsupported dtype 'BF16'",
    ),
    "negative_shape": (_craft({"w": _entry(shape=(-2,))}, b"\0" * 8), "non-negative ints"),
    "float_shape": (_craft({"w": _entry(shape=(2.0,))}, b"\0" * 8), "non-negative ints"),
    "bool_offsets": (
        _craft({"w": {"dtype": "U8", "shape": [1], "data_offsets": [False, True]}}, b"\0"),
        "data_offsets must be",
    ),
    "reversed_offsets": (_craft({"w": _entry(offsets=(8, 0))}, b"\0" * 8), "data_offsets must be"),
    "empty_but_unallocatable": (  # 0 bytes of data, but NumPy refuses the shape
        _craft({"w": _entry(shape=(0, 2**40, 2**40), offsets=(0, 0))}),
        r"shape \[0, 1099511627776, 1099511627776\] of F32 is too large for an array",
    ),
    "size_mismatch": (
        _craft({"w": _entry(shape=(3,))}, b"\0" * 8),
        "needs 12 bytes but data_offsets span 8",
    ),
    "overlap": (_craft({"a": _entry(), "b": _entry(offsets=(4, 12))}, b"\0" * 12), "overlaps"),
    "gap": (_craft({"a": _entry(offsets=(4, 12))}, b"\0" * 12), "leaves a gap at byte 0"),
    "truncated_data": (
        _craft({"w": _entry(shape=(4,), offsets=(0, 16))}, b"\0" * 10),
        "truncated: the header says 16 bytes of array data but the file has 10",
    ),
    "trailing_bytes": (_craft({"w": _entry()}, b"\0" * 12), "4 unexpected bytes after"),
    "bool_not_0_1": (
        _craft({"w": _entry(dtype="BOOL", offsets=(0, 2))}, b"\x01\x02"),
        "bytes other than 0 and 1",
    ),
    "newer_format": (
        _craft({"__metadata__": {"format": "striate.checkpoint/2", "striate.tree": "1"}}),
        "newer striate",
    ),
    "foreign_marker": (
        _craft({"__metadata__": {"format": "pt", "striate.tree": "1"}}),
        "format marker",
    ),
    "dangling_array_ref": (
        _craft({"__metadata__": {"format": FORMAT, "striate.tree": '{"w": {"$array": "nope"}}'}}),
        "refers to an array 'nope'",
    ),
    "unknown_node": (
        _craft({"__metadata__": {"format": FORMAT, "striate.tree": '{"$evil": 1}'}}),
        "unknown node",
    ),
    "npy": (
        b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }",
        "looks like a .npy file",
    ),
    "zip": (b"PK\x03\x04" + b"\0" * 40, "looks like a zip archive"),
    "gzip": (b"\x1f\x8b\x08\x00" + b"\0" * 20, "gzip"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_broken_file_raises_checkpoint_error_naming_path_and_problem(tmp_path, case):
    content, reason = BAD_FILES[case]
    path = _write(tmp_path, content, f"{case}.safetensors")
    with pytest.raises(CheckpointError, match=reason) as info:
        load(path)
    assert isinstance(info.value, ValueError)
    assert str(path) in str(info.value) and info.value.path == str(path)


def _small_checkpoint() -> bytes:
    """A valid file with every kind of node, a few hundred bytes long."""
    buf = io.BytesIO()
    header, blobs = serialization._layout(
        {"w": np.arange(4, dtype=np.float32), "b": np.array([True])},
        {
            "format": FORMAT,
            "striate_version": "0",
            "striate.tree": '{"w":{"$array":"w"},"n":[1,"two",{"$tuple":[2.5]}],'
            '"k":{"$dict":[[3,{"$scalar":"b"}]]}}',
            "striate.metadata": "{}",
        },
    )
    serialization._write_payload(buf, header, blobs)
    return buf.getvalue()


def test_small_checkpoint_helper_is_valid(tmp_path):
    got = load(_write(tmp_path, _small_checkpoint()))
    assert got["n"] == [1, "two", (2.5,)] and got["k"] == {3: True}
    np.testing.assert_array_equal(got["w"], np.arange(4))


def test_truncating_a_valid_file_anywhere_raises_checkpoint_error(tmp_path):
    raw = _small_checkpoint()
    cut = tmp_path / "cut"
    for n in range(len(raw)):
        cut.write_bytes(raw[:n])
        with pytest.raises(CheckpointError):
            load(cut)


def test_truncated_checkpoint_message_counts_bytes(tmp_path):
    raw = _small_checkpoint()
    path = _write(tmp_path, raw[:-10])
    n = struct.unpack("<Q", raw[:8])[0]
    data = len(raw) - 8 - n
    with pytest.raises(
        CheckpointError,
        match=f"header says {data} bytes of array data but the file has {data - 10}",
    ):
        load(path)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=256))
def test_random_bytes_raise_checkpoint_error(tmp_path_factory, content):
    path = tmp_path_factory.getbasetemp() / "random_bytes"
    path.write_bytes(content)
    with pytest.raises(CheckpointError):
        load(path)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_corrupting_bytes_of_a_valid_file_loads_or_raises_checkpoint_error(tmp_path_factory, data):
    raw = bytearray(_small_checkpoint())
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    path = tmp_path_factory.getbasetemp() / "flipped"
    path.write_bytes(bytes(raw))
    try:
        load(path)
    except CheckpointError:
        pass


def _peak_bytes_of_refused_load(path, match: str) -> int:
    """Load ``path``, expecting a CheckpointError matching ``match``; the peak bytes it traced."""
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match=match):
            load(path)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    "header, data",
    [
        ({"w": _entry(dtype="F64", shape=(10**6, 10**6), offsets=(0, 8 * 10**12))}, b"\0" * 16),
        ({"w": _entry(dtype="U8", shape=(2**40,), offsets=(0, 2**40))}, b""),
    ],
)
def test_huge_array_claim_is_rejected_without_allocating(tmp_path, header, data):
    path = _write(tmp_path, _craft(header, data))
    peak = _peak_bytes_of_refused_load(path, "truncated")
    assert peak < 2**20, f"load allocated {peak} bytes for a {path.stat().st_size}-byte file"


def test_huge_header_claim_is_rejected_without_reading_it(tmp_path):
    path = _write(tmp_path, struct.pack("<Q", 2**63) + b"{" + b" " * 100)
    assert _peak_bytes_of_refused_load(path, "over the 100 MB limit") < 2**20


class _Payload:
    """Unpickling this creates ``marker``: what a malicious checkpoint would do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickle_file_is_refused_and_its_payload_never_runs(tmp_path, protocol):
    control = tmp_path / "control_marker"
    pickle.loads(pickle.dumps(_Payload(control), protocol=protocol)).close()
    assert control.exists(), "the payload must really create its marker when unpickled"

    marker = tmp_path / "pwned_marker"
    path = _write(tmp_path, pickle.dumps({"model": _Payload(marker)}, protocol=protocol), "evil.pt")
    with pytest.raises(CheckpointError, match="pickle" if protocol >= 2 else "not a striate"):
        load(path)
    with pytest.raises(CheckpointError):
        load_metadata(path)
    assert not marker.exists(), "striate.load ran code from a pickle"


def test_torch_save_file_is_refused_as_zip(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "model.pt"
    torch.save({"w": torch.ones(2)}, path)
    with pytest.raises(CheckpointError, match="zip archive.*never unpickles"):
        load(path)




def test_save_rejects_absurdly_deep_nesting(tmp_path):
    deep = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(ValueError, match="nested too deeply"):
        save(deep, tmp_path / "x")
    assert os.listdir(tmp_path) == []


def test_deeply_nested_header_json_is_a_checkpoint_error(tmp_path):
    path = _write(tmp_path, _raw(b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"))
    with pytest.raises(CheckpointError, match="header is nested too deeply"):
        load(path)
