"""The ``striate`` command: train, evaluate, predict, summary, export, report, show, qcnn.

Exit codes: 0 success, 2 bad usage (argparse), 1 failure with a one-line reason. User errors
(a missing file, a corrupt checkpoint, an unknown model) never print a traceback.
"""
from __future__ import annotations

import argparse
import os
import sys

from . import backend, data, models, onnx, optim, viz
from .data import DataLoader
from .checkpoint import UserError, build_model, load_model, model_kwargs
from .summary import summary
from .train import NonFiniteLossError, evaluate, fit, predict
from .quantum import cli as qcnn_cli
from .viz import cli as viz_cli

DATA_CHOICES = ("mnist", "fashion-mnist", "cifar10", "sample")


# ---- model and data plumbing ----
def _datasets(args):
    name = args.data
    try:
        train = data.datasets.load(name, root=args.data_dir, train=True)
        test = data.datasets.load(name, root=args.data_dir, train=False)
    except (FileNotFoundError, ValueError) as e:
        raise UserError(str(e)) from None
    return train, test


def channel_stats(images) -> tuple[list[float], list[float]]:
    """Exact per-channel mean and std of uint8 images scaled to [0, 1] (for Normalize).

    NOTE: a strided subsample is biased on MNIST (its even-numbered images are darker on
    average: 0.1227 against 0.1307), so every image is counted, in chunks to bound memory.
    """
    xp = backend.xp
    n, c = images.shape[0], images.shape[1]
    total, squares = xp.zeros(c), xp.zeros(c)
    for i in range(0, n, 8192):
        x = images[i : i + 8192].reshape(-1, c, images[0, 0].size).astype(xp.float64) / 255.0
        total += x.sum(axis=(0, 2))
        squares += (x * x).sum(axis=(0, 2))
    count = n * images[0, 0].size
    mean = total / count
    std = xp.sqrt(xp.maximum(squares / count - mean * mean, 0.0))
    return mean.round(4).tolist(), std.round(4).tolist()


def _default_data(args) -> str:
    """Full MNIST when it is on disk (data dir or cache), else the embedded sample."""
    if args.data:
        return args.data
    return "mnist" if data.datasets.available("mnist", args.data_dir) else "sample"


# ---- sub-commands ----
def cmd_train(args) -> int:
    args.data = _default_data(args)
    backend.manual_seed(args.seed)
    train_set, test_set = _datasets(args)
    c, *hw = train_set.images.shape[1:]
    kwargs = model_kwargs(args.model, c, len(train_set.classes), tuple(hw))
    try:
        model = models.get(args.model, **kwargs)
    except (ValueError, TypeError) as e:
        raise UserError(f"{args.model} cannot be built for {args.data}'s {c}x{hw[0]}x{hw[1]} "
                        f"images: {e}") from None
    params = model.parameters()
    if args.optimizer == "sgd":
        opt = optim.SGD(params, lr=args.lr, momentum=0.9, weight_decay=args.weight_decay, nesterov=True)
    else:
        opt = optim.Adam(params, lr=args.lr, weight_decay=args.weight_decay)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)
    mean, std = channel_stats(train_set.images)
    transform = data.transforms.Compose([data.transforms.ToFloat(), data.transforms.Normalize(mean, std)])
    loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True, seed=args.seed,
                        drop_last=False, transform=transform)
    test_loader = DataLoader(test_set, batch_size=256, transform=transform)
    os.makedirs(args.out, exist_ok=True)
    meta = {
        "model": args.model,
        "model_kwargs": kwargs,
        "data": args.data,
        "mean": mean,
        "std": std,
        "input_shape": list(train_set.images.shape[1:]),
        "classes": list(train_set.classes),
        "command": " ".join(["striate"] + sys.argv[1:]),
    }
    resume = None
    if args.resume:
        resume = os.path.join(args.out, "last.ckpt") if args.resume is True else args.resume
        if not os.path.exists(resume):
            raise UserError(f"--resume: no checkpoint at {resume}")
    print(f"training {args.model} on {args.data} ({len(train_set)} images, {len(test_set)} test) "
          f"for {args.epochs} epochs, batch {args.batch_size}, {args.optimizer} lr {args.lr}", flush=True)
    try:
        fit(model, loader, epochs=args.epochs, optimizer=opt, scheduler=sched, val_data=test_loader,
            out_dir=args.out, resume=resume, checkpoint_every=args.checkpoint_every,
            skip_nonfinite=args.skip_nonfinite, quiet=args.quiet, metadata=meta)
    except NonFiniteLossError as e:
        raise UserError(str(e)) from None
    res = evaluate(model, test_loader)
    try:
        report = viz.write_report(args.out, model, test_set.images, test_set.labels, meta=meta,
                                  confusion_matrix=res["confusion_matrix"])
    except ImportError:  # matplotlib missing: the report is an optional extra
        report = None
    print(f"test accuracy {res['accuracy']:.2%} (top-5 {res['top5']:.2%}, loss {res['loss']:.4f}) "
          f"on {res['n']} {args.data} test images")
    print(f"checkpoint: {os.path.join(args.out, 'last.ckpt')}")
    if os.path.exists(os.path.join(args.out, "history.png")):
        print(f"plot: {os.path.join(args.out, 'history.png')}")
    print(f"history: {os.path.join(args.out, 'history.csv')}")
    if report:
        print(f"report: {report}")
    return 0


def cmd_evaluate(args) -> int:
    model, meta = load_model(args.checkpoint)
    args.data = args.data or meta.get("data", "sample")
    _, test_set = _datasets(args)
    mean, std = meta.get("mean"), meta.get("std")
    if mean is None or std is None:
        mean, std = channel_stats(test_set.images)
    transform = data.transforms.Compose([data.transforms.ToFloat(), data.transforms.Normalize(mean, std)])
    res = evaluate(model, DataLoader(test_set, batch_size=256, transform=transform), quiet=args.quiet)
    print(f"accuracy {res['accuracy']:.2%}  top-5 {res['top5']:.2%}  loss {res['loss']:.4f}  "
          f"({res['n']} {args.data} test images)")
    return 0


def cmd_predict(args) -> int:
    from .imageio import load_images

    model, meta = load_model(args.checkpoint)
    shape = meta.get("input_shape", [1, 28, 28])
    try:
        x = load_images(args.images, channels=shape[0], size=(shape[1], shape[2]))
    except (FileNotFoundError, ValueError, OSError) as e:
        raise UserError(str(e)) from None
    mean = backend.xp.asarray(meta.get("mean", [0.0]), dtype=x.dtype)[None, :, None, None]
    std = backend.xp.asarray(meta.get("std", [1.0]), dtype=x.dtype)[None, :, None, None]
    probs = predict(model, (x - mean) / std)
    classes = meta.get("classes") or [str(i) for i in range(probs.shape[1])]
    for path, p in zip(args.images, probs):
        k = int(p.argmax())
        print(f"{path}: {classes[k]} ({p[k]:.1%})")
    return 0


def cmd_summary(args) -> int:
    model = build_model(args.model)
    shape = tuple(args.input_shape) if args.input_shape else model.input_shape
    try:
        print(summary(model, shape))
    except ValueError as e:
        raise UserError(f"{args.model} on input {shape}: {e}") from None
    return 0


def cmd_export(args) -> int:
    model, meta = load_model(args.checkpoint)
    shape = meta.get("input_shape") or list(model.input_shape)
    x = backend.xp.zeros((1, *shape), dtype=backend.default_dtype)
    onnx.export(model, x, args.onnx, opset=args.opset)
    print(f"wrote {args.onnx} ({meta['model']}, input (N, {', '.join(map(str, shape))}), opset {args.opset})")
    return 0


def cmd_models(args) -> int:
    print("\n".join(models.list_models()))
    return 0


# ---- argument parsing ----
def _positive_int(s: str) -> int:
    v = int(s)
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {s}")
    return v


def _positive_float(s: str) -> float:
    v = float(s)
    if not v > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {s}")
    return v


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="striate", description="Build, train, inspect and ship CNNs on NumPy.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    t = sub.add_parser("train", help="train a model (default: LeNet-5 on MNIST)")
    t.add_argument("model", nargs="?", default="lenet5", help="a name from `striate models` (default lenet5)")
    t.add_argument("--data", choices=DATA_CHOICES, default=None,
                   help="data set (default: mnist when found on disk, else the embedded sample)")
    t.add_argument("--data-dir", default=None, help="folder with the data set files (else the cache)")
    t.add_argument("--epochs", type=_positive_int, default=5)
    t.add_argument("--batch-size", type=_positive_int, default=128)
    t.add_argument("--lr", type=_positive_float, default=None, help="default 0.05 for sgd, 1e-3 for adam")
    t.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd")
    t.add_argument("--weight-decay", type=float, default=5e-4)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", default="runs/latest", help="output folder (default runs/latest)")
    t.add_argument("--resume", nargs="?", const=True, default=None,
                   help="continue from OUT/last.ckpt (or the given checkpoint)")
    t.add_argument("--checkpoint-every", type=_positive_int, default=None, metavar="N",
                   help="also checkpoint every N steps")
    t.add_argument("--skip-nonfinite", action="store_true", help="skip batches with a NaN/inf loss")
    t.add_argument("--quiet", action="store_true", help="no progress bars")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="accuracy of a checkpoint on a test set")
    e.add_argument("checkpoint")
    e.add_argument("--data", choices=DATA_CHOICES, default=None)
    e.add_argument("--data-dir", default=None)
    e.add_argument("--quiet", action="store_true")
    e.set_defaults(func=cmd_evaluate)

    pr = sub.add_parser("predict", help="classify image files (PNG/JPEG)")
    pr.add_argument("checkpoint")
    pr.add_argument("images", nargs="+", metavar="IMAGE")
    pr.set_defaults(func=cmd_predict)

    s = sub.add_parser("summary", help="layer table: shapes, parameters, MACs, receptive fields")
    s.add_argument("model")
    s.add_argument("--input-shape", type=_positive_int, nargs=3, metavar=("C", "H", "W"))
    s.set_defaults(func=cmd_summary)

    x = sub.add_parser("export", help="write a checkpoint's model as ONNX (needs striate[onnx])")
    x.add_argument("checkpoint")
    x.add_argument("--onnx", required=True, metavar="OUT.onnx", help="the ONNX file to write")
    x.add_argument("--opset", type=_positive_int, default=17)
    x.set_defaults(func=cmd_export)

    m = sub.add_parser("models", help="list the model zoo")
    m.set_defaults(func=cmd_models)
    viz_cli.add_parser(sub)  # show filters|features|rf|gradcam, report
    qcnn_cli.add_parser(sub)  # qcnn phases|plateaus
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "command", None) == "train" and args.lr is None:
        args.lr = 0.05 if args.optimizer == "sgd" else 1e-3
    try:
        return args.func(args)
    except (UserError, ImportError) as e:
        print(f"striate {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
