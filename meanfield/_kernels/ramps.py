"""Gaussian integrals of unit ramps, stable for every scale (bounded σ has bounded integrals).

A bounded piecewise-linear σ with knots t_1 < … < t_Q and values v_q is

    σ(t) = σ_L + Σ_q Δv_q ρ_q(t),   ρ_q(t) = clip((t − t_q)/(t_{q+1} − t_q), 0, 1) ∈ [0, 1],

Δv_q = v_{q+1} − v_q. For a > 0, ρ_q(aX) = avg_{h ∈ B_q} 1{X > h} over the box
B_q = [t_q/a, t_{q+1}/a] of width w_q = (t_{q+1} − t_q)/a, so

    E ρ_q(aX) = avg_{h ∈ B_q} Φ(−h),   E ρ_q(aX) ρ_r(bY) = avg_{(h, k) ∈ B_q × B_r} P(X > h, Y > k).

The closed forms (differences of antiderivatives over the box, divided by its width) cancel
catastrophically when the box is narrow (error ~ 1e-16/w, 1e-16/(w_q w_r) for pairs): there a
Gauss–Legendre rule on the box computes the bounded average to rounding. A box is narrow when
w < NARROW; then the integrand (Φ, φ He_k, and P(·, ·; c) whose scale is s = √(1 − c²)) is
smooth on the box and 8 nodes per panel of width ≤ ½ s reach ~1e-16 (panels of the pair rule).
When that would take more than MAX_PANELS panels (|c| → 1), the pair average is computed in
rotated coordinates X = αU + βV, Y = αU − βV instead: for each V = v, the U-integral of a
product of two ramps is piecewise quadratic times φ (Gauss–Legendre per piece, exact), and the
V-integral is smooth between the kinks v = (h − k)/(2β), on a scale w/(2β) ≥ 1.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from .gaussian import norm_cdf, norm_pdf

#: Box width below which the Gauss–Legendre rule replaces the closed form (measured: the closed
#: forms lose ~1e-16/w; at w = 1/32 that is ~3e-15, and the 8-node rule is exact to rounding
#: for h_k, k ≤ 1024, on boxes of this width).
NARROW = 1.0 / 32.0
#: Panels per side of the pair rule, at most (each of width ≤ PANEL_SCALE · √(1 − c²)).
MAX_PANELS = 12
PANEL_SCALE = 0.5
_GL_X, _GL_W = np.polynomial.legendre.leggauss(8)
#: 8-point Gauss–Legendre nodes and weights on [0, 1] (weights sum to 1: an average).
GL_X01 = 0.5 * (_GL_X + 1.0)
GL_W01 = 0.5 * _GL_W
_RANGE = 40.0  # φ(±40) underflows: integrals beyond are 0
_V_RANGE = 9.0  # ∫_{|v|>9} φ < 3e-19


@njit(cache=True)
def segment_slopes(p, start):
    """Slopes s_0..s_Q of σ = y₀ + Σ_i c_i (t − t_i)₊ (params p, knots from index ``start``):
    s_0 = 0, s_q = Σ_{i≤q} c_i on [t_q, t_{q+1}]."""
    n = (p.shape[0] - start) // 2
    s = np.zeros(n + 1)
    for q in range(n):
        s[q + 1] = s[q] + p[start + 2 * q + 1]
    return s


@njit(cache=True)
def _phi_antiderivative(h):
    """Ψ(h) = h Φ(−h) − φ(h), so that Ψ' = Φ(−h)."""
    return h * norm_cdf(-h) - norm_pdf(h)


@njit(cache=True)
def ramp_mean(h0, h1):
    """E ρ(X) = avg_{h ∈ [h0, h1]} Φ(−h) for the unit ramp from h0 to h1 > h0."""
    w = h1 - h0
    if w < NARROW:
        total = 0.0
        for n in range(GL_X01.shape[0]):
            total += GL_W01[n] * norm_cdf(-(h0 + w * GL_X01[n]))
        return total
    return (_phi_antiderivative(h1) - _phi_antiderivative(h0)) / w


@njit(cache=True)
def ramp_variance_part(h0, h1):
    """E ρ(X)(1 − ρ(X)) = ∫_{h0}^{h1} φ(x)(x − h0)(h1 − x) dx / w², w = h1 − h0."""
    w = h1 - h0
    if w < NARROW:
        total = 0.0
        for n in range(GL_X01.shape[0]):
            u = GL_X01[n]
            total += GL_W01[n] * norm_pdf(h0 + w * u) * u * (1.0 - u)
        return total * w
    i0 = norm_cdf(-h0) - norm_cdf(-h1)
    i1 = norm_pdf(h0) - norm_pdf(h1)
    i2 = i0 + h0 * norm_pdf(h0) - h1 * norm_pdf(h1)
    return max(0.0, (-i2 + (h0 + h1) * i1 - h0 * h1 * i0) / (w * w))


RAMP_UP, RAMP_DOWN, INDICATOR = 0, 1, 2


@njit(cache=True)
def _piece_at(x, lo, hi, mode):
    """clip((x − lo)/(hi − lo), 0, 1) (RAMP_UP), 1 minus it (RAMP_DOWN) or 1{lo < x < hi} (INDICATOR)."""
    if mode == INDICATOR:
        return 1.0 if lo < x < hi else 0.0
    if x <= lo:
        r = 0.0
    elif x >= hi:
        r = 1.0
    else:
        r = (x - lo) / (hi - lo)
    return r if mode == RAMP_UP else 1.0 - r


@njit(cache=True)
def sort_breakpoints(a):
    """``a`` sorted in place and returned, NaN last: exactly what np.sort gives for the few (≤ 15)
    breakpoints of a rule (Numba's np.sort is this insertion sort below 16 elements), without
    compiling Numba's quicksort (~1 s)."""
    for i in range(1, a.shape[0]):
        x = a[i]
        j = i
        while j > 0 and (x < a[j - 1] or (a[j - 1] != a[j - 1] and x == x)):
            a[j] = a[j - 1]
            j -= 1
        a[j] = x
    return a


@njit(cache=True)
def piecewise_1d(lo1, hi1, mode1, lo2, hi2, mode2, l0, l1):
    """∫ φ(x) f₁(x) f₂(x) (l0 + l1 x) dx for two ramps or indicators f₁ on [lo1, hi1], f₂ on
    [lo2, hi2] (:func:`_piece_at`): constant beyond the breakpoints (Φ, φ tails in closed form),
    a polynomial of degree ≤ 3 times φ between them (8-point Gauss–Legendre on panels of width
    ≤ ½ within |x| ≤ 40: exact to rounding)."""
    pts = np.empty(4)
    pts[0], pts[1], pts[2], pts[3] = lo1, hi1, lo2, hi2
    sort_breakpoints(pts)
    left = _piece_at(-math.inf, lo1, hi1, mode1) * _piece_at(-math.inf, lo2, hi2, mode2)
    right = _piece_at(math.inf, lo1, hi1, mode1) * _piece_at(math.inf, lo2, hi2, mode2)
    total = (left * (l0 * norm_cdf(pts[0]) - l1 * norm_pdf(pts[0]))
             + right * (l0 * norm_cdf(-pts[3]) + l1 * norm_pdf(pts[3])))
    for i in range(3):
        lo, hi = max(pts[i], -_RANGE), min(pts[i + 1], _RANGE)
        if not hi > lo:
            continue
        panels = int(math.ceil((hi - lo) / 0.5))
        width = (hi - lo) / panels
        for j in range(panels):
            for n in range(GL_X01.shape[0]):
                x = lo + (j + GL_X01[n]) * width
                total += (width * GL_W01[n] * norm_pdf(x) * (l0 + l1 * x)
                          * _piece_at(x, lo1, hi1, mode1) * _piece_at(x, lo2, hi2, mode2))
    return total


@njit(cache=True)
def ramp_product_1d(h0, h1, up1, k0, k1, up2):
    """∫ φ(x) r₁(x) r₂(x) dx for the ramps r₁ on [h0, h1] and r₂ on [k0, k1] (increasing, or
    decreasing when not ``up``), by :func:`piecewise_1d`."""
    return piecewise_1d(h0, h1, RAMP_UP if up1 else RAMP_DOWN, k0, k1, RAMP_UP if up2 else RAMP_DOWN, 1.0, 0.0)


@njit(cache=True)
def _panels(w, s):
    """Panels of width ≤ PANEL_SCALE·s on a box of width w (1 when s = 0 is not asked)."""
    if s <= 0.0:
        return MAX_PANELS + 1
    n = w / (PANEL_SCALE * s)
    if n > MAX_PANELS:
        return MAX_PANELS + 1
    return max(1, int(math.ceil(n)))
