"""Figures and CSV tables for the QCNN experiments (matplotlib is optional, imported when used)."""
from __future__ import annotations

import csv
from pathlib import Path

from ..backend import xp

__all__ = ["plot_plateaus", "plot_phases", "write_csv"]


def _figure(figsize):
    try:
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ImportError("striate.quantum: plots need matplotlib; install it with "
                          "pip install 'striate[plot]'") from e
    # a bare Figure (no pyplot): no global state and no GUI backend, safe in scripts and tests
    return Figure(figsize=figsize, layout="constrained")


def write_csv(path, rows: list[dict]) -> Path:
    """Write a list of dicts (same keys) as a CSV file; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def plot_plateaus(result: dict, path) -> Path:
    """Two panels: Var[dC/dtheta] against n on log-log axes (with the QCNN power-law fit) and on
    semi-log axes (with the HEA exponential fit). ``result`` is ``plateau_experiment``'s output."""
    rows, fits = result["rows"], result["fits"]
    n = xp.array([r["n"] for r in rows], dtype=float)
    var = {k: xp.array([r[f"var_{k}"] for r in rows]) for k in ("qcnn", "hea")}
    fig = _figure((10, 4))
    left, right = fig.subplots(1, 2)
    style = {"qcnn": ("o", "C0", "QCNN, local cost"), "hea": ("s", "C3", "HEA, global cost")}
    for ax in (left, right):
        for k, (marker, color, label) in style.items():
            ax.plot(n, var[k], marker, color=color, label=label)
        ax.set_yscale("log")
        ax.set_xlabel("qubits n")
        ax.set_ylabel(r"Var[$\partial C / \partial\theta$]")
        ax.grid(True, which="both", alpha=0.3)
    left.set_xscale("log")
    left.set_xticks(n, [str(int(v)) for v in n])
    left.tick_params(axis="x", which="minor", labelbottom=False)
    if fits:
        fq, fh = fits["qcnn"]["power"], fits["hea"]["exponential"]
        left.plot(n, xp.exp(fq["intercept"]) * n ** fq["slope"], "--", color="C0",
                  label=rf"fit $\propto n^{{{fq['slope']:.2f}}}$, $R^2$={fq['r2']:.3f}")
        right.plot(n, xp.exp(fh["intercept"] + fh["slope"] * n), "--", color="C3",
                   label=rf"fit $\propto 2^{{{fh['slope'] / xp.log(2):.2f}n}}$, "
                         rf"$R^2$={fh['r2']:.3f}")
    left.set_title("log-log: a power law is a straight line")
    right.set_title("semi-log: an exponential is a straight line")
    for ax in (left, right):
        ax.legend(fontsize=8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path


def plot_phases(result: dict, path) -> Path:
    """The learned phase diagram: QCNN P(SPT) over (h1, h2), its 0.5 contour (learned boundary),
    the string-order boundary (ground truth) and the training points; beside it the training
    loss. ``result`` is ``phase_experiment``'s output."""
    h1, h2 = result["h1"], result["h2"]
    fig = _figure((11, 4.5))
    ax, ax_loss = fig.subplots(1, 2, width_ratios=[1.4, 1])
    # pixels centred on the grid points, so the contours run through the cells they separate
    d1, d2 = (h1[-1] - h1[0]) / max(len(h1) - 1, 1), (h2[-1] - h2[0]) / max(len(h2) - 1, 1)
    extent = (h1[0] - d1 / 2, h1[-1] + d1 / 2, h2[0] - d2 / 2, h2[-1] + d2 / 2)
    im = ax.imshow(result["proba"], origin="lower", extent=extent, aspect="auto", cmap="RdBu_r",
                   vmin=0, vmax=1)
    fig.colorbar(im, ax=ax, label="QCNN P(SPT) = (1 - <Z>) / 2")
    if len(h1) > 1 and len(h2) > 1:
        ax.contour(h1, h2, result["proba"], levels=[0.5], colors="k", linewidths=2)
        ax.contour(h1, h2, result["order"], levels=[result["threshold"]], colors="w",
                   linestyles="--", linewidths=1.5)
    pts, y = result["train_points"], result["y_train"]
    for cls, marker in ((1, "o"), (0, "x")):
        sel = y == cls
        ax.scatter(pts[sel, 0], pts[sel, 1], marker=marker, s=14, c="k", linewidths=1,
                   zorder=3, label="train: " + ("SPT" if cls else "not SPT"))
    ax.set_xlim(extent[0], extent[1])  # the training lines run past the test grid
    ax.set_ylim(extent[2], extent[3])
    ax.set_xlabel("h1 / J")
    ax.set_ylabel("h2 / J")
    ax.legend(loc="upper right", fontsize=7, framealpha=0.8)
    ax.set_title(f"{result['n_qubits']} qubits: learned boundary (black), string order (white "
                 f"dashed); test acc {result['test_accuracy']:.3f}", fontsize=9)
    steps = [s for s, _, _ in result["history"]]
    ax_loss.plot(steps, [loss for _, loss, _ in result["history"]], label="cross-entropy")
    ax_loss.plot(steps, [acc for _, _, acc in result["history"]], label="train accuracy")
    ax_loss.set_xlabel("Adam step")
    ax_loss.legend()
    ax_loss.grid(True, alpha=0.3)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path
