"""The benchmark suite: striate against PyTorch, side by side in one process (issue 7).

``python -m benchmarks`` (or ``make bench``) measures, with the same architectures, initial
weights, optimizer (SGD, momentum 0.9), batch size, float32 and thread count on both sides:
training and inference images/s of LeNet-5 (MNIST) and ResNet-20 (3x32x32), inference images/s of
resnet18 and mobilenet_v2 (3x224x224, batch 32), per-layer conv2d GFLOP/s against the float32
matmul ceiling, and the peak memory of a training step (separate processes). A full run writes
benchmarks/RESULTS.md (overwriting it) with the machine's description and the exact command.

``--quick`` is a smoke run (one step per round, small batches for the big nets, two conv
layers; its numbers are not comparable) and ``--only NAME`` runs the cases whose name contains
NAME (``--list`` names them). Quick and partial runs print their table but write a file only
when ``--output`` is given, so they never overwrite the full results.
"""
from __future__ import annotations

import argparse
import functools
import shlex
import sys
import time
from pathlib import Path

from . import common
from .common import Result

RESULTS = Path(__file__).with_name("RESULTS.md")
# case name -> (kind, model); the order of the run and of the table
CASES = {
    "lenet-train": ("train", "lenet5"),
    "resnet20-train": ("train", "resnet20"),
    "lenet-infer": ("infer", "lenet5"),
    "resnet20-infer": ("infer", "resnet20"),
    "resnet18-infer": ("infer", "resnet18"),
    "mobilenet_v2-infer": ("infer", "mobilenet_v2"),
    "conv-layers": ("conv", None),
    "lenet-memory": ("memory", "lenet5"),
    "resnet20-memory": ("memory", "resnet20"),
}
# full run: each side's round lasts about `target` seconds, at most `most` steps/passes/calls
# Five rounds of about 3 s, rather than three of about 5: this VM's speed drifts by up to
# 1.6x within minutes (the second vCPU's host core is shared), and shorter, more numerous turns
# pair the two sides' samples more closely at the same suite time (LeNet-5 inference read
# 1.07x, 0.99x and 0.69x in three runs of the three-round suite within an hour).
ROUNDS = 5
FULL = {"lenet-train": (3.0, 100), "resnet20-train": (3.6, 20), "lenet-infer": (1.2, 100),
        "resnet20-infer": (1.8, 20), "resnet18-infer": (1.8, 10),
        "mobilenet_v2-infer": (1.8, 10), "conv-layers": (0.3, 50)}
QUICK_BATCH = {"resnet20": 16, "resnet18": 2, "mobilenet_v2": 2}
# the nets whose conv shapes are timed: (model, input shape, batch)
CONV_NETS = (("lenet5", (1, 28, 28), 128), ("resnet20", (3, 32, 32), 128),
             ("resnet18", (3, 224, 224), 32), ("mobilenet_v2", (3, 224, 224), 32))


# ---- per-layer conv2d ----
def conv_layers(quick: bool) -> list[dict]:
    """The distinct conv2d shapes of CONV_NETS, found by running the torch twins on 1 image.

    Every distinct shape of LeNet-5, ResNet-20 and resnet18; of mobilenet_v2 the stem, every
    distinct depthwise layer and its first and last 1x1 convolution (the other 1x1 layers are
    plain matrix products of the same kind). ``quick``: LeNet conv2 and ResNet-20's 64-channel 3x3.
    ``first`` marks a net's first convolution, whose input (the image) needs no gradient.
    """
    import torch

    from . import torch_models

    layers = []
    for net, shape, batch in CONV_NETS[:2] if quick else CONV_NETS:
        model, found = torch_models.build(net), {}

        def record(name, mod, inputs, _out, found=found):
            key = (mod.in_channels, mod.out_channels, inputs[0].shape[2], mod.kernel_size[0],
                   mod.stride[0], mod.padding[0], mod.groups, mod.bias is not None)
            found.setdefault(key, name)

        for name, mod in model.named_modules():
            if isinstance(mod, torch.nn.Conv2d):
                mod.register_forward_hook(functools.partial(record, name))
        with torch.no_grad():
            model(torch.zeros((1, *shape)))
        rows = [dict(net=net, name=n, N=batch, C=k[0], OC=k[1], H=k[2], k=k[3], s=k[4], p=k[5],
                     g=k[6], bias=k[7], first=i == 0) for i, (k, n) in enumerate(found.items())]
        if net == "mobilenet_v2":
            ones = [r for r in rows if r["k"] == 1]
            rows = [r for r in rows if r["k"] > 1] + [ones[0], ones[-1]]
        layers += rows
    if quick:
        layers = [r for r in layers if (r["net"], r["C"], r["OC"], r["s"]) in
                  (("lenet5", 6, 16, 1), ("resnet20", 64, 64, 1))]
    return layers


def _conv_runs(L: dict):
    """{(side, phase): callable} for one layer, and its forward FLOPs.

    Phase 0 is the forward without autograd; phase 1 forward and backward, computing the
    gradients training needs: weight, bias, and input unless the layer is its net's first.
    """
    import numpy as np
    import striate
    import striate.functional as F
    import torch

    N, C, OC, H, k, g = L["N"], L["C"], L["OC"], L["H"], L["k"], L["g"]
    OH = (H + 2 * L["p"] - k) // L["s"] + 1
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((N, C, H, H), dtype=np.float32),
              rng.standard_normal((OC, C // g, k, k), dtype=np.float32) * 0.1]
    if L["bias"]:
        arrays.append(rng.standard_normal(OC, dtype=np.float32))
    gy = rng.standard_normal((N, OC, OH, OH), dtype=np.float32)
    kw = dict(stride=L["s"], padding=L["p"], groups=g)
    grad = [not L["first"]] + [True] * (len(arrays) - 1)
    ss = [striate.tensor(a, requires_grad=r) for a, r in zip(arrays, grad)]
    ts = [torch.tensor(a, requires_grad=r) for a, r in zip(arrays, grad)]
    gyt = torch.from_numpy(gy)

    def s_fwd():
        with striate.no_grad():
            F.conv2d(*ss, **kw)

    def s_fb():
        for t in ss:
            t.grad = None
        F.conv2d(*ss, **kw).backward(gy)

    def t_fwd():
        with torch.no_grad():
            torch.nn.functional.conv2d(*ts, **kw)

    def t_fb():
        for t in ts:
            t.grad = None
        torch.nn.functional.conv2d(*ts, **kw).backward(gyt)

    flops = 2 * N * OH * OH * OC * (C // g) * k * k
    return {("striate", 0): s_fwd, ("torch", 0): t_fwd, ("striate", 1): s_fb,
            ("torch", 1): t_fb}, flops


def bench_conv(L: dict, ceiling: float, rounds: int, target: float, most: int) -> list[str]:
    """One row of the conv table: GFLOP/s, % of the matmul ceiling, ratio, fwd and fwd+bwd."""
    fns, flops = _conv_runs(L)
    calls = {key: common.warm_up(fn, target, most) for key, fn in fns.items()}
    runs = {key: (lambda fn=fn, n=calls[key]: [fn() for _ in range(n)])
            for key, fn in fns.items()}
    times = common.interleave(runs, rounds)
    secs = {key: common.median(t) / calls[key] for key, t in times.items()}
    cells = []
    # backward: one product of the forward's size per gradient (input, weight)
    for phase, mult in ((0, 1), (1, 2 if L["first"] else 3)):
        s, t = (mult * flops / secs[side, phase] / 1e9 for side in common.SIDES)
        cells += [f"{s:.1f} ({100 * s / ceiling:.0f}%)", f"{t:.1f} ({100 * t / ceiling:.0f}%)",
                  f"{s / t:.2f}x"]
    kind = "depthwise " if L["g"] > 1 and L["g"] == L["C"] else ""
    label = (f"{L['net']} {L['name']}: {kind}{L['k']}x{L['k']}/{L['s']} {L['C']}->{L['OC']} "
             f"@{L['H']}x{L['H']}" + (" (first layer)" if L["first"] else ""))
    big3x3 = L["k"] == 3 and L["g"] == 1 and L["C"] >= 64
    return [label, str(L["N"])] + cells + [">= 60% fwd+bwd" if big3x3 else ""]


CONV_HEADER = ["layer", "batch", "striate fwd GFLOP/s (% ceil)", "PyTorch fwd", "fwd ratio",
               "striate fwd+bwd GFLOP/s (% ceil)", "PyTorch fwd+bwd", "fwd+bwd ratio", "target"]


# ---- the run ----
def run_case(name: str, quick: bool, rounds: int, threads: int) -> Result:
    kind, model = CASES[name]
    target, most = (0.0, 1) if quick else FULL.get(name, (0.0, 1))
    batch = QUICK_BATCH.get(model) if quick else None
    if kind == "train":
        from .train import bench_train

        return bench_train(model, batch or 128, rounds, target=target, most=most)
    if kind == "infer":
        from .inference import bench_inference

        return bench_inference(model, batch, rounds, target=target, most=most)
    from .memory import bench_memory

    return bench_memory(model, batch or 128, 1 if quick else 2, threads)


def _echo(cells: list[str], since: float) -> None:
    print("| " + " | ".join(cells) + f" |  ({time.perf_counter() - since:.0f} s)", flush=True)


def run_conv(quick: bool, rounds: int, n: int) -> tuple[float, list[list[str]]]:
    """The matmul ceiling and the conv table's rows, printed as they come."""
    from .ops import matmul_ceiling

    ceiling = matmul_ceiling(n, 3 if quick else 5)
    print(f"float32 matmul ceiling ({n}^3): {ceiling:.1f} GFLOP/s")
    print("| " + " | ".join(CONV_HEADER) + " |", flush=True)
    target, most = (0.0, 1) if quick else FULL["conv-layers"]
    rows = []
    for L in conv_layers(quick):
        t = time.perf_counter()
        rows.append(bench_conv(L, ceiling, rounds, target, most))
        _echo(rows[-1], t)
    return ceiling, rows


def write_results(path: Path, header, results, conv_rows, ceiling, wall: float,
                  n: int) -> None:
    out = ["# striate benchmark results", "",
           "Written by `python -m benchmarks` (see `benchmarks/__main__.py`); every figure is what "
           "that run measured, nothing is edited by hand. Rerun with `make bench`.", "",
           "## Machine and run", "", common.table([[k, v] for k, v in header], ["", ""]), ""]
    if results:
        out += ["## Throughput and memory", "",
                "Ratio = striate / PyTorch: above 1 means striate is faster (img/s) or uses more "
                "memory (MiB). For throughput it is the ratio of the two medians, followed by the "
                "lowest and highest ratio of a single interleaved round (the machine's drift "
                "during the run).", "", common.table([r.cells() for r in results], common.HEADER), ""]
    if conv_rows:
        out += ["## conv2d per layer", "",
                f"float32 matmul ceiling ({n}^3 NumPy matmul, `benchmarks.ops.matmul_ceiling`): "
                f"{ceiling:.1f} GFLOP/s. Forward runs without autograd; forward+backward computes "
                "the weight (and bias) gradients and the input gradient, except for a net's "
                "first layer whose input is the image, and counts 3x (first layers 2x) the "
                "forward FLOPs.", "",
                common.table(conv_rows, CONV_HEADER), ""]
    out += ["## How it was measured", "",
            "- Both sides run in this one process, interleaved (striate, PyTorch, striate, ...) "
            "after an untimed warm-up; each figure is the median of the rounds. Each side's "
            "round is sized to a few seconds from its warm-up (the counts are in the `how` "
            "column), so training is timed over a fixed number of steps rather than an epoch "
            "(`python -m benchmarks.train` times one full MNIST epoch).",
            "- Before every timed call the suite sleeps (untimed, 0.1 s; 0.03 s per conv layer "
            "call): the side that ran before leaves threads busy-waiting for work (PyTorch's "
            "OpenMP workers, OpenBLAS's), and without the pause they would share the cores "
            "with the side being timed.",
            "- Threads: striate's pool (`striate.set_num_threads`), NumPy's BLAS and torch all "
            "get the same count.",
            "- Same architecture and initial weights: striate's, copied into the PyTorch twin "
            "(benchmarks/torch_models.py) and checked by comparing outputs.",
            "- Memory: one fresh process per side and model (benchmarks/memory.py explains the "
            "baseline).", f"- Suite wall time: {wall:.0f} s.", ""]
    path.write_text("\n".join(out))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="run cases whose name contains NAME (repeatable, or comma-separated)")
    parser.add_argument("--list", action="store_true", help="list the case names and exit")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="interleaved rounds (>= 3)")
    parser.add_argument("--threads", type=int, default=common.default_threads())
    parser.add_argument("--output", type=Path, default=None,
                        help="results file (default benchmarks/RESULTS.md for a full run)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    if args.list:
        print("\n".join(CASES))
        return
    if args.rounds < 3:
        parser.error(f"--rounds must be at least 3 (the median of 3 or more), got {args.rounds}")
    wanted = [w for item in args.only for w in item.split(",") if w]
    names = [n for n in CASES if not wanted or any(w in n for w in wanted)]
    if not names:
        parser.error(f"--only {','.join(wanted)} matches no case; cases: {', '.join(CASES)}")
    try:
        import torch  # noqa: F401  (loaded before set_threads so its thread count is set too)
    except ImportError:
        sys.exit("benchmarks: PyTorch is needed for the comparison (pip install torch==2.13.0)")
    common.set_threads(args.threads)
    command = "python -m benchmarks " + shlex.join(sys.argv[1:] if argv is None else argv)
    header = common.machine(args.threads, command.strip())
    for k, v in header:
        print(f"{k}: {v}")
    if args.quick:
        print("quick smoke run: 1 step per round, small batches; numbers are not comparable")
    print("| " + " | ".join(common.HEADER) + " |", flush=True)
    results, conv_rows, ceiling = [], [], float("nan")
    n = 1024 if args.quick else 2048  # the matmul ceiling's size
    for name in names:
        t = time.perf_counter()
        if CASES[name][0] == "conv":
            ceiling, conv_rows = run_conv(args.quick, args.rounds, n)
            continue
        results.append(run_case(name, args.quick, args.rounds, args.threads))
        _echo(results[-1].cells(), t)
    wall = time.perf_counter() - start
    print(f"suite wall time: {wall:.0f} s")
    out = args.output or (RESULTS if not (args.quick or wanted) else None)
    if out is not None:
        write_results(out, header, results, conv_rows, ceiling, wall, n)
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
