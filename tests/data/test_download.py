"""Downloads from a local HTTP server on 127.0.0.1: checksum, atomic write, errors, cache reuse."""

import shutil

import numpy as np
import pytest

from striate.data.datasets import MNIST, ChecksumError, DatasetNotFoundError, Resource
from striate.data.datasets._download import download, fetch


def leftovers(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_download_real_mnist_test_split_from_local_mirror(http_server, mnist_dir, tmp_path, capsys):
    url, www, _ = http_server
    for name in MNIST.files[False]:
        shutil.copy(mnist_dir / name, www / name)
    cache = tmp_path / "cache"
    test = MNIST(root=cache, train=False, mirrors=[url])
    assert test.labels[:5].tolist() == [7, 2, 1, 0, 4] and len(test) == 10000
    assert leftovers(cache) == [
        "mnist/t10k-images-idx3-ubyte.gz",
        "mnist/t10k-labels-idx1-ubyte.gz",
    ]
    assert (cache / "mnist" / "t10k-labels-idx1-ubyte.gz").read_bytes() == (
        mnist_dir / "t10k-labels-idx1-ubyte.gz"
    ).read_bytes()
    assert "downloading" in capsys.readouterr().err


def test_cache_is_reused_offline(http_server, mnist_dir, tmp_path, dead_url, no_network):
    cache = tmp_path / "cache" / "mnist"
    cache.mkdir(parents=True)
    for name in MNIST.files[False]:
        shutil.copy(mnist_dir / name, cache / name)
    assert len(MNIST(root=tmp_path / "cache", train=False, mirrors=[dead_url])) == 10000


def test_checksum_mismatch_raises_and_leaves_no_file(http_server, tmp_path, files):
    url, www, _ = http_server
    (www / "t10k-images-idx3-ubyte.gz").write_bytes(
        files.idx_bytes(np.zeros((3, 28, 28), np.uint8))
    )
    cache = tmp_path / "cache"
    with pytest.raises(
        ChecksumError,
        match=r"t10k-images-idx3-ubyte.gz: the server offers \d+ bytes, expected 1648877",
    ):
        MNIST(root=cache, train=False, mirrors=[url])
    assert leftovers(cache) == []


def test_same_size_wrong_bytes_is_a_sha256_mismatch(http_server, tmp_path):
    url, www, _ = http_server
    (www / "f.bin").write_bytes(b"x" * 10)
    res = Resource("f.bin", "0" * 64, 10)
    with pytest.raises(
        ChecksumError,
        match=r"download has SHA-256 [0-9a-f]{64}, expected 10 bytes with SHA-256 0{64}",
    ):
        download(res, [url], tmp_path / "cache", "Test")
    assert leftovers(tmp_path / "cache") == []


def test_successful_download_is_verified_and_complete(http_server, tmp_path, files):
    url, www, _ = http_server
    (www / "f.bin").write_bytes(bytes(range(256)) * 1000)
    res = files.resource_for(www / "f.bin")
    path = fetch(res, dataset="Test", folder="test", root=tmp_path / "cache", mirrors=[url])
    assert path == tmp_path / "cache" / "test" / "f.bin"
    assert path.read_bytes() == (www / "f.bin").read_bytes()
    assert leftovers(tmp_path / "cache") == ["test/f.bin"]


def test_interrupted_transfer_leaves_no_partial_file(http_server, tmp_path, files):
    url, www, truncate = http_server
    (www / "f.bin").write_bytes(bytes(range(256)) * 1000)
    truncate.add("f.bin")
    res = files.resource_for(www / "f.bin")
    with pytest.raises(
        DatasetNotFoundError,
        match="f.bin .* could not be downloaded .*stopped after 128000 of 256000",
    ):
        fetch(res, dataset="Test", folder="test", root=tmp_path / "cache", mirrors=[url])
    assert leftovers(tmp_path / "cache") == []


def test_next_mirror_used_when_first_is_unreachable(http_server, dead_url, tmp_path, files):
    url, www, _ = http_server
    (www / "f.bin").write_bytes(b"hello")
    res = files.resource_for(www / "f.bin")
    path = fetch(res, dataset="Test", folder="t", root=tmp_path, mirrors=[dead_url, url])
    assert path.read_bytes() == b"hello"


def test_unreachable_server_gives_missing_file_error(dead_url, tmp_path):
    with pytest.raises(DatasetNotFoundError) as e:
        MNIST(root=tmp_path, train=False, mirrors=[dead_url])
    msg = str(e.value)
    assert "\n" not in msg and isinstance(e.value, FileNotFoundError)
    for part in (
        "MNIST file t10k-images-idx3-ubyte.gz",
        str(tmp_path / "mnist"),
        "could not be downloaded",
        dead_url + "t10k-images-idx3-ubyte.gz",
        "put it in",
    ):
        assert part in msg
    assert leftovers(tmp_path) == []


def test_http_404_gives_missing_file_error(http_server, tmp_path):
    url, _, _ = http_server
    with pytest.raises(DatasetNotFoundError, match="HTTP 404"):
        MNIST(root=tmp_path, train=False, mirrors=[url])
