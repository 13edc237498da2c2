"""Peak resident memory of a training step, striate against PyTorch, each in its own process.

``python -m benchmarks.memory`` starts one fresh Python process per (side, model) -- striate
LeNet-5, PyTorch LeNet-5, striate ResNet-20, PyTorch ResNet-20 -- so one framework's allocations
never count against the other. The striate process never imports torch.

What is measured (the decision, since "peak memory" can mean several things): each child imports
its framework, runs one warm-up training step on a throwaway copy of the model with a single
image (this maps the code pages and starts the thread pools and kernel caches that any first
call pays for, once per process), frees it, and records its current resident set (VmRSS) as the
baseline. Then it restarts the kernel's peak-RSS count there (``/proc/self/clear_refs``), builds
the model, the SGD optimizer (momentum 0.9) and one batch of random float32 data, runs
``--steps`` training steps (momentum buffers exist from the first step, so the second step is
the steady state) and reads the peak (VmHWM). The figure compared is peak minus baseline: the
memory the training step needs (weights, gradients, optimizer state, activations kept for
backward, workspaces, allocator caches), without the fixed cost of loading the framework (torch's
libraries alone are several hundred MiB resident, which would swamp LeNet-5's few MiB). The
absolute peaks are printed beside it.

Why not ``resource.getrusage(RUSAGE_SELF).ru_maxrss``: Linux keeps it across fork and exec, so a
child started from the suite's big process would report the suite's peak. VmHWM belongs to the
child's own address space; ru_maxrss is the fallback where /proc is missing (then without the
reset, so the figure includes the imports).
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys

from . import common
from .common import Result

MODELS = {"lenet5": ("LeNet-5", (1, 28, 28)), "resnet20": ("ResNet-20", (3, 32, 32))}


def _child(side: str, name: str, batch: int, steps: int, threads: int) -> dict:
    """Runs inside the child process: a few training steps, then the RSS figures."""
    import numpy as np

    if side == "torch":
        import torch

        from . import torch_models
    else:
        import striate
        import striate.functional as F
    common.set_threads(threads)
    shape = MODELS[name][1]
    rng = np.random.default_rng(0)

    def train(n: int, steps: int) -> None:
        x = rng.standard_normal((n, *shape), dtype=np.float32)
        y = rng.integers(0, 10, n).astype(np.int64)
        if side == "torch":
            model = torch_models.build(name)
            opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
            xt, yt = torch.from_numpy(x), torch.from_numpy(y)
            for _ in range(steps):
                opt.zero_grad()
                torch.nn.functional.cross_entropy(model(xt), yt).backward()
                opt.step()
        else:
            striate.manual_seed(0)
            model = striate.models.get(name)
            opt = striate.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
            xs = striate.tensor(x)
            for _ in range(steps):
                opt.zero_grad()
                F.cross_entropy(model(xs), y).backward()
                opt.step()

    train(1, 1)  # warm-up on a throwaway model: code pages, thread pools, kernel caches
    gc.collect()
    base = common.rss_now_mb()
    reset = common.reset_peak_rss()
    train(batch, steps)
    return {"baseline_mb": base, "peak_mb": common.peak_rss_mb(), "peak_reset": reset}


def measure(side: str, name: str, batch: int = 128, steps: int = 2,
            threads: int | None = None) -> dict:
    """Run one child process and return its ``{"baseline_mb", "peak_mb"}``."""
    threads = threads or common.default_threads()
    cmd = [sys.executable, "-m", "benchmarks.memory", "--child", side, name,
           "--batch-size", str(batch), "--steps", str(steps), "--threads", str(threads)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(common.ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    proc = subprocess.run(cmd, cwd=common.ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"memory child {side} {name} failed (exit {proc.returncode}):\n"
                           f"{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench_memory(name: str, batch: int = 128, steps: int = 2,
                 threads: int | None = None) -> Result:
    """Training-step memory (peak RSS above the warm baseline), both sides."""
    got = {side: measure(side, name, batch, steps, threads) for side in common.SIDES}
    delta = {side: g["peak_mb"] - g["baseline_mb"] for side, g in got.items()}
    case = f"peak memory of a {MODELS[name][0]} training step, batch {batch}"
    note = (f"peak RSS above the RSS after imports and a 1-image warm-up step; {steps} "
            f"steps, separate processes; absolute peaks {got['striate']['peak_mb']:.0f} / "
            f"{got['torch']['peak_mb']:.0f} MiB")
    return Result(case, delta["striate"], delta["torch"], "MiB", "<= 1.5", note)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=2, metavar=("SIDE", "MODEL"), help=argparse.SUPPRESS)
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=list(MODELS))
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--threads", type=int, default=common.default_threads())
    args = parser.parse_args(argv)
    if args.child:
        side, name = args.child
        print(json.dumps(_child(side, name, args.batch_size, args.steps, args.threads)))
        return
    rows = [bench_memory(m, args.batch_size, args.steps, args.threads).cells()
            for m in args.models]
    print(common.table(rows, common.HEADER))


if __name__ == "__main__":
    main()
