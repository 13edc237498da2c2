"""Safe checkpoints: round trips, safetensors compatibility, what save refuses and atomic writes
(hostile and broken files: test_serialization_hostile.py)."""

import json
import os
import signal
import struct
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import striate
from striate import serialization
from striate.optim import Adam
from striate.optim.lr_scheduler import OneCycleLR
from striate.serialization import FORMAT, load, load_metadata, save


def _state(rng):
    return {
        "model": {
            "conv.weight": rng.standard_normal((4, 3, 2, 2)).astype(np.float32),
            "conv.bias": striate.Tensor(rng.standard_normal(4)),  # a Tensor comes back as its array
            "bn.num_batches_tracked": np.array(17, dtype=np.int64),
            "empty": np.zeros((0, 5), dtype=np.float32),
        },
        "arrays": [
            np.arange(6, dtype=np.int64).reshape(2, 3),
            np.array([0, 255, 7], dtype=np.uint8),
            np.array([[True, False]]),
            np.float64(np.pi),
            np.int8(-3),
            np.array(2.5, dtype=np.float16),
        ],
        "optimizer": {
            "state": {0: {"step": 3, "exp_avg": rng.standard_normal(3)}},
            "param_groups": [{"lr": 0.1, "betas": [0.9, 0.999], "params": [0]}],
        },
        "epoch": 7,
        "big": 2**70,
        "lr": 1.0,
        "loss": float("nan"),
        "best": float("-inf"),
        "done": False,
        "note": None,
        "name": "lenet5 — ünïcode",
        "pair": (1, "a", 2.0),
        "nested": {"a": {"b": {"c": [1, [2, {"d": "e"}]]}}, "$odd": 1, "": {}},
        "empty_list": [],
        "empty_dict": {},
    }


def _expected(x):
    """What load should return for x: Tensors become arrays, everything else stays as it was."""
    if isinstance(x, striate.Tensor):
        return x.data
    if isinstance(x, dict):
        return {k: _expected(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_expected(v) for v in x)
    return x


def _assert_same(got, want, where="state"):
    assert type(got) is type(want), f"{where}: {type(got).__name__} != {type(want).__name__}"
    if isinstance(want, dict):
        assert list(got) == list(want), f"{where}: keys {list(got)} != {list(want)}"
        for k in want:
            _assert_same(got[k], want[k], f"{where}[{k!r}]")
    elif isinstance(want, (list, tuple)):
        assert len(got) == len(want), f"{where}: length"
        for i, (g, w) in enumerate(zip(got, want)):
            _assert_same(g, w, f"{where}[{i}]")
    elif isinstance(want, (np.ndarray, np.generic)):
        assert got.dtype == want.dtype and got.shape == want.shape, f"{where}: dtype/shape"
        assert got.tobytes() == want.tobytes(), f"{where}: bytes differ"
    elif isinstance(want, float) and np.isnan(want):
        assert np.isnan(got), where
    else:
        assert got == want, f"{where}: {got!r} != {want!r}"


@pytest.fixture
def saved(tmp_path, rng):
    state = _state(rng)
    path = tmp_path / "ckpt.safetensors"
    save(state, path, metadata={"model": "lenet5", "kwargs": {"num_classes": 10, "dropout": 0.5}})
    return state, path


# ---- round trips ----
def test_round_trip_of_nested_state_is_bit_identical_and_keeps_types(saved):
    state, path = saved
    _assert_same(load(path), _expected(state))


def test_loaded_arrays_are_fresh_and_writable(saved):
    _, path = saved
    w = load(path)["model"]["conv.weight"]
    assert w.flags.writeable and w.flags.c_contiguous and w.flags.owndata
    w[...] = 0  # must not raise


def test_non_contiguous_and_big_endian_arrays_round_trip_by_value(tmp_path):
    a = np.arange(12.0).reshape(3, 4).T
    b = np.arange(5, dtype=">i4")
    save({"a": a, "b": b}, tmp_path / "x")
    out = load(tmp_path / "x")
    np.testing.assert_array_equal(out["a"], a)
    np.testing.assert_array_equal(out["b"], b)
    assert out["b"].dtype == np.dtype("<i4")


def test_top_level_array_and_list_round_trip(tmp_path):
    save(np.eye(2), tmp_path / "a")
    np.testing.assert_array_equal(load(tmp_path / "a"), np.eye(2))
    save([1, "x", np.ones(1)], tmp_path / "b")
    got = load(tmp_path / "b")
    assert got[:2] == [1, "x"] and got[2].tolist() == [1.0]


def test_metadata_is_returned_with_the_striate_version(saved):
    _, path = saved
    assert load_metadata(path) == {
        "striate_version": striate.__version__,
        "model": "lenet5",
        "kwargs": {"num_classes": 10, "dropout": 0.5},
    }


def test_metadata_defaults_to_just_the_version(tmp_path):
    save({"x": 1}, tmp_path / "m")
    assert load_metadata(tmp_path / "m") == {"striate_version": striate.__version__}


def test_file_layout_is_aligned_safetensors(saved):
    _, path = saved
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    assert n % 8 == 0, "the header is padded so the data starts 8-byte aligned"
    header = json.loads(raw[8 : 8 + n])
    assert header["__metadata__"]["format"] == FORMAT
    for name, info in header.items():
        if name != "__metadata__":
            itemsize = np.dtype(serialization._DTYPES[info["dtype"]]).itemsize
            assert info["data_offsets"][0] % itemsize == 0, name


def test_safetensors_package_reads_our_arrays_under_dotted_names(saved):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    state, path = saved
    got = safetensors_numpy.load_file(str(path))
    np.testing.assert_array_equal(got["model.conv.weight"], state["model"]["conv.weight"])
    np.testing.assert_array_equal(got["model.conv.bias"], state["model"]["conv.bias"].data)
    np.testing.assert_array_equal(
        got["optimizer.state.0.exp_avg"], state["optimizer"]["state"][0]["exp_avg"]
    )
    np.testing.assert_array_equal(got["arrays.1"], [0, 255, 7])
    assert got["model.empty"].shape == (0, 5)
    assert got["arrays.3"].shape == () and got["arrays.3"] == np.pi
    assert len(got) == 11  # 4 in model, 6 in arrays, 1 in optimizer


def test_we_load_a_plain_safetensors_file_as_a_flat_dict(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    arrays = {"fc.weight": np.ones((2, 3), np.float32), "fc.bias": np.arange(2, dtype=np.int64)}
    safetensors_numpy.save_file(arrays, str(tmp_path / "p.safetensors"), metadata={"k": "v"})
    got = load(tmp_path / "p.safetensors")
    assert sorted(got) == ["fc.bias", "fc.weight"]
    for k in arrays:
        np.testing.assert_array_equal(got[k], arrays[k])
    assert load_metadata(tmp_path / "p.safetensors") == {"k": "v"}


def test_optimizer_and_scheduler_state_through_a_file_continue_identically(tmp_path):
    rng = np.random.default_rng(1)
    grads = [rng.standard_normal(4) for _ in range(8)]

    def run(p, opt, sched, gs):
        for g in gs:
            p.grad = striate.Tensor(g)
            opt.step()
            sched.step()
        return p.data.copy()

    def make():
        p = striate.Tensor(np.ones(4), requires_grad=True)
        opt = Adam([p], lr=0.1, amsgrad=True)
        return p, opt, OneCycleLR(opt, max_lr=0.1, total_steps=10)

    ref = run(*make(), grads)
    p, opt, sched = make()
    run(p, opt, sched, grads[:3])
    save({"p": p.data, "opt": opt.state_dict(), "sched": sched.state_dict()}, tmp_path / "c")
    state = load(tmp_path / "c")
    p2, opt2, sched2 = make()
    p2.data[...] = state["p"]
    opt2.load_state_dict(state["opt"])
    sched2.load_state_dict(state["sched"])
    np.testing.assert_array_equal(run(p2, opt2, sched2, grads[3:]), ref)


# ---- what save refuses ----
@pytest.mark.parametrize(
    "state, exc, match",
    [
        ({"f": object()}, TypeError, r"cannot store a object at state\['f'\]"),
        ({"s": {1, 2}}, TypeError, "set"),
        ({"c": np.ones(2, np.complex64)}, TypeError, "complex64"),
        ({"u": np.array(["a"])}, TypeError, "<U1"),
        ({"o": np.array([None])}, TypeError, "object"),
        ({(1, 2): 3}, TypeError, "dict keys must be str or int"),
        ({True: 3}, TypeError, "dict keys must be str or int"),
    ],
)
def test_save_rejects_what_it_cannot_store_and_writes_nothing(tmp_path, state, exc, match):
    with pytest.raises(exc, match=match):
        save(state, tmp_path / "x")
    assert os.listdir(tmp_path) == []


def test_save_rejects_a_state_that_contains_itself(tmp_path):
    d = {"a": 1}
    d["self"] = d
    with pytest.raises(ValueError, match="contains itself"):
        save(d, tmp_path / "x")


def test_save_rejects_bad_metadata(tmp_path):
    with pytest.raises(TypeError, match="metadata cannot hold arrays"):
        save({}, tmp_path / "x", metadata={"w": np.ones(2)})
    with pytest.raises(TypeError, match="metadata must be a dict"):
        save({}, tmp_path / "x", metadata="lenet5")


def test_missing_file_and_missing_folder_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.safetensors"):
        load(tmp_path / "nope.safetensors")
    with pytest.raises(FileNotFoundError, match="nope.safetensors"):
        load_metadata(tmp_path / "nope.safetensors")
    with pytest.raises(FileNotFoundError, match="missing_dir"):
        save({}, tmp_path / "missing_dir" / "x")
    with pytest.raises(IsADirectoryError, match="directory"):
        load(tmp_path)


# ---- atomic writes ----
@pytest.fixture
def previous(tmp_path):
    """A checkpoint already on disk, and its exact bytes."""
    path = tmp_path / "ckpt.safetensors"
    save({"epoch": 1, "w": np.ones(1000, np.float32)}, path)
    return path, path.read_bytes()


def _crash_after_half(exc):
    def write(f, header, blobs):
        f.write(header)
        f.write(blobs[0].reshape(-1).view(np.uint8)[: blobs[0].nbytes // 2])
        raise exc

    return write


@pytest.mark.parametrize("exc", [OSError("disk full"), KeyboardInterrupt()])
def test_crash_mid_write_keeps_previous_file_and_leaves_no_temp(previous, monkeypatch, exc):
    path, before = previous
    monkeypatch.setattr(serialization, "_write_payload", _crash_after_half(exc))
    with pytest.raises(type(exc)):
        save({"epoch": 2, "w": np.zeros(1000, np.float32)}, path)
    assert path.read_bytes() == before
    assert os.listdir(path.parent) == [path.name]
    assert load(path)["epoch"] == 1


def test_failed_fsync_keeps_previous_file_and_leaves_no_temp(previous, monkeypatch):
    path, before = previous

    def broken_fsync(fd):
        raise OSError("I/O error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="I/O error"):
        save({"epoch": 2}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(path.parent) == [path.name]


def test_crash_on_first_save_leaves_no_file_at_all(tmp_path, monkeypatch):
    monkeypatch.setattr(serialization, "_write_payload", _crash_after_half(OSError("boom")))
    with pytest.raises(OSError):
        save({"w": np.ones(10)}, tmp_path / "new.safetensors")
    assert os.listdir(tmp_path) == []


def test_successful_save_replaces_previous_file(previous):
    path, _ = previous
    save({"epoch": 2}, path)
    assert load(path) == {"epoch": 2}
    assert os.listdir(path.parent) == [path.name]
    if os.name == "posix":
        assert path.stat().st_mode & 0o777 == 0o644


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")
def test_sigkill_during_save_keeps_previous_checkpoint_loadable(previous):
    path, before = previous
    ready = path.parent / "ready"
    script = textwrap.dedent(f"""
        import os, time
        import numpy as np
        from striate import serialization

        def stall(f, header, blobs):
            f.write(header)
            f.write(blobs[0].reshape(-1).view(np.uint8)[:100])
            f.flush()
            os.fsync(f.fileno())
            open({str(ready)!r}, "w").close()
            time.sleep(60)

        serialization._write_payload = stall
        serialization.save({{"epoch": 2, "w": np.zeros(1000, np.float32)}}, {str(path)!r})
    """)
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert ready.exists(), f"the child never reached the write (exit code {proc.poll()})"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert path.read_bytes() == before
    assert load(path)["epoch"] == 1
    leftovers = [n for n in os.listdir(path.parent) if n not in (path.name, "ready")]
    # a killed process cannot clean up: its partial temp file stays, under a name no one loads
    assert all(n.startswith(f".{path.name}.") and n.endswith(".tmp") for n in leftovers), leftovers
