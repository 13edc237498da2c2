"""CIFAR-10 from the published binary version (``cifar-10-binary.tar.gz``); nothing is unpickled."""

from __future__ import annotations

import io
import posixpath
import tarfile
import zlib
from pathlib import Path
from collections.abc import Callable, Sequence

from ...backend import xp
from ..dataset import ArrayDataset
from ._download import Resource, fetch, find_file, search_dirs

__all__ = ["CIFAR10", "parse_cifar_batch", "read_cifar_archive"]

RECORD = 1 + 3 * 32 * 32  # one label byte, then the red, green and blue 32x32 planes
MAX_MEMBER_BYTES = 1 << 28  # the largest real member is 30.7 MB; a bigger claim is not read
FOLDER = "cifar-10-batches-bin"


def parse_cifar_batch(data: bytes, name: str = "CIFAR-10 batch", num_classes: int = 10):
    """Split a CIFAR-10 binary batch into images and labels.

    Args:
        data (bytes): contents of e.g. ``data_batch_1.bin``: records of 1 label + 3072 pixel bytes.
        name (str): what to call the data in errors.
        num_classes (int, default 10): labels must be below this.

    Returns:
        (images uint8 ``(N, 3, 32, 32)``, labels int64 ``(N,)``).

    >>> x, y = parse_cifar_batch(bytes([3]) + bytes(3072))
    >>> x.shape, y.tolist()
    ((1, 3, 32, 32), [3])
    """
    if len(data) == 0 or len(data) % RECORD:
        raise ValueError(
            f"{name}: {len(data)} bytes is not a whole number of {RECORD}-byte CIFAR-10 records "
            f"(1 label byte + 3x32x32 pixels); the file is truncated or not a CIFAR-10 batch"
        )
    records = xp.frombuffer(data, dtype=xp.uint8).reshape(-1, RECORD)
    labels = records[:, 0].astype(xp.int64)
    if labels.max() >= num_classes:
        bad = int(xp.flatnonzero(labels >= num_classes)[0])
        raise ValueError(
            f"{name}: record {bad} has label {labels[bad]}, "
            f"but CIFAR-10 labels are 0..{num_classes - 1}"
        )
    return records[:, 1:].reshape(-1, 3, 32, 32).copy(), labels


def read_cifar_archive(source, members: Sequence[str], name: str | None = None) -> dict[str, bytes]:
    """The regular-file ``members`` (matched by base name) of a tar.gz, read without extracting.

    Args:
        source (path or bytes): the archive or its contents.
        members (sequence of str): base names wanted, e.g. ``["test_batch.bin"]``.
        name (str, default None): what to call the archive in errors.

    Raises:
        ValueError: naming the archive, when it is not a readable tar.gz or lacks a member.
    """
    name = name or ("CIFAR-10 archive" if isinstance(source, (bytes, bytearray)) else str(source))
    wanted, found = set(members), {}
    try:
        fileobj = (
            io.BytesIO(bytes(source))
            if isinstance(source, (bytes, bytearray))
            else open(source, "rb")
        )
        with fileobj, tarfile.open(fileobj=fileobj, mode="r:gz") as tar:
            for member in tar:
                base = posixpath.basename(member.name)
                if base not in wanted or base in found or not member.isfile():
                    continue
                if member.size > MAX_MEMBER_BYTES:
                    raise ValueError(
                        f"{name}: member {member.name} claims {member.size} bytes, more than any "
                        f"CIFAR-10 batch; the archive is corrupt"
                    )
                data = tar.extractfile(member).read()
                if len(data) != member.size:
                    raise ValueError(
                        f"{name}: member {member.name} is truncated "
                        f"({len(data)} of {member.size} bytes)"
                    )
                found[base] = data
                if len(found) == len(wanted):
                    break
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise ValueError(
            f"{name}: not a readable tar.gz archive ({type(e).__name__}: {e})"
        ) from None
    missing = [m for m in members if m not in found]
    if missing:
        raise ValueError(
            f"{name}: archive has no member {', '.join(missing)} (is it cifar-10-binary.tar.gz?)"
        )
    return found


class CIFAR10(ArrayDataset):
    """CIFAR-10 (Krizhevsky, 2009): 50,000 training and 10,000 test 32x32 colour images, 10 classes.

    Reads the binary version, ``cifar-10-binary.tar.gz`` (records of a label byte and 3072 pixel
    bytes; never the pickled Python version). Looked for in ``<root>/cifar10/`` and ``<root>/``: the
    archive (SHA-256-checked), else its extracted ``cifar-10-batches-bin/`` folder or the ``.bin``
    files themselves; else downloaded into ``<root>/cifar10/``. ``root`` defaults as in
    :class:`MNIST`.

    Args:
        root (path, default None): data folder.
        train (bool, default True): the five training batches, else the test batch.
        download (bool, default True): download the archive if nothing is found.
        transform (callable, default None): applied to images (one or a batch).
        mirrors (list of str, default None): base URLs to download from (default :attr:`mirrors`).

    Attributes:
        images: uint8 ``(N, 3, 32, 32)``. labels: int64 ``(N,)``. classes: the class names.

    >>> CIFAR10.classes[:3]
    ['airplane', 'automobile', 'bird']

    Reference: https://www.cs.toronto.edu/~kriz/cifar.html
    """

    name, folder = "CIFAR10", "cifar10"
    mirrors: Sequence[str] = ("https://www.cs.toronto.edu/~kriz/",)
    classes = [
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    ]
    # size, SHA-256 and MD5 as published for the Toronto archive (MD5 on the CIFAR page);
    # not checked against a download here
    archive = Resource(
        "cifar-10-binary.tar.gz",
        "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
        170052171,
        "c32a1d4ab5d03f1284b67883e8d87530",
    )
    files = {True: tuple(f"data_batch_{i}.bin" for i in range(1, 6)), False: ("test_batch.bin",)}

    def __init__(
        self,
        root=None,
        train: bool = True,
        download: bool = True,
        transform: Callable | None = None,
        mirrors: Sequence[str] | None = None,
    ):
        self.train = bool(train)
        members = self.files[self.train]
        extracted = self._extracted(root, members)
        if (
            extracted is not None
            and find_file(self.archive.filename, search_dirs(root, self.folder)) is None
        ):
            blobs = {m: self._read(extracted / m) for m in members}
            self.path = extracted
        else:
            self.path = fetch(
                self.archive,
                dataset=self.name,
                folder=self.folder,
                root=root,
                mirrors=self.mirrors if mirrors is None else mirrors,
                download_missing=download,
            )
            blobs = read_cifar_archive(self.path, members)
        parts = [parse_cifar_batch(blobs[m], f"{self.path}:{m}") for m in members]
        images = xp.concatenate([p[0] for p in parts])
        labels = xp.concatenate([p[1] for p in parts])
        super().__init__(images, labels, transform)

    @staticmethod
    def _read(path: Path) -> bytes:
        if path.stat().st_size > MAX_MEMBER_BYTES:
            raise ValueError(f"{path}: {path.stat().st_size} bytes is more than any CIFAR-10 batch")
        return path.read_bytes()

    @classmethod
    def _extracted(cls, root, members) -> Path | None:
        for d in search_dirs(root, cls.folder):
            for sub in (d / FOLDER, d):
                if all((sub / m).is_file() for m in members):
                    return sub
        return None

    @classmethod
    def available(cls, root=None) -> bool:
        """Whether the archive or all six extracted batches are on disk (no download, no hash)."""
        return (
            find_file(cls.archive.filename, search_dirs(root, cls.folder)) is not None
            or cls._extracted(root, cls.files[True] + cls.files[False]) is not None
        )

    def __repr__(self) -> str:
        return f"CIFAR10({'train' if self.train else 'test'}, n={len(self)})"
