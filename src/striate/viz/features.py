"""Feature maps: what each layer's channels respond to in one image.

Early layers keep the image's layout and find edges and blobs; deeper maps get smaller and
more numerous ("longer and narrower") and respond to larger parts of the image.
"""
from __future__ import annotations

import os

import numpy as np

from ..autograd import no_grad
from ..tensor import Tensor
from ._inspect import capturing, inspecting, resolve, spatial_layers
from ._plotting import as_batch, figure, finish, grey_cmap, grid_shape, mosaic, to_numpy

__all__ = ["feature_maps", "plot_feature_map", "plot_feature_maps"]


def feature_maps(model, image, layers=None) -> dict[str, np.ndarray]:
    """The output of named layers for one image, captured with forward hooks.

    The model runs once in eval mode under ``no_grad``; the hooks are removed and each
    module's train/eval mode restored afterwards, so the model is left as it was.

    Args:
        model: an ``nn.Module``.
        image: one input image, (C, H, W) or (1, C, H, W), preprocessed as the model expects.
        layers (str or list of str, optional): qualified layer names (``named_modules()``);
            default every leaf conv and pooling layer.

    Returns:
        ``{layer_name: array}`` in the order of ``layers``; each array is the layer's output
        for the image without the batch axis, e.g. (C, OH, OW) for a conv layer.

    >>> maps = feature_maps(lenet5(), x)   # x (1, 28, 28)
    >>> {k: v.shape for k, v in maps.items()}
    {'features.0': (6, 28, 28), 'features.2': (6, 14, 14), ...}
    """
    x = as_batch(image, "feature_maps")
    names = spatial_layers(model) if layers is None else layers
    modules = resolve(model, names, "feature_maps")
    with inspecting(model), no_grad(), capturing(modules) as outputs:
        model(Tensor(x))
    missing = [n for n, _ in modules if n not in outputs]
    if layers is None:  # a default layer the forward never calls (an unused head) is skipped
        modules = [(n, m) for n, m in modules if n in outputs]
    elif missing:
        raise ValueError(f"feature_maps: layer(s) {missing} did not run in the forward pass of "
                         f"{type(model).__name__}")
    return {n: to_numpy(outputs[n])[0] for n, _ in modules}


def plot_feature_map(maps, title: str = "", path=None, max_channels: int = 64,
                     figsize: tuple[float, float] | None = None, dpi: int = 100):
    """Draw one layer's (C, H, W) maps as a grid, each channel scaled to its own range.

    Args:
        maps: a (C, H, W) array (one of :func:`feature_maps`' values); (H, W) is one map.
        title (str): the figure title; the shape is appended.
        path (str, optional): where to write the PNG.
        max_channels (int, default 64): draw the first this many channels.
        figsize ((float, float), optional): inches; default grows with the grid.
        dpi (int, default 100): the PNG is ``figsize * dpi`` pixels.

    Returns:
        ``path`` when given (the figure is written there), else the matplotlib Figure.
    """
    a = to_numpy(maps, "plot_feature_map").astype(np.float64)
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3:
        raise ValueError(f"plot_feature_map: expected (C, H, W) maps, got shape {a.shape}")
    C, H, W = a.shape
    shown = a[:max_channels]
    flat = shown.reshape(len(shown), -1)
    lo, hi = flat.min(axis=1), flat.max(axis=1)
    tiles = (shown - lo[:, None, None]) / np.where(hi > lo, hi - lo, 1.0)[:, None, None]
    rows, cols = grid_shape(len(shown))
    if figsize is None:
        tile = min(1.2, max(0.5, 9.0 / cols))
        figsize = (max(4.0, cols * tile + 0.4), max(2.5, rows * tile * H / W + 0.8))
    fig = figure(figsize)
    ax = fig.subplots()
    ax.imshow(mosaic(tiles, cols), cmap=grey_cmap("viridis"), vmin=0.0, vmax=1.0,
              interpolation="nearest")
    ax.set_axis_off()
    more = f", first {len(shown)} maps shown" if len(shown) < C else ""
    ax.set_title(f"{title}  output {C}x{H}x{W}{more}".strip(), fontsize="medium")
    return finish(fig, path, dpi)


def plot_feature_maps(model, image, layers=None, out_dir=None, max_channels: int = 64,
                      prefix: str = "features", figsize: tuple[float, float] | None = None,
                      dpi: int = 100) -> dict:
    """One figure per layer of :func:`feature_maps`, titled with the layer and its output shape.

    Args:
        model, image, layers: as :func:`feature_maps` (layers whose output is not (C, H, W)
            are skipped).
        out_dir (str, optional): write ``{prefix}_{layer}.png`` there for each layer.
        max_channels (int, default 64): channels drawn per layer.
        prefix (str, default "features"): file name prefix.
        figsize ((float, float), optional): inches of every figure; default grows with the grid.
        dpi (int, default 100).

    Returns:
        ``{layer_name: path}`` with ``out_dir``, else ``{layer_name: Figure}``.

    >>> plot_feature_maps(model, x, out_dir="maps")
    {'features.0': 'maps/features_features.0.png', ...}
    """
    maps = feature_maps(model, image, layers)
    table = dict(model.named_modules())
    out = {}
    for name, a in maps.items():
        if a.ndim != 3:
            continue
        path = None if out_dir is None else os.path.join(out_dir, f"{prefix}_{name}.png")
        title = f"{name} ({type(table[name]).__name__})"
        out[name] = plot_feature_map(a, title, path, max_channels=max_channels,
                                     figsize=figsize, dpi=dpi)
    return out
