"""``report.html``: one self-contained page that explains a training run.

The page embeds every figure as a base64 ``data:`` URI and carries its CSS inline, so it opens
offline, can be mailed or archived as one file, and makes no network request. It shows the
command and settings, the model summary (shapes, parameters, MACs, receptive fields), the
training curves, the confusion matrix, correct and wrong test predictions, the first layer's
filters, the feature maps of one test image and where the model looks (Grad-CAM, saliency).
"""
from __future__ import annotations

import base64
import datetime
import html
import io
import json
import os

import numpy as np

from .. import serialization
from ..data import datasets
from ..summary import summary as _summary
from ._inspect import predict_classes, spatial_layers
from .attribution import plot_grad_cam, plot_saliency
from .features import feature_maps, plot_feature_map
from .filters import first_conv, plot_filters
from .history import history_rows, plot_history
from .predictions import confusion_matrix as _confusion, plot_confusion_matrix, plot_predictions

__all__ = ["write_report"]

CHECKPOINTS = ("last.ckpt", "best.ckpt")
CSS = """
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d232a;
background:#f4f5f7}
main{max-width:1080px;margin:0 auto;padding:24px 20px 48px}
header h1{margin:0 0 4px;font-size:1.6em}
.sub{color:#5b6570;margin:0}
nav{margin:16px 0 8px;display:flex;flex-wrap:wrap;gap:6px 14px;font-size:.92em}
nav a{color:#1565c0;text-decoration:none}
section{background:#fff;border-radius:8px;padding:16px 20px;margin:16px 0;
box-shadow:0 1px 3px rgba(0,0,0,.08)}
h2{font-size:1.2em;margin:0 0 10px}
h3{font-size:1em;margin:14px 0 6px}
figure{margin:10px 0;text-align:center}
figure img{max-width:100%;height:auto;border:1px solid #e3e6ea;border-radius:4px}
figcaption{color:#5b6570;font-size:.88em;margin-top:4px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:12px}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.88em}
th,td{padding:4px 8px;border-bottom:1px solid #e3e6ea;text-align:left;vertical-align:top}
th{background:#f0f2f5;position:sticky;top:0}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tbody tr:nth-child(even){background:#fafbfc}
code{font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f0f2f5;
padding:1px 4px;border-radius:3px;word-break:break-all}
.note{color:#8a5a00;background:#fff8e1;border-radius:4px;padding:6px 10px}
.kv th{width:28%;background:none;position:static}
"""


def _esc(v) -> str:
    return html.escape(str(v), quote=True)


def _img(fig_or_none, caption: str = "", dpi: int = 100) -> str:
    """A <figure> with the matplotlib figure embedded as a PNG data URI."""
    buf = io.BytesIO()
    fig_or_none.savefig(buf, format="png", dpi=dpi)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    cap = f"<figcaption>{_esc(caption)}</figcaption>" if caption else ""
    return f'<figure><img alt="{_esc(caption)}" src="data:image/png;base64,{data}">{cap}</figure>'


def _figure_or_note(draw, caption: str = "") -> str:
    """Draw one figure; a note instead when matplotlib is missing or the plot fails."""
    try:
        return _img(draw(), caption)
    except ImportError:
        return ('<p class="note">Figures need matplotlib: '
                "<code>pip install 'striate[plot]'</code>.</p>")
    except Exception as e:  # one broken figure must not cost the whole report
        return f'<p class="note">Could not draw {_esc(caption or "this figure")}: {_esc(e)}</p>'


def _table(head: list[str], rows: list[list], numeric: set[int] = frozenset()) -> str:
    th = "".join(f'<th class="num">{_esc(h)}</th>' if i in numeric else f"<th>{_esc(h)}</th>"
                 for i, h in enumerate(head))
    body = "".join("<tr>" + "".join(
        f'<td class="num">{_esc(c)}</td>' if i in numeric else f"<td>{_esc(c)}</td>"
        for i, c in enumerate(r)) + "</tr>" for r in rows)
    return (f'<div class="scroll"><table><thead><tr>{th}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def _text(v) -> str:
    """Settings as they would be typed: JSON for lists and dicts, str otherwise."""
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(v, default=str)
    return str(v)


def _kv(pairs: list[tuple[str, object]]) -> str:
    pairs = [(k, _text(v)) for k, v in pairs]
    body = "".join(f"<tr><th>{_esc(k)}</th><td><code>{_esc(v)}</code></td></tr>" if k == "command"
                   else f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in pairs)
    return f'<table class="kv"><tbody>{body}</tbody></table>'


def _section(sid: str, title: str, body: str) -> tuple[str, str, str]:
    """One section of the page: (id for the navigation, heading, HTML body)."""
    return sid, title, body


def _num(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and not float(v).is_integer():
        return f"{v:g}"
    return f"{int(v):,}"


def _shape(s) -> str:
    if isinstance(s, list):
        return ", ".join(_shape(x) for x in s)
    return "x".join(str(n) for n in s[1:]) if s else "-"


# ---- sections ----
def _settings(meta: dict, rows: list[dict], run_dir: str) -> str:
    order = ["command", "model", "model_kwargs", "data", "input_shape", "classes", "mean", "std"]
    pairs = [(k, meta[k]) for k in order if k in meta]
    pairs += [(k, v) for k, v in meta.items() if k not in order]
    if rows:
        last = rows[-1]
        pairs.append(("epochs", len(rows)))
        for key, fmt in (("loss", "{:.4f}"), ("accuracy", "{:.2%}"), ("val_loss", "{:.4f}"),
                         ("val_accuracy", "{:.2%}"), ("images_per_s", "{:.0f}")):
            if last.get(key) is not None:
                pairs.append((f"final {key}", fmt.format(last[key])))
        best = [r["val_accuracy"] for r in rows if r.get("val_accuracy") is not None]
        if best:
            pairs.append(("best val_accuracy", f"{max(best):.2%}"))
    files = [f"{f} ({os.path.getsize(os.path.join(run_dir, f)) / 1e6:.2f} MB)"
             for f in sorted(os.listdir(run_dir)) if os.path.isfile(os.path.join(run_dir, f))
             and f != "report.html"]
    pairs.append(("run folder", f"{run_dir}: " + ", ".join(files)))
    return _kv(pairs)


def _epochs(rows: list[dict]) -> str:
    cols = [k for k in ("epoch", "lr", "loss", "accuracy", "val_loss", "val_accuracy",
                        "images_per_s") if any(r.get(k) is not None for r in rows)]
    fmt = {"accuracy": "{:.2%}", "val_accuracy": "{:.2%}", "loss": "{:.4f}",
           "val_loss": "{:.4f}", "images_per_s": "{:.0f}", "lr": "{:.4g}", "epoch": "{:.0f}"}
    body = [[fmt[k].format(r[k]) if r.get(k) is not None else "-" for k in cols] for r in rows]
    head = [k.replace("_", " ") for k in cols]
    return "<h3>Per epoch</h3>" + _table(head, body, numeric=set(range(len(cols))))


def _summary_table(model, input_shape) -> str:
    s = _summary(model, tuple(input_shape))
    head = ["Layer", "Type", "Output", "Params", "MACs", "RF", "Jump"]
    rows = [[r["name"] or "(model)", r["type"], _shape(r["output_shape"]), _num(r["params"]),
             _num(r["macs"]), _num(r["rf"]), _num(r["jump"])] for r in s.rows]
    totals = (f"<p>{s.total_params:,} parameters ({s.trainable_params:,} trainable), "
              f"{s.total_macs:,} multiply-accumulates per {_shape((1,) + tuple(input_shape))} "
              "image. RF is the receptive field in input pixels (before clipping at the border), "
              "Jump the distance in input pixels between neighbouring outputs.</p>")
    return totals + _table(head, rows, numeric={3, 4, 5, 6})


def _preprocess(images, meta: dict) -> np.ndarray:
    """Raw images to model inputs as ``striate train`` does: ToFloat, then Normalize(mean, std)."""
    x = np.asarray(images)
    x = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)
    mean, std = meta.get("mean"), meta.get("std")
    if mean is not None and std is not None:
        m = np.asarray(mean, dtype=np.float32).reshape(1, -1, 1, 1)
        s = np.asarray(std, dtype=np.float32).reshape(1, -1, 1, 1)
        x = (x - m) / s
    return x


def _pick_layers(names: list[str], k: int = 6) -> list[str]:
    if len(names) <= k:
        return names
    idx = np.linspace(0, len(names) - 1, k).round().astype(int)
    return [names[i] for i in sorted(set(idx))]


def _find_checkpoint(run_dir: str) -> str | None:
    for name in CHECKPOINTS:
        path = os.path.join(run_dir, name)
        if os.path.exists(path):
            return path
    return None


def write_report(run_dir, model=None, test_images=None, test_labels=None, *, meta=None,
                 history=None, class_names=None, confusion_matrix=None, preprocess=None,
                 max_eval: int = 1000, path=None) -> str:
    """Write ``report.html`` into a run folder and return its path.

    Every argument but ``run_dir`` is optional: what is missing is read from the folder
    (``history.csv``, the checkpoint metadata, the test split of ``meta["data"]``), and the
    sections that need a model are left out when ``model`` is None.
    ``striate report RUN_DIR`` rebuilds the model from the checkpoint and calls this.

    Args:
        run_dir (str): the output folder of ``striate train`` / :func:`striate.train.fit`.
        model (Module, optional): the trained model.
        test_images ((N, C, H, W), optional): raw test images (uint8 0..255 or floats in
            [0, 1]); default the test split of ``meta["data"]`` when the model is given.
        test_labels ((N,), optional): their classes.
        meta (dict, optional): run metadata (``model``, ``model_kwargs``, ``data``, ``mean``,
            ``std``, ``input_shape``, ``classes``, ``command``); default the checkpoint's.
        history (History or list of dicts, optional): default ``run_dir/history.csv``.
        class_names (list of str, optional): default ``meta["classes"]``.
        confusion_matrix ((K, K), optional): precomputed (e.g. from ``evaluate``); default
            computed on the first ``max_eval`` test images.
        preprocess (callable, optional): raw images -> model inputs; default ``x / 255`` for
            uint8 then ``(x - meta["mean"]) / meta["std"]``, as ``striate train`` trains.
        max_eval (int, default 1000): test images to classify for the confusion matrix (when
            not given) and the sample predictions.
        path (str, optional): output file; default ``run_dir/report.html``.

    Returns:
        The path of the written HTML file.

    >>> write_report("runs/latest", model, test_set.images, test_set.labels)
    'runs/latest/report.html'
    """
    run_dir = os.fspath(run_dir)
    if not os.path.isdir(run_dir):
        raise FileNotFoundError(f"write_report: no such run folder: {run_dir}")
    if meta is None:
        ckpt = _find_checkpoint(run_dir)
        meta = serialization.load_metadata(ckpt) if ckpt else {}
    meta = dict(meta)
    if history is None and os.path.exists(os.path.join(run_dir, "history.csv")):
        history = os.path.join(run_dir, "history.csv")
    rows = history_rows(history) if history is not None else []
    class_names = class_names or meta.get("classes")
    if model is not None and test_images is None and meta.get("data"):
        test = datasets.load(meta["data"], train=False)
        test_images, test_labels = test.images, test.labels
    sections = [_section("settings", "Command and settings", _settings(meta, rows, run_dir))]
    input_shape = meta.get("input_shape") or (
        None if test_images is None else list(np.asarray(test_images).shape[1:]))
    if model is not None and input_shape:
        sections.append(_section("summary", "Model summary", _summary_table(model, input_shape)))
    if rows:
        sections.append(_section("curves", "Training curves", _figure_or_note(
            lambda: plot_history(rows), "loss and accuracy per epoch") + _epochs(rows)))
    if model is not None and test_images is not None:
        sections += _model_sections(model, test_images, test_labels, meta, class_names,
                                    confusion_matrix, preprocess, max_eval)
    elif confusion_matrix is not None:
        sections.append(_section("confusion", "Confusion matrix", _figure_or_note(
            lambda: plot_confusion_matrix(confusion_matrix, class_names))))
    title = f"{meta.get('model', getattr(model, 'config', {}).get('name', 'model'))}"
    if meta.get("data"):
        title += f" on {meta['data']}"
    page = _page(title, sections)
    out = os.fspath(path) if path is not None else os.path.join(run_dir, "report.html")
    tmp = f"{out}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(page)
    os.replace(tmp, out)
    return out


def _model_sections(model, test_images, test_labels, meta, class_names, matrix, preprocess,
                    max_eval) -> list[tuple[str, str, str]]:
    raw = np.asarray(test_images)[:max_eval]
    x = (preprocess or (lambda a: _preprocess(a, meta)))(raw)
    out = []
    if test_labels is not None:
        y = np.asarray(test_labels)[:max_eval].astype(np.int64)
        pred = predict_classes(model, x)
        k = len(class_names) if class_names else None
        cm = _confusion(y, pred, k) if matrix is None else matrix
        note = "" if matrix is not None else f" ({len(y)} test images)"
        out.append(_section("confusion", "Confusion matrix", _figure_or_note(
            lambda: plot_confusion_matrix(cm, class_names),
            "rows: true class, columns: predicted; colour: fraction of the row" + note)))
        body = ""
        for label, hits in (("correct", pred == y), ("wrong", pred != y)):
            idx = np.nonzero(hits)[0][:16]
            body += f"<h3>{label.capitalize()}: {int(hits.sum())} of {len(y)}</h3>"
            if len(idx):
                body += _figure_or_note(lambda idx=idx: plot_predictions(
                    None, x[idx], y[idx], class_names=class_names, predictions=pred[idx],
                    display_images=raw[idx], title=f"{label}: predicted (true)"),
                    f"first {len(idx)} {label} predictions")
            else:
                body += f"<p>No {label} predictions.</p>"
        out.append(_section("predictions", "Sample predictions", body))
    conv = first_conv(model)
    if conv is not None:
        name, layer = conv
        out.append(_section("filters", f"First-layer filters ({name})", _figure_or_note(
            lambda: plot_filters(layer),
            "each filter scaled to its own range: light = largest weight, dark = smallest")))
    try:
        body = _features(model, x[0], class_names)
    except Exception as e:  # a model whose layers cannot be hooked must not cost the report
        body = f'<p class="note">Could not compute the feature maps: {_esc(e)}</p>'
    out.append(_section("features", "Feature maps of one test image", body))
    return out


def _features(model, image, class_names) -> str:
    names = _pick_layers(spatial_layers(model))
    if not names:
        return "<p>The model has no convolution or pooling layers.</p>"
    maps = feature_maps(model, image, names)
    table = dict(model.named_modules())
    body = '<div class="grid">'
    for name, a in maps.items():
        if a.ndim == 3:
            body += _figure_or_note(lambda name=name, a=a: plot_feature_map(
                a, f"{name} ({type(table[name]).__name__})", max_channels=32))
    body += "</div><h3>Where the model looks</h3>"
    last = [n for n in spatial_layers(model) if "conv" in type(table[n]).__name__.lower()]
    if last:
        body += _figure_or_note(lambda: plot_grad_cam(model, image, last[-1],
                                                      class_names=class_names),
                                f"Grad-CAM at the last convolution ({last[-1]})")
    body += _figure_or_note(lambda: plot_saliency(model, image, class_names=class_names),
                            "gradient saliency: |d score / d pixel|")
    return body


def _page(title: str, sections: list[tuple[str, str, str]]) -> str:
    nav = "".join(f'<a href="#{sid}">{_esc(head)}</a>' for sid, head, _ in sections)
    body = "\n".join(f'<section id="{sid}"><h2>{_esc(head)}</h2>{html_}</section>'
                     for sid, head, html_ in sections)
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>striate report: {_esc(title)}</title>\n<style>{CSS}</style>\n</head>\n"
            f"<body>\n<main>\n<header><h1>striate report: {_esc(title)}</h1>"
            f"<p class=\"sub\">generated {when}</p></header>\n<nav>{nav}</nav>\n"
            f"{body}\n</main>\n</body>\n</html>\n")
