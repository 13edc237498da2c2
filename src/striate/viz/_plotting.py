"""Pieces every plot in :mod:`striate.viz` shares: the lazy matplotlib import, saving, and
turning model inputs and activations into displayable arrays.

Plots are bare ``matplotlib.figure.Figure`` objects (no pyplot): no global state and no GUI
backend, so they are safe in scripts, threads and tests. matplotlib is optional; a plot
function without it raises an ImportError that names the ``striate[plot]`` extra.
"""
from __future__ import annotations

import math
import os

import numpy as np

from ..tensor import Tensor

DPI = 100


def figure(figsize: tuple[float, float], layout: str | None = "constrained"):
    """A bare Figure of ``figsize`` inches (constrained layout unless ``layout=None``)."""
    try:
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ImportError("striate.viz: plots need matplotlib; install it with "
                          "pip install 'striate[plot]'") from e
    return Figure(figsize=figsize, layout=layout)


def finish(fig, path, dpi: int = DPI):
    """Save ``fig`` to ``path`` and return the path (as a str), or return ``fig`` when no path.

    The figure keeps its size (no ``bbox_inches='tight'``), so the PNG is exactly
    ``figsize * dpi`` pixels.
    """
    if path is None:
        return fig
    path = os.fspath(path)
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path


def to_numpy(x, name: str = "x") -> np.ndarray:
    """The ndarray behind a Tensor, an ndarray or a nested list."""
    if isinstance(x, Tensor):
        return np.asarray(x.data)
    try:
        return np.asarray(x)
    except Exception as e:  # a ragged list, an object that is not array-like
        raise TypeError(f"{name}: expected an array or a Tensor, got {type(x).__name__}") from e


def as_batch(image, op: str) -> np.ndarray:
    """One image as a float (1, C, H, W) array; accepts (C, H, W) or (1, C, H, W)."""
    x = to_numpy(image, op)
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(f"{op}: image must be (C, H, W) or (1, C, H, W), got shape {x.shape}")
    if x.dtype.kind not in "f":
        x = x.astype(np.float32)
    return x


def display(image) -> np.ndarray:
    """A (C, H, W) or (H, W) image as (H, W) or (H, W, 3) floats in [0, 1] for ``imshow``.

    Each image is min-max scaled on its own, which undoes a per-channel Normalize for
    grey images and keeps colour images recognisable.
    """
    x = to_numpy(image).astype(np.float64)
    if x.ndim == 4 and x.shape[0] == 1:
        x = x[0]
    if x.ndim == 3:
        x = x[0] if x.shape[0] == 1 else np.moveaxis(x[:3], 0, -1)
    return normalise(x)


def normalise(a: np.ndarray) -> np.ndarray:
    """``a`` scaled to [0, 1] (a constant array becomes zeros)."""
    a = np.asarray(a, dtype=np.float64)
    lo, hi = float(a.min()), float(a.max())
    return (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)


def grid_shape(n: int, max_cols: int = 8) -> tuple[int, int]:
    """(rows, cols) of a near-square grid for ``n`` tiles, at most ``max_cols`` wide."""
    cols = max(1, min(max_cols, math.ceil(math.sqrt(n))))
    return math.ceil(n / cols), cols


def hide_axes(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for s in ax.spines.values():
        s.set_visible(False)


def mosaic(tiles: np.ndarray, cols: int, gap: int = 1, fill: float = np.nan) -> np.ndarray:
    """Tiles (n, h, w) or (n, h, w, 3) laid out row by row in a grid ``cols`` wide.

    One ``imshow`` of a mosaic is far faster than one axes per tile (a ResNet layer has
    hundreds of maps). Gaps and empty cells hold ``fill`` (NaN shows as the background).
    """
    n, h, w = tiles.shape[:3]
    rows = math.ceil(n / cols)
    out = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap) + tiles.shape[3:], fill)
    for i in range(n):
        r, c = divmod(i, cols)
        out[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = tiles[i]
    return out


def grey_cmap(name: str = "gray", gap: str = "white"):
    """A copy of a matplotlib colour map with NaN (the gaps between tiles) drawn in ``gap``."""
    from matplotlib import colormaps  # optional dependency; figure() has checked it

    return colormaps[name].with_extremes(bad=gap)
