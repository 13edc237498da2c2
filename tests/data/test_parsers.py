"""IDX and CIFAR-10 binary parsers: corrupt files give clear ValueErrors; hypothesis fuzzing."""

import gzip
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from striate.data.datasets import CIFAR10, MNIST, parse_cifar_batch, read_cifar_archive, read_idx


# ---- IDX ----
@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_round_trip(files, compress):
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    np.testing.assert_array_equal(read_idx(files.idx_bytes(a, compress=compress)), a)


def test_read_idx_big_endian_int32():
    raw = struct.pack(">4B1I", 0, 0, 0x0C, 1, 2) + struct.pack(">2i", -5, 70000)
    got = read_idx(raw)
    assert got.tolist() == [-5, 70000] and got.dtype.isnative


def test_wrong_magic_number_named(files):
    with pytest.raises(
        ValueError, match=r"labels.gz: wrong magic number 0x00000803, expected 0x00000801"
    ):
        read_idx(files.idx_bytes(np.zeros((2, 2, 2))), name="labels.gz", magic=0x00000801)
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(b"PK\x03\x04" + bytes(20), name="x.zip")


@pytest.mark.parametrize("compress", [False, True])
def test_truncated_file(files, compress):
    data = files.idx_bytes(np.zeros((5, 4, 4)), compress=False)[:-7]
    with pytest.raises(
        ValueError, match=r"f: header declares shape \(5, 4, 4\) \(80 bytes of data\).*truncated"
    ):
        read_idx(gzip.compress(data) if compress else data, name="f")


def test_empty_shape_with_huge_other_dimensions_is_refused_by_name():
    # found by the fuzz test below: 0 bytes of data, but NumPy cannot make the shape
    raw = b"\x00\x00\x0c\x03\x00\x00\x00\x00Z\x82b\x0cZ\x82\x91("
    with pytest.raises(ValueError, match=r"f: header declares shape \(0, 1518494220, "
                                         r"1518506280\), whose non-zero dimensions alone exceed"):
        read_idx(raw, name="f")
    assert read_idx(struct.pack(">4B3I", 0, 0, 8, 3, 0, 28, 28)).shape == (0, 28, 28)


def test_truncated_inside_header():
    with pytest.raises(ValueError, match="truncated IDX file"):
        read_idx(b"\0\0\x08\x03\0\0\0\x05", name="f")
    with pytest.raises(ValueError, match="truncated IDX file"):
        read_idx(b"\0\0", name="f")


def test_extra_bytes_rejected(files):
    with pytest.raises(ValueError, match="extra bytes"):
        read_idx(files.idx_bytes(np.zeros((2, 2)), compress=False) + b"\0", name="f")
    with pytest.raises(ValueError, match="extra bytes"):
        read_idx(
            gzip.compress(files.idx_bytes(np.zeros((2, 2)), compress=False) + b"\0\0"), name="f"
        )


@pytest.mark.parametrize("compress", [False, True])
def test_huge_claimed_dims_rejected_before_allocating(files, compress):
    data = files.idx_bytes(np.zeros(16), dims=(2**31, 2**31, 28), compress=compress)
    with pytest.raises(ValueError, match=r"header declares shape \(2147483648, 2147483648, 28\)"):
        read_idx(data, name="f")


def test_corrupt_gzip_named(files, tmp_path, rng):
    path = tmp_path / "bad.gz"
    data = files.idx_bytes(rng.integers(0, 256, (20, 28, 28)))
    path.write_bytes(data[: len(data) // 2])  # the deflate stream stops in the middle
    with pytest.raises(ValueError, match=f"{path}: corrupt gzip data"):
        read_idx(path)


def _fake_mnist(tmp_path, files, n_images, n_labels, max_label=9):
    """MNIST test files in tmp_path, with a subclass whose digests accept them."""
    rng = np.random.default_rng(0)
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(
        files.idx_bytes(rng.integers(0, 256, (n_images, 28, 28)))
    )
    labels = np.minimum(np.arange(n_labels), max_label)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(files.idx_bytes(labels))
    resources = {n: files.resource_for(tmp_path / n) for n in MNIST.files[False]}
    return type("FakeMNIST", (MNIST,), {"resources": resources})


def test_mnist_image_label_count_mismatch(tmp_path, files):
    Fake = _fake_mnist(tmp_path, files, 5, 4)
    with pytest.raises(
        ValueError,
        match=r"t10k-images-idx3-ubyte.gz has 5 images but .*t10k-labels-idx1-ubyte.gz "
        r"has 4 labels",
    ):
        Fake(root=tmp_path, train=False, download=False)


def test_mnist_label_out_of_range(tmp_path, files):
    Fake = _fake_mnist(tmp_path, files, 12, 12, max_label=11)
    with pytest.raises(ValueError, match="holds label 11, but there are only 10 classes"):
        Fake(root=tmp_path, train=False, download=False)
    assert (
        len(_fake_mnist(tmp_path, files, 12, 12)(root=tmp_path, train=False, download=False)) == 12
    )


def test_mnist_wrong_magic_names_file(tmp_path, files):
    _fake_mnist(tmp_path, files, 3, 3)
    # swap images and labels: each file now has the other's magic number
    a, b = (tmp_path / n for n in MNIST.files[False])
    da, db = a.read_bytes(), b.read_bytes()
    a.write_bytes(db), b.write_bytes(da)
    Fake = type(
        "FakeMNIST", (MNIST,), {"resources": {p.name: files.resource_for(p) for p in (a, b)}}
    )
    with pytest.raises(
        ValueError, match=r"t10k-images-idx3-ubyte.gz: wrong magic number 0x00000801"
    ):
        Fake(root=tmp_path, train=False, download=False)


# ---- CIFAR-10 ----
def _cifar_members(files, rng):
    members = {
        f"cifar-10-batches-bin/data_batch_{i}.bin": files.cifar_records([i, i + 1], rng)
        for i in range(1, 6)
    }
    members["cifar-10-batches-bin/test_batch.bin"] = files.cifar_records([9, 0, 3], rng)
    members["cifar-10-batches-bin/batches.meta.txt"] = b"airplane\nautomobile\n"
    return members


def test_parse_cifar_batch_layout(files, rng):
    data = files.cifar_records([4, 7], rng)
    images, labels = parse_cifar_batch(data)
    rec = np.frombuffer(data, np.uint8).reshape(2, 3073)
    assert labels.tolist() == [4, 7] and images.shape == (2, 3, 32, 32) and images.dtype == np.uint8
    assert images[1, 2, 5, 9] == rec[1, 1 + 2 * 1024 + 5 * 32 + 9]  # blue plane, row 5, column 9


def test_cifar10_from_synthetic_archive(tmp_path, files, rng, no_network):
    members = _cifar_members(files, rng)
    (tmp_path / "cifar10").mkdir()
    (tmp_path / "cifar10" / "cifar-10-binary.tar.gz").write_bytes(files.tar_gz(members))
    Fake = type(
        "FakeCIFAR",
        (CIFAR10,),
        {"archive": files.resource_for(tmp_path / "cifar10" / "cifar-10-binary.tar.gz")},
    )
    train, test = Fake(root=tmp_path), Fake(root=tmp_path, train=False)
    assert train.images.shape == (10, 3, 32, 32) and train.labels.tolist() == [
        1,
        2,
        2,
        3,
        3,
        4,
        4,
        5,
        5,
        6,
    ]
    assert test.labels.tolist() == [9, 0, 3] and test.classes[9] == "truck"
    np.testing.assert_array_equal(
        test.images, parse_cifar_batch(members["cifar-10-batches-bin/test_batch.bin"])[0]
    )


def test_cifar10_from_extracted_folder(tmp_path, files, rng, no_network):
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    for name, data in _cifar_members(files, rng).items():
        (tmp_path / name).write_bytes(data)
    assert CIFAR10(root=tmp_path, train=False).labels.tolist() == [9, 0, 3]
    assert CIFAR10.available(tmp_path)


def test_cifar10_corrupt_batches(files, rng):
    good = files.cifar_records([1, 2], rng)
    with pytest.raises(ValueError, match="b.bin: 6145 bytes is not a whole number of 3073-byte"):
        parse_cifar_batch(good[:-1], "b.bin")
    with pytest.raises(ValueError, match="record 1 has label 10"):
        parse_cifar_batch(files.cifar_records([1, 10], rng))
    with pytest.raises(ValueError, match="archive has no member test_batch.bin"):
        read_cifar_archive(
            files.tar_gz({"x/data_batch_1.bin": good}), ["test_batch.bin"], "a.tar.gz"
        )
    with pytest.raises(ValueError, match="a.tar.gz: not a readable tar.gz archive"):
        read_cifar_archive(b"not a tar", ["test_batch.bin"], "a.tar.gz")


def test_cifar10_missing_archive_error(tmp_path):
    with pytest.raises(
        FileNotFoundError, match=r"CIFAR10 file cifar-10-binary.tar.gz not found in .*put it in"
    ):
        CIFAR10(root=tmp_path, download=False)


# ---- fuzzing: random bytes give a result or a ValueError, never another exception or a hang ----
def _idx_or_value_error(data):
    try:
        out = read_idx(data, name="fuzz")
    except ValueError as e:
        assert "fuzz" in str(e)
    else:
        assert isinstance(out, np.ndarray)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_read_idx_random_bytes(data):
    _idx_or_value_error(data)
    _idx_or_value_error(gzip.compress(data, mtime=0))


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x07]),
    st.lists(st.integers(0, 2**32 - 1), max_size=4),
    st.binary(max_size=200),
    st.booleans(),
)
def test_fuzz_read_idx_plausible_headers(code, dims, payload, compress):
    data = struct.pack(f">4B{len(dims)}I", 0, 0, code, len(dims), *dims) + payload
    _idx_or_value_error(gzip.compress(data, mtime=0) if compress else data)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=7000))
def test_fuzz_cifar_batch_random_bytes(data):
    try:
        images, labels = parse_cifar_batch(data, "fuzz")
    except ValueError as e:
        assert "fuzz" in str(e)
    else:
        assert len(images) == len(labels) == len(data) // 3073


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000), st.integers(0, 2**31), st.booleans())
def test_fuzz_cifar_archive(data, where, compressed_tar):
    if compressed_tar:  # a real tar.gz whose tar stream has random bytes written over it
        import io
        import tarfile

        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            info = tarfile.TarInfo("cifar-10-batches-bin/test_batch.bin")
            info.size = 3073
            tar.addfile(info, io.BytesIO(bytes(3073)))
        raw = bytearray(buf.getvalue())
        at = where % len(raw)
        raw[at : at + len(data)] = data
        data = gzip.compress(bytes(raw), mtime=0)
    try:
        read_cifar_archive(data, ["test_batch.bin"], "fuzz")
    except ValueError as e:
        assert "fuzz" in str(e)
