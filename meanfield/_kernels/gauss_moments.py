"""Gaussian moments of activations with a mean, point by point (Numba): the kernels of
:mod:`meanfield.gaussian_integrals` (which states the equations and the evaluation rules).

    gauss_mean(kind, p, m, s)  = (M, ∂_m M, ∂_A M),                       M = E σ(m + sG)
    gauss_pair(k1, p1, k2, p2, m1, s1, m2, s2, c) = (G, ∂_{m₁}G, ∂_{m₂}G, ∂_{A₁}G, ∂_{A₂}G, ∂_C G),
                                                                            G = E σ₁(m₁ + s₁X) σ₂(m₂ + s₂Y)
Piecewise-linear σ in closed form (orthant moments, ramp boxes), erf pairs as bivariate normal
probabilities, other smooth σ by the trapezoidal rule in rotated coordinates or the wide rule.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from .activation import (KIND_ERF, KIND_PIECEWISE_LINEAR, KIND_PIECEWISE_LINEAR_TAILS, act_deriv, act_deriv2,
                         act_strip, act_value)
from .gaussian import bvn_upper, norm_cdf, norm_pdf
from .ramp_pairs import any_narrow, orthant_moments, ramp_pair_mean
from .ramps import ramp_mean, segment_slopes
from .wide_smooth import WIDE, _trapezoid, smooth_mean, wide_pair

#: 1 − ρ² above which two erf σ take the closed form (near ρ = ±1 the orthant probability loses
#: ~√(1 − ρ²) × the rounding of ρ: the wide rule of :mod:`meanfield._kernels.wide_smooth` instead).
ERF_CLOSED_REST = 1e-6
#: Standard deviation below which u = m + sG is taken as the constant m (σ(sG) = σ(0) to rounding).
TINY_SCALE = 1e-100
@njit(cache=True, inline="always")
def _is_pl(kind):
    return kind == KIND_PIECEWISE_LINEAR or kind == KIND_PIECEWISE_LINEAR_TAILS


@njit(cache=True, inline="always")
def _pl_layout(kind, p):
    """(y₀, l, first knot index) of a piecewise-linear params array."""
    if kind == KIND_PIECEWISE_LINEAR:
        return p[0], 0.0, 1
    return p[0], p[1], 2


@njit(cache=True, inline="always")
def _ramp_mean(h):
    """E (G − h)₊ = φ(h) − h Φ(−h)."""
    return norm_pdf(h) - h * norm_cdf(-h)


@njit(cache=True, inline="always")
def _erf_parts(p):
    """σ = κ + ν Φ(γ(t − t₀)) for σ = shift + amplitude erf(γ(t − t₀)/√2): (κ, ν, γ, t₀)."""
    return p[3] - p[0], 2.0 * p[0], p[1], p[2]


@njit(cache=True)
def gauss_mean(kind, p, m, s):
    """(M, ∂_m M, ∂_A M) of M = E σ(m + sG), A = s² (s ≥ 0)."""
    if s < TINY_SCALE:
        return act_value(kind, p, m), act_deriv(kind, p, m), 0.0
    if _is_pl(kind):
        y0, left, start = _pl_layout(kind, p)
        value = y0 + left * m
        dm = left
        da = 0.0
        for q in range(start, p.shape[0], 2):
            h = (p[q] - m) / s
            value += p[q + 1] * s * _ramp_mean(h)
            dm += p[q + 1] * norm_cdf(-h)
            da += p[q + 1] * norm_pdf(h)
        if kind == KIND_PIECEWISE_LINEAR and any_narrow(p, 1, s):
            value = _bounded_mean(p, m, s)  # the closed form cancels: error ~1e-16 s
        return value, dm, 0.5 * da / s
    return smooth_mean(kind, p, m, s)


@njit(cache=True)
def _bounded_mean(p, m, s):
    """E σ(m + sG) = σ_L + Σ_q Δv_q E ρ_q for bounded σ, boxes [(t_q − m)/s, (t_{q+1} − m)/s]
    (:mod:`meanfield._kernels.ramps`: bounded terms, stable for every s)."""
    slopes = segment_slopes(p, 1)
    total = p[0]
    for q in range(1, (p.shape[0] - 1) // 2):
        t0, t1 = p[2 * q - 1], p[2 * q + 1]
        total += slopes[q] * (t1 - t0) * ramp_mean((t0 - m) / s, (t1 - m) / s)
    return total


@njit(cache=True)
def _bounded_pair_value(p1, p2, m1, s1, m2, s2, c):
    """E σ₁(m₁ + s₁X) σ₂(m₂ + s₂Y) for bounded σ_i = σ_L,i + Σ_q Δv_q ρ_q:
    σ_L,1 σ_L,2 + σ_L,1 Σ_r Δv_r E ρ_r + σ_L,2 Σ_q Δv_q E ρ_q + Σ_qr Δv_q Δv_r E ρ_q ρ_r (bounded terms)."""
    sl1, sl2 = segment_slopes(p1, 1), segment_slopes(p2, 1)
    total = p1[0] * _bounded_mean(p2, m2, s2) + p2[0] * (_bounded_mean(p1, m1, s1) - p1[0])
    for q in range(1, (p1.shape[0] - 1) // 2):
        t0, t1 = p1[2 * q - 1], p1[2 * q + 1]
        dq = sl1[q] * (t1 - t0)
        for r in range(1, (p2.shape[0] - 1) // 2):
            u0, u1 = p2[2 * r - 1], p2[2 * r + 1]
            total += dq * sl2[r] * (u1 - u0) * ramp_pair_mean((t0 - m1) / s1, (t1 - m1) / s1,
                                                            (u0 - m2) / s2, (u1 - m2) / s2, c)
    return total


@njit(cache=True)
def _pl_pair(k1, p1, k2, p2, m1, s1, m2, s2, c):
    """:func:`_pl_pair_closed` with the value from :func:`_bounded_pair_value` when both σ are
    bounded and a segment is narrow at its scale (there the closed form loses ~1e-16 s₁ s₂)."""
    out = _pl_pair_closed(k1, p1, k2, p2, m1, s1, m2, s2, c)
    if (k1 == KIND_PIECEWISE_LINEAR and k2 == KIND_PIECEWISE_LINEAR
            and (any_narrow(p1, 1, s1) or any_narrow(p2, 1, s2))):
        return (_bounded_pair_value(p1, p2, m1, s1, m2, s2, c),) + out[1:]
    return out


@njit(cache=True)
def _pl_pair_closed(k1, p1, k2, p2, m1, s1, m2, s2, c):
    """Closed form of (G, ∂m₁, ∂m₂, ∂A₁, ∂A₂, ∂C) for two piecewise-linear σ, s₁, s₂ > 0.
    σ_i(m_i + s_i X) = α_i + β_i X + s_i Σ_q c_q (X − h_q)₊ with α = y₀ + l m, β = l s."""
    y01, l1, st1 = _pl_layout(k1, p1)
    y02, l2, st2 = _pl_layout(k2, p2)
    a1, b1 = y01 + l1 * m1, l1 * s1
    a2, b2 = y02 + l2 * m2, l2 * s2
    mean1, mean2 = gauss_mean(k1, p1, m1, s1)[0], gauss_mean(k2, p2, m2, s2)[0]
    root = math.sqrt(max(0.0, (1.0 - c) * (1.0 + c)))
    value = a1 * a2 + b1 * b2 * c
    dc = l1 * l2
    dm1 = l1 * mean2
    dm2 = l2 * mean1
    da1 = 0.0
    da2 = 0.0
    for r in range(st2, p2.shape[0], 2):
        kr, cr = (p2[r] - m2) / s2, p2[r + 1]
        value += cr * s2 * (a1 * _ramp_mean(kr) + b1 * c * norm_cdf(-kr))
        dc += l1 * cr * norm_cdf(-kr)
        dm2 += cr * (a1 * norm_cdf(-kr) + b1 * c * norm_pdf(kr))
        # ∂A₂: ½ c_r p_v(t_r) E[σ₁(u) | v = t_r],  u | Y = k ~ N(m₁ + s₁ c k, s₁²(1 − c²))
        da2 += cr * norm_pdf(kr) * gauss_mean(k1, p1, m1 + s1 * c * kr, s1 * root)[0]
    for q in range(st1, p1.shape[0], 2):
        hq, cq = (p1[q] - m1) / s1, p1[q + 1]
        value += cq * s1 * (a2 * _ramp_mean(hq) + b2 * c * norm_cdf(-hq))
        dc += l2 * cq * norm_cdf(-hq)
        inner = a2 * norm_cdf(-hq) + b2 * c * norm_pdf(hq)  # E[1{X > h} σ₂(v)], linear part
        da1 += cq * norm_pdf(hq) * gauss_mean(k2, p2, m2 + s2 * c * hq, s2 * root)[0]
        for r in range(st2, p2.shape[0], 2):
            kr, cr = (p2[r] - m2) / s2, p2[r + 1]
            prob, ex, ey, exy = orthant_moments(hq, kr, c)
            value += cq * cr * s1 * s2 * (exy - kr * ex - hq * ey + hq * kr * prob)
            dc += cq * cr * prob
            inner += s2 * cr * (ey - kr * prob)
            dm2 += cr * s1 * cq * (ex - hq * prob)
        dm1 += cq * inner
    return value, dm1, dm2, 0.5 * da1 / s1, 0.5 * da2 / s2, dc


@njit(cache=True)
def _erf_rest(g1, s1, g2, s2, c):
    """1 − ρ² for ρ = c γ₁s₁γ₂s₂/√((1 + γ₁²s₁²)(1 + γ₂²s₂²)), without cancellation:
    ((1 − c)(1 + c) + f₁² + f₂² + f₁²f₂²)/((1 + f₁²)(1 + f₂²)), f_i = 1/(γ_i s_i)."""
    f1 = 1.0 / (g1 * s1) if g1 * s1 > 0.0 else math.inf
    f2 = 1.0 / (g2 * s2) if g2 * s2 > 0.0 else math.inf
    if not (f1 < 1e150 and f2 < 1e150):
        return 1.0  # a variance 0: ρ = 0
    e1, e2 = f1 * f1, f2 * f2
    return ((1.0 - c) * (1.0 + c) + e1 + e2 + e1 * e2) / ((1.0 + e1) * (1.0 + e2))


@njit(cache=True)
def _erf_pair(p1, p2, m1, s1, m2, s2, c):
    """Closed form for two erf σ: G = κ₁κ₂ + κ₁ν₂Φ(h₂) + κ₂ν₁Φ(h₁) + ν₁ν₂Φ₂(h₁, h₂; ρ)."""
    kap1, nu1, g1, t1 = _erf_parts(p1)
    kap2, nu2, g2, t2 = _erf_parts(p2)
    q1, q2 = math.hypot(1.0 / g1, s1), math.hypot(1.0 / g2, s2)  # √(1 + γ²A)/γ without overflow
    h1, h2 = (m1 - t1) / q1, (m2 - t2) / q2
    rho = c * (s1 / q1) * (s2 / q2)
    rest = _erf_rest(g1, s1, g2, s2, c)
    root = math.sqrt(rest)
    both = bvn_upper(-h1, -h2, rho)  # P(Z₁ ≤ h₁, Z₂ ≤ h₂)
    # h₁² − 2ρh₁h₂ + h₂² = (h₁ − h₂)² + 2(1 − ρ)h₁h₂ (ρ > 0), (h₁ + h₂)² − 2(1 + ρ)h₁h₂ (ρ ≤ 0)
    if rho > 0.0:
        quad = (h1 - h2) ** 2 + 2.0 * (rest / (1.0 + rho)) * h1 * h2
    else:
        quad = (h1 + h2) ** 2 - 2.0 * (rest / (1.0 - rho)) * h1 * h2
    dens = math.exp(-max(quad, 0.0) / (2.0 * rest)) / (2.0 * math.pi * root)
    dh1 = kap2 * nu1 * norm_pdf(h1) + nu1 * nu2 * norm_pdf(h1) * norm_cdf((h2 - rho * h1) / root)
    dh2 = kap1 * nu2 * norm_pdf(h2) + nu1 * nu2 * norm_pdf(h2) * norm_cdf((h1 - rho * h2) / root)
    value = kap1 * kap2 + kap1 * nu2 * norm_cdf(h2) + kap2 * nu1 * norm_cdf(h1) + nu1 * nu2 * both
    drho = nu1 * nu2 * dens
    da1 = -((dh1 * h1 + drho * rho) / q1) / (2.0 * q1)
    da2 = -((dh2 * h2 + drho * rho) / q2) / (2.0 * q2)
    return value, dh1 / q1, dh2 / q2, da1, da2, (drho / q1) / q2


@njit(cache=True)
def _smooth_pair(k1, p1, k2, p2, m1, s1, m2, s2, c):
    """Trapezoidal sums of σ₁σ₂, σ₁'σ₂, σ₁σ₂', σ₁''σ₂, σ₁σ₂'', σ₁'σ₂' in (U, V), X = αU + βV,
    Y = αU − βV; the spacing in U (V) follows the strip min_i w_i/(s_i α) (β)."""
    alpha = math.sqrt(max(0.0, 0.5 * (1.0 + c)))
    beta = math.sqrt(max(0.0, 0.5 * (1.0 - c)))
    scale = max(s1 / act_strip(k1, p1), s2 / act_strip(k2, p2))
    hu, ju = _trapezoid(1.0 / (scale * alpha) if scale * alpha > 0.0 else math.inf)
    hv, jv = _trapezoid(1.0 / (scale * beta) if scale * beta > 0.0 else math.inf)
    sums = np.zeros(6)
    for iu in range(-ju, ju + 1):
        u = iu * hu
        wu = hu * norm_pdf(u) if ju > 0 else 1.0
        for iv in range(-jv, jv + 1):
            v = iv * hv
            w = wu * (hv * norm_pdf(v) if jv > 0 else 1.0)
            t1 = m1 + s1 * (alpha * u + beta * v)
            t2 = m2 + s2 * (alpha * u - beta * v)
            f1, g1, e1 = act_value(k1, p1, t1), act_deriv(k1, p1, t1), act_deriv2(k1, p1, t1)
            f2, g2, e2 = act_value(k2, p2, t2), act_deriv(k2, p2, t2), act_deriv2(k2, p2, t2)
            sums[0] += w * f1 * f2
            sums[1] += w * g1 * f2
            sums[2] += w * f1 * g2
            sums[3] += w * e1 * f2
            sums[4] += w * f1 * e2
            sums[5] += w * g1 * g2
    return sums[0], sums[1], sums[2], 0.5 * sums[3], 0.5 * sums[4], sums[5]


@njit(cache=True)
def gauss_pair(k1, p1, k2, p2, m1, s1, m2, s2, c):
    """(G, ∂_{m₁}G, ∂_{m₂}G, ∂_{A₁}G, ∂_{A₂}G, ∂_C G) of G = E σ₁(m₁ + s₁X) σ₂(m₂ + s₂Y),
    corr(X, Y) = c ∈ [−1, 1], s_i ≥ 0 (module docstring); raises for a piecewise-linear σ
    paired with a smooth one."""
    c = min(1.0, max(-1.0, c))
    if s1 < TINY_SCALE or s2 < TINY_SCALE:
        if s1 < TINY_SCALE and s2 < TINY_SCALE:
            f1, g1 = act_value(k1, p1, m1), act_deriv(k1, p1, m1)
            f2, g2 = act_value(k2, p2, m2), act_deriv(k2, p2, m2)
            return f1 * f2, g1 * f2, f1 * g2, 0.0, 0.0, g1 * g2
        if s1 < TINY_SCALE:
            f1, g1 = act_value(k1, p1, m1), act_deriv(k1, p1, m1)
            mean, dm, da = gauss_mean(k2, p2, m2, s2)
            return f1 * mean, g1 * mean, f1 * dm, 0.0, f1 * da, g1 * dm
        f2, g2 = act_value(k2, p2, m2), act_deriv(k2, p2, m2)
        mean, dm, da = gauss_mean(k1, p1, m1, s1)
        return mean * f2, dm * f2, mean * g2, da * f2, 0.0, dm * g2
    if _is_pl(k1) and _is_pl(k2):
        return _pl_pair(k1, p1, k2, p2, m1, s1, m2, s2, c)
    if _is_pl(k1) or _is_pl(k2):
        raise ValueError("gauss_pair: no exact rule for a piecewise-linear σ paired with a smooth one")
    if k1 == KIND_ERF and k2 == KIND_ERF and _erf_rest(p1[1], s1, p2[1], s2, c) > ERF_CLOSED_REST:
        return _erf_pair(p1, p2, m1, s1, m2, s2, c)
    if max(s1 * p1[1], s2 * p2[1]) >= WIDE:  # the trapezoid would take ~(46 κs)² nodes
        return wide_pair(k1, p1, k2, p2, m1, s1, m2, s2, c)
    return _smooth_pair(k1, p1, k2, p2, m1, s1, m2, s2, c)


@njit(cache=True)
def gauss_pair_many(k1, p1, k2, p2, m1, s1, m2, s2, c, out):
    for i in range(m1.shape[0]):
        out[:, i] = gauss_pair(k1, p1, k2, p2, m1[i], s1[i], m2[i], s2[i], c[i])


@njit(cache=True)
def gauss_mean_many(kind, p, m, s, out):
    for i in range(m.shape[0]):
        out[:, i] = gauss_mean(kind, p, m[i], s[i])


