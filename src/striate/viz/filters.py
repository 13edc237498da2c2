"""The kernels of a convolution layer drawn as small images: what each filter looks for."""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from ._plotting import figure, finish, grey_cmap, grid_shape, mosaic, to_numpy

__all__ = ["plot_filters", "conv_weight", "first_conv"]


def conv_weight(layer_or_weight) -> np.ndarray:
    """The (OC, IC, KH, KW) kernel array of a conv layer, a Tensor or an ndarray."""
    w = layer_or_weight
    if not isinstance(w, (Tensor, np.ndarray)):
        weight = getattr(w, "weight", None)
        if not isinstance(weight, Tensor):
            raise TypeError(f"plot_filters: expected a conv layer with a 4-D weight or a weight "
                            f"array, got {type(layer_or_weight).__name__}")
        w = weight
    w = to_numpy(w, "plot_filters").astype(np.float64)
    if w.ndim != 4:
        raise ValueError(f"plot_filters: expected a 4-D weight (OC, IC, KH, KW), got shape "
                         f"{w.shape}")
    return w


def first_conv(model) -> tuple[str, object] | None:
    """``(name, layer)`` of the first module (in registration order) with a 4-D weight."""
    for name, m in model.named_modules():
        weight = m._parameters.get("weight")
        if weight is not None and weight.ndim == 4:
            return name, m
    return None


def _per_filter(w: np.ndarray) -> np.ndarray:
    """Each filter min-max scaled to [0, 1] on its own (so weak filters stay visible)."""
    flat = w.reshape(w.shape[0], -1)
    lo, hi = flat.min(axis=1), flat.max(axis=1)
    span = np.where(hi > lo, hi - lo, 1.0)
    return ((flat - lo[:, None]) / span[:, None]).reshape(w.shape)


def plot_filters(layer_or_weight, path=None, max_filters: int = 64, max_channels: int = 16,
                 title: str | None = None, figsize: tuple[float, float] | None = None,
                 dpi: int = 100):
    """Draw the kernels of a convolution as a grid, each filter normalised on its own.

    A layer with 3 input channels (an RGB first layer) draws each filter as one colour tile; a
    single input channel as one grey tile; otherwise one row per filter and one grey tile per
    input channel. Light is the filter's largest weight, dark its smallest.

    Args:
        layer_or_weight: a conv layer (anything with a 4-D ``weight``), a Tensor or an array.
        path (str, optional): where to write the PNG.
        max_filters (int, default 64): draw at most this many filters (the first ones).
        max_channels (int, default 16): per-channel grids draw at most this many input channels.
        title (str, optional): defaults to the weight shape.
        figsize ((float, float), optional): inches; default grows with the grid.
        dpi (int, default 100): the PNG is ``figsize * dpi`` pixels.

    Shape:
        weight (OC, IC, KH, KW).

    Returns:
        ``path`` when given (the figure is written there), else the matplotlib Figure.

    >>> plot_filters(model.features[0], "filters.png")
    'filters.png'
    """
    w = conv_weight(layer_or_weight)
    OC, IC, KH, KW = w.shape
    shown = w[:max_filters]
    n = len(shown)
    norm = _per_filter(shown)
    title = title or f"{OC} filters of shape {IC}x{KH}x{KW}" + \
        (f" (first {n} shown)" if n < OC else "")
    if IC == 3:
        rows, cols = grid_shape(n)
        image = mosaic(np.moveaxis(norm, 1, -1), cols, fill=1.0)
        ylabel = xlabel = None
    elif IC == 1:
        rows, cols = grid_shape(n)
        image = mosaic(norm[:, 0], cols)
        ylabel = xlabel = None
    else:
        c = min(IC, max_channels)
        rows, cols = n, c
        image = mosaic(norm[:, :c].reshape(n * c, KH, KW), c)
        ylabel, xlabel = "filter", "input channel" + (f" (first {c} of {IC})" if c < IC else "")
    if figsize is None:
        tile = min(0.9, max(0.25, 8.0 / max(rows, cols)))
        figsize = (max(4.0, cols * tile + 0.8), max(2.5, rows * tile + 0.9))
    fig = figure(figsize)
    ax = fig.subplots()
    ax.imshow(image, cmap=grey_cmap(gap="#9ecae1"), vmin=0.0, vmax=1.0, interpolation="nearest")
    if ylabel:
        step = max(1, rows // 16)
        ax.set_yticks([(KH + 1) * i + (KH - 1) / 2 for i in range(0, rows, step)],
                      [str(i) for i in range(0, rows, step)], fontsize="small")
        ax.set_xticks([(KW + 1) * j + (KW - 1) / 2 for j in range(cols)],
                      [str(j) for j in range(cols)], fontsize="small")
        ax.set_ylabel(ylabel)
        ax.set_xlabel(xlabel)
        ax.tick_params(length=0)
    else:
        ax.set_axis_off()
    ax.set_title(title, fontsize="medium")
    return finish(fig, path, dpi)

