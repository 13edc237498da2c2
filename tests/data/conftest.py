"""Data test fixtures: IDX/CIFAR file builders, a local HTTP server (never the real network)."""

import functools
import gzip
import hashlib
import http.server
import io
import socket
import struct
import tarfile
import threading
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from striate.data.datasets import Resource

MNIST_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "mnist"


def idx_bytes(array, magic_type=0x08, compress=True, dims=None):
    """An IDX file holding ``array`` (its header may claim other ``dims``), gzipped or not."""
    array = np.asarray(array)
    dims = array.shape if dims is None else dims
    raw = (
        struct.pack(f">4B{len(dims)}I", 0, 0, magic_type, len(dims), *dims)
        + array.astype(">u1").tobytes()
    )
    return gzip.compress(raw, mtime=0) if compress else raw


def resource_for(path: Path) -> Resource:
    data = path.read_bytes()
    return Resource(path.name, hashlib.sha256(data).hexdigest(), len(data))


def cifar_records(labels, rng):
    """CIFAR-10 binary records with the given labels and random pixels."""
    labels = np.asarray(labels, np.uint8)
    pixels = rng.integers(0, 256, (len(labels), 3072), dtype=np.uint8)
    return np.concatenate([labels[:, None], pixels], axis=1).tobytes()


def tar_gz(members: dict) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture
def mnist_dir():
    if not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"real MNIST not found at {MNIST_DIR}")
    return MNIST_DIR.resolve()


class _Handler(http.server.SimpleHTTPRequestHandler):
    truncate: set = set()

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        name = self.path.rsplit("/", 1)[-1]
        if name in self.truncate:  # promise the full length, send half, hang up
            data = (Path(self.directory) / name).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()


@pytest.fixture
def http_server(tmp_path):
    """Serve ``tmp_path / 'www'`` on 127.0.0.1; yields (base_url, folder, names to truncate)."""
    www = tmp_path / "www"
    www.mkdir()
    truncate = set()
    handler = functools.partial(type("H", (_Handler,), {"truncate": truncate}), directory=str(www))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", www, truncate
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def dead_url():
    """A 127.0.0.1 URL on a port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture
def no_network(monkeypatch):
    """Make any urlopen call fail the test."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args[:1]}")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


@pytest.fixture
def files():
    """The file builders above, for tests (fixtures, so no test imports conftest by name)."""
    return type(
        "Files",
        (),
        {
            k: staticmethod(v)
            for k, v in dict(
                idx_bytes=idx_bytes,
                resource_for=resource_for,
                cifar_records=cifar_records,
                tar_gz=tar_gz,
            ).items()
        },
    )
