"""Inference throughput, striate against PyTorch (issue 5).

``python -m benchmarks.inference`` times resnet18 and mobilenet_v2 at 3x224x224 batch 32 and
resnet20 at 3x32x32 batch 128 (``--models`` picks others: lenet5 at 1x28x28 batch 128 too), and
prints images/s and the ratio for each.

Both sides hold the same weights (striate's initial ones, copied into the torch twin) in eval
mode; striate runs under ``striate.no_grad()``, PyTorch under ``torch.inference_mode()`` (its
fastest inference mode). The input is one fixed float32 batch (MNIST test images for lenet5,
standard normal otherwise); after timing, the two sides' outputs on it are compared, so a
mismatch between the architectures stops the run instead of giving a meaningless ratio.
"""
from __future__ import annotations

import argparse

import numpy as np

from . import common
from .common import Result

# name -> (title, input shape, batch)
MODELS = {
    "lenet5": ("LeNet-5", (1, 28, 28), 128),
    "resnet20": ("ResNet-20", (3, 32, 32), 128),
    "resnet18": ("ResNet-18", (3, 224, 224), 32),
    "mobilenet_v2": ("MobileNetV2", (3, 224, 224), 32),
}
ISSUE5 = ("resnet18", "mobilenet_v2", "resnet20")


def input_batch(name: str, batch: int):
    """(float32 batch, description)."""
    shape = MODELS[name][1]
    if name == "lenet5":
        from striate.data.datasets import MNIST

        full = MNIST.available(common.MNIST_DIR)
        ds = (MNIST(root=common.MNIST_DIR, train=False, download=False) if full
              else MNIST(train=False, sample=True))
        x = np.resize(ds.images, (batch, *shape)).astype(np.float32) / 255
        return x, "MNIST test images"
    x = np.random.default_rng(0).standard_normal((batch, *shape), dtype=np.float32)
    return x, "random input"


def bench_inference(name: str, batch: int | None = None, rounds: int = 3,
                    target: float = 3.0, most: int = 50) -> Result:
    """Inference images/s of ``name`` on both sides, interleaved over ``rounds`` rounds.

    Args:
        name: a key of :data:`MODELS`.
        batch (int, optional): images per forward pass; default the model's (128 or 32).
        rounds (int, default 3): timed rounds per side; the figure is the median.
        target, most: each side's round is about ``target`` seconds, at most ``most`` passes.
    """
    import striate
    import torch

    title, shape, default_batch = MODELS[name]
    batch = batch or default_batch
    x, source = input_batch(name, batch)
    smodel, tmodel = common.build_pair(name)
    smodel.eval()
    tmodel.eval()
    xs, xt = striate.tensor(x), torch.from_numpy(x)
    out = {}

    def s_pass():
        with striate.no_grad():
            out["striate"] = smodel(xs)

    def t_pass():
        with torch.inference_mode():
            out["torch"] = tmodel(xt)

    k = {side: common.warm_up(fn, target, most)
         for side, fn in (("striate", s_pass), ("torch", t_pass))}
    runs = {"striate": lambda: [s_pass() for _ in range(k["striate"])],
            "torch": lambda: [t_pass() for _ in range(k["torch"])]}
    times = common.interleave(runs, rounds)
    common.check_same(name, out["striate"].numpy(), out["torch"].numpy())
    rate = {side: k[side] * batch / common.median(t) for side, t in times.items()}
    passes = (f"{k['striate']} passes" if k["striate"] == k["torch"]
              else f"{k['striate']} (striate) / {k['torch']} (PyTorch) passes")
    case = f"{title} inference, {'x'.join(map(str, shape))}, batch {batch}"
    note = f"median of {rounds} rounds x {passes}; {source}"
    return Result(case, rate["striate"], rate["torch"], "img/s", ">= 0.8", note,
                  common.round_ratios(times, k))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=list(ISSUE5))
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median)")
    parser.add_argument("--threads", type=int, default=common.default_threads())
    args = parser.parse_args(argv)
    import torch  # noqa: F401  (loaded before set_threads so its thread count is set too)

    common.set_threads(args.threads)
    print(f"inference, {args.threads} threads, {args.rounds} interleaved rounds", flush=True)
    rows = []
    for name in args.models:
        rows.append(bench_inference(name, rounds=args.rounds).cells())
        print("| " + " | ".join(rows[-1]) + " |", flush=True)
    print()
    print(common.table(rows, common.HEADER))


if __name__ == "__main__":
    main()
