"""The complementary error function on arrays, for the exact GELU (NumPy has no erf).

W. J. Cody, "Rational Chebyshev approximations for the error function" (Math. Comp. 1969): the
coefficients of SPECFUN's CALERF, relative error below 1e-16 in float64. A pure array helper
like ``_im2col.py``: no Functions here.
"""
from __future__ import annotations

import math

from ..backend import xp

_ERF_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
          3.20937758913846947e03, 1.85777706184603153e-1)
_ERF_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
          2.84423683343917062e03)
_ERF_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
          2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
          2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8)
_ERF_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
          1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
          3.43936767414372164e03, 1.23033935480374942e03)
_ERF_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
          1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)
_ERF_Q = (2.56852019228982242e00, 1.87295284992346047e00, 5.27905102951428412e-1,
          6.05183413124413191e-2, 2.33520497626869185e-3)


def _exp_neg_square(y):
    """exp(-y^2), split at y rounded down to 1/16 so that y^2 is formed without rounding error."""
    ys = xp.trunc(y * 16) / 16
    return xp.exp(-ys * ys) * xp.exp(-(y - ys) * (y + ys))


def _erfc_tail(y):
    """erfc(y) for y > 0.46875 (Cody's second and third intervals)."""
    out = xp.zeros_like(y)
    mid, far = y <= 4.0, (y > 4.0) & (y < 26.55)  # erfc underflows to 0 beyond ~26.55
    ym = y[mid]
    num, den = _ERF_C[8] * ym, ym
    for c, d in zip(_ERF_C[:7], _ERF_D[:7]):
        num, den = (num + c) * ym, (den + d) * ym
    out[mid] = (num + _ERF_C[7]) / (den + _ERF_D[7]) * _exp_neg_square(ym)
    yf = y[far]
    z = 1 / (yf * yf)
    num, den = _ERF_P[5] * z, z
    for p, q in zip(_ERF_P[:4], _ERF_Q[:4]):
        num, den = (num + p) * z, (den + q) * z
    r = (1 / math.sqrt(math.pi) - z * (num + _ERF_P[4]) / (den + _ERF_Q[4])) / yf
    out[far] = r * _exp_neg_square(yf)
    out[xp.isnan(y)] = xp.nan
    return out


def _erfc(x):
    """Complementary error function, elementwise, accurate to float64 precision."""
    y = xp.abs(x)
    out = xp.empty_like(y)
    near = y <= 0.46875
    z = x[near] * x[near]
    num, den = _ERF_A[4] * z, z
    for a, b in zip(_ERF_A[:3], _ERF_B[:3]):
        num, den = (num + a) * z, (den + b) * z
    out[near] = 1 - x[near] * (num + _ERF_A[3]) / (den + _ERF_B[3])
    tail = _erfc_tail(y[~near])
    out[~near] = xp.where(x[~near] < 0, 2 - tail, tail)
    return out
