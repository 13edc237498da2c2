"""Geometric transforms: random crops and flips, affine warps and rotations, and resizing.

Each moves pixels without changing their values (up to interpolation): ``RandomCrop``,
``RandomHorizontalFlip``, ``RandomVerticalFlip``, ``RandomAffine``, ``RandomRotation`` and
``Resize``. Warps sample the input at real coordinates, bilinear or nearest, with ``fill`` outside
the image; integer images are rounded and clipped back to their dtype.
"""

from __future__ import annotations

import math
import numbers

from ..backend import xp
from .transform_base import Transform, _generator, _pair, _range

__all__ = [
    "RandomAffine",
    "RandomCrop",
    "RandomHorizontalFlip",
    "RandomRotation",
    "RandomVerticalFlip",
    "Resize",
]


class RandomCrop(Transform):
    """Pad by ``padding`` (with ``fill``) and cut a ``size`` window at a random place in each image.

    Args:
        size (int or (int, int)): output ``(h, w)``.
        padding (int or (int, int), default 0): pixels added on top/bottom and left/right.
        fill (number, default 0): value of the padding.

    Shape:
        - Input :math:`(N, C, H, W)`, output :math:`(N, C, h, w)` with
          :math:`h \\le H + 2 \\cdot \\text{padding}_H`.

    >>> RandomCrop(28, padding=2)(xp.zeros((8, 1, 28, 28))).shape
    (8, 1, 28, 28)
    """

    def __init__(self, size, padding=0, fill=0):
        self.size = tuple(int(v) for v in _pair(size, "RandomCrop", "size"))
        self.padding = tuple(int(v) for v in _pair(padding, "RandomCrop", "padding"))
        if min(self.size) < 1 or min(self.padding) < 0:
            raise ValueError(
                f"RandomCrop: size must be >= 1 and padding >= 0, got {size!r}, {padding!r}"
            )
        self.fill = fill

    def apply(self, x, rng):
        (h, w), (ph, pw) = self.size, self.padding
        N, _, H, W = x.shape
        if h > H + 2 * ph or w > W + 2 * pw:
            raise ValueError(
                f"RandomCrop: crop {self.size} is larger than the padded image "
                f"({H + 2 * ph}, {W + 2 * pw}) of input shape {x.shape}"
            )
        if ph or pw:
            x = xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=self.fill)
        gen = _generator(rng)
        oy = gen.integers(0, x.shape[2] - h + 1, size=N)
        ox = gen.integers(0, x.shape[3] - w + 1, size=N)
        windows = xp.lib.stride_tricks.sliding_window_view(x, (h, w), axis=(2, 3))
        return windows[xp.arange(N), :, oy, ox]  # (N, C, h, w): advanced axes go first


class RandomHorizontalFlip(Transform):
    """Mirror each image left-right with probability ``p``.

    >>> RandomHorizontalFlip(p=1.0)(xp.array([[[1, 2, 3]]]))
    array([[[3, 2, 1]]])
    """

    def __init__(self, p: float = 0.5):
        if not 0 <= p <= 1:
            raise ValueError(f"{type(self).__name__}: p must be in [0, 1], got {p}")
        self.p = p

    axis = 3

    def apply(self, x, rng):
        flip = _generator(rng).random(x.shape[0]) < self.p
        return xp.where(flip[:, None, None, None], xp.flip(x, axis=self.axis), x)


class RandomVerticalFlip(RandomHorizontalFlip):
    """Mirror each image top-bottom with probability ``p``."""

    axis = 2


def _sample(x, sy, sx, interpolation: str, fill):
    """Read ``x`` (N, C, H, W) at real coordinates ``sy, sx`` (N, h, w); ``fill`` outside."""
    N, C, H, W = x.shape
    h, w = sy.shape[1:]
    # a one-pixel border of `fill` lets out-of-image taps be clipped onto it instead of masked
    flat = xp.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=fill).reshape(-1)
    base = (xp.arange(N * C) * ((H + 2) * (W + 2))).reshape(N, C, 1)
    sy, sx = sy.reshape(N, 1, -1), sx.reshape(N, 1, -1)

    def row(i):  # flat offset of padded row i (N, 1, h*w)
        return (xp.clip(i, -1, H).astype(xp.intp) + 1) * (W + 2) + base

    def col(i):
        return xp.clip(i, -1, W).astype(xp.intp) + 1

    if interpolation == "nearest":
        return flat.take(row(xp.floor(sy + 0.5)) + col(xp.floor(sx + 0.5))).reshape(N, C, h, w)
    y0, x0 = xp.floor(sy), xp.floor(sx)
    wy, wx = (sy - y0).astype(flat.dtype), (sx - x0).astype(flat.dtype)
    r0, r1, c0, c1 = row(y0), row(y0 + 1), col(x0), col(x0 + 1)
    top = flat.take(r0 + c0) * (1 - wx) + flat.take(r0 + c1) * wx
    bottom = flat.take(r1 + c0) * (1 - wx) + flat.take(r1 + c1) * wx
    return (top * (1 - wy) + bottom * wy).reshape(N, C, h, w)


def _like(y, x):
    """Cast a float result back to the input's dtype (rounded and clipped for integer images)."""
    if x.dtype.kind == "f":
        return y.astype(x.dtype, copy=False)
    info = xp.iinfo(x.dtype) if x.dtype.kind in "iu" else None
    y = xp.rint(y)
    return (xp.clip(y, info.min, info.max) if info else y).astype(x.dtype)


class RandomAffine(Transform):
    """Rotate, shift and scale each image by random amounts about its centre.

    Each image gets its own angle :math:`\\theta \\sim U(\\text{degrees})` (counter-clockwise),
    shift :math:`(t_x, t_y)` with :math:`|t_x| \\le \\text{translate}[0] \\cdot W`,
    :math:`|t_y| \\le \\text{translate}[1] \\cdot H`, and scale :math:`s \\sim U(\\text{scale})`.
    Output pixel :math:`q` reads the input at :math:`c + R(-\\theta)(q - c - t) / s`, with
    :math:`c = ((W-1)/2, (H-1)/2)`, so a 90-degree rotation of a square image equals ``np.rot90``.

    Args:
        degrees (number or (min, max)): angle range; a number d means (-d, d).
        translate ((float, float), default None): largest shift as a fraction of width and height.
        scale ((float, float), default None): scale range, e.g. (0.9, 1.1).
        interpolation (str, default 'bilinear'): 'bilinear' or 'nearest'.
        fill (number, default 0): value of pixels that come from outside the image.

    >>> RandomAffine(10, translate=(0.1, 0.1))(xp.zeros((4, 1, 28, 28), dtype=xp.float32)).shape
    (4, 1, 28, 28)
    """

    def __init__(
        self, degrees, translate=None, scale=None, interpolation: str = "bilinear", fill=0
    ):
        name = type(self).__name__
        self.degrees = _range(degrees, name, "degrees", 0.0)
        if translate is not None:
            translate = tuple(float(t) for t in _pair(translate, name, "translate"))
            if not all(0 <= t <= 1 for t in translate):
                raise ValueError(f"{name}: translate fractions must be in [0, 1], got {translate}")
        if scale is not None:
            scale = tuple(float(s) for s in _pair(scale, name, "scale"))
            if not 0 < scale[0] <= scale[1]:
                raise ValueError(
                    f"{name}: scale must be an ordered pair of positive numbers, got {scale}"
                )
        if interpolation not in ("bilinear", "nearest"):
            raise ValueError(
                f"{name}: interpolation must be 'bilinear' or 'nearest', got {interpolation!r}"
            )
        self.translate, self.scale, self.interpolation, self.fill = (
            translate,
            scale,
            interpolation,
            fill,
        )

    def apply(self, x, rng):
        N, _, H, W = x.shape
        gen = _generator(rng)
        theta = xp.deg2rad(gen.uniform(*self.degrees, size=N))
        tx = ty = xp.zeros(N)
        if self.translate is not None:
            tx = gen.uniform(-1, 1, size=N) * self.translate[0] * W
            ty = gen.uniform(-1, 1, size=N) * self.translate[1] * H
        s = gen.uniform(*self.scale, size=N) if self.scale is not None else xp.ones(N)
        cy, cx = (H - 1) / 2, (W - 1) / 2
        f32 = xp.float32  # coordinates in float32: ample for images below ~10^5 pixels a side
        qy = (xp.arange(H) - cy)[None, :, None].astype(f32) - ty[:, None, None].astype(f32)
        qx = (xp.arange(W) - cx)[None, None, :].astype(f32) - tx[:, None, None].astype(f32)
        cos, sin = (v[:, None, None].astype(f32) for v in (xp.cos(theta), xp.sin(theta)))
        inv_s = (1 / s[:, None, None]).astype(f32)
        sx = (qx * cos - qy * sin) * inv_s + cx  # R(-theta) in image (x right, y down) coordinates
        sy = (qx * sin + qy * cos) * inv_s + cy
        y = _sample(
            x.astype(xp.float32, copy=False) if x.dtype.kind != "f" else x,
            sy,
            sx,
            self.interpolation,
            self.fill,
        )
        return _like(y, x)


class RandomRotation(RandomAffine):
    """Rotate each image by a random angle in ``degrees`` (counter-clockwise) about its centre.

    Args:
        degrees (number or (min, max)): a number d means (-d, d).
        interpolation (str, default 'bilinear'): 'bilinear' or 'nearest'.
        fill (number, default 0): value of the corners that come from outside the image.

    >>> RandomRotation((90, 90))(xp.arange(4.0).reshape(1, 2, 2))
    array([[[1., 3.],
            [0., 2.]]])
    """

    def __init__(self, degrees, interpolation: str = "bilinear", fill=0):
        super().__init__(degrees, interpolation=interpolation, fill=fill)


def _resize_axis(x, axis: int, out: int, interpolation: str):
    """Resample one axis like ``F.interpolate(..., align_corners=False)`` (no antialiasing)."""
    n_in = x.shape[axis]
    scale = n_in / out
    if interpolation == "nearest":
        return xp.take(
            x, xp.minimum(xp.floor(xp.arange(out) * scale).astype(xp.intp), n_in - 1), axis=axis
        )
    src = xp.maximum((xp.arange(out) + 0.5) * scale - 0.5, 0.0)
    i0 = xp.floor(src).astype(xp.intp)
    i1 = xp.minimum(i0 + 1, n_in - 1)
    lam = (src - i0).astype(x.dtype)
    shape = [1] * x.ndim
    shape[axis] = out
    lam = lam.reshape(shape)
    return xp.take(x, i0, axis=axis) * (1 - lam) + xp.take(x, i1, axis=axis) * lam


class Resize(Transform):
    """Resize images to ``size`` by bilinear (default) or nearest sampling, as ``F.interpolate``.

    Args:
        size (int or (int, int)): ``(h, w)``; a single int sets the shorter side and keeps the
            aspect ratio.
        interpolation (str, default 'bilinear'): 'bilinear' (half-pixel centres, no
            antialiasing) or 'nearest'.

    Shape:
        - Input :math:`(N, C, H, W)`, output :math:`(N, C, h, w)`.

    >>> Resize((14, 14))(xp.zeros((2, 1, 28, 28), dtype=xp.float32)).shape
    (2, 1, 14, 14)
    """

    def __init__(self, size, interpolation: str = "bilinear"):
        if isinstance(size, numbers.Number):
            size = int(size)
            if size < 1:
                raise ValueError(f"Resize: size must be >= 1, got {size}")
        else:
            size = tuple(int(v) for v in _pair(size, "Resize", "size"))
            if min(size) < 1:
                raise ValueError(f"Resize: size must be >= 1, got {size}")
        if interpolation not in ("bilinear", "nearest"):
            raise ValueError(
                f"Resize: interpolation must be 'bilinear' or 'nearest', got {interpolation!r}"
            )
        self.size, self.interpolation = size, interpolation

    def apply(self, x, rng):
        H, W = x.shape[2:]
        if isinstance(self.size, int):
            short = min(H, W)
            h, w = (
                (self.size, max(1, math.floor(W * self.size / short)))
                if H <= W
                else (max(1, math.floor(H * self.size / short)), self.size)
            )
        else:
            h, w = self.size
        y = x if x.dtype.kind == "f" else x.astype(xp.float32)
        if h != H:
            y = _resize_axis(y, 2, h, self.interpolation)
        if w != W:
            y = _resize_axis(y, 3, w, self.interpolation)
        return _like(y, x)
