"""Normalization layers: ``BatchNorm1d``, ``BatchNorm2d`` and ``LocalResponseNorm``."""
from __future__ import annotations

import numbers

from .. import functional as F
from ..backend import xp
from ..tensor import Tensor
from . import init
from ._args import _float_dtype, _positive_int
from .module import Module
from .parameter import Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "LocalResponseNorm"]


class _BatchNorm(Module):
    """Shared state and forward of the batch-norm layers (PyTorch's ``_BatchNorm``)."""

    _ndims: tuple[int, ...] = (4,)
    _layout = "(N, C, H, W)"

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, dtype=None, *,
                 bias: bool = True):
        super().__init__()
        name = type(self).__name__
        self.num_features = _positive_int(num_features, name, "num_features")
        if not isinstance(eps, numbers.Real) or eps <= 0:
            raise ValueError(f"{name}: eps must be a positive number, got {eps!r}")
        if momentum is not None and (not isinstance(momentum, numbers.Real)
                                     or not 0 <= momentum <= 1):
            raise ValueError(f"{name}: momentum must be in [0, 1] or None, got {momentum!r}")
        self.eps, self.momentum = float(eps), momentum
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        self.use_bias = bool(bias)
        dt = _float_dtype(dtype, name)
        self.register_parameter("weight", Parameter(xp.ones((num_features,), dtype=dt))
                                if self.affine else None)
        self.register_parameter("bias", Parameter(xp.zeros((num_features,), dtype=dt))
                                if self.affine and self.use_bias else None)
        if self.track_running_stats:
            self.register_buffer("running_mean", Tensor(xp.zeros((num_features,), dtype=dt)))
            self.register_buffer("running_var", Tensor(xp.ones((num_features,), dtype=dt)))
            self.register_buffer("num_batches_tracked", Tensor(xp.zeros((), dtype=xp.int64)))
        else:
            for b in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(b, None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def _check_input(self, x) -> None:
        self._check_tensor(x)
        if x.ndim not in self._ndims:
            raise self._error(f"expects a {' or '.join(f'{n}-D' for n in self._ndims)} input "
                              f"{self._layout}, got {x.ndim}-D input of shape {tuple(x.shape)}")
        if x.shape[1] != self.num_features:
            raise self._error(f"expects {self.num_features} channels (num_features), got "
                              f"{x.shape[1]} (input shape {tuple(x.shape)})")
        if self.training and x.size // x.shape[1] < 2:
            raise self._error("needs more than one value per channel in training mode to "
                              f"compute batch statistics, got input shape {tuple(x.shape)}")

    def _normalize(self, x, activation: str | None = None):
        """PyTorch's rule: batch statistics in training (or without running stats), running
        statistics in eval; momentum None means a cumulative average over the batches seen.
        ``activation`` ('relu', 'relu6') is fused in (``nn.conv_bn_act``)."""
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data[...] += 1
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked.data)
        use_batch = self.training or self.running_mean is None
        update = not self.training or self.track_running_stats
        return F.batch_norm(x, self.running_mean if update else None,
                            self.running_var if update else None, self.weight, self.bias,
                            training=use_batch, momentum=factor, eps=self.eps,
                            activation=activation)

    def forward(self, x):
        self._check_input(x)
        return self._normalize(x)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalization over (N, C) or (N, C, L) inputs (Ioffe & Szegedy 2015,
    https://arxiv.org/abs/1502.03167); see :func:`striate.functional.batch_norm`.

    Args:
        num_features (int): C.
        eps (float, default 1e-5): added to the variance.
        momentum (float or None, default 0.1): running = (1 - momentum) running + momentum
            batch; None takes the cumulative average.
        affine (bool, default True): learn a per-channel scale ``weight`` and shift ``bias``.
        bias (bool, keyword-only, default True): with ``affine``, learn the shift too.
        track_running_stats (bool, default True): keep ``running_mean``/``running_var``
            (unbiased) and ``num_batches_tracked`` buffers and use them in eval mode.
        dtype (default float32).

    Shape:
        input (N, C) or (N, C, L); output has the input's shape.

    >>> nn.BatchNorm1d(120)(striate.tensor(np.random.randn(8, 120).astype(np.float32)))
    """

    _ndims = (2, 3)
    _layout = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalization over (N, C, H, W) inputs, statistics per channel (Ioffe & Szegedy
    2015, https://arxiv.org/abs/1502.03167); see :func:`striate.functional.batch_norm`.

    Args as :class:`BatchNorm1d`.

    Shape:
        input (N, C, H, W); output has the input's shape.

    >>> bn = nn.BatchNorm2d(64); bn.eval()    # eval mode uses the running statistics
    """


class LocalResponseNorm(Module):
    """Local response normalization across ``size`` neighbouring channels (AlexNet,
    Krizhevsky et al. 2012); see :func:`striate.functional.local_response_norm`.

    ``b_c = a_c / (k + alpha / size * sum_{c' near c} a_{c'}^2) ** beta``

    Args:
        size (int): number of neighbouring channels summed.
        alpha (float, default 1e-4), beta (float, default 0.75), k (float, default 1.0).

    Shape:
        input (N, C, *); output has the input's shape.

    >>> nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)(x)
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        super().__init__()
        self.size = _positive_int(size, "LocalResponseNorm", "size")
        self.alpha, self.beta, self.k = alpha, beta, k

    def forward(self, x):
        self._check_tensor(x)
        if x.ndim < 3:
            raise self._error(f"expects an input (N, C, *) with at least 3 dimensions, got "
                              f"shape {tuple(x.shape)}")
        return F.local_response_norm(x, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
