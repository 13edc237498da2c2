"""Image files in and out through Pillow: ``load_images`` for prediction on PNG/JPEG files and
``save_image_grid`` for a batch of images or feature maps.

Pillow is optional (``pip install 'striate[cli]'``) and imported only when a function runs.

Decisions worth knowing:
- Pixels become float32 in [0, 1]: 8-bit values / 255, 16-bit / 65535.
- Transparent pixels are composited over white, as an image viewer shows them.
- Colour to grey uses ITU-R 601 luma (0.299 R + 0.587 G + 0.114 B, Pillow's "L"); grey to
  colour repeats the grey value in R, G and B.
- Resizing is Pillow's bicubic filter on float pixels, which antialiases when shrinking
  (each output pixel averages its whole footprint); results are clipped to [0, 1].
- MNIST digits are light strokes on a dark background; a photo or scan of a digit on paper is
  the opposite. With ``invert="auto"`` a 1-channel image whose mean (after resizing) is above
  0.5 is taken to be dark-on-light and inverted, so it looks like the training data. Colour
  images are never inverted automatically.
"""
from __future__ import annotations

import io
import math
import os

from .backend import xp
from .serialization import _atomic_write
from .tensor import Tensor

__all__ = ["load_images", "save_image_grid"]

_LUMA = (0.299, 0.587, 0.114)
_GREY_MODES = ("1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")


def _pil():
    try:
        from PIL import Image, ImageOps
    except ImportError:
        raise ImportError("striate.imageio needs Pillow; install it with pip install pillow "
                          "(or pip install 'striate[cli]')") from None
    return Image, ImageOps


def _pair(size, op: str):
    if size is None:
        return None
    vals = (size, size) if isinstance(size, int) and not isinstance(size, bool) else size
    if (not isinstance(vals, (tuple, list)) or len(vals) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in vals)):
        raise ValueError(f"{op}: size must be a positive int or (height, width), got {size!r}")
    return int(vals[0]), int(vals[1])


def _open(path: str):
    """The decoded image at ``path`` (upright per its EXIF orientation), or a clear error."""
    Image, ImageOps = _pil()
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_images: no such file: '{path}'")
    if os.path.isdir(path):
        raise IsADirectoryError(f"load_images: '{path}' is a folder, not an image file")
    try:
        with Image.open(path) as img:
            img.load()  # decode now: a truncated file fails here, not later
            return ImageOps.exif_transpose(img)
    except Image.DecompressionBombError as e:
        raise ValueError(f"load_images: '{path}' is too large to decode safely: {e}") from None
    except Image.UnidentifiedImageError:
        raise ValueError(f"load_images: '{path}' is not an image Pillow can read "
                         "(expected PNG, JPEG or another common format)") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise ValueError(f"load_images: '{path}' is truncated or corrupt: {e}") from None


def _to_float(img):
    """(H, W, 1) or (H, W, 3) float32 in [0, 1], transparency composited over white."""
    mode = img.mode
    if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
        return xp.clip(xp.asarray(img, dtype=xp.float32) / 65535, 0, 1)[..., None]
    if mode == "F":
        return xp.clip(xp.asarray(img, dtype=xp.float32), 0, 1)[..., None]
    alpha = mode in ("LA", "La", "RGBA", "RGBa", "PA") or "transparency" in img.info
    grey = mode in _GREY_MODES
    img = img.convert(("LA" if grey else "RGBA") if alpha else ("L" if grey else "RGB"))
    a = xp.asarray(img, dtype=xp.float32) / 255
    a = a[..., None] if a.ndim == 2 else a
    if alpha:
        a, opacity = a[..., :-1], a[..., -1:]
        a = a * opacity + (1 - opacity)
    return a


def _convert_channels(a, channels: int):
    if a.shape[2] == channels:
        return a
    if channels == 1:
        return (a[..., 0] * _LUMA[0] + a[..., 1] * _LUMA[1] + a[..., 2] * _LUMA[2])[..., None]
    return xp.repeat(a, 3, axis=2)


def _resize(a, size):
    """Bicubic resize of each channel as a float image, clipped to [0, 1]."""
    Image, _ = _pil()
    H, W = size
    if a.shape[:2] == (H, W):
        return a
    planes = [xp.asarray(Image.fromarray(xp.ascontiguousarray(a[..., c], dtype=xp.float32))
                         .resize((W, H), Image.Resampling.BICUBIC)) for c in range(a.shape[2])]
    return xp.clip(xp.stack(planes, axis=2), 0, 1).astype(xp.float32)


def load_images(paths, channels: int = 1, size=None, invert="auto"):
    """Read image files into a float32 batch (N, C, H, W) with values in [0, 1].

    Any format Pillow reads (PNG and JPEG, grey or colour, 8 or 16 bits, with or without
    transparency) is converted to ``channels`` and resized to ``size``. See the module
    docstring for how colours, transparency and inversion are handled.

    Args:
        paths (str, PathLike or a sequence of them): the files, in batch order.
        channels (int, default 1): 1 (grey) or 3 (RGB): what the model expects.
        size (int or (int, int), optional): output (H, W); an int is square. None keeps the
            files' size, which must then be the same for all.
        invert (bool or "auto", default "auto"): True gives 1 - x for every image; "auto"
            inverts 1-channel images that are dark-on-light (mean above 0.5), so a black digit
            on white paper matches MNIST's white-on-black; False never inverts.

    Shape:
        (N, channels, H, W) with N = len(paths).

    Raises:
        FileNotFoundError: a path does not exist (the message names it).
        ValueError: a file is not an image, or is truncated or corrupt (named too), or the
            sizes differ while ``size`` is None.

    >>> x = load_images(["seven.png"], channels=1, size=(28, 28))   # (1, 1, 28, 28)
    >>> model(striate.tensor(x)).argmax(axis=1)
    """
    op = "load_images"
    if isinstance(paths, (str, bytes, os.PathLike)):
        paths = [paths]
    paths = [os.fsdecode(p) if isinstance(p, (bytes, os.PathLike)) else p for p in paths]
    if not paths or not all(isinstance(p, str) for p in paths):
        raise TypeError(f"{op}: expected a path or a non-empty sequence of paths, got {paths!r}")
    if channels not in (1, 3) or isinstance(channels, bool):
        raise ValueError(f"{op}: channels must be 1 (grey) or 3 (RGB), got {channels!r}")
    if invert not in (True, False, "auto"):
        raise ValueError(f"{op}: invert must be True, False or 'auto', got {invert!r}")
    size = _pair(size, op)
    images = []
    for p in paths:
        a = _convert_channels(_to_float(_open(p)), channels)
        if size is not None:
            a = _resize(a, size)
        if invert is True or (invert == "auto" and channels == 1 and a.mean() > 0.5):
            a = 1 - a
        images.append(a.transpose(2, 0, 1))
    shapes = {a.shape[1:] for a in images}
    if len(shapes) > 1:
        listed = ", ".join(f"'{p}' {a.shape[1:]}" for p, a in zip(paths, images))
        raise ValueError(f"{op}: the images differ in size ({listed}); pass size=(H, W)")
    return xp.ascontiguousarray(xp.stack(images), dtype=xp.float32)


def _as_tiles(images, op: str):
    """(N, H, W, C) float64 tiles, C 1 or 3, from (N, H, W), (N, 1|3, H, W) or (N, C, H, W)."""
    a = images.data if isinstance(images, Tensor) else xp.asarray(images)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{op}: expected numeric images, got dtype {a.dtype}")
    a = a.astype(xp.float64)
    if a.ndim == 3:
        a = a[:, None]
    if a.ndim != 4 or min(a.shape) == 0:
        raise ValueError(f"{op}: expected a non-empty batch (N, C, H, W) or (N, H, W), "
                         f"got shape {tuple(images.shape)}")
    if a.shape[1] not in (1, 3):  # feature maps: every channel of every sample is a grey tile
        a = a.reshape(-1, 1, *a.shape[2:])
    if not xp.isfinite(a).all():
        raise ValueError(f"{op}: the images hold {int((~xp.isfinite(a)).sum())} NaN or "
                         "infinite values")
    return a.transpose(0, 2, 3, 1)


def save_image_grid(images, path, nrow: int = 8, padding: int = 2, normalize: bool = True,
                    scale_each: bool = False, pad_value: float = 0.0):
    """Write a batch of images or feature maps as one PNG grid (atomically), as torchvision's
    ``save_image``.

    Args:
        images (ndarray or Tensor): (N, C, H, W) or (N, H, W). C = 1 gives grey tiles and
            C = 3 colour tiles; any other C is N * C feature maps, each a grey tile.
        path (str or PathLike): the PNG file; its folder must exist.
        nrow (int, default 8): tiles per row.
        padding (int, default 2): pixels between tiles and around the grid.
        normalize (bool, default True): map the value range (min to max) to [0, 1] first;
            otherwise values are taken to be in [0, 1] and clipped.
        scale_each (bool, default False): with ``normalize``, use each tile's own range
            (best for feature maps of different scales).
        pad_value (float, default 0.0): the padding's value in [0, 1] (0 is black).

    Shape:
        The PNG is ``rows * (H + padding) + padding`` by ``cols * (W + padding) + padding``
        pixels, with ``cols = min(nrow, tiles)`` and ``rows = ceil(tiles / cols)``.

    Returns:
        the grid as a uint8 array (height, width) or (height, width, 3).

    >>> save_image_grid(model.features[0].weight, "conv1_kernels.png", nrow=8)
    """
    op = "save_image_grid"
    Image, _ = _pil()
    for name, v, low in (("nrow", nrow, 1), ("padding", padding, 0)):
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise ValueError(f"{op}: {name} must be an int >= {low}, got {v!r}")
    a = _as_tiles(images, op)
    if normalize:
        axes = (1, 2, 3) if scale_each else None
        lo, hi = a.min(axis=axes, keepdims=True), a.max(axis=axes, keepdims=True)
        a = (a - lo) / xp.maximum(hi - lo, 1e-12)
    a = xp.clip(a, 0, 1)
    N, H, W, C = a.shape
    cols = min(nrow, N)
    rows = math.ceil(N / cols)
    grid = xp.full((rows * (H + padding) + padding, cols * (W + padding) + padding, C),
                   float(pad_value))
    for i in range(N):
        r, c = divmod(i, cols)
        top, left = padding + r * (H + padding), padding + c * (W + padding)
        grid[top:top + H, left:left + W] = a[i]
    pixels = xp.round(xp.clip(grid, 0, 1) * 255).astype(xp.uint8)
    pixels = pixels[..., 0] if C == 1 else pixels
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")  # (h, w) uint8 is "L", (h, w, 3) "RGB"
    _atomic_write(os.fspath(path), lambda f: f.write(buf.getvalue()))
    return pixels
