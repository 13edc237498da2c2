"""Naive nested-loop references for pooling and normalization (slow, obvious, for small inputs)."""
import math

import numpy as np


def shuffled_linspace(shape, rng, lo=-1.0, hi=1.0):
    """Distinct, evenly spaced values in random order: no ties near a max/min kink."""
    n = int(np.prod(shape))
    return rng.permutation(np.linspace(lo, hi, n)).reshape(shape)


def _out_size(n, k, s, p, ceil_mode):
    if ceil_mode:
        out = math.ceil((n + 2 * p - k) / s) + 1
        if (out - 1) * s >= n + p:
            out -= 1
        return out
    return (n + 2 * p - k) // s + 1


def pool2d(x, mode, k, s=None, p=0, ceil_mode=False, count_include_pad=True):
    """max / min / avg pooling exactly as PyTorch documents it, window by window."""
    (KH, KW), (SH, SW), (PH, PW) = _pair(k), _pair(s or k), _pair(p)
    N, C, H, W = x.shape
    OH, OW = _out_size(H, KH, SH, PH, ceil_mode), _out_size(W, KW, SW, PW, ceil_mode)
    y = np.empty((N, C, OH, OW))
    for n in range(N):
        for c in range(C):
            for i in range(OH):
                for j in range(OW):
                    h0, w0 = i * SH - PH, j * SW - PW
                    h1, w1 = min(h0 + KH, H + PH), min(w0 + KW, W + PW)
                    size = (h1 - h0) * (w1 - w0)
                    win = x[n, c, max(h0, 0):min(h1, H), max(w0, 0):min(w1, W)]
                    if mode == "max":
                        y[n, c, i, j] = win.max()
                    elif mode == "min":
                        y[n, c, i, j] = win.min()
                    else:
                        y[n, c, i, j] = win.sum() / (size if count_include_pad else win.size)
    return y


def pool2d_same(x, mode, k, s=None):
    """TF/Keras SAME pooling: out = ceil(n / s), padding split with the extra after; avg
    divides by the real elements only."""
    (KH, KW), (SH, SW) = _pair(k), _pair(s or k)
    N, C, H, W = x.shape
    OH, OW = -(-H // SH), -(-W // SW)
    top = max((OH - 1) * SH + KH - H, 0) // 2
    left = max((OW - 1) * SW + KW - W, 0) // 2
    y = np.empty((N, C, OH, OW))
    for i in range(OH):
        for j in range(OW):
            h0, w0 = i * SH - top, j * SW - left
            win = x[:, :, max(h0, 0):min(h0 + KH, H), max(w0, 0):min(w0 + KW, W)]
            f = {"max": np.max, "min": np.min, "avg": np.mean}[mode]
            y[:, :, i, j] = f(win, axis=(2, 3))
    return y


def adaptive_pool2d(x, out, mode):
    N, C, H, W = x.shape
    OH, OW = out
    y = np.empty((N, C, OH, OW))
    for i in range(OH):
        h0, h1 = (i * H) // OH, -(-((i + 1) * H) // OH)
        for j in range(OW):
            w0, w1 = (j * W) // OW, -(-((j + 1) * W) // OW)
            win = x[:, :, h0:h1, w0:w1]
            y[:, :, i, j] = win.max(axis=(2, 3)) if mode == "max" else win.mean(axis=(2, 3))
    return y


def stochastic_expectation(x, k, s=None):
    """Test-time stochastic pooling: sum_i p_i a_i with p_i = max(a_i, 0) / sum max(a, 0)."""
    (KH, KW), (SH, SW) = _pair(k), _pair(s or k)
    N, C, H, W = x.shape
    OH, OW = (H - KH) // SH + 1, (W - KW) // SW + 1
    y = np.zeros((N, C, OH, OW))
    for n in range(N):
        for c in range(C):
            for i in range(OH):
                for j in range(OW):
                    a = np.maximum(x[n, c, i * SH:i * SH + KH, j * SW:j * SW + KW], 0)
                    if a.sum() > 0:
                        y[n, c, i, j] = (a * a).sum() / a.sum()
    return y


def local_response_norm(x, size, alpha, beta, k):
    C = x.shape[1]
    y = np.empty_like(x)
    for c in range(C):
        lo, hi = max(c - size // 2, 0), min(c + (size - 1) // 2, C - 1)
        s = (x[:, lo:hi + 1] ** 2).sum(axis=1)
        y[:, c] = x[:, c] / (k + alpha / size * s) ** beta
    return y


def batch_norm(x, mean, var, w, b, eps):
    """Normalize channel by channel with the given statistics."""
    y = np.empty_like(x)
    for c in range(x.shape[1]):
        y[:, c] = (x[:, c] - mean[c]) / np.sqrt(var[c] + eps) * w[c] + b[c]
    return y


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)
