"""``striate qcnn phases|plateaus``: the QCNN experiments from the command line.

The main ``striate`` command mounts this with :func:`add_parser`; ``python -m striate.quantum``
runs the same subcommands on their own. Each writes PNG figures and CSV tables into ``--out``.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from ..backend import xp
from .experiments import TRAINING_LINES, phase_experiment, plateau_experiment
from .plots import plot_phases, plot_plateaus, write_csv

__all__ = ["add_parser", "add_commands", "run"]


def add_commands(parser: argparse.ArgumentParser) -> None:
    """Add the ``phases`` and ``plateaus`` subcommands to ``parser``."""
    sub = parser.add_subparsers(dest="qcnn_command", required=True, metavar="{phases,plateaus}")
    ph = sub.add_parser("phases", help="train a QCNN to recognise the SPT phase of the "
                        "cluster-Ising chain; draw the learned phase diagram")
    ph.add_argument("--qubits", type=int, default=8, help="chain length (default 8; <= 12 "
                    "is practical)")
    ph.add_argument("--train", type=int, default=40, help="training points per line (default 40)")
    ph.add_argument("--lines", nargs="+", choices=TRAINING_LINES, default=list(TRAINING_LINES),
                    help="training lines with exact labels (default both: h2=0, SPT iff h1 < 1; "
                    "h1=0, SPT iff |h2| < 1, through the antiferromagnet)")
    ph.add_argument("--grid", type=int, default=21, help="test grid points per axis (default 21)")
    ph.add_argument("--steps", type=int, default=100, help="Adam steps (default 100)")
    ph.add_argument("--lr", type=float, default=0.1, help="Adam learning rate (default 0.1)")
    ph.add_argument("--grad", choices=["shift", "adjoint"], default="adjoint",
                    help="gradient method for training: adjoint (default, reverse mode) or shift "
                    "(parameter shift, ~30x slower); both exact")
    ph.add_argument("--boundary", choices=["periodic", "open"], default="periodic")
    ph.add_argument("--seed", type=int, default=0)
    ph.add_argument("--out", type=Path, default=Path("runs/qcnn"), help="output directory")
    pl = sub.add_parser("plateaus", help="gradient variance vs qubits: QCNN (polynomial) vs "
                        "hardware-efficient ansatz (exponential)")
    pl.add_argument("--max-qubits", type=int, default=12, help="largest even n (default 12)")
    pl.add_argument("--min-qubits", type=int, default=4, help="smallest even n (default 4)")
    pl.add_argument("--samples", type=int, default=200, help="random initialisations per n "
                    "(default 200)")
    pl.add_argument("--seed", type=int, default=0)
    pl.add_argument("--out", type=Path, default=Path("runs/qcnn"), help="output directory")


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``qcnn`` on the main command's ``subparsers``; its handler is :func:`run`."""
    parser = subparsers.add_parser("qcnn", help="quantum convolutional neural networks: "
                                   "phase classification and barren plateaus")
    add_commands(parser)
    parser.set_defaults(func=run)
    return parser


def _progress(enabled: bool = True):
    """``progress(iterable, desc)`` with tqdm when it is installed, else a no-op."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return lambda it, desc=None: it
    return lambda it, desc=None: tqdm(it, desc=desc, leave=False, disable=not enabled)


def run(args: argparse.Namespace) -> int:
    """Run the subcommand in ``args.qcnn_command``; returns the exit status."""
    if args.qcnn_command == "phases":
        return _run_phases(args)
    if args.qcnn_command == "plateaus":
        return _run_plateaus(args)
    raise ValueError(f"qcnn: unknown command {args.qcnn_command!r}, expected phases or plateaus")


def _run_phases(args) -> int:
    if not 4 <= args.qubits <= 14:
        raise ValueError(f"qcnn phases: --qubits must be in [4, 14], got {args.qubits}")
    t0 = time.perf_counter()
    res = phase_experiment(args.qubits, args.train, args.lines, xp.linspace(0.0, 1.6, args.grid),
                           xp.linspace(-1.6, 1.6, args.grid), steps=args.steps, lr=args.lr,
                           seed=args.seed, boundary=args.boundary, grad_method=args.grad,
                           progress=_progress())
    out = Path(args.out)
    grid = [{"h1": float(a), "h2": float(b), "string_order": float(res["order"][i, j]),
             "label_spt": int(res["labels"][i, j]), "qcnn_p_spt": float(res["proba"][i, j])}
            for i, b in enumerate(res["h2"]) for j, a in enumerate(res["h1"])]
    write_csv(out / "qcnn_phases_grid.csv", grid)
    write_csv(out / "qcnn_phases_training.csv",
              [{"step": s, "loss": loss, "train_accuracy": acc} for s, loss, acc in res["history"]])
    png = plot_phases(res, out / "qcnn_phases.png")
    print(f"QCNN phases: {args.qubits} qubits, {res['n_params']} parameters, depth "
          f"{res['depth']}, {args.steps} Adam steps ({args.grad} gradients)")
    print(f"  trained on {len(res['y_train'])} ground states: {args.train} per line "
          f"{', '.join(res['lines'])}")
    print(f"  final loss {res['history'][-1][1]:.4f}, train accuracy {res['train_accuracy']:.3f}")
    print(f"  test accuracy on the {args.grid}x{args.grid} (h1, h2) grid: "
          f"{res['test_accuracy']:.3f} (labels: string order > {res['threshold']:.3f}); "
          f"recall SPT {res['recall_spt']:.3f}, non-SPT {res['recall_other']:.3f}")
    print(f"  wrote {png} and CSVs to {out} in {time.perf_counter() - t0:.1f} s")
    return 0


def _run_plateaus(args) -> int:
    if args.min_qubits < 2 or args.max_qubits < args.min_qubits or args.samples < 2:
        raise ValueError(f"qcnn plateaus: need 2 <= --min-qubits <= --max-qubits and "
                         f"--samples >= 2, got {args.min_qubits}, {args.max_qubits}, "
                         f"{args.samples}")
    qubits = list(range(args.min_qubits + args.min_qubits % 2, args.max_qubits + 1, 2))
    progress = _progress()
    res = plateau_experiment(qubits, args.samples, args.seed, lambda it: progress(it, "qubits"))
    out = Path(args.out)
    write_csv(out / "qcnn_plateaus.csv", res["rows"])
    png = plot_plateaus(res, out / "qcnn_plateaus.png")
    print(f"Var[dC/dtheta] over {args.samples} random initialisations (parameter shift):")
    print(f"  {'n':>3} {'QCNN':>11} {'HEA':>11}   wall s QCNN / HEA   (CPU s)")
    for r in res["rows"]:
        print(f"  {r['n']:>3} {r['var_qcnn']:11.4e} {r['var_hea']:11.4e}   "
              f"{r['seconds_qcnn']:8.2f} / {r['seconds_hea']:<8.2f} "
              f"({r['cpu_seconds_qcnn']:.2f} / {r['cpu_seconds_hea']:.2f})")
    for key, name in (("qcnn", "QCNN"), ("hea", "HEA ")):
        fit = res["fits"].get(key)
        if fit:
            p, e = fit["power"], fit["exponential"]
            print(f"  {name}: power law Var ~ n^{p['slope']:.2f} (R^2 {p['r2']:.3f}); "
                  f"exponential Var ~ 2^({e['slope'] / xp.log(2):.3f} n) (R^2 {e['r2']:.3f})")
    print(f"  wrote {png} and {out / 'qcnn_plateaus.csv'}")
    return 0
