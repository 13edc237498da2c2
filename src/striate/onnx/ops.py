"""ONNX converters for the primitives, activations and shape ops; the registry they share.

A converter is ``convert(ctx, node) -> str``: ``ctx`` is the exporter's ``GraphBuilder`` (it adds
nodes with ``ctx.op`` and initializers with ``ctx.const``), ``node`` the traced application (input
value names, input arrays, hyper-parameters, output array). It returns the name of the ONNX value
that holds the Function's output. The layer kernels (convolution, pooling, normalization) are in
:mod:`striate.onnx.layers`.
"""
from __future__ import annotations

import math
from typing import Callable

from .. import ops as P
from ..backend import xp
from ..functional import activation as A
from ..functional.dropout import Dropout
from ..functional.fused import AddReLU
from ..functional import shape as S

__all__ = ["CONVERTERS", "converts", "converter_for"]

#: Function class -> converter
CONVERTERS: dict[type, Callable] = {}

INT64_MAX, INT64_MIN = 2**63 - 1, -(2**63)


def converts(*classes: type):
    """Register the decorated function as the converter of ``classes``."""
    def register(fn: Callable) -> Callable:
        for c in classes:
            CONVERTERS[c] = fn
        return fn
    return register


def converter_for(fn_cls: type) -> Callable | None:
    # exact classes only: a subclass may change the meaning (Conv1dFunction of Conv2dFunction)
    return CONVERTERS.get(fn_cls)


def _same_dtype(ctx, node) -> list:
    """Input names with a Cast where an input's dtype differs from the output's (NumPy promotes,
    ONNX does not)."""
    names = []
    for name, a in zip(node.inputs, node.arrays):
        if a is not None and a.dtype != node.out.dtype and a.dtype.kind == "f":
            to = ctx.onnx.helper.np_dtype_to_tensor_dtype(node.out.dtype)
            name = ctx.op("Cast", name, to=to)
        names.append(name)
    return names


# ---- elementwise ----
def _unary(op_type: str) -> Callable:
    return lambda ctx, node: ctx.op(op_type, node.inputs[0])


def _binary(op_type: str) -> Callable:
    return lambda ctx, node: ctx.op(op_type, *_same_dtype(ctx, node))


for _cls, _op in {P.Neg: "Neg", P.Exp: "Exp", P.Log: "Log", P.Sqrt: "Sqrt", P.Abs: "Abs",
                  P.Tanh: "Tanh", A.ReLU: "Relu", A.Sigmoid: "Sigmoid",
                  A.Hardswish: "HardSwish", Dropout: "Identity"}.items():
    # Dropout: inference is the identity (it only runs in eval when called with training=True)
    CONVERTERS[_cls] = _unary(_op)
for _cls, _op in {P.Add: "Add", P.Sub: "Sub", P.Mul: "Mul", P.Div: "Div", P.Pow: "Pow",
                  P.Maximum: "Max", P.MatMul: "MatMul"}.items():
    CONVERTERS[_cls] = _binary(_op)


@converts(AddReLU)
def add_relu(ctx, node):
    return ctx.op("Relu", ctx.op("Add", *node.inputs))


@converts(P.Clip)
def clip(ctx, node):
    dt = node.arrays[0].dtype
    lo, hi = node.hyper.get("lo"), node.hyper.get("hi")
    return ctx.op("Clip", node.inputs[0],
                  None if lo is None else ctx.scalar(lo, dt, "min"),
                  None if hi is None else ctx.scalar(hi, dt, "max"))


@converts(P.Where)
def where(ctx, node):
    cond, a, b = node.inputs
    if node.arrays[0].dtype != bool:
        cond = ctx.op("Cast", cond, to=ctx.onnx.TensorProto.BOOL)
    return ctx.op("Where", cond, *_same_dtype(ctx, node)[1:])


# ---- reductions ----
_REDUCE = {P.Sum: "ReduceSum", P.Mean: "ReduceMean", P.Max: "ReduceMax", P.Min: "ReduceMin"}


@converts(*_REDUCE)
def reduce(ctx, node):
    x, a = node.inputs[0], node.arrays[0]
    if a.ndim == 0:
        return ctx.op("Identity", x)
    axes = P.normalize_axis(node.hyper.get("axis"), a.ndim, _REDUCE[node.fn])
    return ctx.reduce(_REDUCE[node.fn], x, axes, node.hyper.get("keepdims", False))


@converts(P.Var)
def var(ctx, node):
    x, a = node.inputs[0], node.arrays[0]
    axes = P.normalize_axis(node.hyper.get("axis"), a.ndim, "var")
    count = int(xp.prod([a.shape[i] for i in axes])) if axes else 1
    denom = count - node.hyper.get("ddof", 0)
    if denom <= 0:
        raise node.fail(f"ddof={node.hyper.get('ddof')} leaves no degrees of freedom")
    d = ctx.op("Sub", x, ctx.reduce("ReduceMean", x, axes, True))
    v = ctx.reduce("ReduceMean", ctx.op("Mul", d, d), axes, node.hyper.get("keepdims", False))
    return v if denom == count else ctx.op("Mul", v, ctx.scalar(count / denom, a.dtype))


# ---- movement ----
@converts(P.Reshape)
def reshape(ctx, node):
    shape, target = node.arrays[0].shape, [int(d) for d in node.hyper["shape"]]
    if node.batched[0] and target:
        if target[0] == shape[0]:
            target[0] = 0  # 0 copies the input's (symbolic) batch size
        elif target[0] != -1:
            raise node.fail(f"the reshape from {shape} to {tuple(target)} mixes the batch axis "
                            "with others, so the batch size cannot vary; export with "
                            "dynamic_batch=False")
    return ctx.op("Reshape", node.inputs[0], ctx.ints(target))


@converts(P.Transpose)
def transpose(ctx, node):
    axes = node.hyper.get("axes")
    perm = list(range(node.arrays[0].ndim))[::-1] if axes is None else [int(a) for a in axes]
    return ctx.op("Transpose", node.inputs[0], perm=perm)


@converts(P.Expand)
def expand(ctx, node):
    shape, target = node.arrays[0].shape, [int(d) for d in node.hyper["shape"]]
    lead = len(target) - len(shape)
    # 1 where no broadcasting happens: Expand keeps the input's size there (the dynamic batch)
    target = [1 if i >= lead and shape[i - lead] == t else t for i, t in enumerate(target)]
    return ctx.op("Expand", node.inputs[0], ctx.ints(target))


@converts(P.Concat)
def concat(ctx, node):
    return ctx.op("Concat", *node.inputs, axis=int(node.hyper.get("axis", 0)))


@converts(P.Pad)
def pad(ctx, node):
    widths = node.hyper["pad_width"]
    pads = [int(lo) for lo, _ in widths] + [int(hi) for _, hi in widths]
    value = ctx.scalar(node.hyper.get("value", 0.0), node.arrays[0].dtype, "pad_value")
    return ctx.op("Pad", node.inputs[0], ctx.ints(pads, "pads"), value)


@converts(S.ChannelShuffle)
def channel_shuffle(ctx, node):
    g, (N, C, *rest) = node.hyper["groups"], node.arrays[0].shape
    y = ctx.op("Reshape", node.inputs[0], ctx.ints([0, g, C // g] + rest))
    y = ctx.op("Transpose", y, perm=[0, 2, 1] + list(range(3, 3 + len(rest))))
    return ctx.op("Reshape", y, ctx.ints([0, C] + rest))


# ---- indexing ----
def _index_items(node, ndim: int) -> list:
    """The index as one item per input axis, plus None items; Ellipsis expanded."""
    index = node.hyper["index"]
    items = list(index) if isinstance(index, tuple) else [index]
    real = sum(1 for i in items if i is not None and i is not Ellipsis)
    if real > ndim or sum(1 for i in items if i is Ellipsis) > 1:
        raise node.fail(f"index {index!r} does not fit an input of {ndim} dimensions")
    out = []
    for i in items:
        if i is Ellipsis:
            out += [slice(None)] * (ndim - real)
        elif isinstance(i, (list, xp.ndarray)):
            arr = xp.asarray(i)
            if arr.dtype.kind not in "iu":
                raise node.fail(f"only integer index arrays can be exported, got dtype "
                                f"{arr.dtype} (a boolean mask depends on the data)")
            out.append(arr.astype(xp.int64))
        else:
            out.append(i)
    if not any(i is Ellipsis for i in items):
        out += [slice(None)] * (ndim - real)
    return out


def _slice_bounds(s: slice) -> tuple[int, int, int]:
    step = 1 if s.step is None else int(s.step)
    start = (0 if step > 0 else INT64_MAX) if s.start is None else int(s.start)
    stop = (INT64_MAX if step > 0 else INT64_MIN) if s.stop is None else int(s.stop)
    return start, stop, step


@converts(P.GetItem)
def getitem(ctx, node):
    """Basic slicing as one Slice, integers and integer arrays as Gathers, None as Unsqueeze."""
    a = node.arrays[0]
    items = _index_items(node, a.ndim)
    if sum(1 for i in items if isinstance(i, xp.ndarray)) > 1:
        raise node.fail("indexing with more than one integer array cannot be exported")
    starts, stops, axes, steps, takes, unsqueeze = [], [], [], [], [], []
    axis = pos = 0
    for i in items:
        if i is None:
            unsqueeze.append(pos)
            pos += 1
            continue
        if isinstance(i, slice):
            if not (i.start in (None, 0) and i.stop is None and i.step in (None, 1)):
                for lst, v in zip((starts, stops, steps), _slice_bounds(i)):
                    lst.append(v)
                axes.append(axis)
            pos += 1
        elif isinstance(i, xp.ndarray):
            takes.append((axis, i))
            pos += i.ndim
        else:
            takes.append((axis, xp.asarray(int(i), dtype=xp.int64)))
        axis += 1
    y, ref = node.inputs[0], a
    if axes:
        y = ctx.op("Slice", y, ctx.ints(starts, "starts"), ctx.ints(stops, "ends"),
                   ctx.ints(axes, "axes"), ctx.ints(steps, "steps"))
        ref = ref[tuple(i if isinstance(i, slice) else slice(None)
                        for i in items if i is not None)]
    for ax, idx in sorted(takes, key=lambda t: -t[0]):  # from the last axis: earlier ones stay put
        y = ctx.op("Gather", y, ctx.const(idx, "indices"), axis=ax)
        ref = xp.take(ref, idx, axis=ax)
    if unsqueeze:
        y = ctx.op("Unsqueeze", y, ctx.ints(unsqueeze, "axes"))
        ref = xp.expand_dims(ref, tuple(unsqueeze))
    if ref.shape != node.out.shape or not xp.array_equal(ref, node.out, equal_nan=True):
        raise node.fail(f"index {node.hyper['index']!r} cannot be exported (NumPy's advanced "
                        "indexing moves axes here); rewrite it as separate indexing steps")
    return y


# ---- activations ----
@converts(A.LeakyReLU)
def leaky_relu(ctx, node):
    return ctx.op("LeakyRelu", node.inputs[0], alpha=float(node.hyper["negative_slope"]))


@converts(A.ELU)
def elu(ctx, node):
    return ctx.op("Elu", node.inputs[0], alpha=float(node.hyper["alpha"]))


@converts(A.ReLU6)
def relu6(ctx, node):
    dt = node.arrays[0].dtype
    return ctx.op("Clip", node.inputs[0], ctx.scalar(0, dt, "min"), ctx.scalar(6, dt, "max"))


@converts(A.Hardsigmoid)
def hardsigmoid(ctx, node):
    return ctx.op("HardSigmoid", node.inputs[0], alpha=1 / 6, beta=0.5)


@converts(A.SiLU)
def silu(ctx, node):
    x = node.inputs[0]
    return ctx.op("Mul", x, ctx.op("Sigmoid", x))


@converts(A.GELU)
def gelu(ctx, node):
    x, dt = node.inputs[0], node.arrays[0].dtype
    approximate = node.hyper.get("approximate", "none")
    if ctx.opset >= 20:
        return ctx.op("Gelu", x, approximate=approximate)
    half = ctx.op("Mul", x, ctx.scalar(0.5, dt, "half"))
    if approximate == "tanh":  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = ctx.op("Mul", ctx.op("Mul", x, x), x)
        inner = ctx.op("Add", x, ctx.op("Mul", cube, ctx.scalar(0.044715, dt)))
        t = ctx.op("Tanh", ctx.op("Mul", inner, ctx.scalar(math.sqrt(2 / math.pi), dt)))
    else:  # 0.5 x (1 + erf(x / sqrt(2)))
        t = ctx.op("Erf", ctx.op("Mul", x, ctx.scalar(1 / math.sqrt(2), dt, "inv_sqrt2")))
    return ctx.op("Mul", half, ctx.op("Add", t, ctx.scalar(1, dt, "one")))


@converts(A.Softmax, A.LogSoftmax)
def softmax(ctx, node):
    op_type = "Softmax" if node.fn is A.Softmax else "LogSoftmax"
    return ctx.op(op_type, node.inputs[0], axis=int(node.hyper["axis"]))
