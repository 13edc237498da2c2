"""Weight initialisation (``striate.nn.init``), with PyTorch's names, formulas and fan rules.

Every function fills a Tensor (or ndarray) in place, keeps its dtype, returns it, and draws from
``striate.backend.rng()`` (reset by ``striate.manual_seed``) unless ``generator`` is given.
Values are drawn in float64 and then cast, so the same seed gives the same weights in any dtype
up to rounding. They are drawn a chunk at a time into a small float64 buffer (straight into the
tensor when it is a contiguous float64 one): no float64 temporary of the tensor's size, which for
VGG's 100M-weight classifier layer would be 800 MB of fresh pages.
"""
from __future__ import annotations

import math

from .. import backend
from ..backend import xp
from ..tensor import Tensor

__all__ = [
    "calculate_gain", "uniform_", "normal_", "constant_", "zeros_", "ones_", "xavier_uniform_",
    "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "trunc_normal_",
]

_LINEAR_FNS = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
               "conv_transpose3d", "sigmoid")


def _array(tensor, op: str):
    if isinstance(tensor, Tensor):
        return tensor.data
    if isinstance(tensor, xp.ndarray):
        return tensor
    raise TypeError(f"{op}: expected a Tensor or ndarray, got {type(tensor).__name__}")


def _fill(tensor, values, op: str):
    arr = _array(tensor, op)
    if arr.dtype.kind not in "fc":
        raise TypeError(f"{op}: can only fill a floating-point tensor, got dtype {arr.dtype}")
    arr[...] = values
    return tensor


def _gen(generator):
    return backend.rng() if generator is None else generator


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for ``nonlinearity`` (PyTorch's table).

    linear, conv and sigmoid: 1; tanh: 5/3; relu: sqrt(2); leaky_relu: sqrt(2 / (1 + slope^2))
    with ``param`` the negative slope (default 0.01); selu: 3/4.

    >>> nn.init.calculate_gain("relu")
    1.4142135623730951
    """
    if nonlinearity in _LINEAR_FNS:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor) -> tuple[int, int]:
    """``fan_in = shape[1] * receptive``, ``fan_out = shape[0] * receptive`` (PyTorch's rule)."""
    shape = _array(tensor, "fan computation").shape
    if len(shape) < 2:
        raise ValueError(
            f"fan in and fan out cannot be computed for a tensor with fewer than 2 dimensions "
            f"(shape {shape})"
        )
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _calculate_correct_fan(tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


_CHUNK = 1 << 18  # float64 values per draw: 2 MiB of buffer


def _draw(tensor, op: str, draw, scale: float, shift: float):
    """Fill ``tensor`` with ``shift + scale * v``, v drawn by ``draw(out=float64 array)``.

    The values equal those of ``Generator.uniform``/``normal`` (``low + range * u``, same
    stream, same rounding), chunk by chunk.
    """
    arr = _array(tensor, op)
    if arr.dtype.kind not in "fc":
        raise TypeError(f"{op}: can only fill a floating-point tensor, got dtype {arr.dtype}")
    flat = arr.reshape(-1) if arr.flags.c_contiguous else None
    if flat is None:  # a strided view: one temporary of its size
        flat = xp.empty(arr.size, dtype=xp.float64)
    into = flat.dtype == xp.float64
    buf = None if into else xp.empty(min(_CHUNK, flat.size), dtype=xp.float64)
    for i in range(0, flat.size, _CHUNK):
        out = flat[i:i + _CHUNK] if into else buf[:min(_CHUNK, flat.size - i)]
        draw(out=out)
        out *= scale
        out += shift
        if not into:
            flat[i:i + len(out)] = out
    if not arr.flags.c_contiguous:
        arr[...] = flat.reshape(arr.shape)
    return tensor


def uniform_(tensor, a: float = 0.0, b: float = 1.0, generator=None):
    """Fill with U(a, b)."""
    return _draw(tensor, "uniform_", _gen(generator).random, b - a, a)


def normal_(tensor, mean: float = 0.0, std: float = 1.0, generator=None):
    """Fill with N(mean, std^2)."""
    return _draw(tensor, "normal_", _gen(generator).standard_normal, std, mean)


def constant_(tensor, val: float):
    """Fill with the constant ``val``."""
    return _fill(tensor, val, "constant_")


def zeros_(tensor):
    return _fill(tensor, 0.0, "zeros_")


def ones_(tensor):
    return _fill(tensor, 1.0, "ones_")


def xavier_uniform_(tensor, gain: float = 1.0, generator=None):
    """Glorot uniform: U(-a, a) with ``a = gain * sqrt(6 / (fan_in + fan_out))``.

    Glorot & Bengio 2010, http://proceedings.mlr.press/v9/glorot10a.html
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    a = math.sqrt(3.0) * gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor, gain: float = 1.0, generator=None):
    """Glorot normal: N(0, std^2) with ``std = gain * sqrt(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)), generator)


def kaiming_uniform_(tensor, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator=None):
    """He uniform: U(-bound, bound) with ``bound = gain * sqrt(3 / fan)``.

    Args:
        a (float, default 0): negative slope of the following leaky_relu.
        mode ('fan_in' or 'fan_out', default 'fan_in'): which fan to normalise by.
        nonlinearity (str, default 'leaky_relu'): passed to :func:`calculate_gain`.

    He et al. 2015, https://arxiv.org/abs/1502.01852

    >>> nn.init.kaiming_uniform_(w, a=math.sqrt(5))   # PyTorch's Conv/Linear default
    """
    if 0 in _array(tensor, "kaiming_uniform_").shape:
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(_calculate_correct_fan(tensor, mode))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator=None):
    """He normal: N(0, std^2) with ``std = gain / sqrt(fan)`` (args as :func:`kaiming_uniform_`)."""
    if 0 in _array(tensor, "kaiming_normal_").shape:
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(_calculate_correct_fan(tensor, mode))
    return normal_(tensor, 0.0, std, generator)


def trunc_normal_(tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0,
                  generator=None):
    """N(mean, std^2) truncated to the absolute interval [a, b], by rejection sampling."""
    arr = _array(tensor, "trunc_normal_")
    if not a < b:
        raise ValueError(f"trunc_normal_: need a < b, got a={a}, b={b}")
    cdf = lambda v: 0.5 * (1 + math.erf((v - mean) / (std * math.sqrt(2))))  # noqa: E731
    accept = cdf(b) - cdf(a)
    if accept < 1e-4:
        raise ValueError(
            f"trunc_normal_: [{a}, {b}] holds only {accept:.1e} of N({mean}, {std}^2); "
            "move mean closer to the interval"
        )
    g = _gen(generator)
    out = g.normal(mean, std, size=arr.shape)
    bad = (out < a) | (out > b)
    while bad.any():  # each round keeps a fraction `accept` of the redraws
        out[bad] = g.normal(mean, std, size=int(bad.sum()))
        bad = (out < a) | (out > b)
    return _fill(tensor, out, "trunc_normal_")


def _reset_default_(weight, bias=None) -> None:
    """PyTorch's Conv/Linear default: kaiming_uniform_(a=sqrt(5)), i.e. U(+-1/sqrt(fan_in)) for
    the weight, and U(+-1/sqrt(fan_in)) for the bias."""
    kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = _calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        uniform_(bias, -bound, bound)
