"""Image transforms and data augmentation, vectorised over a batch.

Every transform takes a batch ``(N, C, H, W)`` or one image ``(C, H, W)`` (a 2-D ``(H, W)`` image is
treated as one channel) and returns an ndarray of the same layout. Random transforms draw one set of
parameters per image, all at once, from ``rng`` when it is given, else from the generator that the
:class:`~striate.data.DataLoader` installs for the batch being built (so augmentation is
reproducible and independent of the prefetch thread), else from ``striate.backend.rng()``.

These are the seeds' augmentations (shift, rotate, mirror, crop, grey/colour changes); their
parameters follow ``torchvision.transforms``.

This module is the public face of the transforms and holds the ones that change pixel values
(``ToFloat``, ``Normalize``, ``ColorJitter``); the base class and ``Compose`` are in
:mod:`.transform_base`, the geometric transforms (crops, flips, affine, resize) in
:mod:`.geometric_transforms`.
"""

from __future__ import annotations

from ..backend import xp
from ..tensor import Tensor
from .geometric_transforms import (
    RandomAffine,
    RandomCrop,
    RandomHorizontalFlip,
    RandomRotation,
    RandomVerticalFlip,
    Resize,
)
from .transform_base import (  # noqa: F401 - use_generator is re-exported for the DataLoader
    Compose,
    Transform,
    _generator,
    _range,
    _require_float,
    use_generator,
)

__all__ = [
    "Transform",
    "Compose",
    "ToFloat",
    "Normalize",
    "RandomCrop",
    "RandomHorizontalFlip",
    "RandomVerticalFlip",
    "RandomAffine",
    "RandomRotation",
    "ColorJitter",
    "Resize",
]


class ToFloat(Transform):
    """Convert images to float32: ``uint8`` 0..255 becomes 0..1 (``x / 255``); other types are cast.

    A 2-D image ``(H, W)`` gets a channel axis: ``(1, H, W)``.

    >>> ToFloat()(xp.array([[0, 255]], dtype=xp.uint8))
    array([[[0., 1.]]], dtype=float32)
    """

    def __call__(self, x, rng=None):
        if isinstance(x, Tensor):
            x = x.data
        x = xp.asarray(x)
        if x.ndim == 2:
            x = x[None]
        return super().__call__(x, rng)

    def apply(self, x, rng):
        if x.dtype == xp.uint8:
            return xp.divide(x, 255, dtype=xp.float32)
        return x.astype(xp.float32)


def _per_channel(v, C: int, name: str, what: str):
    a = xp.asarray(v, dtype=xp.float32).reshape(-1)
    if a.size not in (1, C):
        raise ValueError(f"{name}: {what} has {a.size} values but the images have {C} channels")
    return a.reshape(1, -1, 1, 1)


class Normalize(Transform):
    """Subtract ``mean`` and divide by ``std`` per channel: ``y = (x - mean[c]) / std[c]``.

    Args:
        mean (float or sequence of float): one value, or one per channel.
        std (float or sequence of float): one value > 0, or one per channel.

    >>> Normalize(0.5, 0.5)(xp.ones((1, 2, 2), dtype=xp.float32))[0, 0, 0].item()
    1.0
    """

    def __init__(self, mean, std):
        s = xp.asarray(std, dtype=xp.float64)
        if s.size == 0 or (s <= 0).any() or not xp.isfinite(s).all():
            raise ValueError(f"Normalize: std must be finite and > 0, got {std!r}")
        self.mean, self.std = mean, std

    def apply(self, x, rng):
        _require_float(x, "Normalize")
        C = x.shape[1]
        m = _per_channel(self.mean, C, "Normalize", "mean")
        s = _per_channel(self.std, C, "Normalize", "std")
        return ((x - m) / s).astype(x.dtype, copy=False)


class ColorJitter(Transform):
    """Randomly change brightness, contrast and saturation of float images in [0, 1].

    Per image, in this order (torchvision's blend formulas, results clipped to [0, 1]):
    brightness ``x * b``; contrast ``c * x + (1 - c) * mean(grey(x))``; saturation (3 channels only)
    ``s * x + (1 - s) * grey(x)``, with grey = 0.299 R + 0.587 G + 0.114 B.

    Args:
        brightness (float or (min, max), default 0): a number v draws b from [max(0, 1 - v), 1 + v].
        contrast (float or (min, max), default 0): same for c.
        saturation (float or (min, max), default 0): same for s.

    >>> ColorJitter(brightness=0.2)(xp.full((2, 1, 4, 4), 0.5, dtype=xp.float32)).shape
    (2, 1, 4, 4)
    """

    def __init__(self, brightness=0, contrast=0, saturation=0):
        self.brightness = _range(brightness, "ColorJitter", "brightness", 1.0, low=0.0)
        self.contrast = _range(contrast, "ColorJitter", "contrast", 1.0, low=0.0)
        self.saturation = _range(saturation, "ColorJitter", "saturation", 1.0, low=0.0)

    @staticmethod
    def _grey(x):
        if x.shape[1] == 3:
            w = xp.asarray([0.299, 0.587, 0.114], dtype=x.dtype).reshape(1, 3, 1, 1)
            return (x * w).sum(axis=1, keepdims=True)
        return x.mean(axis=1, keepdims=True)

    def apply(self, x, rng):
        _require_float(x, "ColorJitter")
        gen, N = _generator(rng), x.shape[0]

        def factor(lo_hi):
            return gen.uniform(*lo_hi, size=N).astype(x.dtype).reshape(N, 1, 1, 1)

        if self.brightness != (1.0, 1.0):
            x = xp.clip(x * factor(self.brightness), 0, 1)
        if self.contrast != (1.0, 1.0):
            c = factor(self.contrast)
            x = xp.clip(c * x + (1 - c) * self._grey(x).mean(axis=(2, 3), keepdims=True), 0, 1)
        if self.saturation != (1.0, 1.0) and x.shape[1] == 3:
            s = factor(self.saturation)
            x = xp.clip(s * x + (1 - s) * self._grey(x), 0, 1)
        return x
