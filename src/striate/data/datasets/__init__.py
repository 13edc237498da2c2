"""Real image datasets, read from their published files: MNIST, Fashion-MNIST, CIFAR-10.

Files are looked for in ``<root>/<dataset>/`` and ``<root>/`` (``root`` defaults to
``$STRIATE_DATA``, else ``~/.cache/striate``) and downloaded there when missing, checked against
the published SHA-256.
``MNIST(sample=True)`` (or ``load('sample')``) uses a 6,000 + 1,000 image subset shipped inside
striate, so it works offline on a fresh machine.
"""

from __future__ import annotations

from collections.abc import Callable

from ._download import ChecksumError, DatasetNotFoundError, Resource, data_root
from .cifar10 import CIFAR10, parse_cifar_batch, read_cifar_archive
from .mnist import MNIST, FashionMNIST, read_idx

__all__ = [
    "MNIST",
    "FashionMNIST",
    "CIFAR10",
    "load",
    "available",
    "names",
    "data_root",
    "read_idx",
    "parse_cifar_batch",
    "read_cifar_archive",
    "DatasetNotFoundError",
    "ChecksumError",
    "Resource",
]

_CLASSES = {"mnist": MNIST, "fashion-mnist": FashionMNIST, "cifar10": CIFAR10}
_ALIASES = {
    "fashion_mnist": "fashion-mnist",
    "fashionmnist": "fashion-mnist",
    "cifar-10": "cifar10",
}
#: the names :func:`load` accepts
names = ("mnist", "fashion-mnist", "cifar10", "sample")


def _canonical(name: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"datasets: a dataset name must be a string, got {type(name).__name__}")
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in names:
        raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(names)}")
    return key


def load(
    name: str,
    root=None,
    train: bool = True,
    download: bool = True,
    transform: Callable | None = None,
):
    """The dataset called ``name``: 'mnist', 'fashion-mnist', 'cifar10' or 'sample' (MNIST subset).

    Args:
        name (str): dataset name (case-insensitive; 'fashion_mnist' and 'cifar-10' work too).
        root (path, default None): data folder; ignored for 'sample'.
        train (bool, default True): training split, else test split.
        download (bool, default True): download missing files.
        transform (callable, default None): the dataset's transform.

    >>> load("sample", train=False).images.shape
    (1000, 1, 28, 28)
    """
    key = _canonical(name)
    if key == "sample":
        return MNIST(train=train, transform=transform, sample=True)
    return _CLASSES[key](root=root, train=train, download=download, transform=transform)


def available(name: str = "mnist", root=None) -> bool:
    """Whether dataset ``name`` is on disk under ``root`` (or the default folder); no network.

    ``striate train`` uses this to fall back to the embedded sample when full MNIST is absent.

    >>> available("sample")
    True
    """
    key = _canonical(name)
    return True if key == "sample" else _CLASSES[key].available(root)
