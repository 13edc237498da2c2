"""Training throughput, striate against PyTorch: LeNet-5 on MNIST, ResNet-20 on 3x32x32 (issue 4).

``python -m benchmarks.train`` trains LeNet-5 for one epoch of MNIST on each side (468 steps of
batch 128, ``drop_last``), interleaved in 3 rounds of 156 steps, and prints images/s and the
ratio. ``--steps N`` times N steps per side instead; ``--model resnet20`` trains ResNet-20 on
random 3x32x32 images. The suite (``python -m benchmarks``) calls :func:`bench_train` with rounds
sized by time rather than a whole epoch.

Both sides: the same architecture and initial weights (striate's, copied into the torch twin and
checked by a forward pass), SGD with momentum 0.9, batch 128, float32, cross-entropy, the same
thread count. Each step is the whole user-visible loop: next batch, zero_grad, forward, loss,
backward, optimizer step. Data: striate reads batches through ``striate.data.DataLoader`` (seeded
shuffle, uint8 -> float32 per batch, background prefetch); PyTorch indexes a uint8 tensor with a
seeded permutation and converts per batch, the cheapest idiomatic torch input path.
"""
from __future__ import annotations

import argparse
import math

import numpy as np

from . import common
from .common import Result

# name -> (title, input shape, learning rate)
MODELS = {
    "lenet5": ("LeNet-5", (1, 28, 28), 0.01),
    "resnet20": ("ResNet-20", (3, 32, 32), 0.1),
}


def mnist_train():
    """(uint8 images (N, 1, 28, 28), int64 labels, description): the full MNIST training set
    from ../shared/data/mnist if it is there, else striate's embedded 6,000-image sample."""
    from striate.data.datasets import MNIST

    if MNIST.available(common.MNIST_DIR):
        ds = MNIST(root=common.MNIST_DIR, train=True, download=False)
        return ds.images, ds.labels, f"MNIST train ({len(ds):,} images)"
    ds = MNIST(train=True, sample=True)
    return ds.images, ds.labels, f"embedded MNIST sample ({len(ds):,} images; full set absent)"


def random_data(shape, n: int, seed: int = 0):
    """``n`` standard-normal float32 images and random labels of 10 classes."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, *shape), dtype=np.float32)
    return x, rng.integers(0, 10, n).astype(np.int64), f"random {n:,} images"


def data_for(name: str, batch: int):
    if name == "lenet5":
        return mnist_train()
    return random_data(MODELS[name][1], 10 * batch)


def striate_stepper(model, images, labels, batch: int, lr: float):
    """A function doing one striate training step on the next batch."""
    import striate
    import striate.functional as F
    from striate.data import ArrayDataset, DataLoader

    loader = DataLoader(ArrayDataset(images, labels), batch_size=batch, shuffle=True,
                        drop_last=True, seed=0)

    def batches():
        while True:
            yield from loader

    it = batches()
    opt = striate.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    model.train()

    def step():
        x, y = next(it)
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    return step


def torch_stepper(model, images, labels, batch: int, lr: float):
    """A function doing one PyTorch training step on the next batch."""
    import torch

    X, Y = torch.from_numpy(images), torch.from_numpy(labels)
    scale = 1 / 255 if images.dtype == np.uint8 else 1.0
    gen = torch.Generator().manual_seed(0)

    def batches():
        while True:
            perm = torch.randperm(len(X), generator=gen)
            for b in range(len(X) // batch):
                idx = perm[b * batch:(b + 1) * batch]
                yield X[idx].float().mul_(scale), Y[idx]

    it = batches()
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    model.train()

    def step():
        x, y = next(it)
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    return step


def check_start(name: str, smodel, tmodel, images) -> None:
    """Both models give the same logits on a few images (eval mode, before any step)."""
    import striate
    import torch

    x = images[:8].astype(np.float32) / (255 if images.dtype == np.uint8 else 1)
    smodel.eval()
    tmodel.eval()
    with striate.no_grad():
        ys = smodel(striate.tensor(x)).numpy()
    with torch.no_grad():
        yt = tmodel(torch.from_numpy(x)).numpy()
    common.check_same(name, ys, yt)


def bench_train(name: str, batch: int = 128, rounds: int = 3, steps: int | None = None,
                target: float = 5.0, most: int = 100, data=None) -> Result:
    """Training images/s of ``name`` on both sides, interleaved over ``rounds`` rounds.

    Args:
        name: "lenet5" or "resnet20".
        batch (int, default 128): images per step.
        rounds (int, default 3): timed rounds per side; the figure is the median.
        steps (int, optional): steps per round, the same on both sides. None sizes each side's
            round to about ``target`` seconds (at most ``most`` steps) from the warm-up.
        data: (images, labels, description), default MNIST for lenet5, random for resnet20.
    """
    title, shape, lr = MODELS[name]
    images, labels, source = data if data is not None else data_for(name, batch)
    smodel, tmodel = common.build_pair(name)
    check_start(name, smodel, tmodel, images)
    step = {"striate": striate_stepper(smodel, images, labels, batch, lr),
            "torch": torch_stepper(tmodel, images, labels, batch, lr)}
    k = {side: common.warm_up(fn, target, most) for side, fn in step.items()}
    if steps:
        k = dict.fromkeys(k, steps)
    runs = {side: (lambda fn=fn, n=k[side]: [fn() for _ in range(n)]) for side, fn in step.items()}
    times = common.interleave(runs, rounds)
    rate = {side: k[side] * batch / common.median(t) for side, t in times.items()}
    case = f"{title} training, {'x'.join(map(str, shape))}, batch {batch}"
    steps_note = (f"{k['striate']} steps" if k["striate"] == k["torch"]
                  else f"{k['striate']} (striate) / {k['torch']} (PyTorch) steps")
    note = f"median of {rounds} rounds x {steps_note}; {source}"
    return Result(case, rate["striate"], rate["torch"], "img/s", ">= 0.8 (aim 1.0)", note,
                  common.round_ratios(times, k))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="lenet5")
    parser.add_argument("--steps", type=int, default=None,
                        help="steps per side (default: one epoch for lenet5, 30 for resnet20)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=common.default_threads())
    args = parser.parse_args(argv)
    import torch  # noqa: F401  (loaded before set_threads so its thread count is set too)

    common.set_threads(args.threads)
    data = data_for(args.model, args.batch_size)
    total = args.steps or (len(data[0]) // args.batch_size if args.model == "lenet5" else 30)
    per_round = math.ceil(total / args.rounds)
    what = "one epoch" if args.steps is None and args.model == "lenet5" else f"{total} steps"
    print(f"{MODELS[args.model][0]}: {what} per side in {args.rounds} interleaved rounds of "
          f"{per_round} steps, {args.threads} threads", flush=True)
    r = bench_train(args.model, args.batch_size, args.rounds, steps=per_round, data=data)
    print(common.table([r.cells()], common.HEADER))


if __name__ == "__main__":
    main()
