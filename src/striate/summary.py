"""``summary(model, input_shape)``: per-layer output shapes, parameters, multiply-accumulates and
receptive fields, from one forward pass.

Receptive fields are tracked per Tensor, not per layer order, so branched models come out right.
For the duration of the pass every module-level ``apply`` (the one function through which every
op runs, see ``tensor.apply``) is wrapped. Each op's output gets a tag ``(rf, jump, start, size)``
computed from its inputs' tags: a convolution or pooling window grows it with the usual
arithmetic (Araujo et al. 2019, https://distill.pub/2019/computing-receptive-fields/)

    rf_out = rf_in + (k - 1) * dilation * jump_in,   jump_out = jump_in * stride,
    start_out = start_in + ((k - 1) * dilation / 2 - pad) * jump_in,

an op that mixes every position (linear layer or matrix product after a flatten, global or
adaptive pooling, a mean over H and W) widens it to the whole grid, and every other op (add,
multiply, concat, activation, normalisation, reshape) takes the largest ``rf`` over its inputs,
with the grid (``jump``, ``start``) of its widest input: "a layer's receptive field is the
largest over the paths into it". ``size`` is the tensor's grid height in positions; it survives
a flatten so that a following linear layer knows how many positions it mixes.

Conventions: input pixel i covers [i, i + 1), so the input has rf 1, jump 1 and start 0.5;
receptive fields are along the height axis (the length for 1-D inputs) and are not clipped at
the image border (padding counts), as in the papers' tables. Two cases are approximations: a
transposed convolution gets the largest rf over its output phases, and an adaptive pool whose
windows vary in length gets the longest window and a fractional jump H_in / H_out.
"""
from __future__ import annotations

import contextlib
import math
import numbers
import sys
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from . import ops
from .autograd import no_grad
from .backend import default_dtype, xp
from .functional import conv as _conv, local as _local, pooling as _pool
from .functional.linear import Linear as _LinearFunction  # F.linear shadows the module name
from .nn import Module
from .tensor import Tensor

__all__ = ["summary", "Summary"]


class _Tag(NamedTuple):
    rf: float
    jump: float
    start: float
    size: int  # grid positions along height


def _window(t: _Tag, k: int, s: float, pad: float, d: int = 1, size: int | None = None) -> _Tag:
    return _Tag(t.rf + (k - 1) * d * t.jump, t.jump * s,
                t.start + ((k - 1) * d / 2 - pad) * t.jump, t.size if size is None else size)


def _mix(t: _Tag) -> _Tag:
    """Every output sees every position of the grid (the window is the whole grid)."""
    return _window(t, t.size, t.size, 0, size=1) if t.size > 1 else t


def _spatial_tag(fn_cls, t: _Tag, inputs, hyper, out_size: int, nd: int) -> _Tag | None:
    """The tag of an op that changes the grid, or None for an elementwise-like op."""
    if fn_cls is _conv.Conv1dFunction:
        g = hyper["geometry"]
        return _window(t, inputs[1].shape[2], g.stride[1], g.pads[2], g.dilation[1], out_size)
    if issubclass(fn_cls, _conv.Conv2dFunction):
        g = hyper["geometry"]
        return _window(t, inputs[1].shape[2], g.stride[0], g.pads[0], g.dilation[0], out_size)
    if issubclass(fn_cls, _conv.ConvTranspose2dFunction):
        g, k = hyper["geometry"], inputs[1].shape[2]
        (s,), (d,), p = g.stride[:1], g.dilation[:1], g.pads[0]
        n = -(-((k - 1) * d + 1) // s)  # most input positions one output reads
        return _Tag(t.rf + (n - 1) * t.jump, t.jump / s,
                    t.start + (p - (k - 1) * d / 2) / s * t.jump, out_size)
    if issubclass(fn_cls, _local.LocallyConnected2dFunction):
        return _window(t, inputs[1].shape[4], hyper["stride"][0], hyper["padding"][0],
                       size=out_size)
    if "g" in hyper and isinstance(hyper["g"], _pool._Geometry):  # max/min/avg/stochastic pools
        g = hyper["g"]
        return _window(t, g.k[0], g.s[0], g.lo[0], size=out_size)
    if issubclass(fn_cls, (_pool.AdaptiveAvgPool2d, _pool.AdaptiveMaxPool2d)):
        H, OH = inputs[0].shape[2], hyper["out"][0]
        k_max = max(-(-(i + 1) * H // OH) - i * H // OH for i in range(OH))
        first = -(-H // OH)
        return _Tag(t.rf + (k_max - 1) * t.jump, t.jump * H / OH,
                    t.start + (first - 1) / 2 * t.jump, out_size)
    if issubclass(fn_cls, (_pool.GlobalAvgPool2d, _pool.GlobalMaxPool2d, _LinearFunction,
                           ops.MatMul)):
        return _mix(t)
    if issubclass(fn_cls, (ops.Sum, ops.Mean, ops.Max, ops.Var)):
        axis = hyper.get("axis")
        axes = (axis,) if isinstance(axis, int) else axis
        if inputs[0].ndim == nd and (axes is None or any(a % nd >= 2 for a in axes)):
            return _mix(t)
    return None


def _macs(fn_cls, inputs, out) -> int:
    """Multiply-accumulates of one op (0 for everything but products with a weight)."""
    if issubclass(fn_cls, _conv.ConvTranspose2dFunction):  # per input pixel
        x, w = inputs[0], inputs[1]
        return x.size * math.prod(w.shape[1:])
    if issubclass(fn_cls, _conv.Conv2dFunction):  # conv1d too: w (OC, C/groups, *kernel)
        return out.size * math.prod(inputs[1].shape[1:])
    if issubclass(fn_cls, _local.LocallyConnected2dFunction):
        return out.size * math.prod(inputs[1].shape[3:])
    if issubclass(fn_cls, (_LinearFunction, ops.MatMul)):
        return out.size * inputs[0].shape[-1]
    return 0


@dataclass
class Summary:
    """What :func:`summary` returns: ``rows`` (one dict per layer call) and the totals.

    ``str(summary)`` renders the rows as an aligned table followed by the totals.
    """

    rows: list[dict]
    total_params: int
    trainable_params: int
    total_macs: int
    input_shape: tuple
    output_shape: Any
    other_macs: int = 0  # MACs of ops run outside any row's layer (functional calls in forward)
    model_name: str = field(default="")

    def __str__(self) -> str:
        head = ("Layer", "Type", "Output shape", "Params", "MACs", "RF", "Jump", "Start")
        body = [(r["name"] or "(model)", r["type"], _shape_str(r["output_shape"]),
                 f"{r['params']:,}", f"{r['macs']:,}", _num(r["rf"]), _num(r["jump"]),
                 _num(r["start"])) for r in self.rows]
        widths = [max(len(row[i]) for row in [head] + body) for i in range(len(head))]
        right = {3, 4, 5, 6, 7}

        def line(cells):
            return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                             for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

        rule = "-" * len(line(head))
        title = f"{self.model_name} summary, input {_shape_str((1,) + self.input_shape)}"
        out = [title, rule, line(head), rule] + [line(b) for b in body] + [rule]
        if self.other_macs:
            out.append(f"MACs of ops outside the listed layers: {self.other_macs:,}")
        out += [f"Total params: {self.total_params:,}",
                f"Trainable params: {self.trainable_params:,}",
                f"Non-trainable params: {self.total_params - self.trainable_params:,}",
                f"Total MACs: {self.total_macs:,} ({_human(self.total_macs)}MACs)",
                f"Output shape: {_shape_str(self.output_shape)}"]
        return "\n".join(out)


def _shape_str(s) -> str:
    if isinstance(s, list):
        return ", ".join(_shape_str(x) for x in s)
    return "(" + ", ".join(str(n) for n in s) + ")" if s is not None else "-"


def _num(v) -> str:
    if v is None:
        return "-"
    return f"{v:g}" if float(v) != int(v) or abs(v) >= 1e6 else str(int(v))


def _human(n: int) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n} "


class _Tracer:
    """Tags tensors with receptive fields and charges op MACs to the running layer's row."""

    def __init__(self, model: Module, nd: int):
        self.nd = nd  # rank of the input batch: 4 for images, 3 for signals
        self.tags: dict[int, tuple[Tensor, _Tag]] = {}  # holding the tensor keeps its id unique
        self.names = {id(m): n for n, m in model.named_modules()}
        self.rows: list[dict] = []
        self.stack: list[dict | None] = []
        self.other_macs = 0

    def tag(self, t) -> _Tag | None:
        hit = self.tags.get(id(t)) if isinstance(t, Tensor) else None
        return None if hit is None or hit[0] is not t else hit[1]

    def set_tag(self, t: Tensor, tag: _Tag) -> None:
        self.tags[id(t)] = (t, tag)

    def on_op(self, fn_cls, inputs, hyper, out) -> None:
        macs = _macs(fn_cls, inputs, out)
        row = self.stack[-1] if self.stack else None
        if row is not None:
            row["macs"] += macs
        else:
            self.other_macs += macs
        tagged = [tg for tg in (self.tag(t) for t in inputs) if tg is not None]
        if not tagged or not isinstance(out, Tensor):
            return
        size = out.shape[2] if out.ndim == self.nd >= 3 else None  # height (length for 1-D)
        grid = max(tagged, key=lambda tg: (tg.size, tg.rf))
        rf = max(tg.rf for tg in tagged)
        tag = _spatial_tag(fn_cls, grid, inputs, hyper, grid.size if size is None else size,
                           self.nd)
        if tag is None:
            tag = _Tag(rf, grid.jump, grid.start, grid.size if size is None else size)
        self.set_tag(out, tag)

    def pre_hook(self, module, args) -> None:
        has_row = not module._modules or any(p is not None for p in module._parameters.values())
        row = None
        if has_row:
            own = [p for p in module._parameters.values() if p is not None]
            row = dict(name=self.names.get(id(module), ""), type=type(module).__name__,
                       output_shape=None, params=sum(p.size for p in own),
                       trainable=sum(p.size for p in own if p.requires_grad), macs=0,
                       rf=None, jump=None, start=None)
            self.rows.append(row)
        self.stack.append(row)

    def hook(self, module, args, out) -> None:
        row = self.stack.pop()
        if row is None:
            return
        outs = list(out) if isinstance(out, (tuple, list)) else [out]
        shapes = [tuple(o.shape) for o in outs if isinstance(o, Tensor)]
        row["output_shape"] = shapes[0] if len(shapes) == 1 else shapes
        tags = [tg for tg in (self.tag(o) for o in outs) if tg is not None]
        if tags:
            best = max(tags, key=lambda tg: tg.rf)
            row["rf"], row["jump"], row["start"] = (_clean(best.rf), _clean(best.jump),
                                                   _clean(best.start))


def _clean(v: float):
    """An int when the value is integral (receptive fields mostly are), else the float."""
    return int(v) if float(v).is_integer() else v


@contextlib.contextmanager
def _traced_apply(tracer: _Tracer):
    """Wrap ``apply`` in every module that bound it by name; always restored."""
    orig = sys.modules[Tensor.__module__].apply  # (``striate.tensor`` names the function)

    def apply(fn_cls, *inputs, **hyper):
        out = orig(fn_cls, *inputs, **hyper)
        tracer.on_op(fn_cls, inputs, hyper, out)
        return out

    patched = [m for m in list(sys.modules.values())
               if isinstance(getattr(m, "__dict__", None), dict)
               and m.__dict__.get("apply") is orig]
    try:
        for m in patched:
            m.apply = apply
        yield
    finally:
        for m in patched:
            m.apply = orig


def summary(model: Module, input_shape=None, dtype=None) -> Summary:
    """Layer-by-layer output shape, parameters, MACs and receptive field of ``model``.

    Runs one forward pass in eval mode under ``no_grad`` on a random (seeded) input of shape
    ``(1, *input_shape)``; the model's training flags, hooks and ``apply`` are restored afterwards
    (even if the forward fails). While it runs, ops of other threads would be traced too. There is one row
    per call of a leaf layer (a module without children, or any module with parameters of its
    own), in execution order: a layer called twice gives two rows.

    Row keys: ``name`` (qualified), ``type``, ``output_shape`` (with the batch axis of 1; a list
    of shapes for a tuple output), ``params`` (the layer's own parameters), ``trainable`` (how
    many of them require grad), ``macs``, ``rf``, ``jump`` and ``start`` (see the module
    docstring; None where no tensor of the input reaches the output).

    MACs count multiply-accumulates for one input: convolution OH*OW*C_out*(C_in/groups)*KH*KW,
    transposed convolution H*W*C_in*(C_out/groups)*KH*KW, locally connected OH*OW*C_out*C_in*KH*KW,
    linear in*out, a matrix product M*K*N. Biases, normalisation, pooling, activations and
    elementwise ops count 0 (the convention of the published GMAC figures: ResNet-18 1.82, VGG-16
    15.5). An op is charged to the innermost running module that has a row; ops run by a
    parameter-free container's own ``forward`` are in ``total_macs`` and ``other_macs`` only.

    Args:
        model (Module): the network.
        input_shape (tuple of int, optional): one sample's shape without the batch axis, e.g.
            (3, 224, 224). Default: ``model.input_shape``, which every registered model has.
        dtype (optional): input dtype; default the dtype of the model's first floating parameter.

    Returns:
        :class:`Summary` with ``rows``, ``total_params``, ``trainable_params``, ``total_macs``,
        ``input_shape``, ``output_shape``; ``str()`` renders a table.

    >>> s = striate.summary(striate.models.lenet5(), (1, 28, 28))
    >>> s.total_params, s.rows[5]["rf"]     # features.5, the second max pool
    (61706, 16)
    """
    if not isinstance(model, Module):
        raise TypeError(f"summary: model must be a striate.nn.Module, got {type(model).__name__}")
    if input_shape is None:
        input_shape = getattr(model, "input_shape", None)
        if input_shape is None:
            raise TypeError(f"summary: {type(model).__name__} has no input_shape attribute; "
                            "pass input_shape such as (3, 224, 224)")
    if not isinstance(input_shape, (tuple, list)) or not all(
            isinstance(n, numbers.Integral) and not isinstance(n, bool) for n in input_shape):
        raise TypeError(f"summary: input_shape must be a tuple of ints such as (3, 224, 224), "
                        f"got {input_shape!r}")
    shape = tuple(int(n) for n in input_shape)
    if not shape or min(shape) < 1:
        raise ValueError(f"summary: input_shape must be positive sizes without the batch axis, "
                         f"such as (3, 224, 224); got {input_shape!r}")
    if dtype is None:
        dtype = next((p.dtype for p in model.parameters() if p.dtype.kind == "f"), default_dtype)
    x = Tensor(xp.random.default_rng(0).standard_normal((1,) + shape).astype(dtype))
    tracer = _Tracer(model, len(shape) + 1)
    size = shape[1] if len(shape) >= 2 else 1
    tracer.set_tag(x, _Tag(1, 1, 0.5, size))
    modes = [(m, m.training) for m in model.modules()]
    handles = []
    try:
        model.eval()
        for m in model.modules():
            handles.append(m.register_forward_pre_hook(tracer.pre_hook))
            handles.append(m.register_forward_hook(tracer.hook))
        with no_grad(), _traced_apply(tracer):
            y = model(x)
    finally:
        for h in handles:
            h.remove()
        for m, mode in modes:
            m.training = mode
    params = list(model.parameters())
    outs = list(y) if isinstance(y, (tuple, list)) else [y]
    out_shape = [tuple(o.shape) for o in outs if isinstance(o, Tensor)]
    return Summary(
        rows=tracer.rows,
        total_params=sum(p.size for p in params),
        trainable_params=sum(p.size for p in params if p.requires_grad),
        total_macs=sum(r["macs"] for r in tracer.rows) + tracer.other_macs,
        input_shape=shape,
        output_shape=out_shape[0] if len(out_shape) == 1 else out_shape,
        other_macs=tracer.other_macs,
        model_name=getattr(model, "config", {}).get("name", type(model).__name__),
    )
