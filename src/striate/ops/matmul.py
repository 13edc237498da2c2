"""Matrix product with NumPy's ``@`` semantics, including broadcast batch dimensions."""
from __future__ import annotations

from ..autograd import Function
from ..backend import xp
from .broadcast import unbroadcast


class MatMul(Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a @ b

    def backward(self, gy):
        # d(ab)/da = gy b^T, d(ab)/db = a^T gy (1-D operands are promoted, then squeezed back)
        a, b = self.saved_tensors
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g = gy
        # b first: for vector @ vector gy is 0-d and only grows to (1, 1) in this order
        if b.ndim == 1:
            g = xp.expand_dims(g, -1)
        if a.ndim == 1:
            g = xp.expand_dims(g, -2)
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = g @ xp.swapaxes(b2, -1, -2)
            ga = unbroadcast(ga, a2.shape).reshape(a.shape)
        if self.needs_input_grad[1]:
            gb = xp.swapaxes(a2, -1, -2) @ g
            gb = unbroadcast(gb, b2.shape).reshape(b.shape)
        return ga, gb
