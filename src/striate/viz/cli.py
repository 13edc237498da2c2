"""``striate show filters|features|rf|gradcam`` and ``striate report RUN_DIR``.

:func:`add_parser` adds both commands to the ``striate`` parser; each handler writes PNG or
HTML files and prints their paths. Models are rebuilt from checkpoints by
:mod:`striate.checkpoint`; user errors are reported in one line with exit code 1.
"""
from __future__ import annotations

import functools
import os
import sys

import numpy as np

from ..checkpoint import UserError, build_model, load_model
from ..data import datasets
from ..imageio import load_images
from ..serialization import CheckpointError
from ._inspect import spatial_layers
from .attribution import plot_grad_cam
from .features import feature_maps, plot_feature_map
from .filters import first_conv, plot_filters
from .receptive_field import plot_receptive_field, receptive_field
from .report import CHECKPOINTS, write_report

__all__ = ["add_parser", "cmd_show", "cmd_report"]


def _user_error(msg: str) -> Exception:
    return UserError(msg)


def _safe(name: str) -> str:
    return name.replace("/", "_") or "model"


def _load(path: str, channels: int, size=None) -> np.ndarray:
    try:
        return np.asarray(load_images([path], channels=channels, size=size), dtype=np.float32)
    except (FileNotFoundError, ValueError, OSError) as e:
        raise _user_error(str(e)) from None


def _image(path: str, meta: dict) -> np.ndarray:
    """One image file as a (1, C, H, W) model input: resized, scaled to [0, 1], normalised."""
    shape = meta.get("input_shape") or [1, 28, 28]
    return _normalise(_load(path, shape[0], (shape[1], shape[2])), meta)


def _normalise(x: np.ndarray, meta: dict) -> np.ndarray:
    mean, std = meta.get("mean"), meta.get("std")
    if mean is None or std is None:
        return x
    return (x - np.asarray(mean, np.float32)[None, :, None, None]) / \
        np.asarray(std, np.float32)[None, :, None, None]


def _layer(model, name: str | None, pick_last: bool = False) -> str:
    """The ``--layer`` checked against the model, or the first (last) convolution."""
    names = dict(model.named_modules())
    if name is not None:
        if name not in names:
            convs = ", ".join(spatial_layers(model)[:12])
            raise _user_error(f"the model has no layer {name!r}; conv/pool layers: {convs}")
        return name
    convs = [n for n in spatial_layers(model) if "conv" in type(names[n]).__name__.lower()]
    if not convs:
        raise _user_error("the model has no convolution layer; pass --layer NAME")
    return convs[-1] if pick_last else convs[0]


def _done(path: str) -> None:
    print(path, flush=True)


# ---- show ----
def _show_filters(args) -> None:
    model, _ = load_model(args.checkpoint)
    if args.layer is None:
        found = first_conv(model)
        if found is None:
            raise _user_error("the model has no layer with a 4-D weight; pass --layer NAME")
        name, layer = found
    else:
        name = _layer(model, args.layer)
        layer = model.get_submodule(name)
    try:
        _done(plot_filters(layer, args.out or f"filters_{_safe(name)}.png"))
    except (TypeError, ValueError) as e:
        raise _user_error(str(e)) from None


def _show_features(args) -> None:
    model, meta = load_model(args.checkpoint)
    x = _image(args.image, meta)
    names = [_layer(model, n) for n in args.layer] if args.layer else None
    maps = feature_maps(model, x, names)
    table = dict(model.named_modules())
    for name, a in maps.items():
        if a.ndim != 3:
            continue
        if args.out and len(maps) == 1:
            path = args.out
        else:
            stem = os.path.splitext(args.out)[0] if args.out else "features"
            path = f"{stem}_{_safe(name)}.png"
        _done(plot_feature_map(a, f"{name} ({type(table[name]).__name__})", path))


def _show_rf(args) -> None:
    meta = {}
    if os.path.isfile(args.model):
        model, meta = load_model(args.model)
    else:
        model = build_model(args.model)
    shape = args.input_shape or meta.get("input_shape") or getattr(model, "input_shape", None)
    if shape is None and args.image:
        conv = first_conv(model)
        c = conv[1].weight.shape[1] if conv else 3
        shape = _load(args.image, c).shape[1:]  # the image's own size
    if shape is None:
        raise _user_error(f"pass --input-shape C H W (or --image) for {args.model}")
    shape = tuple(int(n) for n in shape)
    layer = _layer(model, args.layer, pick_last=True)
    image = None
    if args.image:
        image = _image(args.image, {**meta, "input_shape": list(shape)})
    try:
        box = receptive_field(model, shape, layer, args.position)
        path = plot_receptive_field(model, image, layer, args.position,
                                    args.out or f"rf_{_safe(layer)}.png", input_shape=shape)
    except ValueError as e:
        raise _user_error(str(e)) from None
    top, left, bottom, right = box
    print(f"{layer}: input rows {top}..{bottom - 1}, columns {left}..{right - 1} "
          f"({bottom - top}x{right - left} pixels)")
    _done(path)


def _show_gradcam(args) -> None:
    model, meta = load_model(args.checkpoint)
    x = _image(args.image, meta)
    layer = _layer(model, args.layer, pick_last=True)
    try:
        path = plot_grad_cam(model, x, layer, args.out or "gradcam.png",
                             class_index=args.class_index, class_names=meta.get("classes"))
    except ValueError as e:
        raise _user_error(str(e)) from None
    _done(path)


_SHOW = {"filters": _show_filters, "features": _show_features, "rf": _show_rf,
         "gradcam": _show_gradcam}


def _one_line_errors(handler):
    """Report user errors (and a missing matplotlib) in one line, exit code 1, as ``main`` does.

    ImportError (a missing optional extra) and CheckpointError are user errors here too.
    """
    @functools.wraps(handler)
    def run(args) -> int:
        try:
            return handler(args)
        except (UserError, ImportError, CheckpointError) as e:
            print(f"striate {args.command}: error: {e}", file=sys.stderr)
            return 1
    return run


@_one_line_errors
def cmd_show(args) -> int:
    """Draw one ``striate show`` picture."""
    _SHOW[args.what](args)
    return 0


# ---- report ----
@_one_line_errors
def cmd_report(args) -> int:
    """Rebuild ``report.html`` from a run folder: checkpoint, history.csv and the test split."""
    run_dir = args.run_dir
    if not os.path.isdir(run_dir):
        raise _user_error(f"no such run folder: {run_dir}")
    ckpt = args.checkpoint or next((os.path.join(run_dir, n) for n in CHECKPOINTS
                                    if os.path.exists(os.path.join(run_dir, n))), None)
    if ckpt is None:
        raise _user_error(f"{run_dir} has no {' or '.join(CHECKPOINTS)}")
    model, meta = load_model(ckpt)
    images = labels = None
    if meta.get("data"):
        try:
            test = datasets.load(meta["data"], root=args.data_dir, train=False)
        except (FileNotFoundError, ValueError, OSError) as e:
            raise _user_error(f"cannot load the test data {meta['data']!r}: {e}") from None
        images, labels = test.images, test.labels
    _done(write_report(run_dir, model, images, labels, meta=meta, path=args.out))
    return 0


# ---- argument parsing ----
def add_parser(subparsers) -> None:
    """Add ``show`` and ``report`` to the ``striate`` sub-command parsers."""
    show = subparsers.add_parser("show", help="draw filters, feature maps, receptive fields, "
                                              "Grad-CAM (writes PNGs)")
    what = show.add_subparsers(dest="what", metavar="WHAT")
    what.required = True

    f = what.add_parser("filters", help="the kernels of a conv layer")
    f.add_argument("checkpoint")
    f.add_argument("--layer", help="layer name (default: the first convolution)")

    fm = what.add_parser("features", help="the feature maps of one image")
    fm.add_argument("checkpoint")
    fm.add_argument("image", help="a PNG/JPEG file")
    fm.add_argument("--layer", action="append",
                    help="layer name, repeatable (default: every conv and pool layer, "
                         "one PNG each)")

    rf = what.add_parser("rf", help="the receptive field of one neuron, drawn on the input")
    rf.add_argument("model", help="a model name from `striate models` or a checkpoint")
    rf.add_argument("--layer", help="layer name (default: the last convolution)")
    rf.add_argument("--position", type=int, nargs=2, metavar=("R", "C"),
                    help="output row and column (default: the centre)")
    rf.add_argument("--image", help="draw on this image (default: a blank canvas)")
    rf.add_argument("--input-shape", type=int, nargs=3, metavar=("C", "H", "W"))

    g = what.add_parser("gradcam", help="Grad-CAM heat map of one image")
    g.add_argument("checkpoint")
    g.add_argument("image", help="a PNG/JPEG file")
    g.add_argument("--class", dest="class_index", type=int, metavar="K",
                   help="class to explain (default: the predicted one)")
    g.add_argument("--layer", help="target layer (default: the last convolution)")

    for p in (f, fm, rf, g):
        p.add_argument("--out", help="output PNG (default: a name after the picture and layer)")
        p.set_defaults(func=cmd_show)

    r = subparsers.add_parser("report", help="rebuild report.html of a training run")
    r.add_argument("run_dir", metavar="RUN_DIR")
    r.add_argument("--checkpoint", help="checkpoint to load (default RUN_DIR/last.ckpt)")
    r.add_argument("--data-dir", default=None, help="folder with the data set files")
    r.add_argument("--out", help="output file (default RUN_DIR/report.html)")
    r.set_defaults(func=cmd_report)
