"""Activations: fused Functions with hand-written backward, each above its wrapper.

They keep the input's dtype: constants are Python floats, which NumPy treats as weakly typed.
"""
from __future__ import annotations

import math
import numbers

from .. import ops
from ..autograd import Function
from ..backend import xp
from ..tensor import Tensor, apply, as_tensor as _as_tensor
from ..threads import over_batch
from ._erf import _erfc

__all__ = [
    "relu", "leaky_relu", "sigmoid", "tanh", "elu", "gelu", "softmax", "log_softmax",
    "relu6", "hardswish", "hardsigmoid", "silu",
]


def _check_axis(axis, ndim: int, op: str) -> int:
    if not isinstance(axis, numbers.Integral) or isinstance(axis, bool):
        raise TypeError(f"{op}: axis must be an int, got {axis!r}")
    if ndim == 0:
        raise ValueError(f"{op}: expected an input with at least 1 dimension, got a scalar")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{op}: axis {axis} is out of range for an input with {ndim} dimensions")
    return int(axis) % ndim


def _check_number(v, op: str, name: str) -> None:
    if not isinstance(v, numbers.Real) or isinstance(v, bool):
        raise TypeError(f"{op}: {name} must be a number, got {v!r}")


def _sigmoid(x):
    """Stable logistic function: exp is only ever taken of a non-positive number."""
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _shifted(x, axis: int):
    """``x - max(x)`` along ``axis``, so that exp never overflows (an empty axis stays empty)."""
    return x - x.max(axis=axis, keepdims=True) if x.shape[axis] else x


def _log_softmax(x, axis: int):
    """Stable log-softmax along ``axis``."""
    z = _shifted(x, axis)
    return z - xp.log(xp.exp(z).sum(axis=axis, keepdims=True)) if x.shape[axis] else z


# ---- piecewise-linear family ----
def _batch_passes(fn, a) -> None:
    """``fn(index)`` over batch ranges of ``a`` (slices of axis 0), on several threads when it
    is large; a 0-d ``a`` is one pass, ``fn(...)``."""
    if a.ndim == 0:
        fn(...)
        return
    over_batch(lambda lo, hi: fn(slice(lo, hi)), a)


# ReLU and ReLU6 as clip bounds: the form in which convolution and batch norm fuse them in
CLAMPS = {"relu": (0, math.inf), "relu6": (0, 6)}


def clamp_of(activation, op: str):
    """The (lo, hi) clip that computes ``activation`` ("relu", "relu6"; None gives None)."""
    if activation is None:
        return None
    if not isinstance(activation, str) or activation not in CLAMPS:
        raise ValueError(f"{op}: activation must be None, 'relu' or 'relu6', got {activation!r}")
    return CLAMPS[activation]


def zero_where(g, drop, out):
    """``out = 0 where drop, else g``: PyTorch's ``drop ? 0 : g``, exact also where g is inf
    or NaN, which ``g * ~drop`` turns into NaN. ``drop`` (a bool scratch array) is overwritten.

    Done on the bits: ``drop`` becomes 0 / -1 as int8 and g's bits are ANDed with it. On 2M
    float32, one thread, with the comparison that makes ``drop``: 1.49 ms, against 1.83 ms for
    the multiply. Returns ``out`` (g's dtype)."""
    d = drop.view(xp.int8)
    d -= 1  # drop: 1 -> 0 (no bit kept); keep: 0 -> -1 (every bit kept, sign-extended)
    return _and_bits(g, d, out)


def keep_where(g, keep, out):
    """``out = g where keep, else 0``, as :func:`zero_where` (``keep`` is overwritten)."""
    d = keep.view(xp.int8)
    d *= -1  # keep: 1 -> -1; drop: 0 stays 0 (in place; a 0-d mask is a scalar, rebound)
    return _and_bits(g, d, out)


def _and_bits(g, d, out):
    """out = g's bits AND the int8 mask ``d`` (0 or -1, sign-extended to g's width); a dtype
    with no integer twin (complex128) multiplies instead."""
    if g.dtype.kind != "f" or g.itemsize not in (2, 4, 8):
        return xp.multiply(g, d != 0, out=out)
    it = xp.dtype(f"i{g.itemsize}")
    xp.bitwise_and(g.view(it), d, out=out.view(it))
    return out


def clip_grad(gy, y, clamp, out=None):
    """The gradient through ``clip(t, *clamp)`` given its output ``y``, 0 at the kinks as
    PyTorch's relu and hardtanh (ReLU6). Written into ``out`` (default: a new array laid out as
    y), over ranges of axis 0 on several threads; ReLU, ReLU6 and the fused ones (convolution,
    batch norm) use it in backward.

    At a NaN, PyTorch's relu passes gy (``y <= 0 ? 0 : gy``) and its hardtanh, in the
    vectorised loop that covers all but the last few elements, does not (``lo < y < hi ? gy :
    0``); so do these."""
    g = xp.empty_like(y) if out is None else out
    lo, hi = clamp
    if hi == math.inf:
        _batch_passes(lambda i: zero_where(gy[i], y[i] <= lo, g[i]), y)
    else:
        _batch_passes(lambda i: keep_where(gy[i], _inside(y[i], lo, hi), g[i]), y)
    return g


def _inside(y, lo, hi):
    keep = y > lo
    keep &= y < hi
    return keep


class ReLU(Function):
    def forward(self, x):
        y = xp.empty_like(x)
        if x.dtype.kind != "f":
            xp.maximum(x, 0, out=y)
        else:
            # clip with typed bounds: 2.2x faster than maximum(x, 0) (NumPy 2.4, AVX2); NaN stays
            lo, hi = x.dtype.type(0), x.dtype.type(math.inf)
            _batch_passes(lambda i: xp.clip(x[i], lo, hi, out=y[i]), x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        # d relu/dx = 1 for x > 0, else 0 (0 at x == 0; gy where x is NaN, as PyTorch)
        (y,) = self.saved_tensors
        return (clip_grad(gy, y, (0, math.inf), xp.empty_like(gy)),)


def relu(x: Tensor) -> Tensor:
    """Rectified linear unit, ``max(x, 0)``, elementwise; any shape.

    >>> F.relu(striate.tensor([-1.0, 2.0]))
    tensor([0., 2.], dtype=float32)
    """
    return apply(ReLU, _as_tensor(x, "relu"))


class LeakyReLU(Function):
    def forward(self, x, negative_slope):
        self.slope, self.mask = negative_slope, x > 0
        return xp.where(self.mask, x, x * negative_slope)

    def backward(self, gy):
        # d/dx = 1 for x > 0, else negative_slope
        return (xp.where(self.mask, gy, gy * self.slope),)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """``x`` where positive, ``negative_slope * x`` elsewhere (Maas et al., 2013).

    Args:
        x (Tensor): input of any shape.
        negative_slope (float, default 0.01): slope for x <= 0.

    >>> F.leaky_relu(striate.tensor([-1.0, 2.0]), 0.1)
    tensor([-0.1,  2. ], dtype=float32)
    """
    _check_number(negative_slope, "leaky_relu", "negative_slope")
    return apply(LeakyReLU, _as_tensor(x, "leaky_relu"), negative_slope=float(negative_slope))


class ReLU6(Function):
    def forward(self, x):
        y = xp.empty_like(x)
        _batch_passes(lambda i: xp.clip(x[i], 0, 6, out=y[i]), x)
        if self.needs_input_grad[0]:  # y is in (0, 6) exactly where x is: no mask to keep
            self.save_for_backward(y)
        return y

    def backward(self, gy):
        # d/dx = 1 on (0, 6), 0 elsewhere (0 at both kinks, as PyTorch's hardtanh)
        (y,) = self.saved_tensors
        return (clip_grad(gy, y, (0, 6), xp.empty_like(gy)),)


def relu6(x: Tensor) -> Tensor:
    """``min(max(x, 0), 6)``, elementwise (MobileNet v2, https://arxiv.org/abs/1801.04381).

    >>> F.relu6(striate.tensor([-1.0, 7.0]))
    tensor([0., 6.], dtype=float32)
    """
    return apply(ReLU6, _as_tensor(x, "relu6"))


class Hardsigmoid(Function):
    def forward(self, x):
        self.mask = (x > -3) & (x < 3)
        return xp.clip(x / 6 + 0.5, 0, 1)

    def backward(self, gy):
        # d/dx = 1/6 on (-3, 3), 0 elsewhere
        g = xp.divide(gy, 6, out=xp.empty_like(gy))
        keep, self.mask = self.mask, None  # consumed: keep_where overwrites it
        return (keep_where(g, keep, g),)


def hardsigmoid(x: Tensor) -> Tensor:
    """``relu6(x + 3) / 6``: a piecewise-linear sigmoid (MobileNet v3, arXiv:1905.02244).

    >>> F.hardsigmoid(striate.tensor([0.0]))
    tensor([0.5], dtype=float32)
    """
    return apply(Hardsigmoid, _as_tensor(x, "hardsigmoid"))


class Hardswish(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return x * xp.clip(x / 6 + 0.5, 0, 1)

    def backward(self, gy):
        # d/dx = 0 for x <= -3, x/3 + 1/2 on (-3, 3), 1 for x >= 3 (PyTorch's values at the kinks)
        (x,) = self.saved_tensors
        # (a NaN x gives NaN, as PyTorch's vectorised loop)
        d = xp.where(x >= 3, 1.0, x / 3 + 0.5).astype(gy.dtype)
        g = xp.multiply(gy, d, out=xp.empty_like(gy))
        return (zero_where(g, x <= -3, g),)


def hardswish(x: Tensor) -> Tensor:
    """``x * relu6(x + 3) / 6`` (MobileNet v3, https://arxiv.org/abs/1905.02244).

    >>> F.hardswish(striate.tensor([0.0, 1.5, 4.0]))
    tensor([0.   , 1.125, 4.   ], dtype=float32)
    """
    return apply(Hardswish, _as_tensor(x, "hardswish"))


# ---- smooth family ----
class Sigmoid(Function):
    def forward(self, x):
        y = _sigmoid(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        # d sigmoid/dx = y (1 - y)
        (y,) = self.saved_tensors
        return (gy * y * (1 - y),)


def sigmoid(x: Tensor) -> Tensor:
    """Logistic function ``1 / (1 + exp(-x))``, stable for large ``|x|``.

    >>> F.sigmoid(striate.tensor([0.0, -1000.0]))
    tensor([0.5, 0. ], dtype=float32)
    """
    return apply(Sigmoid, _as_tensor(x, "sigmoid"))


def tanh(x: Tensor) -> Tensor:
    """Hyperbolic tangent, elementwise.

    >>> F.tanh(striate.tensor([0.0]))
    tensor([0.], dtype=float32)
    """
    return apply(ops.Tanh, _as_tensor(x, "tanh"))


class SiLU(Function):
    def forward(self, x):
        s = _sigmoid(x)
        self.save_for_backward(x, s)
        return x * s

    def backward(self, gy):
        # d(x s)/dx = s (1 + x (1 - s))
        x, s = self.saved_tensors
        return (gy * s * (1 + x * (1 - s)),)


def silu(x: Tensor) -> Tensor:
    """``x * sigmoid(x)``, also called swish (https://arxiv.org/abs/1710.05941).

    >>> F.silu(striate.tensor([0.0]))
    tensor([0.], dtype=float32)
    """
    return apply(SiLU, _as_tensor(x, "silu"))


class ELU(Function):
    def forward(self, x, alpha):
        self.mask = x > 0
        y = xp.where(self.mask, x, alpha * xp.expm1(xp.minimum(x, 0)))
        self.alpha = alpha
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        # d/dx = 1 for x > 0, else alpha exp(x) = y + alpha
        (y,) = self.saved_tensors
        return (xp.where(self.mask, gy, gy * (y + self.alpha)),)


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """Exponential linear unit: ``x`` for x > 0, ``alpha * (exp(x) - 1)`` otherwise.

    Args:
        x (Tensor): input of any shape.
        alpha (float, default 1.0): the value approached as x -> -inf is ``-alpha``.

    Reference: Clevert et al., https://arxiv.org/abs/1511.07289

    >>> F.elu(striate.tensor([1.0]))
    tensor([1.], dtype=float32)
    """
    _check_number(alpha, "elu", "alpha")
    return apply(ELU, _as_tensor(x, "elu"), alpha=float(alpha))


_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


class GELU(Function):
    def forward(self, x, approximate):
        self.approximate = approximate
        if approximate == "tanh":
            t = xp.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x**3))
            self.save_for_backward(x, t)
            return 0.5 * x * (1 + t)
        # Phi(x) through erfc keeps its relative accuracy in the far negative tail
        cdf = 0.5 * _erfc(-x * (1 / math.sqrt(2)))
        self.save_for_backward(x, cdf)
        return x * cdf

    def backward(self, gy):
        x, c = self.saved_tensors
        if self.approximate == "tanh":
            # d/dx = (1 + t)/2 + x/2 (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2), t = tanh(...)
            inner = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
            return (gy * (0.5 * (1 + c) + 0.5 * x * (1 - c * c) * inner),)
        # d(x Phi(x))/dx = Phi(x) + x phi(x)
        pdf = xp.exp(-0.5 * x * x) * (1 / math.sqrt(2 * math.pi))
        return (gy * (c + x * pdf),)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit ``x * Phi(x)`` (Hendrycks & Gimpel, arXiv:1606.08415).

    Args:
        x (Tensor): input of any shape.
        approximate (str, default 'none'): ``'none'`` uses the exact normal CDF (erf by
            Cody's rational approximations, float64-accurate); ``'tanh'`` uses
            ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``.

    >>> F.gelu(striate.tensor([0.0, 1.0]))
    tensor([0.       , 0.8413447], dtype=float32)
    """
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return apply(GELU, _as_tensor(x, "gelu"), approximate=approximate)


# ---- normalised exponentials ----
class Softmax(Function):
    def forward(self, x, axis):
        self.axis = axis
        z = xp.exp(_shifted(x, axis))
        y = z / z.sum(axis=axis, keepdims=True)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        # d softmax: gx = y (gy - sum(gy y))
        (y,) = self.saved_tensors
        return (y * (gy - (gy * y).sum(axis=self.axis, keepdims=True)),)


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``axis``, shifted by the max so it never overflows.

    Args:
        x (Tensor): input of at least one dimension.
        axis (int, default -1): the axis that sums to one.

    >>> F.softmax(striate.tensor([[0.0, 0.0]]))
    tensor([[0.5, 0.5]], dtype=float32)
    """
    x = _as_tensor(x, "softmax")
    return apply(Softmax, x, axis=_check_axis(axis, x.ndim, "softmax"))


class LogSoftmax(Function):
    def forward(self, x, axis):
        self.axis = axis
        y = _log_softmax(x, axis)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        # d log_softmax: gx = gy - softmax(x) sum(gy)
        (y,) = self.saved_tensors
        return (gy - xp.exp(y) * gy.sum(axis=self.axis, keepdims=True),)


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """``log(softmax(x))`` along ``axis``, computed stably as ``x - max - log(sum(exp(x - max)))``.

    Args:
        x (Tensor): input of at least one dimension.
        axis (int, default -1): the axis normalised over.

    >>> F.log_softmax(striate.tensor([0.0, 0.0]))
    tensor([-0.6931472, -0.6931472], dtype=float32)
    """
    x = _as_tensor(x, "log_softmax")
    return apply(LogSoftmax, x, axis=_check_axis(axis, x.ndim, "log_softmax"))

