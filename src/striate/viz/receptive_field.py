"""Receptive fields: the patch of the input that one neuron of a layer can see.

:func:`receptive_field` computes it from the layer's ``rf``/``jump``/``start`` in
:func:`striate.summary` (Araujo et al. 2019, https://distill.pub/2019/computing-receptive-fields/);
:func:`empirical_receptive_field` measures it as the input pixels that get a non-zero gradient
from the neuron. For plain stacks the two agree (both clipped at the image border); in
branched models the summary takes the widest path, so the measured box lies inside it.

Boxes are ``(top, left, bottom, right)`` in input pixels with exclusive ends, like Python
slices: the neuron sees ``image[..., top:bottom, left:right]``.
"""
from __future__ import annotations

import contextlib
import math

import numpy as np

from .. import functional as F
from .. import nn
from ..summary import summary as _summary
from ..tensor import Tensor
from ._inspect import StopForward, capturing, inspecting, resolve
from ._plotting import as_batch, display, figure, finish, to_numpy

__all__ = ["receptive_field", "empirical_receptive_field", "plot_receptive_field"]

Box = tuple[int, int, int, int]


def _input_shape(input_shape, op: str) -> tuple[int, int, int]:
    try:
        shape = tuple(int(n) for n in input_shape)
    except TypeError:
        raise TypeError(f"{op}: input_shape must be (C, H, W), got {input_shape!r}") from None
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"{op}: input_shape must be three positive ints (C, H, W), "
                         f"got {input_shape!r}")
    return shape


def _position(position, grid: tuple[int, int], layer: str, op: str) -> tuple[int, int]:
    """``position`` checked against the layer's (OH, OW) grid; None is the centre."""
    if position is None:
        return grid[0] // 2, grid[1] // 2
    try:
        r, c = (int(v) for v in position)
    except (TypeError, ValueError):
        raise TypeError(f"{op}: position must be (row, col), got {position!r}") from None
    if not (0 <= r < grid[0] and 0 <= c < grid[1]):
        raise ValueError(f"{op}: position {(r, c)} is outside the {grid[0]}x{grid[1]} output "
                         f"of layer {layer!r}")
    return r, c


def _row(table, layer: str, op: str) -> dict:
    rows = [r for r in table.rows if r["name"] == layer]
    if not rows:
        known = ", ".join(r["name"] for r in table.rows[:12] if r["name"])
        raise ValueError(f"{op}: the summary has no row for layer {layer!r} (rows are leaf "
                         f"layers, such as {known}, ...)")
    row = rows[0]  # a layer called twice has two rows: the first call, as feature_maps
    shape = row["output_shape"]
    if not isinstance(shape, tuple) or len(shape) != 4 or row["rf"] is None:
        raise ValueError(f"{op}: layer {layer!r} has output {shape}, not (N, C, H, W) maps")
    return row


def receptive_field(model, input_shape, layer: str, position=None, table=None,
                    clip: bool = True) -> Box:
    """The input box that output ``position`` of ``layer`` sees, from the summary's arithmetic.

    The neuron at row ``r`` is centred at ``start + r * jump`` on the input (pixel ``i``
    covers ``[i, i + 1)``) and spans ``rf`` pixels, so its box is
    ``[centre - rf / 2, centre + rf / 2)``, rounded outwards and clipped to the input.

    Args:
        model: an ``nn.Module``.
        input_shape ((int, int, int)): (C, H, W) of one input.
        layer (str): qualified name of a leaf layer with (N, C, OH, OW) output (a row of
            :func:`striate.summary`; a layer called twice uses its first call).
        position ((int, int), optional): (row, col) in the layer's output; default the centre.
        table (Summary, optional): a precomputed ``summary(model, input_shape)`` to reuse.
        clip (bool, default True): clip the box to the input (padding lets it reach outside).

    Returns:
        ``(top, left, bottom, right)``, exclusive ends: the patch is
        ``image[..., top:bottom, left:right]``.

    The summary tracks the height axis; the width uses the same ``rf``/``jump``/``start``,
    exact for square kernels, strides and paddings (every model in the zoo). Adaptive pooling
    of a non-square input differs per axis: use :func:`empirical_receptive_field` there.

    >>> receptive_field(lenet5(), (1, 28, 28), "features.3", (0, 0))   # 2nd conv: rf 14
    (0, 0, 12, 12)
    """
    C, H, W = _input_shape(input_shape, "receptive_field")
    table = _summary(model, (C, H, W)) if table is None else table
    row = _row(table, layer, "receptive_field")
    r, c = _position(position, row["output_shape"][2:], layer, "receptive_field")
    rf, jump, start = float(row["rf"]), float(row["jump"]), float(row["start"])
    lo = [math.floor(start + i * jump - rf / 2 + 1e-9) for i in (r, c)]
    hi = [math.ceil(start + i * jump + rf / 2 - 1e-9) for i in (r, c)]
    if clip:
        lo = [max(0, v) for v in lo]
        hi = [min(n, v) for v, n in zip(hi, (H, W))]
    return lo[0], lo[1], hi[0], hi[1]


# the pooling layers whose gradient reaches only some pixels of a window, and their averages
_AVERAGED = {
    nn.MaxPool2d: lambda m, x: F.avg_pool2d(x, m.kernel_size, m.stride, m.padding, m.ceil_mode),
    nn.MinPool2d: lambda m, x: F.avg_pool2d(x, m.kernel_size, m.stride, m.padding, m.ceil_mode),
    nn.StochasticPool2d: lambda m, x: F.avg_pool2d(x, m.kernel_size, m.stride, m.padding),
    nn.AdaptiveMaxPool2d: lambda m, x: F.adaptive_avg_pool2d(x, m.output_size),
    nn.GlobalMaxPool2d: lambda m, x: F.global_avg_pool2d(x),
}


def _constant(p, name: str) -> np.ndarray:
    """The value a parameter or buffer takes in the positive averaging network."""
    if name == "running_mean" or (name.endswith("bias") and p.ndim <= 1):
        v = 0.0
    elif p.ndim >= 2:  # a kernel or a weight matrix averages its fan-in
        v = 1.0 / math.prod(p.shape[1:])
    else:  # BatchNorm's gamma, running_var, LeNet's sub-sampling coefficients
        v = 1.0
    # a read-only broadcast view: no memory for layers the pass never reaches
    return np.broadcast_to(np.float64(v), p.shape)


@contextlib.contextmanager
def _averaging_network(model):
    """Temporarily turn ``model`` into a positive averaging network (everything restored).

    Every kernel and weight matrix becomes ``1 / fan_in``, biases and BatchNorm's shift and
    running mean 0, its scale and running variance 1, in float64; max/min/stochastic pools
    become average pools of the same geometry. With a positive input every activation is then
    positive, so no ReLU is cut off, no path cancels another and no pool picks one pixel: an
    input pixel gets a non-zero gradient exactly when some path connects it to the neuron.
    """
    saved, handles = [], []
    try:
        for m in model.modules():
            for reg in (m._parameters, m._buffers):
                for name, t in reg.items():
                    if t is not None and t.dtype.kind == "f":
                        saved.append((t, t.data))
                        t.data = _constant(t, name)
            swap = next((f for cls, f in _AVERAGED.items() if type(m) is cls), None)
            if swap is not None:
                handles.append(m.register_forward_hook(
                    lambda mod, inputs, out, f=swap: f(mod, inputs[0])))
        yield model
    finally:
        for h in handles:
            h.remove()
        for t, data in saved:
            t.data = data


def empirical_receptive_field(model, input_shape, layer: str, position=None,
                              channel: int | None = None, seed: int = 0,
                              return_gradient: bool = False):
    """The bounding box of the input pixels whose gradient from one neuron is non-zero.

    The measurement runs on a positive averaging version of the model (see below) so that the
    gradient's support is the true connectivity: with the trained weights a ReLU that is off,
    a max pool (which passes its gradient to one pixel per window) or two paths that cancel
    would hide pixels the neuron is wired to. Every parameter is restored afterwards, and the
    forward pass stops at ``layer``.

    The version: kernels and weight matrices ``1 / fan_in``, biases 0, BatchNorm the identity,
    max/min/stochastic pooling *layers* replaced by average pooling of the same geometry, all in
    float64, on a random input in [0.5, 1.5). Max pooling called as ``F.max_pool2d`` inside a
    ``forward`` is not replaced and can shrink the box.

    Args:
        model, input_shape, layer, position: as :func:`receptive_field`.
        channel (int, optional): the neuron's channel; default the sum over all channels.
        seed (int, default 0): seed of the random input.
        return_gradient (bool, default False): also return the (H, W) map of |gradient|
            summed over input channels.

    Returns:
        ``(top, left, bottom, right)`` with exclusive ends (always inside the input), or
        ``(box, gradient)`` with ``return_gradient``.

    >>> empirical_receptive_field(lenet5(), (1, 28, 28), "features.3", (0, 0))
    (0, 0, 12, 12)
    """
    shape = _input_shape(input_shape, "empirical_receptive_field")
    modules = resolve(model, layer, "empirical_receptive_field")
    x = np.random.default_rng(seed).uniform(0.5, 1.5, (1,) + shape)
    with inspecting(model), _averaging_network(model), \
            capturing(modules, stop_after=layer) as outputs:
        inp = Tensor(x, requires_grad=True)
        try:
            model(inp)
        except StopForward:
            pass
        out = outputs.get(layer)
        if out is None or out.ndim != 4:
            got = "did not run" if out is None else f"has output shape {tuple(out.shape)}"
            raise ValueError(f"empirical_receptive_field: layer {layer!r} {got}; expected "
                             f"(N, C, H, W) maps")
        r, c = _position(position, out.shape[2:], layer, "empirical_receptive_field")
        if channel is not None and not 0 <= channel < out.shape[1]:
            raise ValueError(f"empirical_receptive_field: channel {channel} is out of range "
                             f"for {out.shape[1]} channels of {layer!r}")
        neuron = out[0, :, r, c].sum() if channel is None else out[0, channel, r, c]
        neuron.backward()
    grad = np.abs(to_numpy(inp.grad)[0]).sum(axis=0)
    rows, cols = np.nonzero(grad.sum(axis=1))[0], np.nonzero(grad.sum(axis=0))[0]
    if rows.size == 0:
        raise ValueError(f"empirical_receptive_field: no input pixel reaches layer {layer!r}")
    box = (int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1)
    return (box, grad) if return_gradient else box


def plot_receptive_field(model, image, layer: str, position=None, path=None,
                         input_shape=None, empirical: bool = True,
                         figsize: tuple[float, float] = (5, 5.4), dpi: int = 100):
    """Draw the receptive field of one neuron of ``layer`` on the input image.

    The theoretical box (:func:`receptive_field`) is drawn solid, its unclipped extent (where
    padding lets it reach outside the image) dotted, and with ``empirical`` the measured box
    (:func:`empirical_receptive_field`) dashed.

    Args:
        model: an ``nn.Module``.
        image: (C, H, W) or (1, C, H, W); None draws on a blank canvas of ``input_shape``.
        layer (str), position ((int, int), optional): as :func:`receptive_field`.
        path (str, optional): where to write the PNG.
        input_shape ((int, int, int), optional): needed when ``image`` is None.
        empirical (bool, default True): also measure and draw the gradient box.
        figsize ((float, float), default (5, 5.4)): inches; the PNG is ``figsize * dpi`` pixels.
        dpi (int, default 100).

    Returns:
        ``path`` when given (the figure is written there), else the matplotlib Figure.

    >>> plot_receptive_field(model, x, "features.3", (2, 2), "rf.png")
    'rf.png'
    """
    if image is None:
        if input_shape is None:
            raise ValueError("plot_receptive_field: pass an image or an input_shape")
        shape = _input_shape(input_shape, "plot_receptive_field")
        shown = np.full(shape[1:], 0.85)
    else:
        x = as_batch(image, "plot_receptive_field")
        shape, shown = x.shape[1:], display(x)
    table = _summary(model, shape)
    row = _row(table, layer, "plot_receptive_field")
    pos = _position(position, row["output_shape"][2:], layer, "plot_receptive_field")
    box = receptive_field(model, shape, layer, pos, table=table)
    full = receptive_field(model, shape, layer, pos, table=table, clip=False)
    fig = figure(figsize)
    ax = fig.subplots()
    ax.imshow(shown, cmap="gray" if shown.ndim == 2 else None, vmin=0, vmax=1,
              interpolation="nearest")
    _rect(ax, full, "tab:orange", ":", "theoretical, unclipped")
    _rect(ax, box, "tab:orange", "-", f"theoretical {box}")
    if empirical:
        emp = empirical_receptive_field(model, shape, layer, pos)
        _rect(ax, emp, "tab:cyan", "--", f"empirical {emp}")
    centre = [float(row["start"]) + i * float(row["jump"]) - 0.5 for i in pos]  # pixel i at i
    ax.plot(centre[1], centre[0], "+", color="tab:orange", markersize=10, mew=2,
            label="neuron centre")
    pad = max(2.0, 0.05 * max(shape[1:]))
    ax.set_xlim(min(-0.5, full[1] - 0.5) - pad, max(shape[2] - 0.5, full[3] - 0.5) + pad)
    ax.set_ylim(max(shape[1] - 0.5, full[2] - 0.5) + pad, min(-0.5, full[0] - 0.5) - pad)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.04), ncol=1, fontsize="small",
              frameon=False)
    ax.set_title(f"{layer} {pos}: rf {row['rf']}, jump {row['jump']}, output "
                 f"{row['output_shape'][2]}x{row['output_shape'][3]}", fontsize="medium")
    return finish(fig, path, dpi)


def _rect(ax, box: Box, color: str, style: str, label: str) -> None:
    from matplotlib.patches import Rectangle  # optional dependency, checked by figure()

    top, left, bottom, right = box
    ax.add_patch(Rectangle((left - 0.5, top - 0.5), right - left, bottom - top, fill=False,
                           edgecolor=color, linestyle=style, linewidth=2, label=label))
