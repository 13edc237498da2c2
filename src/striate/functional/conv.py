"""Convolutions: ``conv2d``, ``conv1d`` and ``conv_transpose2d``.

The kernels (``_im2col.py``) work on NHWC arrays; the public layout stays NCHW. Outputs and input
gradients are returned as NCHW-shaped transposes of NHWC arrays, so the next convolution (and
every elementwise op between, which keeps its input's memory order) reads them without a copy.
Six kernels share one interface, chosen per call by ``_kernel_kind`` (docs/ARCHITECTURE.md
lists them with the measurements behind each choice).
"""
from __future__ import annotations

from ..autograd import Function
from ..backend import xp
from ..tensor import Tensor, apply
from ..threads import elementwise_grain, parallel_for
from . import _banded as BD
from . import _depthwise as D
from . import _im2col as K
from . import _mec as M
from . import _pointwise as P
from . import _stem as ST
from ._alloc import check_alloc
from ._conv_args import check_bias, check_groups, check_tensors, conv_args, ints
from .activation import clamp_of, clip_grad
from ._im2col import Geometry

__all__ = ["conv2d", "conv1d", "conv_transpose2d"]

# kind -> (forward, grad_input, grad_weight); every kernel takes and returns NHWC arrays
_KERNELS = {
    "im2col": (K.conv_forward, K.conv_grad_input, K.conv_grad_weight),
    "pointwise": (P.pointwise_forward, P.pointwise_grad_input, P.pointwise_grad_weight),
    "banded": (BD.banded_forward, BD.banded_grad_input, BD.banded_grad_weight),
    "mec": (M.mec_forward, M.mec_grad_input, M.mec_grad_weight),
    "depthwise": (D.depthwise_forward, D.depthwise_grad_input, D.depthwise_grad_weight),
    "nchw": (ST.nchw_forward, ST.nchw_grad_input, ST.nchw_grad_weight),
    "empty": (K.empty_forward, K.empty_grad_input, K.empty_grad_weight),  # batch of 0
}
#: Kernels that add a residual block by block, in cache (``_im2col.finish``); the others' output
#: gets it in one pass after.
_RESIDUAL_KINDS = frozenset({"im2col", "mec", "pointwise"})


def _kernel_kind(w_shape, g: Geometry, in_hw, out_hw, algo: str) -> str:
    """The fastest kernel valid for this convolution (``algo='im2col'`` forces the general one)."""
    if algo != "auto":
        return algo
    if w_shape[2:] == (1, 1) and not any(g.pads) and g.groups == 1:
        return "pointwise"  # a strided one reads a subsampled copy of x: 1.3-1.5x faster
    if BD.band_width(w_shape[0], w_shape[3], out_hw[1], g):  # few output channels (< 16)
        return "banded"
    if g.groups == 1 and w_shape[1] <= 4:  # image stems (grey, RGB, RGBA): measured 2-3x faster
        return "nchw"
    if w_shape[1] == 1:  # one input channel per group (C == groups): depthwise
        return "depthwise"
    if M.fits(w_shape[1], w_shape[3], in_hw[0] + g.pads[0] + g.pads[1], out_hw[1], g):
        return "mec"  # 5-64 input channels, small images: the patches copied once per column
    return "im2col"


def _nhwc(a):
    return a.transpose(0, 2, 3, 1)


def _nchw(a):
    return a.transpose(0, 3, 1, 2)


def _bias_grad(gy):
    """Sum of gy over batch and pixels, by GEMVs with ones over whichever layout gy has in
    memory: channels-last, ones(N) @ (N, H*W*C) then a sum over the H*W rows of C; NCHW,
    (N*C, H*W) @ ones(H*W). For LeNet-5's 6x28x28 gradient (batch 128): 0.05 and 0.03 ms,
    against 0.17 ms by ones(N*H*W) @ (N*H*W, 6) and 0.17 ms by NumPy's strided reduction."""
    N, C = gy.shape[:2]
    rows = _nhwc(gy)
    if gy.size and (rows.flags.c_contiguous or gy.flags.c_contiguous):
        last = rows.flags.c_contiguous
        a = (rows if last else gy).reshape(N, -1)

        def run(lo, hi):
            if last:
                return (xp.ones(hi - lo, gy.dtype) @ a[lo:hi]).reshape(-1, C).sum(axis=0)
            return (a[lo:hi].reshape((hi - lo) * C, -1) @ xp.ones(a.shape[1] // C, gy.dtype)
                    ).reshape(hi - lo, C).sum(axis=0)

        return sum(parallel_for(run, N, elementwise_grain(a.shape[1]), blas=True))
    return gy.sum(axis=(0, 2, 3))


# ---- conv2d ----
class Conv2dFunction(Function):
    """2-D convolution (cross-correlation) of NCHW ``x`` with weight (OC, C/groups, KH, KW).

    ``clamp=(lo, hi)`` clips the output in the kernel, block by block (a fused ReLU or ReLU6);
    backward then reads its mask from the output, as ReLU's own backward would. ``residual``
    (an array of the output's shape, at inference only) is added before the clip: a residual
    block's ``relu(conv(x) + b + shortcut)``, with no pass of its own over the output."""

    def forward(self, x, w, b, geometry: Geometry, algo: str = "auto", clamp=None,
                residual=None):
        if residual is not None and any(self.needs_input_grad):
            raise RuntimeError("Conv2dFunction: a residual is fused at inference only")
        if clamp is not None:
            clamp = tuple(x.dtype.type(v) for v in clamp)  # typed bounds: the fast clip loop
        g = self.g = geometry
        (KH, KW), (H, W) = w.shape[2:], x.shape[2:]
        OH, OW = g.out_hw((H, W), (KH, KW))
        self.kind = "empty" if x.size == 0 else _kernel_kind(w.shape, g, (H, W), (OH, OW), algo)
        self.x_hw, self.k_hw = (H, W), (KH, KW)
        need_x, need_w = self.needs_input_grad[:2]
        self.save_for_backward(x if need_w else None, w if need_x else None)
        forward = _KERNELS[self.kind][0]
        if residual is None:
            y = forward(_nhwc(x), w, b, g, OH, OW, clamp)
        elif self.kind in _RESIDUAL_KINDS:
            y = forward(_nhwc(x), w, b, g, OH, OW, clamp, _nhwc(residual))
        else:  # the same sums in the same order, in passes over the whole output
            y = forward(_nhwc(x), w, b, g, OH, OW)
            K.finish(y, None, clamp, _nhwc(residual))
        self.clamped = (y, clamp) if clamp is not None and any(self.needs_input_grad) else None
        return _nchw(y)

    def backward(self, gy):
        # d/dx: full convolution of gy with the 180-degree-rotated kernel (= col2im(gy @ w));
        # d/dw: im2col(x)^T @ gy; d/db: sum of gy over batch and pixels
        x, w = self.saved_tensors
        _, grad_input, grad_weight = _KERNELS[self.kind]
        need_x, need_w, need_b = self.needs_input_grad
        gyh = _nhwc(gy)
        if self.clamped is not None:  # through the fused activation first
            gyh, self.clamped = clip_grad(gyh, *self.clamped), None
            gy = _nchw(gyh)
        gx = gw = gb = None
        if need_x:
            gx = _nchw(grad_input(gyh, w, self.g, *self.x_hw))
        if need_w:
            gw = grad_weight(_nhwc(x), gyh, self.g, *self.k_hw)
        if need_b:
            gb = _bias_grad(gy)
        return gx, gw, gb


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1, activation: str | None = None) -> Tensor:
    """2-D convolution over an NCHW batch, as ``torch.nn.functional.conv2d``.

    Like every deep-learning "convolution" this is a cross-correlation (the kernel is not
    flipped); with learned kernels the two are equivalent. Computed by im2col and one matrix
    product per block of the batch (Chellapilla et al. 2006,
    https://hal.inria.fr/inria-00112631), by a plain matrix product for 1x1 kernels, and by a
    multiply-accumulate over kernel offsets for depthwise convolution.

    Args:
        x: input (N, C_in, H, W); an ndarray is wrapped.
        weight: (C_out, C_in / groups, KH, KW), same dtype as ``x``.
        bias: (C_out,) or None. Default None.
        stride: int or (int, int). Default 1.
        padding: int or (int, int) zeros on each side, or ``'valid'`` (0), ``'same'`` (output
            size = input size; stride 1 only; an odd total puts the extra row/column at the
            bottom/right, as PyTorch) or ``'full'`` ((k - 1) * dilation on each side: every
            partial overlap). Default 0.
        dilation: int or (int, int) spacing between kernel taps. Default 1.
        groups: split channels into this many independent convolutions; ``groups == C_in``
            is depthwise convolution. Default 1.
        activation: ``"relu"`` or ``"relu6"`` applied to the output inside the kernel (as
            Keras's ``Conv2D(activation=...)``), with the same result and gradients as calling
            it after. Default None.

    Shape:
        Output (N, C_out, OH, OW) with OH = floor((H + PT + PB - dilation * (KH - 1) - 1) /
        stride) + 1, i.e. (H + 2P - KH) / S + 1 for dilation 1 and symmetric padding P;
        likewise OW.

    Returns:
        Tensor of ``x``'s dtype.

    >>> y = conv2d(striate.tensor(np.ones((1, 1, 5, 5))), striate.tensor(np.ones((1, 1, 3, 3))))
    >>> y.shape
    (1, 1, 3, 3)
    """
    clamp = clamp_of(activation, "conv2d")
    x, w, b, g = conv_args("conv2d", x, weight, bias, stride, padding, dilation, groups, 2)
    return apply(Conv2dFunction, x, w, b, geometry=g, clamp=clamp)


# ---- conv1d ----
class Conv1dFunction(Conv2dFunction):
    """1-D convolution of NCL ``x``: the 2-D kernels on an (N, C, 1, L) view."""

    def forward(self, x, w, b, geometry: Geometry, algo: str = "auto"):
        return super().forward(x[:, :, None], w[:, :, None], b, geometry, algo)[:, :, 0]

    def backward(self, gy):
        gx, gw, gb = super().backward(gy[:, :, None])
        return (None if gx is None else gx[:, :, 0]), (None if gw is None else gw[:, :, 0]), gb


def conv1d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """1-D convolution over an NCL batch (text, audio, signals), as ``torch.nn.functional.conv1d``.

    Args:
        x: input (N, C_in, L); an ndarray is wrapped.
        weight: (C_out, C_in / groups, K), same dtype as ``x``.
        bias: (C_out,) or None. Default None.
        stride: int. Default 1.
        padding: int, ``'valid'``, ``'same'`` (stride 1 only) or ``'full'``. Default 0.
        dilation: int. Default 1.
        groups: int. Default 1.

    Shape:
        Output (N, C_out, OL) with OL = floor((L + 2 * padding - dilation * (K - 1) - 1) /
        stride) + 1.

    >>> conv1d(striate.tensor(np.ones((2, 4, 10))), striate.tensor(np.ones((8, 4, 3)))).shape
    (2, 8, 8)
    """
    x, w, b, g = conv_args("conv1d", x, weight, bias, stride, padding, dilation, groups, 1)
    return apply(Conv1dFunction, x, w, b, geometry=g)


# ---- conv_transpose2d ----
class ConvTranspose2dFunction(Function):
    """Transposed convolution: conv2d's input gradient run forward; weight (C_in, C_out/G, k, k)."""

    def forward(self, x, w, b, geometry: Geometry, output_size: tuple[int, int],
                algo: str = "auto"):
        g = self.g = geometry
        self.x_hw, self.k_hw = x.shape[2:], w.shape[2:]
        self.kind = ("empty" if x.size == 0
                     else _kernel_kind(w.shape, g, output_size, self.x_hw, algo))
        need_x, need_w = self.needs_input_grad[:2]
        self.save_for_backward(x if need_w else None, w if need_x else None)
        y = _KERNELS[self.kind][1](_nhwc(x), w, g, *output_size)
        if b is not None:
            y += b
        return _nchw(y)

    def backward(self, gy):
        # y = A_w^T x with A_w the conv2d by w, so d/dx = A_w gy = conv2d(gy, w) and
        # d/dw = conv2d's weight gradient with gy as its input and x as its output gradient
        x, w = self.saved_tensors
        forward, _, grad_weight = _KERNELS[self.kind]
        need_x, need_w, need_b = self.needs_input_grad
        gyh = _nhwc(gy)
        gx = _nchw(forward(gyh, w, None, self.g, *self.x_hw)) if need_x else None
        gw = grad_weight(gyh, _nhwc(x), self.g, *self.k_hw) if need_w else None
        gb = _bias_grad(gy) if need_b else None
        return gx, gw, gb


def conv_transpose2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
                     output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """2-D transposed convolution ("deconvolution"), as ``torch.nn.functional.conv_transpose2d``.

    The gradient of ``conv2d`` with respect to its input, used as a layer: it up-samples by
    ``stride`` (segmentation decoders, GAN generators). See Dumoulin & Visin, "A guide to
    convolution arithmetic for deep learning", https://arxiv.org/abs/1603.07285.

    Args:
        x: input (N, C_in, H, W); an ndarray is wrapped.
        weight: (C_in, C_out / groups, KH, KW), same dtype as ``x``.
        bias: (C_out,) or None. Default None.
        stride: int or (int, int). Default 1.
        padding: int or (int, int): ``dilation * (k - 1) - padding`` zeros are added to the
            implicit input. Default 0.
        output_padding: int or (int, int) extra rows/columns on the bottom/right; each must be
            smaller than the stride or the dilation. Default 0.
        groups: int. Default 1.
        dilation: int or (int, int). Default 1.

    Shape:
        Output (N, C_out, OH, OW) with OH = (H - 1) * stride - 2 * padding
        + dilation * (KH - 1) + output_padding + 1; likewise OW.

    >>> conv_transpose2d(striate.tensor(np.ones((1, 4, 5, 5))),
    ...                  striate.tensor(np.ones((4, 2, 3, 3))), stride=2).shape
    (1, 2, 11, 11)
    """
    op = "conv_transpose2d"
    x, w, b = check_tensors(op, x, weight, bias, 2)
    C, OCg = x.shape[1], w.shape[1]
    check_groups(op, groups, C, OCg * groups)
    check_bias(op, b, OCg * groups)
    if w.shape[0] != C:
        raise ValueError(f"{op}: input has {C} channels but weight of shape {w.shape} expects "
                         f"{w.shape[0]} (weight.shape[0] = in_channels)")
    if isinstance(padding, str):
        raise ValueError(f"{op}: padding must be an int or (int, int), got {padding!r}")
    s = ints(stride, "stride", op, 2, 1)
    d = ints(dilation, "dilation", op, 2, 1)
    p = ints(padding, "padding", op, 2, 0)
    op_ = ints(output_padding, "output_padding", op, 2, 0)
    if any(o >= si and o >= di for o, si, di in zip(op_, s, d)):
        raise ValueError(f"{op}: output_padding {op_} must be smaller than either stride {s} "
                         f"or dilation {d}")
    size = tuple((n - 1) * si - 2 * pi + di * (k - 1) + oi + 1
                 for n, si, pi, di, k, oi in zip(x.shape[2:], s, p, d, w.shape[2:], op_))
    if min(size) < 1:
        raise ValueError(f"{op}: input {x.shape[2:]} with kernel {w.shape[2:]}, stride {s}, "
                         f"padding {p}, dilation {d} gives an empty output {size}")
    check_alloc(op, "output", (x.shape[0], OCg * groups) + size, x.dtype)
    # along an axis of one input element the stride places nothing: it is 1 to the kernels,
    # whose scratch would otherwise grow with it (a 1x1 input at stride 10**12: 7 TiB)
    s = tuple(1 if n == 1 else si for n, si in zip(x.shape[2:], s))
    g = Geometry(s, (p[0], p[0], p[1], p[1]), d, int(groups))
    return apply(ConvTranspose2dFunction, x, w, b, geometry=g, output_size=size)
