"""MNIST and Fashion-MNIST from the published IDX files; the IDX reader; the embedded sample."""

from __future__ import annotations

import gzip
import io
import math
import os
import struct
import zlib
from pathlib import Path
from collections.abc import Callable, Sequence

from ...backend import xp
from ..dataset import ArrayDataset
from ._download import Resource, fetch, find_file, search_dirs

__all__ = ["MNIST", "FashionMNIST", "read_idx", "SAMPLE_DIR"]

#: IDX type codes (third byte of the magic number) and their big-endian dtypes.
IDX_TYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
MAX_IDX_BYTES = 1 << 31  # far above any IDX data set; a header claiming more is rejected unread
SAMPLE_DIR = Path(__file__).parent / "_sample"
_CHUNK = 1 << 20


def _read_upto(f, limit: int, name: str) -> bytearray:
    """Up to ``limit`` bytes of ``f``, read in chunks so a false size claim never allocates it."""
    buf = bytearray()
    while len(buf) < limit:
        chunk = f.read(min(_CHUNK, limit - len(buf)))
        if not chunk:
            break
        buf += chunk
    return buf


def _parse_idx(f, name: str, size: int | None, magic: int | None):
    header = bytes(_read_upto(f, 4, name))
    if len(header) < 4:
        raise ValueError(
            f"{name}: truncated IDX file ({len(header)} bytes, "
            "shorter than the 4-byte magic number)"
        )
    found = int.from_bytes(header, "big")
    if magic is not None and found != magic:
        raise ValueError(f"{name}: wrong magic number 0x{found:08X}, expected 0x{magic:08X}")
    if header[:2] != b"\0\0" or header[2] not in IDX_TYPES or header[3] == 0:
        raise ValueError(
            f"{name}: not an IDX file (magic number 0x{found:08X}, expected 0x0000TTDD with a "
            f"known type TT and DD >= 1 dimensions)"
        )
    ndim, dtype = header[3], xp.dtype(IDX_TYPES[header[2]])
    raw_dims = bytes(_read_upto(f, 4 * ndim, name))
    if len(raw_dims) < 4 * ndim:
        raise ValueError(
            f"{name}: truncated IDX file (header declares {ndim} dimensions, file ends inside it)"
        )
    dims = struct.unpack(f">{ndim}I", raw_dims)
    expected = math.prod(dims) * dtype.itemsize
    if size is not None and size - 4 - 4 * ndim != expected:
        have = size - 4 - 4 * ndim
        raise ValueError(
            f"{name}: header declares shape {dims} ({expected} bytes of data) but the file holds "
            f"{have} bytes of data ({'truncated' if have < expected else 'extra bytes'})"
        )
    if expected > MAX_IDX_BYTES:
        raise ValueError(
            f"{name}: header declares shape {dims} ({expected} bytes), more than the "
            f"{MAX_IDX_BYTES}-byte limit; the file is corrupt"
        )
    if math.prod(max(d, 1) for d in dims) * dtype.itemsize > MAX_IDX_BYTES:
        # an empty array whose other dimensions NumPy cannot index: it refuses the shape
        raise ValueError(
            f"{name}: header declares shape {dims}, whose non-zero dimensions alone exceed the "
            f"{MAX_IDX_BYTES}-byte limit; the file is corrupt"
        )
    data = _read_upto(f, expected + 1, name)
    if len(data) != expected:
        raise ValueError(
            f"{name}: header declares shape {dims} ({expected} bytes of data) but the file holds "
            f"{'only ' if len(data) < expected else 'more than '}{min(len(data), expected)} "
            f"bytes ({'truncated' if len(data) < expected else 'extra bytes'})"
        )
    return (
        xp.frombuffer(data, dtype=dtype).reshape(dims).astype(dtype.newbyteorder("="), copy=False)
    )


def read_idx(source, name: str | None = None, magic: int | None = None):
    """Read an IDX file (gzip-compressed or not), checking the header against the data.

    Args:
        source (path or bytes): the file, or its contents.
        name (str, default None): what to call the file in errors (default: the path).
        magic (int, default None): the magic number the file must have, e.g. ``0x00000803``
            for MNIST images.

    Returns:
        ndarray of the declared shape and type.

    Raises:
        ValueError: naming the file, for a wrong magic number, a truncated or oversized file,
            corrupt gzip data or a header that claims more data than the file holds.

    >>> read_idx(bytes([0, 0, 8, 1, 0, 0, 0, 2, 7, 9]))
    array([7, 9], dtype=uint8)
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        name = name or "IDX data"
        raw = io.BytesIO(bytes(source))
        size = len(source)
    else:
        name = name or str(source)
        raw = open(source, "rb")
        size = os.fstat(raw.fileno()).st_size
    with raw:
        gz = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        if not gz:
            return _parse_idx(raw, name, size, magic)
        try:
            with gzip.GzipFile(fileobj=raw) as f:
                return _parse_idx(f, name, None, magic)
        except (OSError, EOFError, zlib.error) as e:
            raise ValueError(f"{name}: corrupt gzip data ({e})") from None


def _stratified_first(labels, per_class: int):
    """Indices of the first ``per_class`` samples of each class, in their original order."""
    keep = xp.zeros(len(labels), dtype=bool)
    for c in xp.unique(labels):
        keep[xp.flatnonzero(labels == c)[:per_class]] = True
    return xp.flatnonzero(keep)


class MNIST(ArrayDataset):
    """MNIST handwritten digits (LeCun, Cortes and Burges): 60,000 training, 10,000 test images.

    Reads the four published IDX gz files. They are looked for in ``<root>/mnist/`` and ``<root>/``
    (so ``root`` may point straight at a folder holding them), where ``root`` defaults to
    ``$STRIATE_DATA``, else ``~/.cache/striate``; missing files are downloaded from ``mirrors`` into
    ``<root>/mnist/``, SHA-256-checked and written atomically. Files found on disk are checked too.

    Args:
        root (path, default None): data folder (see above).
        train (bool, default True): the training split, else the test split.
        download (bool, default True): download missing files.
        transform (callable, default None): applied to images (one or a batch), e.g. ``ToFloat()``.
        sample (bool, default False): use the embedded 6,000 + 1,000 image subset (no files,
            no network).
        mirrors (list of str, default None): base URLs to download from (default :attr:`mirrors`).

    Attributes:
        images: uint8 ``(N, 1, 28, 28)``. labels: int64 ``(N,)``. classes: the class names.

    >>> test = MNIST(train=False, sample=True)
    >>> test.images.shape, test.labels[:5].tolist()
    ((1000, 1, 28, 28), [7, 2, 1, 0, 4])

    Reference: http://yann.lecun.com/exdb/mnist/ (CC BY-SA 3.0).
    """

    name, folder = "MNIST", "mnist"
    mirrors: Sequence[str] = (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    )
    classes = [str(d) for d in range(10)]
    files = {
        True: ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
        False: ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
    }
    # SHA-256 checked against /work/shared/data/mnist and TFDS; MD5 as published by torchvision
    resources = {
        r.filename: r
        for r in (
            Resource(
                "train-images-idx3-ubyte.gz",
                "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                9912422,
                "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            ),
            Resource(
                "train-labels-idx1-ubyte.gz",
                "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                28881,
                "d53e105ee54ea40749a09fcbcd1e9432",
            ),
            Resource(
                "t10k-images-idx3-ubyte.gz",
                "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                1648877,
                "9fb629c4189551a2d022fa330f9573f3",
            ),
            Resource(
                "t10k-labels-idx1-ubyte.gz",
                "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                4542,
                "ec29112dd5afa0611ce80d1b7f02629c",
            ),
        )
    }
    sample_files = {
        True: ("sample-train-images-idx3-ubyte.gz", "sample-train-labels-idx1-ubyte.gz"),
        False: ("sample-t10k-images-idx3-ubyte.gz", "sample-t10k-labels-idx1-ubyte.gz"),
    }

    def __init__(
        self,
        root=None,
        train: bool = True,
        download: bool = True,
        transform: Callable | None = None,
        sample: bool = False,
        mirrors: Sequence[str] | None = None,
    ):
        self.train, self.sample = bool(train), bool(sample)
        if sample:
            if self.sample_files is None:
                raise ValueError(
                    f"{self.name}: there is no embedded sample; "
                    "use MNIST(sample=True) or the full set"
                )
            paths = [SAMPLE_DIR / f for f in self.sample_files[self.train]]
        else:
            paths = [
                fetch(
                    self.resources[f],
                    dataset=self.name,
                    folder=self.folder,
                    root=root,
                    mirrors=self.mirrors if mirrors is None else mirrors,
                    download_missing=download,
                )
                for f in self.files[self.train]
            ]
        self.paths = paths
        images, labels = read_idx(paths[0], magic=0x00000803), read_idx(paths[1], magic=0x00000801)
        if len(images) != len(labels):
            raise ValueError(
                f"{self.name}: {paths[0]} has {len(images)} images but {paths[1]} has "
                f"{len(labels)} labels"
            )
        if labels.size and labels.max() >= len(self.classes):
            raise ValueError(
                f"{self.name}: {paths[1]} holds label {labels.max()}, but there are only "
                f"{len(self.classes)} classes"
            )
        super().__init__(images[:, None], labels.astype(xp.int64), transform)

    @classmethod
    def available(cls, root=None) -> bool:
        """Whether all four files are on disk (no download, no checksum) in the folders searched."""
        dirs = search_dirs(root, cls.folder)
        return all(find_file(f, dirs) is not None for pair in cls.files.values() for f in pair)

    def __repr__(self) -> str:
        split = "train" if self.train else "test"
        return f"{type(self).__name__}({split}{', sample' if self.sample else ''}, n={len(self)})"


class FashionMNIST(MNIST):
    """Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017): 28x28 greyscale clothes in 10 classes.

    Same arguments as :class:`MNIST` (no embedded sample); files live in ``<root>/fashion-mnist/``.

    >>> FashionMNIST.classes[:3]
    ['T-shirt/top', 'Trouser', 'Pullover']

    Reference: https://github.com/zalandoresearch/fashion-mnist (MIT licence), arXiv:1708.07747.
    """

    name, folder = "FashionMNIST", "fashion-mnist"
    mirrors = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
    classes = [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ]
    # SHA-256 and sizes from TFDS url_checksums/fashion_mnist.txt, MD5 from torchvision;
    # not checked against a download here
    resources = {
        r.filename: r
        for r in (
            Resource(
                "train-images-idx3-ubyte.gz",
                "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                26421880,
                "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            ),
            Resource(
                "train-labels-idx1-ubyte.gz",
                "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                29515,
                "25c81989df183df01b3e8a0aad5dffbe",
            ),
            Resource(
                "t10k-images-idx3-ubyte.gz",
                "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                4422102,
                "bef4ecab320f06d8554ea6380940ec79",
            ),
            Resource(
                "t10k-labels-idx1-ubyte.gz",
                "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
                5148,
                "bb300cfdad3c16e7a12a480ee83cd310",
            ),
        )
    }
    sample_files = None
