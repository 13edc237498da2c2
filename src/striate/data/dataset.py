"""Datasets: the ``Dataset`` protocol, in-memory ``ArrayDataset``, ``Subset``, ``random_split``."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable
from collections.abc import Callable, Sequence

from .. import backend
from ..backend import xp
from ..tensor import Tensor

__all__ = ["Dataset", "ArrayDataset", "Subset", "random_split"]


@runtime_checkable
class Dataset(Protocol):
    """Anything with ``__len__`` and ``__getitem__(i) -> (image, label)`` (a map-style dataset).

    >>> isinstance(ArrayDataset(xp.zeros((2, 1, 4, 4)), [0, 1]), Dataset)
    True
    """

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> Any: ...


def _as_array(data, what: str):
    """``data`` as an ndarray (Tensors give their ``.data``), with a named error for junk."""
    if isinstance(data, Tensor):
        return data.data
    try:
        arr = xp.asarray(data)
    except (ValueError, TypeError) as e:
        raise TypeError(
            f"ArrayDataset: {what} must be array-like, got {type(data).__name__} ({e})"
        ) from None
    if arr.dtype == object:
        raise TypeError(
            f"ArrayDataset: {what} must be numeric, got {type(data).__name__} of objects"
        )
    return arr


class ArrayDataset(Dataset):
    """A dataset held in two arrays: ``images[i]`` and ``labels[i]`` form sample ``i``.

    The :class:`~striate.data.DataLoader` batches an ArrayDataset by fancy-indexing the whole
    arrays (no per-sample Python loop) and applies ``transform`` to the batch at once; indexing
    one sample applies it to a single ``(C, H, W)`` image. Both work because every transform in
    :mod:`striate.data.transforms` accepts a batch or a single image.

    Args:
        images: array-like ``(N, C, H, W)`` (any dtype). A 3-D ``uint8`` array ``(N, H, W)`` is
            taken as greyscale images and viewed as ``(N, 1, H, W)`` (no copy).
        labels: array-like ``(N,)`` or ``(N, ...)``; integer labels are stored as int64.
        transform (callable, default None): applied to the images (one image or a whole batch).

    Shape:
        - images: :math:`(N, C, H, W)`; labels: :math:`(N,)`.

    >>> ds = ArrayDataset(xp.zeros((10, 28, 28), dtype=xp.uint8), xp.arange(10))
    >>> ds.images.shape, len(ds)
    ((10, 1, 28, 28), 10)
    """

    def __init__(self, images, labels, transform: Callable | None = None):
        images = _as_array(images, "images")
        labels = _as_array(labels, "labels")
        if images.ndim == 0 or labels.ndim == 0:
            raise ValueError(
                "ArrayDataset: images and labels need a sample axis, "
                f"got shapes {images.shape} and {labels.shape}"
            )
        if len(images) != len(labels):
            raise ValueError(
                "ArrayDataset: images and labels must have the same length, "
                f"got {len(images)} images "
                f"(shape {images.shape}) and {len(labels)} labels (shape {labels.shape})"
            )
        if transform is not None and not callable(transform):
            raise TypeError(
                f"ArrayDataset: transform must be callable, got {type(transform).__name__}"
            )
        if images.dtype == xp.uint8 and images.ndim == 3:
            images = images[:, None]
        if labels.dtype.kind in "iub":
            labels = labels.astype(xp.int64, copy=False)
        self.images = images
        self.labels = labels
        self.transform = transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        n = len(self)
        if not isinstance(index, (int, xp.integer)) or isinstance(index, bool):
            raise TypeError(
                f"{type(self).__name__}: index must be an int, got {type(index).__name__}"
            )
        if not -n <= index < n:
            raise IndexError(f"{type(self).__name__}: index {index} out of range for {n} samples")
        image = self.images[index]
        if self.transform is not None:
            image = self.transform(image)
        return image, self.labels[index]

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(n={len(self)}, images={self.images.shape} {self.images.dtype}, "
            f"transform={self.transform!r})"
        )


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order.

    A Subset of an :class:`ArrayDataset` keeps the DataLoader's vectorised fast path.

    Args:
        dataset (Dataset): the full dataset.
        indices (sequence of int): which samples to keep.

    >>> int(Subset(ArrayDataset(xp.zeros((10, 1, 2, 2)), xp.arange(10)), [3, 5])[1][1])
    5
    """

    def __init__(self, dataset: Dataset, indices: Sequence[int]):
        idx = xp.asarray(indices)
        if idx.ndim != 1 or (idx.size and idx.dtype.kind not in "iu"):
            raise TypeError(
                f"Subset: indices must be a 1-D sequence of ints, got shape {idx.shape} {idx.dtype}"
            )
        n = len(dataset)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(
                f"Subset: indices must lie in [{-n}, {n}), got min {idx.min()} max {idx.max()}"
            )
        self.dataset = dataset
        self.indices = (idx.astype(xp.int64) % max(n, 1)) if idx.size else idx.astype(xp.int64)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int):
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"Subset: index {index} out of range for {n} samples")
        return self.dataset[int(self.indices[index])]


def random_split(dataset: Dataset, lengths: Sequence[int], seed: int | None = None) -> list[Subset]:
    """Split ``dataset`` at random into non-overlapping Subsets of the given ``lengths``.

    Args:
        dataset (Dataset): what to split.
        lengths (sequence of int): sizes summing to ``len(dataset)``.
        seed (int, default None): permutation seed; None draws from ``striate.backend.rng()``.

    >>> ds = ArrayDataset(xp.zeros((10, 1, 2, 2)), xp.arange(10))
    >>> train, val = random_split(ds, [8, 2], seed=0)
    >>> len(train), len(val)
    (8, 2)
    """
    lengths = [int(n) for n in lengths]
    if any(n < 0 for n in lengths) or sum(lengths) != len(dataset):
        raise ValueError(
            f"random_split: lengths {lengths} must be >= 0 and sum to len(dataset) = {len(dataset)}"
        )
    gen = backend.rng() if seed is None else xp.random.default_rng(seed)
    perm = gen.permutation(len(dataset))
    offsets = xp.cumsum([0] + lengths)
    return [Subset(dataset, perm[a:b]) for a, b in zip(offsets[:-1], offsets[1:])]
