"""The floor under a training step whose convolutions are matrix products (issue 7).

``python -m benchmarks.floor --model resnet20`` times the matrix products that striate's
convolution kernels reduce each layer to, and nothing else, then sets that sum beside PyTorch's
and striate's whole training steps measured in the same run.

striate's im2col and MEC kernels lower the input and run GEMMs of these shapes (MEC in one
piece per output row), with rows = N*OH*OW output pixels and K = C*KH*KW:
- forward: (rows x K) @ (K x OC);
- weight gradient: (K x rows) @ (rows x OC);
- input gradient (not for the net's first layer): (rows x OC) @ (OC x K), then col2im. Gathering
  it as a full convolution instead has the same multiply-adds.
Every convolution of ResNet-20 runs on those two kernels (the stem on im2col in NCHW order, the
same product transposed). LeNet-5's layers have fewer than 16 input or output channels, and its
banded kernel multiplies a zero-padded band weight instead: a wider product with more
multiply-adds. For LeNet-5 the floor is therefore a guide, not a bound.

Each product runs here over blocks of rows already in cache (the same block is reused on every
call), at the fastest of several block sizes, split over the threads with BLAS pinned to one
thread per range, as striate's kernels split them. The copies that lower the input, col2im,
batch norm, activations, the loss, the optimizer and Python are all left out, so no kernel that
lowers to these GEMMs can train a step faster than this floor. The lowering gets a floor of its
own (:func:`lowering_step`): MEC copies each input pixel KW times, the least of striate's
lowerings, and contiguous copies of that many floats are timed.

The script prints each layer shape's products, then times the floor, the lowering, a striate
training step and a PyTorch training step in turns (as the suite times its cases), with a turn
that profiles PyTorch's step for the time of its convolution ops, and sets the medians beside the
step time that 0.8x of PyTorch's throughput allows.
"""
from __future__ import annotations

import argparse
import functools
import threading
import time

import numpy as np

from . import common
from .train import MODELS

#: Rows per block tried for each product; the fastest counts.
BLOCK_ROWS = (256, 512, 1024, 2048, 4096)


def conv_shapes(model: str) -> list[dict]:
    """Every convolution of ``model``'s torch twin, in call order, found by one forward pass.

    Each entry: ``pixels`` (OH*OW per image), ``K`` (C*KH*KW), ``OC``, ``lowered`` (floats per
    image in an input lowered along the width, OW * padded H * KW * C, as MEC lowers it) and
    ``first`` (the net's first convolution, whose input needs no gradient). Only groups=1
    convolutions are expected.
    """
    import torch

    from . import torch_models

    net, shapes = torch_models.build(model), []

    def record(mod, inputs, out):
        if mod.groups != 1:
            raise ValueError(f"conv_shapes: {model} has a grouped convolution "
                             f"(groups={mod.groups}); the floor covers groups=1 only")
        k = mod.kernel_size[0] * mod.kernel_size[1]
        hp = inputs[0].shape[2] + 2 * mod.padding[0]
        shapes.append(dict(pixels=out.shape[2] * out.shape[3], K=mod.in_channels * k,
                           OC=mod.out_channels,
                           lowered=out.shape[3] * hp * mod.kernel_size[1] * mod.in_channels,
                           first=not shapes))

    for mod in net.modules():
        if isinstance(mod, torch.nn.Conv2d):
            mod.register_forward_hook(record)
    with torch.no_grad():
        net(torch.zeros((1, *MODELS[model][1])))
    return shapes


def blocks(rows: int, size: int) -> list[int]:
    """Block lengths covering ``rows``: full blocks of ``size``, then the remainder."""
    return [size] * (rows // size) + ([rows % size] if rows % size else [])


class _Hot:
    """Per-thread operands that stay in cache: each thread reuses its own arrays."""

    def __init__(self):
        self.local = threading.local()

    def get(self, *shape, out: bool = False):
        """This thread's operand (random) or output (``out``) array of ``shape``."""
        cache = self.local.__dict__.setdefault("arrays", {})
        key = shape + (out,)
        if key not in cache:
            rng = np.random.default_rng(len(cache))
            cache[key] = np.empty(shape, np.float32) if out else rng.standard_normal(
                shape, np.float32)
        return cache[key]


def _product(kind: str, rows: int, K: int, OC: int, size: int, hot: _Hot):
    """A callable running one ``kind`` product ("forward", "weight", "input") over ``rows``
    rows in blocks of ``size``, split over striate's threads with BLAS pinned per range."""
    from striate.threads import parallel_for

    lengths = blocks(rows, size)

    def run(lo, hi):
        for m in lengths[lo:hi]:
            if kind == "forward":  # patches @ weight
                np.matmul(hot.get(m, K), hot.get(K, OC), out=hot.get(m, OC, out=True))
            elif kind == "weight":  # patches^T @ output gradient
                np.matmul(hot.get(m, K).T, hot.get(m, OC), out=hot.get(K, OC, out=True))
            else:  # output gradient @ weight^T: the columns col2im adds up
                np.matmul(hot.get(m, OC), hot.get(OC, K), out=hot.get(m, K, out=True))

    return lambda: parallel_for(run, len(lengths), 1, blas=True)


def _least(fn, repeat: int) -> float:
    fn()  # fills each thread's arrays
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def _in_turn(calls):
    """One callable running ``calls`` one after another."""
    def step():
        for fn in calls:
            fn()

    return step


def floor_products(model: str, batch: int = 128, sizes=BLOCK_ROWS, repeat: int = 3):
    """The products of one training step of ``model`` at ``batch``, each at its fastest block
    size: ``(rows, step)``. ``rows``: one per distinct layer shape, (shape, count, the least
    seconds of its forward, weight and input products; 0.0 where a product is not needed).
    ``step()`` runs each layer's products once: all that a training step multiplies."""
    hot, found = _Hot(), {}
    for L in conv_shapes(model):
        key = (batch * L["pixels"], L["K"], L["OC"], L["first"])
        found[key] = found.get(key, 0) + 1
    rows, calls = [], []
    for (n, K, OC, first), count in found.items():
        secs = []
        for kind in ("forward", "weight", "input"):
            if kind == "input" and first:
                secs.append(0.0)
                continue
            timed = [(_least(fn, repeat), fn) for fn in
                     (_product(kind, n, K, OC, s, hot) for s in sizes if s < 2 * max(n, 256))]
            t, fn = min(timed, key=lambda tf: tf[0])
            secs.append(t)
            calls += [fn] * count
        rows.append(((n, K, OC, first), count, secs))

    return rows, _in_turn(calls)


#: Floats per block of a lowering copy: MEC's 2 MB blocks.
COPY_BLOCK = 1 << 19


def lowering_step(model: str, batch: int = 128):
    """A callable that writes, for each product of a step that reads a lowered array, as many
    floats as the layer's input lowered along the width holds (``conv_shapes``' ``lowered``:
    MEC's lowering, the least that any of striate's lowering kernels copies). Forward and weight
    gradient lower the input; the input gradient lowers the output gradient, or writes col2im's
    columns, which for every layer of ResNet-20 is at least as many floats. Each write is a
    contiguous copy of a block already in cache, split over the threads: less than any real
    lowering costs."""
    from striate.threads import parallel_for

    hot, calls = _Hot(), []
    for L in conv_shapes(model):
        lengths = blocks(batch * L["lowered"], COPY_BLOCK)

        def run(lo, hi, lengths=lengths):
            for m in lengths[lo:hi]:
                np.copyto(hot.get(m, out=True), hot.get(m))

        copy = functools.partial(parallel_for, run, len(lengths), 1)
        calls += [copy] * (2 if L["first"] else 3)

    return _in_turn(calls)


def _layer_cells(shape, count: int, secs) -> list[str]:
    n, K, OC, first = shape
    flops = 2 * n * K * OC

    def cell(s):
        return "-" if s == 0.0 else f"{s * 1e3:.2f} ms ({flops / s / 1e9:.0f} GFLOP/s)"

    label = f"({n:,} x {K}) @ ({K} x {OC})" + (" (first layer)" if first else "")
    return [label, str(count)] + [cell(s) for s in secs] + [f"{count * sum(secs) * 1e3:.1f}"]


def torch_conv_seconds(step, steps: int) -> float:
    """Seconds per call of ``step`` that PyTorch's convolution ops take, forward and backward:
    their self CPU time under torch.profiler. Only these long ops are read from the profile,
    because the profiler's own cost per op would inflate the many short ones."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    us = sum(e.self_cpu_time_total for e in prof.key_averages()
             if "onvolution" in e.key or "conv2d" in e.key)
    return us / 1e6 / steps


HEADER = ["layer product", "layers", "forward", "weight gradient", "input gradient",
          "ms per step"]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="resnet20")
    parser.add_argument("--threads", type=int, default=common.default_threads())
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: one block size, one step per round (figures not usable)")
    args = parser.parse_args(argv)
    import torch  # noqa: F401  (loaded before set_threads so its thread count is set too)

    from .train import check_start, data_for, striate_stepper, torch_stepper

    common.set_threads(args.threads)
    title, _, lr = MODELS[args.model]
    batch = 128
    sizes, repeat = ((1024,), 1) if args.quick else (BLOCK_ROWS, 3)
    rows, floor_step = floor_products(args.model, batch, sizes, repeat)
    print(f"{title} training, batch {batch}, {args.threads} threads; {common.cpu_model()}, "
          f"NumPy {np.__version__} ({common.numpy_blas()})")
    print("Each product at its fastest block size, least of 3 calls:")
    print(common.table([_layer_cells(*r) for r in rows], HEADER))
    # the floor and both steps take turns, so each round sees the machine in one state
    images, labels, _ = data_for(args.model, batch)
    smodel, tmodel = common.build_pair(args.model)
    check_start(args.model, smodel, tmodel, images)
    runs = {"floor": floor_step, "lowering": lowering_step(args.model, batch),
            "striate": striate_stepper(smodel, images, labels, batch, lr),
            "torch": torch_stepper(tmodel, images, labels, batch, lr)}
    k = 1 if args.quick else common.warm_up(runs["torch"], 3.0, 20)
    for fn in runs.values():
        fn()
    turns = {name: (lambda fn=fn: [fn() for _ in range(k)]) for name, fn in runs.items()}
    conv = []  # PyTorch's convolution time per step, profiled in each round beside the others
    turns["profile"] = lambda: conv.append(torch_conv_seconds(runs["torch"], k))
    times = common.interleave(turns, args.rounds)
    ms = {name: common.median(t) / k * 1e3 for name, t in times.items()}
    allowed = ms["torch"] / 0.8
    other = ms["torch"] - common.median(conv) * 1e3

    def share(x):
        return f"{100 * x / allowed:.0f}% of the allowed step"

    print(f"\nmedian of {args.rounds} interleaved rounds of {k} steps each:")
    print(f"- PyTorch step: {ms['torch']:.1f} ms; 0.8x of its throughput allows {allowed:.1f} ms")
    print(f"- the floor (every product of a step, once per layer): {ms['floor']:.1f} ms, "
          f"{share(ms['floor'])}")
    print(f"- lowering, at least (each input pixel copied KW times, as MEC does, in cached "
          f"blocks): {ms['lowering']:.1f} ms, {share(ms['lowering'])}")
    print(f"- PyTorch outside its convolutions (its step less its convolution ops' time under "
          f"torch.profiler): {other:.1f} ms, {100 * other / ms['torch']:.0f}% of its step, "
          f"{share(other)}")
    print(f"- these three together: {share(ms['floor'] + ms['lowering'] + other)}")
    print(f"- striate step: {ms['striate']:.1f} ms ({ms['torch'] / ms['striate']:.2f}x "
          f"PyTorch's throughput)")

if __name__ == "__main__":
    main()
