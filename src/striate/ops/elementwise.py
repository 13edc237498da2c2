"""Elementwise primitives: array in, array out, forward directly above backward."""
from __future__ import annotations

from ..autograd import Function
from ..backend import xp
from ..threads import over_batch
from .broadcast import unbroadcast


def add(a, b, out=None):
    """``a + b`` (into ``out``, which may be ``a``). Same-shape, same-dtype arrays of two or
    more axes are summed in ``a``'s memory layout, over the batch axis on several threads."""
    if a.shape == b.shape and a.ndim > 1 and a.dtype == b.dtype:
        # the sum takes the first operand's layout even when b's differs (a residual
        # branch's channels-last conv output plus an NCHW shortcut), so "branch + identity"
        # hands its consumers the convolutions' layout
        out = xp.empty_like(a) if out is None else out
        over_batch(lambda i, j: xp.add(a[i:j], b[i:j], out=out[i:j]), a)
        return out
    return a + b if out is None else xp.add(a, b, out=out)


class Add(Function):
    def forward(self, a, b):
        self.shapes = (a.shape, b.shape)
        return add(a, b)

    def backward(self, gy):
        # d(a+b)/da = d(a+b)/db = 1
        return unbroadcast(gy, self.shapes[0]), unbroadcast(gy, self.shapes[1])


class Sub(Function):
    def forward(self, a, b):
        self.shapes = (a.shape, b.shape)
        return a - b

    def backward(self, gy):
        # d(a-b)/da = 1, d(a-b)/db = -1
        return unbroadcast(gy, self.shapes[0]), unbroadcast(-gy, self.shapes[1])


class Mul(Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a * b

    def backward(self, gy):
        # d(ab)/da = b, d(ab)/db = a
        a, b = self.saved_tensors
        ga = unbroadcast(gy * b, a.shape) if self.needs_input_grad[0] else None
        gb = unbroadcast(gy * a, b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Div(Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a / b

    def backward(self, gy):
        # d(a/b)/da = 1/b, d(a/b)/db = -a/b^2
        a, b = self.saved_tensors
        ga = unbroadcast(gy / b, a.shape) if self.needs_input_grad[0] else None
        gb = unbroadcast(-gy * a / (b * b), b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Neg(Function):
    def forward(self, a):
        return -a

    def backward(self, gy):
        # d(-a)/da = -1
        return (-gy,)


class Pow(Function):
    """a ** b for two arrays (b may be a 0-d array holding a Python exponent)."""

    def forward(self, a, b):
        y = a**b
        self.save_for_backward(a, b, y)
        return y

    def backward(self, gy):
        # d(a^b)/da = b a^(b-1), d(a^b)/db = a^b log a
        a, b, y = self.saved_tensors
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = unbroadcast(gy * b * a ** (b - 1), a.shape)
        if self.needs_input_grad[1]:
            # NOTE: log a is undefined for a <= 0; those entries get gradient 0 as in PyTorch for a == 0
            with xp.errstate(divide="ignore", invalid="ignore"):
                loga = xp.where(a > 0, xp.log(xp.where(a > 0, a, 1)), 0).astype(y.dtype)
            gb = unbroadcast(gy * y * loga, b.shape)
        return ga, gb


class Exp(Function):
    def forward(self, a):
        y = xp.exp(a)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        # d/da exp(a) = exp(a)
        (y,) = self.saved_tensors
        return (gy * y,)


class Log(Function):
    def forward(self, a):
        self.save_for_backward(a)
        return xp.log(a)

    def backward(self, gy):
        # d/da log(a) = 1/a
        (a,) = self.saved_tensors
        return (gy / a,)


class Sqrt(Function):
    def forward(self, a):
        y = xp.sqrt(a)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        # d/da sqrt(a) = 1 / (2 sqrt(a))
        (y,) = self.saved_tensors
        return (gy / (2 * y),)


class Abs(Function):
    def forward(self, a):
        self.save_for_backward(a)
        return xp.abs(a)

    def backward(self, gy):
        # d/da |a| = sign(a), 0 at a == 0 as in PyTorch
        (a,) = self.saved_tensors
        return (gy * xp.sign(a),)


class Tanh(Function):
    def forward(self, a):
        y = xp.tanh(a)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        # d/da tanh(a) = 1 - tanh(a)^2
        (y,) = self.saved_tensors
        return (gy * (1 - y * y),)


class Clip(Function):
    def forward(self, a, lo=None, hi=None):
        self.save_for_backward(a)
        self.lo, self.hi = lo, hi
        return xp.clip(a, lo, hi)

    def backward(self, gy):
        # d/da clip(a) = 1 inside [lo, hi], 0 outside (PyTorch passes the gradient at the bounds);
        # a select, not gy * mask: an inf or NaN gy outside gives 0 there, as PyTorch's
        (a,) = self.saved_tensors
        mask = xp.ones(a.shape, dtype=bool)
        if self.lo is not None:
            mask &= a >= self.lo
        if self.hi is not None:
            mask &= a <= self.hi
        return (xp.where(mask, gy, gy.dtype.type(0)),)


class Maximum(Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        return xp.maximum(a, b)

    def backward(self, gy):
        # d max(a,b) = 1 for the larger input; ties split evenly as in PyTorch
        a, b = self.saved_tensors
        wa = (a > b) + 0.5 * (a == b)
        ga = unbroadcast(gy * wa.astype(gy.dtype), a.shape) if self.needs_input_grad[0] else None
        gb = unbroadcast(gy * (1 - wa).astype(gy.dtype), b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Where(Function):
    def forward(self, cond, a, b):
        self.cond = cond
        self.shapes = (a.shape, b.shape)
        return xp.where(cond, a, b)

    def backward(self, gy):
        # d where(c, a, b)/da = c, /db = not c
        zero = xp.zeros((), dtype=gy.dtype)
        ga = unbroadcast(xp.where(self.cond, gy, zero), self.shapes[0])
        gb = unbroadcast(xp.where(self.cond, zero, gy), self.shapes[1])
        return None, ga, gb
