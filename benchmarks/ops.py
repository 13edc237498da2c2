"""conv2d speed against the machine's float32 matmul ceiling and against PyTorch.

Run ``python -m benchmarks.ops``. Prints a markdown table: for LeNet's 5x5 layers and ResNet 3x3
layers, forward and forward+backward GFLOP/s, as a percentage of the float32 matmul ceiling
(a 2048^3 ``numpy`` matmul) and as a ratio to ``torch.nn.functional.conv2d`` run in the same
process with the same thread count (when torch is installed). Timings are interleaved (striate,
torch, striate, ...) and the median of ``--repeat`` runs is reported, so a busy neighbour hurts
both sides alike. Forward+backward computes the gradients of the input, weight and bias.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

import striate
import striate.functional as F

try:
    import torch
except ImportError:  # torch is optional: the table then has no PyTorch columns
    torch = None

# (name, N, C_in, C_out, H=W, kernel, padding, stride, groups)
LAYERS = [
    ("LeNet conv1 5x5", 128, 1, 6, 28, 5, 2, 1, 1),
    ("LeNet conv2 5x5", 128, 6, 16, 14, 5, 0, 1, 1),
    ("ResNet-20 3x3 16ch 32x32", 128, 16, 16, 32, 3, 1, 1, 1),
    ("ResNet-20 3x3 32ch 16x16", 128, 32, 32, 16, 3, 1, 1, 1),
    ("ResNet-20 3x3 64ch 8x8", 128, 64, 64, 8, 3, 1, 1, 1),
    ("ResNet-18 3x3 64ch 56x56 (N=32)", 32, 64, 64, 56, 3, 1, 1, 1),
    ("ResNet-18 3x3 256ch 14x14", 128, 256, 256, 14, 3, 1, 1, 1),
    ("ResNet-18 conv1 7x7/2 (N=32)", 32, 3, 64, 224, 7, 3, 2, 1),
    ("ResNet-18 3x3 512ch 7x7 (N=32)", 32, 512, 512, 7, 3, 1, 1, 1),
    ("ResNet-18 1x1/2 128->256 28x28 (N=32)", 32, 128, 256, 28, 1, 0, 2, 1),
    ("MobileNetV2 stem 3x3/2 (N=32)", 32, 3, 32, 224, 3, 1, 2, 1),
    ("MobileNetV2 dw 3x3 96ch 112x112 (N=32)", 32, 96, 96, 112, 3, 1, 1, 96),
    ("MobileNetV2 dw 3x3/2 144ch 56x56 (N=32)", 32, 144, 144, 56, 3, 1, 2, 144),
]


def threads() -> int:
    """BLAS thread count NumPy uses (OpenBLAS defaults to every core)."""
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var])
    return os.cpu_count() or 1


clock = time.perf_counter  # --cpu-time swaps in time.process_time


#: Untimed pause before each timed call (see benchmarks.common.SETTLE); shorter than the
#: model benchmarks' because each layer is timed many times.
SETTLE = 0.03


def timed(fn) -> float:
    time.sleep(SETTLE)
    t = clock()
    fn()
    return clock() - t


def matmul_ceiling(n: int = 2048, repeat: int = 5) -> float:
    """GFLOP/s of a float32 n x n x n numpy matmul, median of ``repeat``."""
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    b = a.T.copy()
    a @ b
    return 2 * n**3 / np.median([timed(lambda: a @ b) for _ in range(repeat)]) / 1e9


def layer_cases(N, C, OC, H, k, p, s=1, g=1):
    """(forward, forward+backward) callables for striate and, if present, torch."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, H, H), dtype=np.float32)
    w = rng.standard_normal((OC, C // g, k, k), dtype=np.float32) * 0.1
    b = rng.standard_normal(OC, dtype=np.float32)
    OH = (H + 2 * p - k) // s + 1
    hyper = dict(stride=s, padding=p, groups=g)
    gy = rng.standard_normal((N, OC, OH, OH), dtype=np.float32)
    xs, ws, bs = (striate.tensor(a, requires_grad=True) for a in (x, w, b))

    def s_fwd():
        F.conv2d(xs, ws, bs, **hyper)

    def s_fb():
        xs.grad = ws.grad = bs.grad = None
        F.conv2d(xs, ws, bs, **hyper).backward(gy)

    cases = {"striate": (s_fwd, s_fb)}
    if torch is not None:
        xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        gyt = torch.from_numpy(gy)

        def t_fwd():
            torch.nn.functional.conv2d(xt, wt, bt, **hyper)

        def t_fb():
            xt.grad = wt.grad = bt.grad = None
            torch.nn.functional.conv2d(xt, wt, bt, **hyper).backward(gyt)

        cases["torch"] = (t_fwd, t_fb)
    return cases, 2 * N * OH * OH * OC * (C // g) * k * k


def measure(cases, repeat: int) -> dict:
    """Median seconds per (impl, phase), runs interleaved across implementations."""
    times = {(name, ph): [] for name in cases for ph in (0, 1)}
    for name in cases:  # warm-up: first calls pay for page faults and BLAS start-up
        for ph in (0, 1):
            cases[name][ph]()
    for _ in range(repeat):
        for ph in (0, 1):
            for name, fns in cases.items():
                times[name, ph].append(timed(fns[ph]))
    return {key: float(np.median(v)) for key, v in times.items()}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per case (median)")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time by this process's CPU time (meaningful with "
                             "OPENBLAS_NUM_THREADS=1: robust to other processes on the cores)")
    parser.add_argument("--only", default="", help="run only layers whose name contains this")
    args = parser.parse_args(argv)
    global clock
    clock = time.process_time if args.cpu_time else time.perf_counter
    nt = threads()
    if torch is not None:
        torch.set_num_threads(nt)
    ceiling = matmul_ceiling()
    print(f"float32 matmul ceiling (2048^3 numpy): {ceiling:.0f} GFLOP/s, {nt} threads, "
          f"numpy {np.__version__}" + (f", torch {torch.__version__}" if torch else "")
          + (", CPU time" if args.cpu_time else ", wall time"))
    print()
    head = "| layer (batch 128 unless noted) | fwd GFLOP/s | fwd % ceil |"
    head += " torch fwd | fwd ratio |" if torch else ""
    head += " fwd+bwd GFLOP/s | fwd+bwd % ceil |"
    head += " torch fwd+bwd | fwd+bwd ratio |" if torch else ""
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for name, N, C, OC, H, k, p, s, g in LAYERS:
        if args.only not in name:
            continue
        cases, flops = layer_cases(N, C, OC, H, k, p, s, g)
        t = measure(cases, args.repeat)
        row = f"| {name} |"
        for ph, mult in ((0, 1), (1, 3)):  # backward = two more products of the forward's size
            s = mult * flops / t["striate", ph] / 1e9
            row += f" {s:.1f} | {100 * s / ceiling:.0f}% |"
            if torch is not None:
                tt = mult * flops / t["torch", ph] / 1e9
                row += f" {tt:.1f} | {s / tt:.2f}x |"
        print(row, flush=True)


if __name__ == "__main__":
    main()
