"""Normalization: batch, layer and local response norm, fused Functions with analytic backward.

Batch norm works on the input viewed as (N, C, L), L the product of the spatial sizes (1 for an
(N, C) input), and reduces over axes 0 and 2; layer norm on (rows, D). Per-channel constants are
folded first so that each full-size pass is one in-place ufunc.
"""
from __future__ import annotations

import numbers

from ..autograd import Function
from ..backend import xp
from ..tensor import Tensor, apply, as_tensor as _as_tensor
from .activation import clamp_of, clip_grad, relu, relu6
from ._channels import Channels

__all__ = ["batch_norm", "layer_norm", "local_response_norm"]


def _number(v, op: str, name: str) -> float:
    if not isinstance(v, numbers.Real) or isinstance(v, bool):
        raise TypeError(f"{op}: {name} must be a number, got {v!r}")
    return float(v)


# ---- batch norm ----
_ACTIVATIONS = {"relu": relu, "relu6": relu6}  # applied after batch norm in evaluation


class BatchNorm(Function):
    """y = (x - mean) / sqrt(var + eps) * w + b, statistics over every axis except 1; in
    training optionally clipped to ``clamp = (lo, hi)`` (a fused ReLU or ReLU6).

    Training keeps xc = x - mean (it replaces x, which is then free) and backward turns that
    buffer into the input gradient; evaluation is two passes, y = x * scale + shift. Every
    pass runs over row ranges of the view on several threads (``striate.threads``): measured
    1.4-1.8x on 2 cores for the 0.5-38M-element layers of ResNet-20 and MobileNetV2. A fused
    clamp works in place on y, which backward reads for its mask as ReLU's would: one
    activation-sized buffer less than batch norm then ReLU, and the same passes.
    """

    def forward(self, x, w, b, running_mean, running_var, training, momentum, eps, clamp=None):
        cv = self.cv = Channels(x)
        a, M = cv.view(x), x.size // x.shape[1]
        need_x, need_w, _ = self.needs_input_grad
        if clamp is not None and not training:
            raise RuntimeError("BatchNorm: clamp is fused in training mode only")
        if clamp is not None:
            clamp = tuple(x.dtype.type(v) for v in clamp)  # typed bounds: the fast clip loop
        self.training, self.M, self.clamp = training, M, clamp
        if training:
            mean = sum(cv.par(lambda lo, hi: cv.sum(a[lo:hi]))) / M
            xc, vm = xp.empty_like(a), cv.vec(mean)

            def center(lo, hi):  # xc = a - mean, and this range's sum of xc^2
                xp.subtract(a[lo:hi], vm, out=xc[lo:hi])
                return cv.dot(xc[lo:hi], xc[lo:hi])

            var = sum(cv.par(center)) / M
            if running_mean is not None:  # PyTorch: the running variance is the unbiased one
                running_mean *= 1 - momentum
                running_mean += momentum * mean
                running_var *= 1 - momentum
                running_var += momentum * M / (M - 1) * var
        else:
            mean = running_mean.astype(x.dtype, copy=False)
            var = running_var.astype(x.dtype, copy=False)
        inv_std = 1 / xp.sqrt(var + eps)
        scale = inv_std if w is None else w * inv_std
        if training:
            src, shift = xc, (None if b is None else cv.vec(b))
            keep = need_x or need_w
            self.save_for_backward(xc if keep else None, mean, inv_std, w)
            y = xp.empty_like(xc) if keep else xc  # no backward: normalize in place
        else:
            src, shift = a, cv.vec(-mean * scale if b is None else b - mean * scale)
            self.save_for_backward(a if need_w else None, mean, inv_std, w)
            y = xp.empty_like(a)
        vs = cv.vec(scale)
        self.y = y if clamp is not None and any(self.needs_input_grad) else None

        def normalize(lo, hi):
            xp.multiply(src[lo:hi], vs, out=y[lo:hi])
            if shift is not None:
                y[lo:hi] += shift
            if clamp is not None:
                xp.clip(y[lo:hi], *clamp, out=y[lo:hi])

        cv.par(normalize)
        return cv.unview(y)

    def backward(self, gy):
        xc, mean, inv_std, w = self.saved_tensors
        cv, g, clamp, y = self.cv, self.cv.view(gy), self.clamp, self.y
        need_x, need_w, need_b = self.needs_input_grad
        batch_stats = need_x and self.training
        if not self.training and (need_w or need_x):  # evaluation saved x itself (or nothing)
            xc = None if xc is None else xc - cv.vec(mean)
        if clamp is not None:  # through the fused activation first
            g, self.y = clip_grad(g, y, clamp), None
        if need_w or batch_stats or need_b:  # sum(gy) and sum(gy * xc), one pass
            parts = cv.par(lambda lo, hi: (cv.sum(g[lo:hi]),
                                           None if xc is None else cv.dot(g[lo:hi], xc[lo:hi])))
            gb = sum(p[0] for p in parts)
            gw = None if xc is None else sum(p[1] for p in parts) * inv_std  # sum(gy * xhat)
        gx = None
        if need_x:
            k = cv.vec(inv_std if w is None else w * inv_std)
            if batch_stats:
                # dL/dx = w * inv_std * (gy - mean(gy) - xhat * mean(gy * xhat)), in xc's buffer
                # (backward runs once: the graph is freed after it)
                c1, c2 = cv.vec(-(inv_std * gw / self.M)), cv.vec(gb / self.M)
                gx = xc

                def grad(lo, hi):
                    r = gx[lo:hi]
                    r *= c1
                    r += g[lo:hi]
                    r -= c2
                    r *= k
            else:  # running statistics are constants: dL/dx = w * inv_std * gy
                gx = xp.empty_like(g)

                def grad(lo, hi):
                    xp.multiply(g[lo:hi], k, out=gx[lo:hi])
            cv.par(grad)
            gx = cv.unview(gx)
        return gx, (gw if need_w else None), (gb if need_b else None)


def _stat_array(v, op: str, name: str, C: int):
    if v is None:
        return None
    a = v.data if isinstance(v, Tensor) else v
    if not isinstance(a, xp.ndarray) or a.dtype.kind != "f":
        raise TypeError(f"{op}: {name} must be a floating-point Tensor or ndarray, got {v!r}")
    if a.shape != (C,):
        raise ValueError(f"{op}: {name} has shape {a.shape}, expected ({C},) for {C} channels")
    return a


def batch_norm(
    x: Tensor, running_mean, running_var, weight: Tensor | None = None,
    bias: Tensor | None = None, training: bool = False, momentum: float = 0.1, eps: float = 1e-5,
    activation: str | None = None,
) -> Tensor:
    """Batch normalization (Ioffe & Szegedy 2015, https://arxiv.org/abs/1502.03167).

    Normalizes each channel (axis 1) by its mean and variance over every other axis, then
    scales by ``weight`` and shifts by ``bias``, as ``torch.nn.functional.batch_norm``.

    Args:
        x: input of shape (N, C), (N, C, L) or (N, C, H, W).
        running_mean, running_var: Tensors or ndarrays of shape (C,), or None. In training
            they are updated in place: r = (1 - momentum) * r + momentum * batch_stat, the
            variance unbiased (divided by M - 1, M = N * L or N * H * W) as in PyTorch.
        weight, bias (Tensor of shape (C,), default None): the affine parameters.
        training (bool, default False): use the batch's statistics (and update the running
            ones) rather than the running statistics. With no running statistics the batch's
            are always used.
        momentum (float, default 0.1): weight of the new batch in the running statistics.
        eps (float, default 1e-5): added to the variance before the square root.
        activation (default None): ``"relu"`` or ``"relu6"`` on the output, fused into the
            normalization in training (the result and gradients of calling it after).

    Shape:
        Output has the shape of ``x``. The gradients of ``x``, ``weight`` and ``bias`` are
        analytic; in training the batch statistics are differentiated through.

    >>> rm, rv = np.zeros(3, np.float32), np.ones(3, np.float32)
    >>> y = F.batch_norm(striate.tensor(np.random.rand(8, 3, 4, 4)), rm, rv, training=True)
    """
    op = "batch_norm"
    x = _as_tensor(x, op)
    if x.ndim < 2:
        raise ValueError(f"{op}: expected an input of shape (N, C, ...), got shape {x.shape}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point input, got dtype {x.dtype}")
    C = x.shape[1]
    if C == 0:
        raise ValueError(f"{op}: input of shape {x.shape} has no channels; expected at least one")
    rm = _stat_array(running_mean, op, "running_mean", C)
    rv = _stat_array(running_var, op, "running_var", C)
    if (rm is None) != (rv is None):
        raise ValueError(f"{op}: running_mean and running_var must both be given or both be None")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and (not isinstance(p, Tensor) or p.shape != (C,)):
            shape = p.shape if isinstance(p, Tensor) else type(p).__name__
            raise ValueError(f"{op}: {name} must be a Tensor of shape ({C},), got {shape}")
    momentum, eps = _number(momentum, op, "momentum"), _number(eps, op, "eps")
    training = bool(training) or rm is None
    if training and x.size // C <= 1:
        raise ValueError(
            f"{op}: expected more than 1 value per channel when training, "
            f"got input of shape {x.shape}"
        )
    clamp = clamp_of(activation, op)
    fuse = training or activation is None
    y = apply(BatchNorm, x, weight, bias, running_mean=rm, running_var=rv, training=training,
              momentum=momentum, eps=eps, clamp=clamp if fuse else None)
    return y if fuse else _ACTIVATIONS[activation](y)


# ---- layer norm ----
class LayerNorm(Function):
    """y = (x - mean) / sqrt(var + eps) * w + b, statistics over the trailing D elements."""

    def forward(self, x, w, b, shape, eps):
        self.shape, D = shape, int(xp.prod(shape))
        x2 = x.reshape(-1, D)
        xhat = x2 - x2.mean(axis=1, keepdims=True)
        inv_std = 1 / xp.sqrt(xp.einsum("nd,nd->n", xhat, xhat)[:, None] / D + eps)
        xhat *= inv_std
        y = xhat * w.reshape(D) if w is not None else xhat.copy()
        if b is not None:
            y += b.reshape(D)
        self.save_for_backward(xhat, inv_std, w)
        return y.reshape(x.shape)

    def backward(self, gy):
        xhat, inv_std, w = self.saved_tensors
        N, D = xhat.shape
        gy2 = gy.reshape(N, D)
        need_x, need_w, need_b = self.needs_input_grad
        gw = xp.einsum("nd,nd->d", gy2, xhat).reshape(self.shape) if need_w else None
        gb = gy2.sum(axis=0).reshape(self.shape) if need_b else None
        gx = None
        if need_x:
            # dL/dx = inv_std * (g - mean(g) - xhat * mean(g * xhat)), g = gy * w
            g = gy2 * w.reshape(D) if w is not None else gy2
            gx = xhat * -(xp.einsum("nd,nd->n", g, xhat)[:, None] / D)
            gx += g
            gx -= g.mean(axis=1, keepdims=True)
            gx *= inv_std
            gx = gx.reshape(gy.shape)
        return gx, gw, gb


def layer_norm(
    x: Tensor, normalized_shape, weight: Tensor | None = None, bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Layer normalization (Ba et al. 2016, https://arxiv.org/abs/1607.06450).

    Normalizes each sample over its trailing ``normalized_shape`` axes, as
    ``torch.nn.functional.layer_norm``, then scales by ``weight`` and shifts by ``bias``.

    Args:
        x: input whose last dimensions equal ``normalized_shape``.
        normalized_shape (int or tuple of ints): the trailing shape to normalize over.
        weight, bias (Tensor of shape ``normalized_shape``, default None): affine parameters.
        eps (float, default 1e-5): added to the variance before the square root.

    Shape:
        Output has the shape of ``x``.

    >>> F.layer_norm(striate.tensor(np.random.rand(4, 10)), 10).shape
    (4, 10)
    """
    op = "layer_norm"
    x = _as_tensor(x, op)
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point input, got dtype {x.dtype}")
    shape = normalized_shape
    if isinstance(shape, numbers.Integral):
        shape = (shape,)
    ints = isinstance(shape, (tuple, list)) and all(isinstance(n, numbers.Integral) for n in shape)
    if not ints:
        raise TypeError(
            f"{op}: normalized_shape must be an int or a tuple of ints, got {normalized_shape!r}"
        )
    shape = tuple(int(n) for n in shape)
    if not shape or len(shape) > x.ndim or x.shape[x.ndim - len(shape):] != shape:
        raise ValueError(
            f"{op}: input of shape {x.shape} does not end with normalized_shape {shape}"
        )
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and (not isinstance(p, Tensor) or p.shape != shape):
            got = p.shape if isinstance(p, Tensor) else type(p).__name__
            raise ValueError(f"{op}: {name} must be a Tensor of shape {shape}, got {got}")
    return apply(LayerNorm, x, weight, bias, shape=shape, eps=_number(eps, op, "eps"))


# ---- local response norm ----
def _window_sum(a, before: int, after: int):
    """out[:, c] = sum of a[:, c - before : c + after + 1] along axis 1, zeros outside."""
    out = a.copy()
    # windows reach at most C - 1 channels away: the loops stay short whatever ``size`` is
    before, after = min(before, a.shape[1] - 1), min(after, a.shape[1] - 1)
    for d in range(1, before + 1):
        out[:, d:] += a[:, :-d]
    for d in range(1, after + 1):
        out[:, :-d] += a[:, d:]
    return out


class LocalResponseNorm(Function):
    """b_c = a_c / (k + alpha / size * sum_{c' near c} a_c'^2) ** beta (PyTorch's formula)."""

    def forward(self, x, size, alpha, beta, k):
        d = _window_sum(x * x, size // 2, (size - 1) // 2)
        d *= alpha / size
        d += k
        dp = d**beta
        self.save_for_backward(x, d, dp)
        self.size, self.alpha, self.beta = size, alpha, beta
        return x / dp

    def backward(self, gy):
        x, d, dp = self.saved_tensors
        n, a, b = self.size, self.alpha, self.beta
        # dL/dx_j = gy_j / d_j^b - 2ab/n x_j sum_{c: j in window(c)} gy_c x_c / d_c^(b+1)
        t = gy * x
        t /= dp * d
        s = _window_sum(t, (n - 1) // 2, n // 2)
        s *= x
        s *= 2 * a * b / n
        return (gy / dp - s,)


def local_response_norm(
    x: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0,
) -> Tensor:
    """Local response normalization across channels (AlexNet), as PyTorch's function.

    b_c = a_c / (k + alpha / size * sum a_j^2) ** beta, the sum over channels
    j = c - size // 2 ... c + (size - 1) // 2, channels outside [0, C) counting as zero
    (Krizhevsky et al. 2012, https://papers.nips.cc/paper/4824).

    Args:
        x: input of shape (N, C, ...) with at least 3 dimensions.
        size (int): number of neighbouring channels summed.
        alpha (float, default 1e-4), beta (float, default 0.75), k (float, default 1.0).

    Shape:
        Output has the shape of ``x``.

    >>> F.local_response_norm(striate.tensor(np.ones((1, 8, 4, 4))), size=5).shape
    (1, 8, 4, 4)
    """
    op = "local_response_norm"
    x = _as_tensor(x, op)
    if x.ndim < 3:
        raise ValueError(
            f"{op}: expected an input of shape (N, C, ...) with at least 3 dimensions, "
            f"got shape {x.shape}"
        )
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point input, got dtype {x.dtype}")
    if not isinstance(size, numbers.Integral) or isinstance(size, bool) or size < 1:
        raise ValueError(f"{op}: size must be a positive int, got {size!r}")
    alpha, beta, k = (_number(v, op, n) for v, n in ((alpha, "alpha"), (beta, "beta"), (k, "k")))
    return apply(LocalResponseNorm, x, size=int(size), alpha=alpha, beta=beta, k=k)
