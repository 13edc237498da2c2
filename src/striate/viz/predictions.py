"""What the classifier gets right and wrong: the confusion matrix and a grid of test images
labelled with the predicted and the true class."""
from __future__ import annotations

import numpy as np

from ._inspect import predict_classes
from ._plotting import display, figure, finish, grey_cmap, mosaic, to_numpy

__all__ = ["plot_confusion_matrix", "plot_predictions", "confusion_matrix"]


def confusion_matrix(labels, predictions, num_classes: int | None = None) -> np.ndarray:
    """Counts ``m[i, j]`` of samples of true class ``i`` predicted as ``j`` (int64).

    >>> confusion_matrix([0, 1, 1], [0, 1, 0])
    array([[1, 0],
           [1, 1]])
    """
    t = to_numpy(labels, "confusion_matrix").astype(np.int64).ravel()
    p = to_numpy(predictions, "confusion_matrix").astype(np.int64).ravel()
    if t.shape != p.shape:
        raise ValueError(f"confusion_matrix: {t.size} labels but {p.size} predictions")
    k = num_classes or int(max(t.max(initial=-1), p.max(initial=-1)) + 1)
    m = np.zeros((k, k), dtype=np.int64)
    np.add.at(m, (t, p), 1)
    return m


def plot_confusion_matrix(matrix, class_names=None, path=None, normalize: bool = True,
                          figsize: tuple[float, float] | None = None, dpi: int = 100):
    """Draw a confusion matrix: rows are the true class, columns the predicted one.

    Cells are coloured by the fraction of their row (the per-class recall, so a rare class
    reads as clearly as a common one) and show the counts when there are at most 20 classes.

    Args:
        matrix: (K, K) counts, e.g. ``evaluate(...)["confusion_matrix"]``.
        class_names (list of str, optional): K names; default the class indices.
        path (str, optional): where to write the PNG.
        normalize (bool, default True): colour by row fraction (False: by raw count).
        figsize ((float, float), optional): inches; default grows with K.
        dpi (int, default 100): the PNG is ``figsize * dpi`` pixels.

    Returns:
        ``path`` when given (the figure is written there), else the matplotlib Figure.

    >>> plot_confusion_matrix(evaluate(model, test)["confusion_matrix"], classes, "cm.png")
    'cm.png'
    """
    m = to_numpy(matrix, "plot_confusion_matrix").astype(np.int64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"plot_confusion_matrix: expected a square (K, K) matrix, got shape "
                         f"{m.shape}")
    K = m.shape[0]
    names = [str(i) for i in range(K)] if class_names is None else [str(c) for c in class_names]
    if len(names) != K:
        raise ValueError(f"plot_confusion_matrix: {len(names)} class names for a {K}x{K} matrix")
    rows = m.sum(axis=1, keepdims=True)
    shade = m / np.maximum(rows, 1) if normalize else m.astype(np.float64)
    if figsize is None:
        side = min(12.0, max(4.5, 0.45 * K + 2.5))
        figsize = (side + 0.8, side)
    fig = figure(figsize)
    ax = fig.subplots()
    im = ax.imshow(shade, cmap="Blues", vmin=0, vmax=1 if normalize else max(1, m.max()))
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02,
                 label="fraction of the true class" if normalize else "count")
    if K <= 20:
        top = shade.max() if shade.size else 1
        for i in range(K):
            for j in range(K):
                if m[i, j]:
                    ax.text(j, i, str(m[i, j]), ha="center", va="center", fontsize="small",
                            color="white" if shade[i, j] > 0.6 * top else "black")
    ticks = range(K) if K <= 40 else range(0, K, max(1, K // 20))
    ax.set_xticks(list(ticks), [names[i] for i in ticks], rotation=45 if K > 10 else 0,
                  ha="right" if K > 10 else "center", fontsize="small")
    ax.set_yticks(list(ticks), [names[i] for i in ticks], fontsize="small")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    total = int(m.sum())
    acc = np.trace(m) / total if total else 0.0
    ax.set_title(f"confusion matrix: {total} images, accuracy {acc:.2%}", fontsize="medium")
    return finish(fig, path, dpi)


def plot_predictions(model, images, labels, path=None, class_names=None, predictions=None,
                     display_images=None, ncols: int = 8, max_images: int = 64,
                     title: str | None = None, figsize: tuple[float, float] | None = None,
                     dpi: int = 100):
    """A grid of images titled "predicted (true)", wrong predictions in red with a red frame.

    Args:
        model: an ``nn.Module`` classifier (run in eval mode, its mode restored); may be None
            when ``predictions`` are given.
        images: (N, C, H, W) model inputs (preprocessed as the model expects).
        labels: (N,) true classes.
        path (str, optional): where to write the PNG.
        class_names (list of str, optional): names for the labels; default the indices.
        predictions ((N,) ints, optional): precomputed predicted classes (skips the model).
        display_images ((N, C, H, W), optional): what to draw instead of ``images`` (e.g. the
            raw uint8 images); default ``images``, each min-max scaled for display.
        ncols (int, default 8): images per row.
        max_images (int, default 64): draw the first this many.
        title (str, optional): figure title; default the number wrong.
        figsize ((float, float), optional): inches; default 1.3 inch per image.
        dpi (int, default 100): the PNG is ``figsize * dpi`` pixels.

    Returns:
        ``path`` when given (the figure is written there), else the matplotlib Figure.

    >>> plot_predictions(model, x_test[:32], y_test[:32], "predictions.png", classes)
    'predictions.png'
    """
    x = to_numpy(images, "plot_predictions")
    y = to_numpy(labels, "plot_predictions").astype(np.int64).ravel()
    if x.ndim != 4 or len(x) != len(y):
        raise ValueError(f"plot_predictions: expected (N, C, H, W) images and N labels, got "
                         f"images {x.shape} and {len(y)} labels")
    x, y = x[:max_images], y[:max_images]
    if predictions is None:
        pred = predict_classes(model, x.astype(np.float32, copy=False))
    else:
        pred = to_numpy(predictions, "plot_predictions").astype(np.int64).ravel()[:max_images]
    shown = x if display_images is None else to_numpy(display_images)[:max_images]
    n = len(x)
    if n == 0:
        raise ValueError("plot_predictions: no images to draw")
    names = (lambda k: str(class_names[k])) if class_names is not None else str
    tiles = np.stack([display(im) for im in shown])
    colour = tiles.ndim == 4
    cols = min(ncols, n)
    rows = -(-n // cols)
    h, w = tiles.shape[1:3]
    top, gap = max(4, round(0.4 * h)), max(2, round(0.12 * w))  # room for each label
    # one imshow of a mosaic, labels as text: far faster than one axes per image
    cell = np.full((n, h + top, w + gap) + tiles.shape[3:], 1.0 if colour else np.nan)
    cell[:, top:top + h, :w] = tiles
    if figsize is None:
        figsize = (max(3.0, 1.3 * cols), 1.3 * rows * (h + top) / (w + gap) + 0.45)
    fig = figure(figsize, layout=None)
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0 - 0.4 / figsize[1]))
    ax.imshow(mosaic(cell, cols, gap=0, fill=1.0 if colour else np.nan),
              cmap=None if colour else grey_cmap(), vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    for i in range(n):
        r, c = divmod(i, cols)
        x0, y0 = c * (w + gap), r * (h + top) + top
        wrong = pred[i] != y[i]
        ax.text(x0 + w / 2, y0 - 1, f"{names(int(pred[i]))} ({names(int(y[i]))})",
                ha="center", va="bottom", fontsize="small",
                color="tab:red" if wrong else "black", clip_on=True)
        if wrong:
            ax.add_patch(_rectangle((x0 - 0.5, y0 - 0.5), w, h))
    wrong = int((pred != y).sum())
    fig.suptitle(title or f"predicted (true): {wrong} of {n} wrong, marked red",
                 fontsize="medium", y=1.0 - 0.08 / figsize[1], va="top")
    return finish(fig, path, dpi)



def _rectangle(xy, w, h):
    from matplotlib.patches import Rectangle  # optional dependency, checked by figure()

    return Rectangle(xy, w, h, fill=False, edgecolor="tab:red", linewidth=2.5)
