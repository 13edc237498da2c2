"""Where in the image the evidence for a class lies: Grad-CAM and gradient saliency maps.

Both backpropagate one class score to the input through the model in eval mode with its
parameters frozen (their ``.grad`` is left untouched); nothing about the model changes.
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from ._inspect import capturing, inspecting, resolve
from ._plotting import as_batch, display, figure, finish, hide_axes, to_numpy

__all__ = ["grad_cam", "saliency", "plot_grad_cam", "plot_saliency", "resize_bilinear"]


def resize_bilinear(a: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a (h, w) map to ``size`` = (H, W), with half-pixel centres.

    Matches PyTorch's ``F.interpolate(mode="bilinear", align_corners=False)``: output pixel
    ``i`` samples the input at ``(i + 0.5) * h / H - 0.5`` (clamped at 0 and h - 1).
    """
    a = np.asarray(a, dtype=np.float64)
    for axis, n_out in enumerate(size):
        n_in = a.shape[axis]
        src = np.maximum((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0.0)
        i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
        i1 = np.minimum(i0 + 1, n_in - 1)
        lam = src - i0
        shape = [1, 1]
        shape[axis] = n_out
        lam = lam.reshape(shape)
        a = np.take(a, i0, axis=axis) * (1 - lam) + np.take(a, i1, axis=axis) * lam
    return a


def _unit(a: np.ndarray) -> np.ndarray:
    """``a / a.max()`` (zeros stay zeros; an all-zero map stays all zero)."""
    top = float(a.max()) if a.size else 0.0
    return a / top if top > 0 else np.zeros_like(a)


def _class_score(logits: Tensor, class_index, op: str) -> tuple[Tensor, int]:
    if logits.ndim != 2 or logits.shape[0] != 1:
        raise ValueError(f"{op}: the model must return (1, num_classes) scores for one image, "
                         f"got shape {tuple(logits.shape)}")
    k = int(logits.data[0].argmax()) if class_index is None else int(class_index)
    if not 0 <= k < logits.shape[1]:
        raise ValueError(f"{op}: class_index {class_index} is out of range for "
                         f"{logits.shape[1]} classes")
    return logits[0, k], k


def _grad_cam(model, image, target_layer: str, class_index) -> tuple[np.ndarray, int]:
    x = as_batch(image, "grad_cam")
    modules = resolve(model, target_layer, "grad_cam")
    with inspecting(model), capturing(modules) as outputs:
        inp = Tensor(x, requires_grad=True)  # gives the graph a leaf: the parameters are frozen
        logits = model(inp)
        act = outputs.get(target_layer)
        if act is None:
            raise ValueError(f"grad_cam: layer {target_layer!r} did not run in the forward pass")
        if act.ndim != 4:
            raise ValueError(f"grad_cam: layer {target_layer!r} must output (N, C, H, W) maps, "
                             f"got shape {tuple(act.shape)}")
        act.retain_grad()
        score, k = _class_score(logits, class_index, "grad_cam")
        score.backward()
    if act.grad is None:
        raise ValueError(f"grad_cam: the class score does not depend on layer {target_layer!r}")
    A, gA = to_numpy(act)[0].astype(np.float64), to_numpy(act.grad)[0].astype(np.float64)
    alpha = gA.mean(axis=(1, 2))  # neuron importance: global-average-pooled gradients
    cam = np.maximum(np.tensordot(alpha, A, axes=1), 0.0)
    return _unit(resize_bilinear(cam, x.shape[2:])), k


def grad_cam(model, image, target_layer: str, class_index: int | None = None) -> np.ndarray:
    """Grad-CAM heat map of one class for one image (Selvaraju et al. 2017,
    https://arxiv.org/abs/1610.02391).

    With ``A`` the target layer's (C, h, w) activations and ``y`` the class score (the model's
    output before any softmax), each channel gets the weight ``alpha_k = mean_ij dy/dA_kij``;
    the map is ``ReLU(sum_k alpha_k A_k)``, resized bilinearly to the input and divided by its
    maximum.

    Args:
        model: an ``nn.Module`` returning (1, num_classes) scores.
        image: (C, H, W) or (1, C, H, W), preprocessed as the model expects.
        target_layer (str): qualified name of a layer with (N, C, h, w) output, usually the
            last convolutional block.
        class_index (int, optional): the class to explain; default the predicted class.

    Shape:
        output (H, W), values in [0, 1] (all zero when no location has positive evidence).

    >>> heat = grad_cam(model, x, "features.3")   # x (1, 28, 28) -> heat (28, 28)
    """
    return _grad_cam(model, image, target_layer, class_index)[0]


def _saliency(model, image, class_index) -> tuple[np.ndarray, int]:
    x = as_batch(image, "saliency")
    with inspecting(model):
        inp = Tensor(x, requires_grad=True)
        score, k = _class_score(model(inp), class_index, "saliency")
        score.backward()
    g = np.abs(to_numpy(inp.grad)[0].astype(np.float64)).max(axis=0)
    return _unit(g), k


def saliency(model, image, class_index: int | None = None) -> np.ndarray:
    """Gradient saliency map: ``max_c |d y / d x_c|`` per pixel (Simonyan et al. 2013,
    https://arxiv.org/abs/1312.6034), divided by its maximum.

    Args:
        model, image, class_index: as :func:`grad_cam`.

    Shape:
        output (H, W), values in [0, 1].

    >>> sal = saliency(model, x)
    """
    return _saliency(model, image, class_index)[0]


def _overlay(image, heat: np.ndarray, title: str, path, figsize, dpi: int, cmap: str):
    fig = figure(figsize)
    left, right = fig.subplots(1, 2)
    shown = display(image)
    grey = shown.ndim == 2
    for ax in (left, right):
        ax.imshow(shown, cmap="gray" if grey else None, vmin=0, vmax=1, interpolation="nearest")
        hide_axes(ax)
    im = right.imshow(heat, cmap=cmap, vmin=0, vmax=1, alpha=0.5, interpolation="bilinear")
    fig.colorbar(im, ax=right, fraction=0.046, pad=0.02)
    left.set_title("input", fontsize="medium")
    right.set_title(title, fontsize="medium")
    return finish(fig, path, dpi)


def _class_name(k: int, class_names) -> str:
    return f"{class_names[k]} (class {k})" if class_names is not None else f"class {k}"


def plot_grad_cam(model, image, target_layer: str, path=None, class_index: int | None = None,
                  class_names=None, figsize: tuple[float, float] = (8, 4), dpi: int = 100):
    """The input beside the input overlaid with its :func:`grad_cam` heat map (jet colours).

    Args:
        model, image, target_layer, class_index: as :func:`grad_cam`.
        path (str, optional): where to write the PNG.
        class_names (list of str, optional): names for the title.
        figsize ((float, float), default (8, 4)): inches; the PNG is ``figsize * dpi`` pixels.
        dpi (int, default 100).

    Returns:
        ``path`` when given (the figure is written there), else the matplotlib Figure.

    >>> plot_grad_cam(model, x, "features.3", "cam.png")
    'cam.png'
    """
    heat, k = _grad_cam(model, image, target_layer, class_index)
    title = f"Grad-CAM at {target_layer} for {_class_name(k, class_names)}"
    return _overlay(image, heat, title, path, figsize, dpi, "jet")


def plot_saliency(model, image, path=None, class_index: int | None = None, class_names=None,
                  figsize: tuple[float, float] = (8, 4), dpi: int = 100):
    """The input beside the input overlaid with its :func:`saliency` map.

    Args and Returns as :func:`plot_grad_cam` (no ``target_layer``).

    >>> plot_saliency(model, x, "saliency.png")
    'saliency.png'
    """
    heat, k = _saliency(model, image, class_index)
    title = f"saliency for {_class_name(k, class_names)}"
    return _overlay(image, heat, title, path, figsize, dpi, "hot")
