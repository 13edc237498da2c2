"""Naive nested-loop NumPy references for the kernels (the Keras ``np_conv2d`` idea).

Written for clarity, not speed: a Python loop over every output element, no im2col, no shared
code with ``striate``. Keep test inputs small.
"""
import numpy as np


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def resolve_padding(padding, kernel, dilation):
    """(top, bottom, left, right) for an int, a pair, or 'valid' / 'same' / 'full'."""
    (KH, KW), (DH, DW) = kernel, dilation
    spans = (DH * (KH - 1), DW * (KW - 1))
    if padding == "valid":
        return (0, 0, 0, 0)
    if padding == "full":
        return (spans[0], spans[0], spans[1], spans[1])
    if padding == "same":  # the odd extra goes at the end, as in PyTorch
        return (spans[0] // 2, spans[0] - spans[0] // 2, spans[1] // 2, spans[1] - spans[1] // 2)
    PH, PW = _pair(padding)
    return (PH, PH, PW, PW)


def conv2d_ref(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """y[n, o, i, j] = b[o] + sum of xpad[n, c, i*S + kh*D, j*S + kw*D] * w[o, c, kh, kw].

    The sum runs over kh, kw and the input channels c of output channel o's group.
    """
    N, C, H, W = x.shape
    OC, Cg, KH, KW = w.shape
    (SH, SW), (DH, DW) = _pair(stride), _pair(dilation)
    PT, PB, PL, PR = resolve_padding(padding, (KH, KW), (DH, DW))
    xp = np.zeros((N, C, H + PT + PB, W + PL + PR), dtype=x.dtype)
    xp[:, :, PT:PT + H, PL:PL + W] = x
    OH = (H + PT + PB - DH * (KH - 1) - 1) // SH + 1
    OW = (W + PL + PR - DW * (KW - 1) - 1) // SW + 1
    OCg = OC // groups
    y = np.zeros((N, OC, OH, OW), dtype=x.dtype)
    for n in range(N):
        for o in range(OC):
            g = o // OCg
            for i in range(OH):
                for j in range(OW):
                    acc = 0.0
                    for c in range(Cg):
                        for kh in range(KH):
                            for kw in range(KW):
                                acc += (xp[n, g * Cg + c, i * SH + kh * DH, j * SW + kw * DW]
                                        * w[o, c, kh, kw])
                    y[n, o, i, j] = acc + (0.0 if b is None else b[o])
    return y


def conv1d_ref(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """conv2d_ref on an (N, C, 1, L) view."""
    pad = padding if isinstance(padding, str) else (0, padding)
    y = conv2d_ref(x[:, :, None], w[:, :, None], b, (1, stride), pad, (1, dilation), groups)
    return y[:, :, 0]


def conv_transpose2d_ref(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1,
                         dilation=1):
    """Scatter form: every input pixel adds x * kernel into the output at stride spacing."""
    N, C, H, W = x.shape
    _, OCg, KH, KW = w.shape
    (SH, SW), (PH, PW) = _pair(stride), _pair(padding)
    (OPH, OPW), (DH, DW) = _pair(output_padding), _pair(dilation)
    OH = (H - 1) * SH - 2 * PH + DH * (KH - 1) + OPH + 1
    OW = (W - 1) * SW - 2 * PW + DW * (KW - 1) + OPW + 1
    Cg = C // groups
    canvas = np.zeros((N, OCg * groups, OH + 2 * PH, OW + 2 * PW), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            g = c // Cg
            for i in range(H):
                for j in range(W):
                    for o in range(OCg):
                        for kh in range(KH):
                            for kw in range(KW):
                                canvas[n, g * OCg + o, i * SH + kh * DH, j * SW + kw * DW] += (
                                    x[n, c, i, j] * w[c, o, kh, kw])
    y = canvas[:, :, PH:PH + OH, PW:PW + OW]
    return y if b is None else y + b.reshape(1, -1, 1, 1)
