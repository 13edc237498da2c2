"""ONNX converters for the layer kernels: convolution, linear, pooling, normalization, and the
locally connected layer as an expanded subgraph.

Pooling windows are taken from the traced geometry (padding before and after, the ceil-mode
overhang included), so ONNX never has to re-derive PyTorch's ``ceil_mode`` rules.
"""
from __future__ import annotations

from ..backend import xp
from ..functional import conv as C
from ..functional.linear import Linear
from ..functional import local as LC
from ..functional import normalization as NZ
from ..functional import pooling as PL
from .ops import converts

__all__: list[str] = []


# ---- convolution and linear ----
@converts(C.Conv2dFunction)
def conv2d(ctx, node):
    g, k = node.hyper["geometry"], node.arrays[1].shape[2:]
    PT, PB, PL_, PR = g.pads
    y = ctx.op("Conv", *node.inputs, kernel_shape=list(k), strides=list(g.stride),
               pads=[PT, PL_, PB, PR], dilations=list(g.dilation), group=g.groups)
    clamp = node.hyper.get("clamp")  # a fused ReLU / ReLU6 (conv2d(activation=...))
    if clamp is None:
        return y
    if clamp[1] == float("inf"):
        return ctx.op("Relu", y)
    dt = node.arrays[0].dtype
    return ctx.op("Clip", y, ctx.scalar(clamp[0], dt, "min"), ctx.scalar(clamp[1], dt, "max"))


@converts(C.Conv1dFunction)
def conv1d(ctx, node):
    g, k = node.hyper["geometry"], node.arrays[1].shape[2:]
    return ctx.op("Conv", *node.inputs, kernel_shape=list(k), strides=[g.stride[1]],
                  pads=[g.pads[2], g.pads[3]], dilations=[g.dilation[1]], group=g.groups)


@converts(C.ConvTranspose2dFunction)
def conv_transpose2d(ctx, node):
    g, (x, w) = node.hyper["geometry"], node.arrays[:2]
    PT, PB, PL_, PR = g.pads
    natural = [(n - 1) * s - lo - hi + d * (k - 1) + 1 for n, s, lo, hi, d, k in
               zip(x.shape[2:], g.stride, (PT, PL_), (PB, PR), g.dilation, w.shape[2:])]
    extra = [o - n for o, n in zip(node.hyper["output_size"], natural)]
    return ctx.op("ConvTranspose", *node.inputs, kernel_shape=list(w.shape[2:]),
                  strides=list(g.stride), pads=[PT, PL_, PB, PR], dilations=list(g.dilation),
                  group=g.groups, output_padding=extra if any(extra) else None)


@converts(Linear)
def linear(ctx, node):
    x, w, b = node.inputs
    if node.arrays[0].ndim == 2:
        return ctx.op("Gemm", x, w, b, transB=1)
    y = ctx.op("MatMul", x, ctx.op("Transpose", w, perm=[1, 0]))
    return y if b is None else ctx.op("Add", y, b)


@converts(LC.LocallyConnected2dFunction)
def locally_connected2d(ctx, node):
    """Unfold by a grouped convolution with one-hot kernels (channel c*KH*KW + u*KW + v holds
    input channel c at kernel offset (u, v)), then one Einsum per-position matrix product."""
    x, w, b = node.inputs
    OH, OW, OC, Cin, KH, KW = node.arrays[1].shape
    dt = node.arrays[0].dtype
    (SH, SW), (PH, PW) = node.hyper["stride"], node.hyper["padding"]
    onehot = xp.tile(xp.eye(KH * KW, dtype=dt).reshape(KH * KW, 1, KH, KW), (Cin, 1, 1, 1))
    cols = ctx.op("Conv", x, ctx.const(onehot, "unfold_kernel"), kernel_shape=[KH, KW],
                  strides=[SH, SW], pads=[PH, PW, PH, PW], group=Cin)
    cols = ctx.op("Reshape", cols, ctx.ints([0, Cin * KH * KW, OH * OW]))
    w3 = ctx.op("Reshape", w, ctx.ints([OH * OW, OC, Cin * KH * KW]))
    y = ctx.op("Einsum", cols, w3, equation="nkp,pok->nop")
    y = ctx.op("Reshape", y, ctx.ints([0, OC, OH, OW]))
    return y if b is None else ctx.op("Add", y, b)


# ---- normalization ----
def _param(ctx, node, i: int, fill: float, shape, dt):
    """Input ``i`` or a constant of ``fill`` when the layer has no such parameter."""
    return node.inputs[i] if node.inputs[i] is not None else \
        ctx.const(xp.full(shape, fill, dtype=dt), "ones" if fill else "zeros")


def _stat(ctx, arr, dt, hint: str) -> str:
    return ctx.const(arr if arr.dtype == dt else arr.astype(dt), hint)


@converts(NZ.BatchNorm)
def batch_norm(ctx, node):
    if node.hyper["training"]:
        raise node.fail("batch statistics (training=True, or a BatchNorm without running "
                        "statistics) cannot be exported; use running statistics in eval mode")
    x, dt = node.arrays[0], node.arrays[0].dtype
    C_ = x.shape[1]
    return ctx.op("BatchNormalization", node.inputs[0], _param(ctx, node, 1, 1.0, C_, dt),
                  _param(ctx, node, 2, 0.0, C_, dt),
                  _stat(ctx, node.hyper["running_mean"], dt, "running_mean"),
                  _stat(ctx, node.hyper["running_var"], dt, "running_var"),
                  epsilon=float(node.hyper["eps"]))


@converts(NZ.LayerNorm)
def layer_norm(ctx, node):
    shape, dt, eps = tuple(node.hyper["shape"]), node.arrays[0].dtype, float(node.hyper["eps"])
    w, b = _param(ctx, node, 1, 1.0, shape, dt), _param(ctx, node, 2, 0.0, shape, dt)
    if ctx.opset >= 17:
        return ctx.op("LayerNormalization", node.inputs[0], w, b, axis=-len(shape), epsilon=eps)
    axes = list(range(node.arrays[0].ndim - len(shape), node.arrays[0].ndim))
    d = ctx.op("Sub", node.inputs[0], ctx.reduce("ReduceMean", node.inputs[0], axes, True))
    v = ctx.reduce("ReduceMean", ctx.op("Mul", d, d), axes, True)
    std = ctx.op("Sqrt", ctx.op("Add", v, ctx.scalar(eps, dt, "eps")))
    return ctx.op("Add", ctx.op("Mul", ctx.op("Div", d, std), w), b)


@converts(NZ.LocalResponseNorm)
def local_response_norm(ctx, node):
    size, alpha, beta, k = (node.hyper[n] for n in ("size", "alpha", "beta", "k"))
    if size % 2:  # ONNX's window equals PyTorch's for odd sizes (alpha is divided by size in both)
        return ctx.op("LRN", node.inputs[0], size=int(size), alpha=float(alpha),
                      beta=float(beta), bias=float(k))
    # even sizes: PyTorch's window is c - size/2 .. c + size/2 - 1, ONNX's is shifted by one;
    # sum the squares over that window with a (size x 1) convolution of ones along channels
    x, a = node.inputs[0], node.arrays[0]
    dt, C_ = a.dtype, a.shape[1]
    sq = ctx.op("Reshape", ctx.op("Mul", x, x), ctx.ints([0, 1, C_, -1]))
    ones = ctx.const(xp.ones((1, 1, size, 1), dtype=dt), "window")
    s = ctx.op("Conv", sq, ones, kernel_shape=[size, 1], pads=[size // 2, 0, (size - 1) // 2, 0])
    s = ctx.op("Reshape", s, ctx.ints([0] + list(a.shape[1:])))
    d = ctx.op("Add", ctx.op("Mul", s, ctx.scalar(alpha / size, dt)), ctx.scalar(k, dt, "k"))
    return ctx.op("Div", x, ctx.op("Pow", d, ctx.scalar(beta, dt, "beta")))


# ---- pooling ----
def _window_attrs(g) -> dict:
    return dict(kernel_shape=list(g.k), strides=list(g.s), pads=list(g.lo) + list(g.hi))


@converts(PL.MaxPool2d)
def max_pool2d(ctx, node):
    return ctx.op("MaxPool", node.inputs[0], **_window_attrs(node.hyper["g"]))


@converts(PL.MinPool2d)
def min_pool2d(ctx, node):
    y = ctx.op("MaxPool", ctx.op("Neg", node.inputs[0]), **_window_attrs(node.hyper["g"]))
    return ctx.op("Neg", y)


def _inside_counts(g):
    """(OH, OW) number of real (not padding) elements in each window."""
    cnt = []
    for n, k, s, lo, out in zip(g.shape[2:], g.k, g.s, g.lo, g.out):
        start = xp.arange(out) * s - lo
        cnt.append(xp.minimum(start + k, n) - xp.maximum(start, 0))
    return xp.outer(*cnt)


@converts(PL.AvgPool2d)
def avg_pool2d(ctx, node):
    """AveragePool with the traced divisor: the whole window, the real elements, or (PyTorch's
    ceil-mode windows that count padding but not the overhang) a correcting Mul."""
    g, dt = node.hyper["g"], node.arrays[0].dtype
    div = xp.broadcast_to(xp.asarray(node.hyper["div"], dtype=xp.float64), g.out)
    full = g.k[0] * g.k[1]
    if (div == full).all():
        return ctx.op("AveragePool", node.inputs[0], count_include_pad=1, **_window_attrs(g))
    if (div == _inside_counts(g)).all():
        return ctx.op("AveragePool", node.inputs[0], count_include_pad=0, **_window_attrs(g))
    y = ctx.op("AveragePool", node.inputs[0], count_include_pad=1, **_window_attrs(g))
    return ctx.op("Mul", y, ctx.const((full / div).astype(dt), "divisor_fix"))


@converts(PL.StochasticPool2d)
def stochastic_pool2d(ctx, node):
    """Eval mode: sum(a^2) / sum(a) over the window's positive activations (0 where none)."""
    if node.hyper["training"]:
        raise node.fail("stochastic pooling samples in training mode; export in eval mode, "
                        "where it is the probability-weighted average")
    g, dt = node.hyper["g"], node.arrays[0].dtype
    r = ctx.op("Relu", node.inputs[0])
    num = ctx.op("AveragePool", ctx.op("Mul", r, r), count_include_pad=1, **_window_attrs(g))
    den = ctx.op("AveragePool", r, count_include_pad=1, **_window_attrs(g))
    zero = ctx.scalar(0, dt, "zero")
    return ctx.op("Where", ctx.op("Greater", den, zero), ctx.op("Div", num, den), zero)


@converts(PL.GlobalAvgPool2d, PL.GlobalMaxPool2d)
def global_pool2d(ctx, node):
    op_type = "GlobalAveragePool" if node.fn is PL.GlobalAvgPool2d else "GlobalMaxPool"
    y = ctx.op(op_type, node.inputs[0])
    return y if node.hyper.get("keepdims") else ctx.op("Flatten", y, axis=1)


def _adaptive_bounds(n: int, out: int):
    """PyTorch's windows: start = floor(i * n / out), end = ceil((i + 1) * n / out)."""
    i = xp.arange(out)
    return (i * n) // out, -((-(i + 1) * n) // out)


def _average_matrix(n: int, out: int, dt):
    start, end = _adaptive_bounds(n, out)
    r = xp.arange(n)
    inside = (r >= start[:, None]) & (r < end[:, None])
    return (inside / (end - start)[:, None]).astype(dt)


@converts(PL.AdaptiveAvgPool2d)
def adaptive_avg_pool2d(ctx, node):
    """Windows of unequal size: y = A_h @ x @ A_w^T with averaging matrices (the functional
    hands evenly dividing sizes to AvgPool2d, so only this case reaches here)."""
    (_, _, H, W), (OH, OW), dt = node.arrays[0].shape, node.hyper["out"], node.arrays[0].dtype
    y = ctx.op("MatMul", node.inputs[0], ctx.const(_average_matrix(W, OW, dt).T.copy(), "A_w"))
    return ctx.op("MatMul", ctx.const(_average_matrix(H, OH, dt), "A_h"), y)


@converts(PL.AdaptiveMaxPool2d)
def adaptive_max_pool2d(ctx, node):
    """Max over each row window, then over each column window (max is separable)."""
    y, (_, _, H, W) = node.inputs[0], node.arrays[0].shape
    for axis, n, out in ((2, H, node.hyper["out"][0]), (3, W, node.hyper["out"][1])):
        parts = []
        for s, e in zip(*_adaptive_bounds(n, out)):
            piece = ctx.op("Slice", y, ctx.ints([int(s)], "starts"), ctx.ints([int(e)], "ends"),
                           ctx.ints([axis], "axes"))
            parts.append(ctx.reduce("ReduceMax", piece, [axis], True))
        y = ctx.op("Concat", *parts, axis=axis)
    return y
