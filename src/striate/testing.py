"""Finite-difference gradient checks, shipped in the package like Chainer's ``gradient_check``."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .tensor import Tensor


def numerical_grad(fn: Callable[[], Tensor], x: Tensor, gy, eps: float = 1e-6):
    """Central differences of ``sum(fn() * gy)`` with respect to ``x.data`` (changed in place)."""
    g = np.zeros(x.shape, dtype=np.float64)
    # index element by element: x.data.reshape(-1) would be a copy for a non-C-contiguous x
    for i in np.ndindex(x.shape):
        orig = x.data[i]
        x.data[i] = orig + eps
        fp = float(np.sum(fn().data.astype(np.float64) * gy))
        x.data[i] = orig - eps
        fm = float(np.sum(fn().data.astype(np.float64) * gy))
        x.data[i] = orig
        g[i] = (fp - fm) / (2 * eps)
    return g


def gradcheck(
    fn: Callable[..., Tensor],
    inputs: Sequence,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
) -> bool:
    """Compare the analytic gradients of ``fn(*inputs)`` with central finite differences.

    Floating inputs are converted to float64 Tensors with ``requires_grad=True``; other inputs
    (ints, None, integer arrays) are passed through unchanged. The output is contracted with a
    fixed random ``gy`` so that every output element takes part. Raises ``AssertionError``
    naming the input and the worst element on mismatch; returns True otherwise.

    >>> striate.gradcheck(lambda a, b: a * b, [np.random.rand(3), np.random.rand(3)])
    True
    """
    args = []
    for a in inputs:
        if isinstance(a, Tensor) and a.dtype.kind == "f":
            a = a.data
        if isinstance(a, np.ndarray) and a.dtype.kind == "f":
            args.append(Tensor(a.astype(np.float64), requires_grad=True))
        else:
            args.append(a)
    out = fn(*args)
    gy = np.random.default_rng(seed).standard_normal(out.shape)
    for a in args:
        if isinstance(a, Tensor):
            a.grad = None
    out.backward(gy.astype(out.dtype))
    for k, a in enumerate(args):
        if not isinstance(a, Tensor) or not a.requires_grad:
            continue
        num = numerical_grad(lambda: fn(*args), a, gy, eps)
        ana = np.zeros_like(num) if a.grad is None else a.grad.data
        try:
            np.testing.assert_allclose(ana, num, atol=atol, rtol=rtol)
        except AssertionError as e:
            raise AssertionError(f"gradcheck: gradient of input {k} (shape {a.shape}) differs\n{e}") from None
    return True
