"""The training loop: ``fit``, ``evaluate``, ``predict``, crash-proof checkpoints and metrics.

A run writes into ``out_dir``: ``last.ckpt`` (everything needed to resume bit-identically),
``best.ckpt`` (the model with the best validation accuracy), ``history.csv`` and, when
matplotlib is installed, ``history.png``. Checkpoints go through :mod:`striate.serialization`
(safetensors layout, atomic writes); nothing is ever pickled.
"""
from __future__ import annotations

import csv
import math
import os
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

from . import backend, serialization
from .autograd import no_grad
from .backend import xp
from .data import ArrayDataset, DataLoader
from .functional import cross_entropy, softmax
from .progress import Progress
from .tensor import Tensor
from .viz.history import plot_history

__all__ = ["History", "NonFiniteLossError", "fit", "evaluate", "predict", "load_checkpoint"]

CHECKPOINT = "last.ckpt"
BEST = "best.ckpt"


class NonFiniteLossError(RuntimeError):
    """Raised when the loss becomes NaN or infinite (and ``skip_nonfinite`` is off)."""


@dataclass
class History:
    """Per-epoch metrics: ``history.rows[i]`` is a dict for epoch ``i + 1``."""

    rows: list[dict] = field(default_factory=list)

    def __getitem__(self, key: str) -> list:
        return [r.get(key) for r in self.rows]

    def __len__(self) -> int:
        return len(self.rows)

    def to_csv(self, path: str) -> None:
        keys = list(dict.fromkeys(k for r in self.rows for k in r))
        tmp = f"{path}.tmp{os.getpid()}"
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            w.writerows(self.rows)
        os.replace(tmp, path)

    @classmethod
    def from_csv(cls, path: str) -> "History":
        with open(path, newline="") as f:
            rows = [{k: _number(v) for k, v in r.items()} for r in csv.DictReader(f)]
        return cls(rows)


def _number(v: str):
    if v in ("", None):
        return None
    try:
        return int(v)
    except ValueError:
        try:
            return float(v)
        except ValueError:
            return v


def _as_loader(data, batch_size: int, shuffle: bool, seed=None):
    """Accept a DataLoader, a Dataset, or an (images, labels) pair."""
    if data is None or isinstance(data, DataLoader):
        return data
    if isinstance(data, (tuple, list)) and len(data) == 2:
        data = ArrayDataset(*data)
    if hasattr(data, "__len__") and hasattr(data, "__getitem__"):
        return DataLoader(data, batch_size=batch_size, shuffle=shuffle, seed=seed)
    raise TypeError(
        f"fit: data must be a DataLoader, a Dataset or an (images, labels) pair, got {type(data).__name__}"
    )


def _labels(y):
    return y.data if isinstance(y, Tensor) else xp.asarray(y)


def _state(model, optimizer, scheduler, loader, epoch, step, history, best, metadata) -> dict:
    return {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "loader": loader.state_dict(),
        "epoch": epoch,
        "step": step,
        "rng": backend.get_rng_state(),
        "history": history.rows,
        "best_accuracy": best,
        "metadata": metadata,
    }


def load_checkpoint(path: str) -> dict:
    """Read a checkpoint written by :func:`fit` (never unpickles)."""
    return serialization.load(path)


def fit(
    model,
    train_data,
    *,
    epochs: int,
    optimizer,
    loss: Callable = cross_entropy,
    val_data=None,
    scheduler=None,
    callbacks: Sequence[Callable] = (),
    metrics: Sequence[str] = ("accuracy",),
    batch_size: int = 128,
    out_dir: str | None = None,
    resume: str | None = None,
    checkpoint_every: int | None = None,
    skip_nonfinite: bool = False,
    quiet: bool = False,
    metadata: dict | None = None,
) -> History:
    """Train ``model`` with mini-batch gradient descent and return a :class:`History`.

    Args:
        model: an ``nn.Module``.
        train_data: a ``DataLoader``, a ``Dataset`` or an ``(images, labels)`` pair.
        epochs (int): total number of epochs (a resumed run continues up to this number).
        optimizer: a ``striate.optim`` optimizer over ``model.parameters()``.
        loss (callable, default ``F.cross_entropy``): ``loss(logits, labels) -> scalar Tensor``.
        val_data: evaluated after every epoch when given.
        scheduler: a ``striate.optim.lr_scheduler`` scheduler, stepped once per epoch.
        callbacks: callables ``cb(epoch, row)`` run after each epoch with its metrics row.
        metrics: per-epoch training metrics to record; ``'accuracy'`` is supported.
        out_dir (str, optional): folder for checkpoints, ``history.csv`` and ``history.png``.
        resume (str, optional): a ``last.ckpt`` to continue from, bit-identically.
        checkpoint_every (int, optional): also checkpoint every N optimizer steps.
        skip_nonfinite (bool, default False): skip batches whose loss is NaN/inf instead of stopping.
        quiet (bool, default False): no progress bar or epoch lines.
        metadata (dict, optional): stored in every checkpoint (model name and kwargs, command).

    Raises:
        NonFiniteLossError: the loss became NaN or infinite; the last good checkpoint is kept.

    >>> history = fit(model, loader, epochs=2, optimizer=optim.SGD(model.parameters(), lr=0.1))
    """
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"fit: epochs must be a positive int, got {epochs!r}")
    loader = _as_loader(train_data, batch_size, shuffle=True)
    val_loader = _as_loader(val_data, batch_size, shuffle=False)
    metadata = dict(metadata or getattr(model, "config", None) or {})
    history, start_epoch, start_step, best = History(), 0, 0, -1.0
    if resume is not None:
        state = load_checkpoint(resume)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None and state.get("scheduler") is not None:
            scheduler.load_state_dict(state["scheduler"])
        loader.load_state_dict(state["loader"])
        backend.set_rng_state(state["rng"])
        history = History(list(state["history"]))
        start_epoch, start_step = int(state["epoch"]), int(state["step"])
        best = float(state.get("best_accuracy", -1.0))
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
    ckpt = os.path.join(out_dir, CHECKPOINT) if out_dir else None

    def checkpoint(epoch: int, step: int) -> None:
        if ckpt:
            state = _state(model, optimizer, scheduler, loader, epoch, step, history, best, metadata)
            serialization.save(state, ckpt, metadata=metadata)

    for epoch in range(start_epoch, epochs):
        model.train()
        t0, seen, total_loss, correct, last_finite = time.perf_counter(), 0, 0.0, 0, None
        step = start_step if epoch == start_epoch else 0
        bar = Progress(total=len(loader), initial=step, desc=f"epoch {epoch + 1}/{epochs}", quiet=quiet)
        for x, y in loader:
            logits = model(x)
            batch_loss = loss(logits, y)
            value = float(batch_loss.data)
            step += 1
            if not math.isfinite(value):
                if skip_nonfinite:
                    bar.update(1, loss=value)
                    continue
                bar.close()
                raise NonFiniteLossError(
                    f"loss became {value} at epoch {epoch + 1}, step {step}; last finite loss "
                    f"{last_finite}. The last good checkpoint is {ckpt or '(none: no out_dir)'}; "
                    "lower the learning rate or pass --skip-nonfinite to skip such batches"
                )
            last_finite = value
            optimizer.zero_grad()
            batch_loss.backward()
            optimizer.step()
            n = len(_labels(y))
            seen += n
            total_loss += value * n
            if "accuracy" in metrics:
                correct += int((logits.data.argmax(axis=1) == _labels(y)).sum())
            elapsed = time.perf_counter() - t0
            bar.update(1, loss=value, ips=seen / max(elapsed, 1e-9))
            if checkpoint_every and step % checkpoint_every == 0 and step < len(loader):
                checkpoint(epoch, step)
        bar.close()
        elapsed = time.perf_counter() - t0
        row = {"epoch": epoch + 1, "lr": optimizer.param_groups[0]["lr"]}
        if seen:
            row["loss"] = total_loss / seen
            if "accuracy" in metrics:
                row["accuracy"] = correct / seen
        row["images_per_s"] = seen / max(elapsed, 1e-9)
        if scheduler is not None:
            scheduler.step()
        if val_loader is not None:
            res = evaluate(model, val_loader, loss=loss, quiet=True)
            row["val_loss"], row["val_accuracy"] = res["loss"], res["accuracy"]
        history.rows.append(row)
        if not quiet:
            print(_epoch_line(row, epochs), flush=True)
        for cb in callbacks:
            cb(epoch + 1, row)
        score = row.get("val_accuracy", row.get("accuracy", -1.0))
        if out_dir and score is not None and score > best:
            best = score
            serialization.save({"model": model.state_dict(), "metadata": metadata},
                               os.path.join(out_dir, BEST), metadata=metadata)
        checkpoint(epoch + 1, 0)
        if out_dir:
            history.to_csv(os.path.join(out_dir, "history.csv"))
    if out_dir:
        plot_history_if_possible(history, os.path.join(out_dir, "history.png"))
    return history


def _epoch_line(row: dict, epochs: int) -> str:
    parts = [f"epoch {row['epoch']}/{epochs}"]
    for key, fmt in (("loss", "{:.4f}"), ("accuracy", "{:.2%}"), ("val_loss", "{:.4f}"),
                     ("val_accuracy", "{:.2%}"), ("images_per_s", "{:.0f} img/s")):
        if row.get(key) is not None:
            parts.append(f"{key} " + fmt.format(row[key]))
    return "  ".join(parts)


def plot_history_if_possible(history: History, path: str) -> str | None:
    """Write the loss/accuracy curves to ``path`` when matplotlib is installed."""
    try:
        return plot_history(history, path)
    except ImportError:  # matplotlib is an optional dependency
        return None


def evaluate(model, data, loss: Callable = cross_entropy, batch_size: int = 256, quiet: bool = True) -> dict:
    """Loss, accuracy, top-5 accuracy and the confusion matrix of ``model`` on ``data``.

    Returns:
        dict with ``loss``, ``accuracy``, ``top5``, ``confusion_matrix`` ((K, K) int64 array,
        rows = true class, columns = predicted) and ``n``.
    """
    loader = _as_loader(data, batch_size, shuffle=False)
    was_training = model.training
    model.eval()
    total, n, correct, top5, confusion = 0.0, 0, 0, 0, None
    bar = Progress(total=len(loader), desc="evaluate", quiet=quiet)
    with no_grad():
        for x, y in loader:
            logits = model(x)
            labels = _labels(y)
            total += float(loss(logits, y, reduction="sum").data)
            k = logits.shape[1]
            pred = logits.data.argmax(axis=1)
            correct += int((pred == labels).sum())
            top = xp.argsort(-logits.data, axis=1)[:, : min(5, k)]
            top5 += int((top == labels[:, None]).any(axis=1).sum())
            if confusion is None:
                confusion = xp.zeros((k, k), dtype=xp.int64)
            xp.add.at(confusion, (labels, pred), 1)  # once per batch, not a hot path
            n += len(labels)
            bar.update(1)
    bar.close()
    model.train(was_training)
    if n == 0:
        raise ValueError("evaluate: the data is empty")
    return {"loss": total / n, "accuracy": correct / n, "top5": top5 / n, "confusion_matrix": confusion, "n": n}


def predict(model, images, batch_size: int = 256):
    """Class probabilities for ``images`` ((N, C, H, W) array or Tensor), in eval mode.

    Returns:
        (N, num_classes) float array of softmax probabilities.
    """
    data = images.data if isinstance(images, Tensor) else xp.asarray(images)
    if data.ndim != 4:
        raise ValueError(f"predict: images must be (N, C, H, W), got shape {data.shape}")
    was_training = model.training
    model.eval()
    out = []
    with no_grad():
        for i in range(0, len(data), batch_size):
            out.append(softmax(model(Tensor(data[i : i + batch_size])), axis=1).data)
    model.train(was_training)
    return xp.concatenate(out, axis=0)
