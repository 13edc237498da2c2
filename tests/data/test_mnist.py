"""MNIST from the real files, the cache folders, the embedded sample and datasets.load."""

import hashlib
import shutil

import numpy as np
import pytest

from striate.data import DataLoader, datasets
from striate.data.datasets import MNIST, ChecksumError, DatasetNotFoundError, FashionMNIST
from striate.data.datasets.mnist import SAMPLE_DIR, _stratified_first, read_idx


def test_real_mnist_train_and_test_from_folder_holding_the_files(mnist_dir, no_network):
    train = MNIST(root=mnist_dir, download=False)
    test = MNIST(root=mnist_dir, train=False, download=False)
    assert train.images.shape == (60000, 1, 28, 28) and train.images.dtype == np.uint8
    assert test.images.shape == (10000, 1, 28, 28) and test.labels.dtype == np.int64
    assert train.labels[:5].tolist() == [5, 0, 4, 1, 9]
    assert test.labels[:5].tolist() == [7, 2, 1, 0, 4]
    np.testing.assert_array_equal(
        np.bincount(test.labels), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    )
    assert train.images.max() == 255 and train.classes[3] == "3"


def test_mnist_found_in_striate_data_subfolder(mnist_dir, tmp_path, monkeypatch, no_network):
    (tmp_path / "mnist").mkdir()
    for name in MNIST.files[False]:
        (tmp_path / "mnist" / name).symlink_to(mnist_dir / name)
    monkeypatch.setenv("STRIATE_DATA", str(tmp_path))
    assert MNIST(train=False).labels[:3].tolist() == [7, 2, 1]
    assert datasets.data_root() == tmp_path


def test_missing_file_without_download_says_which_where_and_what_to_do(tmp_path):
    with pytest.raises(DatasetNotFoundError) as e:
        MNIST(root=tmp_path, train=False, download=False)
    msg = str(e.value)
    assert isinstance(e.value, FileNotFoundError) and "\n" not in msg
    for part in (
        "t10k-images-idx3-ubyte.gz",
        str(tmp_path / "mnist"),
        "put it in",
        "https://ossci-datasets.s3.amazonaws.com/mnist/t10k-images-idx3-ubyte.gz",
    ):
        assert part in msg


def test_corrupt_local_file_fails_checksum_naming_the_path(mnist_dir, tmp_path):
    for name in MNIST.files[False]:
        shutil.copy(mnist_dir / name, tmp_path / name)
    data = bytearray((tmp_path / "t10k-labels-idx1-ubyte.gz").read_bytes())
    data[100] ^= 0xFF
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(data)
    with pytest.raises(
        ChecksumError, match=r"t10k-labels-idx1-ubyte.gz: SHA-256 [0-9a-f]{64} does not match"
    ):
        MNIST(root=tmp_path, train=False, download=False)


def test_sample_loads_without_network(no_network):
    train, test = MNIST(sample=True), MNIST(train=False, sample=True)
    assert train.images.shape == (6000, 1, 28, 28) and test.images.shape == (1000, 1, 28, 28)
    np.testing.assert_array_equal(np.bincount(train.labels), [600] * 10)
    np.testing.assert_array_equal(np.bincount(test.labels), [100] * 10)
    assert test.labels[:5].tolist() == [7, 2, 1, 0, 4] and train.labels[:5].tolist() == [
        5,
        0,
        4,
        1,
        9,
    ]


def test_sample_is_the_documented_subset_of_real_mnist(mnist_dir):
    for train, per_class in ((True, 600), (False, 100)):
        full = MNIST(root=mnist_dir, train=train, download=False)
        keep = _stratified_first(full.labels, per_class)
        sample = MNIST(train=train, sample=True)
        np.testing.assert_array_equal(sample.labels, full.labels[keep])
        np.testing.assert_array_equal(sample.images, full.images[keep])


def test_sample_files_match_sha256sums_and_size_budget():
    lines = (SAMPLE_DIR / "SHA256SUMS").read_text().split("\n")
    sums = dict(reversed(line.split("  ")) for line in lines if line)
    assert len(sums) == 4
    for name, digest in sums.items():
        assert hashlib.sha256((SAMPLE_DIR / name).read_bytes()).hexdigest() == digest, name
    assert sum((SAMPLE_DIR / n).stat().st_size for n in sums) < 2_000_000
    assert "CC BY-SA 3.0" in (SAMPLE_DIR / "README.md").read_text()


def test_load_maps_names_to_datasets(mnist_dir, no_network):
    assert len(datasets.load("sample", train=False)) == 1000
    ds = datasets.load("MNIST", root=mnist_dir, train=False, download=False)
    assert isinstance(ds, MNIST) and len(ds) == 10000
    with pytest.raises(
        ValueError,
        match="unknown dataset 'imagenet'; known datasets: mnist, fashion-mnist, cifar10",
    ):
        datasets.load("imagenet")


def test_available_checks_disk_only(mnist_dir, tmp_path, no_network):
    assert datasets.available("mnist", mnist_dir)
    assert not datasets.available("mnist", tmp_path)
    assert not datasets.available("fashion-mnist", tmp_path)
    assert not datasets.available("cifar10", tmp_path)
    assert datasets.available("sample")


def test_fashion_mnist_has_no_sample_and_its_own_folder(tmp_path):
    with pytest.raises(ValueError, match="FashionMNIST: there is no embedded sample"):
        FashionMNIST(sample=True)
    with pytest.raises(DatasetNotFoundError, match="fashion-mnist"):
        FashionMNIST(root=tmp_path, download=False)


def test_sample_through_dataloader_gives_float_batches():
    x, _ = next(
        iter(DataLoader(MNIST(train=False, sample=True), batch_size=32, shuffle=True, seed=0))
    )
    assert (
        x.shape == (32, 1, 28, 28)
        and x.dtype == np.float32
        and 0 <= x.numpy().min() <= x.numpy().max() <= 1
    )


def test_read_idx_matches_labels_of_real_file(mnist_dir):
    labels = read_idx(mnist_dir / "t10k-labels-idx1-ubyte.gz", magic=0x00000801)
    assert labels.shape == (10000,) and labels.dtype == np.uint8 and labels[-1] == 6
