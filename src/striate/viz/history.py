"""Training curves: loss and accuracy per epoch, for training and validation."""
from __future__ import annotations

import csv
import os

from ._plotting import figure, finish

__all__ = ["plot_history", "history_rows"]


def _number(v):
    if v in ("", None):
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def history_rows(history_or_csv) -> list[dict]:
    """The per-epoch rows of a :class:`striate.train.History`, a list of dicts or a CSV path."""
    if isinstance(history_or_csv, (str, os.PathLike)):
        path = os.fspath(history_or_csv)
        if not os.path.exists(path):
            raise FileNotFoundError(f"plot_history: no such history file: {path}")
        with open(path, newline="") as f:
            return [{k: _number(v) for k, v in r.items()} for r in csv.DictReader(f)]
    rows = getattr(history_or_csv, "rows", history_or_csv)
    if not isinstance(rows, (list, tuple)) or not all(isinstance(r, dict) for r in rows):
        raise TypeError("plot_history: expected a History, a list of dicts or a CSV path, got "
                        f"{type(history_or_csv).__name__}")
    return [{k: _number(v) if not isinstance(v, (int, float)) else float(v)
             for k, v in r.items()} for r in rows]


def _series(rows: list[dict], key: str) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for i, r in enumerate(rows):
        if r.get(key) is not None:
            xs.append(r.get("epoch") or i + 1)
            ys.append(r[key])
    return xs, ys


def plot_history(history_or_csv, path=None, figsize: tuple[float, float] = (10, 4),
                 dpi: int = 100):
    """Loss and accuracy curves, training and validation, against the epoch.

    Args:
        history_or_csv: a :class:`striate.train.History`, a list of per-epoch dicts, or the
            path of a ``history.csv`` written by :func:`striate.train.fit` (columns ``epoch``,
            ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``; missing ones are skipped).
        path (str, optional): where to write the PNG.
        figsize ((float, float), default (10, 4)): inches; the PNG is ``figsize * dpi`` pixels.
        dpi (int, default 100).

    Returns:
        ``path`` when given (the figure is written there), else the matplotlib Figure.

    >>> plot_history("runs/latest/history.csv", "curves.png")
    'curves.png'
    """
    rows = history_rows(history_or_csv)
    if not rows:
        raise ValueError("plot_history: the history has no epochs")
    fig = figure(figsize)
    ax_loss, ax_acc = fig.subplots(1, 2)
    panels = ((ax_loss, "loss", "loss", False), (ax_acc, "accuracy", "accuracy", True))
    for ax, key, title, percent in panels:
        for prefix, label, style in (("", "train", "o-"), ("val_", "validation", "s--")):
            xs, ys = _series(rows, prefix + key)
            if xs:
                ys = [100 * y for y in ys] if percent else ys
                last = f"{ys[-1]:.2f}%" if percent else f"{ys[-1]:.4f}"
                ax.plot(xs, ys, style, markersize=4, label=f"{label} (last {last})")
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"{key} (%)" if percent else key)
        ax.grid(True, alpha=0.3)
        if ax.lines:
            ax.legend(loc="best", fontsize="small")
        else:
            ax.text(0.5, 0.5, f"no {key} recorded", ha="center", va="center",
                    transform=ax.transAxes, color="grey")
        ax.xaxis.get_major_locator().set_params(integer=True)
    return finish(fig, path, dpi)
