"""Argument checking for the convolutions: every bad input becomes a ValueError or TypeError
that names the op, what it got and what it expected, before any kernel runs."""
from __future__ import annotations

import numbers

from ..backend import xp
from ..tensor import Tensor, tensor
from ._alloc import check_alloc
from ._im2col import Geometry, out_size


def _is_int(v) -> bool:
    """A Python or NumPy integer (as the pooling ops accept), not a bool."""
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def ints(value, name: str, op: str, n: int, minimum: int) -> tuple[int, ...]:
    """An int or a sequence of ``n`` ints, each >= ``minimum``, as an n-tuple of Python ints."""
    vals = (value,) * n if _is_int(value) else value
    if not isinstance(vals, (tuple, list)) or len(vals) != n or not all(map(_is_int, vals)):
        raise TypeError(f"{op}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    if any(v < minimum for v in vals):
        what = "positive" if minimum == 1 else "non-negative"
        raise ValueError(f"{op}: {name} must be {what}, got {value!r}")
    return tuple(int(v) for v in vals)


def _as_tensor(a, op: str, name: str) -> Tensor:
    if isinstance(a, Tensor):
        return a
    if isinstance(a, xp.ndarray):
        return tensor(a)
    raise TypeError(f"{op}: {name} must be a Tensor or an ndarray, got {type(a).__name__}")


def check_tensors(op: str, x, w, b, nd: int):
    """Wrap ndarrays and check ranks and dtypes."""
    x, w = _as_tensor(x, op, "input"), _as_tensor(w, op, "weight")
    b = None if b is None else _as_tensor(b, op, "bias")
    layout = "(N, C, L)" if nd == 1 else "(N, C, H, W)"
    if x.ndim != nd + 2:
        raise ValueError(f"{op}: expected a {nd + 2}-D input {layout}, got shape {x.shape}")
    if w.ndim != nd + 2:
        raise ValueError(f"{op}: expected a {nd + 2}-D weight, got shape {w.shape}")
    if x.dtype.kind != "f" or w.dtype.kind != "f":
        raise TypeError(f"{op}: input and weight must be floating point, got {x.dtype} and "
                        f"{w.dtype}")
    if x.dtype != w.dtype:
        raise TypeError(f"{op}: input dtype {x.dtype} and weight dtype {w.dtype} differ; cast one "
                        "so both match")
    if b is not None and b.dtype != x.dtype:
        raise TypeError(f"{op}: bias dtype {b.dtype} differs from input dtype {x.dtype}")
    if 0 in x.shape[1:]:  # as PyTorch: only the batch may be empty
        raise ValueError(f"{op}: input of shape {x.shape} is empty; only the batch axis may be 0")
    if 0 in w.shape[2:]:
        raise ValueError(f"{op}: kernel size must be positive, got weight of shape {w.shape}")
    if 0 in w.shape[:2]:
        raise ValueError(f"{op}: weight of shape {w.shape} has no channels; expected at least one")
    return x, w, b


def check_bias(op: str, b, out_channels: int) -> None:
    if b is not None and b.shape != (out_channels,):
        raise ValueError(f"{op}: bias must have shape ({out_channels},) (one per output channel), "
                         f"got {b.shape}")


def check_groups(op: str, groups, in_channels: int, out_channels: int) -> None:
    if not _is_int(groups) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    for what, c in (("in_channels", in_channels), ("out_channels", out_channels)):
        if c % groups:
            raise ValueError(f"{op}: groups={groups} does not divide {what}={c}")


def _padding(op: str, padding, k, d, s, nd: int) -> tuple[int, ...]:
    """(before, after) pairs flattened: 'valid', 'same', 'full', an int or an nd-tuple."""
    if isinstance(padding, str):
        total = [di * (ki - 1) for ki, di in zip(k, d)]
        if padding == "valid":
            return (0,) * (2 * nd)
        if padding == "full":
            return tuple(v for t in total for v in (t, t))
        if padding == "same":
            if any(si != 1 for si in s):
                raise ValueError(f"{op}: padding='same' needs stride 1 (as in PyTorch), got "
                                 f"stride {s if nd > 1 else s[0]}")
            # an odd total puts the extra row/column at the bottom/right, as PyTorch does
            return tuple(v for t in total for v in (t // 2, t - t // 2))
        raise ValueError(f"{op}: unknown padding {padding!r}; expected an int, a tuple, "
                         "'valid', 'same' or 'full'")
    return tuple(v for p in ints(padding, "padding", op, nd, 0) for v in (p, p))


def _check_fits(op: str, in_size, k, d, pads) -> None:
    span = tuple(di * (ki - 1) + 1 for ki, di in zip(k, d))
    padded = tuple(n + pads[2 * i] + pads[2 * i + 1] for i, n in enumerate(in_size))
    if any(sp > p for sp, p in zip(span, padded)):
        raise ValueError(f"{op}: kernel {tuple(k)} with dilation {tuple(d)} spans {span} but the "
                         f"padded input is only {padded} (input {tuple(in_size)})")


def conv_args(op, x, weight, bias, stride, padding, dilation, groups, nd):
    """Validated tensors and the 2-D Geometry of a conv1d/conv2d call."""
    x, w, b = check_tensors(op, x, weight, bias, nd)
    C, OC, Cg = x.shape[1], w.shape[0], w.shape[1]
    check_groups(op, groups, C, OC)
    check_bias(op, b, OC)
    if Cg * groups != C:
        raise ValueError(f"{op}: input has {C} channels but weight of shape {w.shape} with "
                         f"groups={groups} expects {Cg * groups} (weight.shape[1] * groups)")
    s = ints(stride, "stride", op, nd, 1)
    d = ints(dilation, "dilation", op, nd, 1)
    pads = _padding(op, padding, w.shape[2:], d, s, nd)
    _check_fits(op, x.shape[2:], w.shape[2:], d, pads)
    padded = tuple(n + pads[2 * i] + pads[2 * i + 1] for i, n in enumerate(x.shape[2:]))
    out = tuple(out_size(n, k, si, 0, di) for n, k, si, di in zip(padded, w.shape[2:], s, d))
    check_alloc(op, "padded input", (C,) + padded, x.dtype)  # one sample is padded at a time
    check_alloc(op, "output", (x.shape[0], OC) + out, x.dtype)
    # a stride past the padded input reads one window either way; clamping it keeps the byte
    # strides of the windowed views within what NumPy can index
    s = tuple(min(si, p) for si, p in zip(s, padded))
    if nd == 1:
        s, d, pads = (1,) + s, (1,) + d, (0, 0) + pads
    return x, w, b, Geometry(s, pads, d, int(groups))
