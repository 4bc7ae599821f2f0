"""Bivariate-normal orthant moments and the Gaussian pair moments of ramps (Numba).

For standard normals X, Y with correlation c: the orthant moments E[(X − h)₊^i (Y − k)₊^j]
(i, j ≤ 1) in φ, Φ and P(X > h, Y > k); E[(X − h)₊(Y − k)₊] (:func:`relu_pair`); and the pair
average of two unit ramps E ρ(aX) ρ'(bY) = avg_{(h, k) ∈ B × B'} P(X > h, Y > k) over the boxes of
:mod:`.ramps` (closed form, Gauss–Legendre on narrow boxes, rotated coordinates near |c| = 1),
with its derivatives (:func:`ramp_pair_parts`). Piecewise-linear σ pairs are sums of these.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from .gaussian import bvn_upper, norm_cdf, norm_pdf
from .ramps import (GL_W01, GL_X01, INDICATOR, MAX_PANELS, NARROW, RAMP_DOWN, RAMP_UP, _V_RANGE, _panels,
                    piecewise_1d, ramp_mean, ramp_product_1d, segment_slopes, sort_breakpoints)

_TINY = 1e-100  # scale below which σ(aX) equals σ(0) to double precision
_TAIL = 40.0  # |threshold| beyond which a Gaussian ramp is 0 or linear to double precision
@njit(cache=True)
def _relu_mean(tau):
    """E (G − τ)₊ = φ(τ) − τ Φ(−τ)."""
    return norm_pdf(tau) - tau * norm_cdf(-tau)


@njit(cache=True)
def orthant_moments(h, k, rho):
    """(P(A), E[X;A], E[Y;A], E[XY;A]) on A = {X > h, Y > k}, corr(X, Y) = rho."""
    if h > _TAIL or k > _TAIL:
        return 0.0, 0.0, 0.0, 0.0  # P(X > 40) underflows
    if h < -_TAIL and k < -_TAIL:
        return 1.0, 0.0, 0.0, rho
    if h < -_TAIL:  # A = {Y > k}
        pk, qk = norm_pdf(k), norm_cdf(-k)
        return qk, rho * pk, pk, rho * (k * pk + qk)
    if k < -_TAIL:
        ph, qh = norm_pdf(h), norm_cdf(-h)
        return qh, ph, rho * ph, rho * (h * ph + qh)
    if rho >= 1.0:  # Y = X, A = {X > max(h, k)}
        m = max(h, k)
        pm, qm = norm_pdf(m), norm_cdf(-m)
        return qm, pm, pm, m * pm + qm
    if rho <= -1.0:  # Y = −X, A = {h < X < −k}
        if -k <= h:
            return 0.0, 0.0, 0.0, 0.0
        ph, pk = norm_pdf(h), norm_pdf(k)
        prob = norm_cdf(-k) - norm_cdf(h)
        return prob, ph - pk, pk - ph, -(prob + h * ph + k * pk)
    s = math.sqrt((1.0 - rho) * (1.0 + rho))
    prob = bvn_upper(h, k, rho)
    qh = norm_cdf(-(k - rho * h) / s)  # P(Y > k | X = h)
    qk = norm_cdf(-(h - rho * k) / s)  # P(X > h | Y = k)
    ph, pk = norm_pdf(h), norm_pdf(k)
    ex = ph * qh + rho * pk * qk
    ey = pk * qk + rho * ph * qh
    quad = (h * h - 2.0 * rho * h * k + k * k) / (s * s)
    exy = rho * prob + rho * h * ph * qh + rho * k * pk * qk + s * norm_pdf(math.sqrt(quad)) / math.sqrt(2.0 * math.pi)
    return prob, ex, ey, exy


@njit(cache=True)
def relu_pair(h, k, rho):
    """E[(X − h)₊ (Y − k)₊] for standard normals with correlation rho."""
    prob, ex, ey, exy = orthant_moments(h, k, rho)
    return exy - k * ex - h * ey + h * k * prob


# ------------------------------------------------- stable form for large scales (narrow boxes)
@njit(cache=True)
def _orthant_ramp(h, k, c):
    """E[1{X > h}(Y − k)₊] (the k-antiderivative of −P(X > h, Y > k))."""
    prob, _, ey, _ = orthant_moments(h, k, c)
    return ey - k * prob
@njit(cache=True)
def _v_cuts(h0, h1, k0, k1, beta):
    """Sorted breakpoints of the outer V-integral of the rotated rules: ±_V_RANGE and the kinks
    v = (h − k)/(2β) of the two ramps (h ∈ {h0, h1}, k ∈ {k0, k1}) that fall inside."""
    cuts = np.empty(6)
    cuts[0], cuts[1] = -_V_RANGE, _V_RANGE
    m = 2
    for hh in (h0, h1):
        for kk in (k0, k1):
            v = (hh - kk) / (2.0 * beta)
            if -_V_RANGE < v < _V_RANGE:
                cuts[m] = v
                m += 1
    return sort_breakpoints(cuts[:m])


@njit(cache=True)
def _rotated_ramp_pair(h0, h1, k0, k1, c):
    """avg over [h0, h1] × [k0, k1] of P(X > h, Y > k; c) for c ∈ (0, 1) in X = αU + βV,
    Y = αU − βV: ∫ φ(v) ∫ φ(u) r₁(u) r₂(u) du dv, r₁ the ramp on [(h0 − βv)/α, (h1 − βv)/α],
    r₂ on [(k0 + βv)/α, (k1 + βv)/α] (inner: :func:`ramp_product_1d`); the outer integral by
    8-point Gauss–Legendre on panels of width ≤ 1 over |v| ≤ 9, split at the kinks v = (h − k)/(2β)."""
    alpha = math.sqrt(0.5 * (1.0 + c))
    beta = math.sqrt(0.5 * (1.0 - c))
    cuts = _v_cuts(h0, h1, k0, k1, beta)
    m = cuts.shape[0]
    total = 0.0
    for i in range(m - 1):
        lo, hi = cuts[i], cuts[i + 1]
        if not hi > lo:
            continue
        panels = int(math.ceil(hi - lo))
        width = (hi - lo) / panels
        for j in range(panels):
            for n in range(GL_X01.shape[0]):
                v = lo + (j + GL_X01[n]) * width
                inner = ramp_product_1d((h0 - beta * v) / alpha, (h1 - beta * v) / alpha, True,
                                        (k0 + beta * v) / alpha, (k1 + beta * v) / alpha, True)
                total += width * GL_W01[n] * norm_pdf(v) * inner
    return total


@njit(cache=True)
def ramp_pair_mean(h0, h1, k0, k1, c):
    """E ρ(X) ρ'(Y) = avg over [h0, h1] × [k0, k1] of P(X > h, Y > k), corr(X, Y) = c, for the
    unit ramps ρ on [h0, h1], ρ' on [k0, k1] (see :mod:`meanfield._kernels.ramps`): the closed form
    (mixed difference of E(X − h)₊(Y − k)₊) when both boxes are wide, else Gauss–Legendre in the
    narrow direction(s) on panels ≤ ½√(1 − c²) (closed form in a wide one), else (|c| → 1)
    the rotated rule; c = ±1 exactly: the 1-D integral of the product of the two ramps."""
    wh, wk = h1 - h0, k1 - k0
    narrow_h, narrow_k = wh < NARROW, wk < NARROW
    if not narrow_h and not narrow_k:
        return (relu_pair(h0, k0, c) - relu_pair(h1, k0, c) - relu_pair(h0, k1, c) + relu_pair(h1, k1, c)) / (wh * wk)
    if c >= 1.0:
        return ramp_product_1d(h0, h1, True, k0, k1, True)
    if c <= -1.0:  # Y = −X: P(X > h, −X > k) averaged over k is a decreasing ramp in x on [−k1, −k0]
        return ramp_product_1d(h0, h1, True, -k1, -k0, False)
    s = math.sqrt((1.0 - c) * (1.0 + c))
    nh = _panels(wh, s) if narrow_h else 1
    nk = _panels(wk, s) if narrow_k else 1
    if nh > MAX_PANELS or nk > MAX_PANELS:
        if c < 0.0:  # ρ'(Y) = 1 − ρ̃(−Y), ρ̃ the ramp on [−k1, −k0]; corr(X, −Y) = −c > 0
            return max(0.0, ramp_mean(h0, h1) - _rotated_ramp_pair(h0, h1, -k1, -k0, -c))
        return _rotated_ramp_pair(h0, h1, k0, k1, c)
    total = 0.0
    if narrow_h and narrow_k:
        for i in range(nh):
            for n in range(GL_X01.shape[0]):
                h = h0 + (i + GL_X01[n]) * wh / nh
                for j in range(nk):
                    for m in range(GL_X01.shape[0]):
                        k = k0 + (j + GL_X01[m]) * wk / nk
                        total += GL_W01[n] * GL_W01[m] * bvn_upper(h, k, c)
        return total / (nh * nk)
    if narrow_h:
        for i in range(nh):
            for n in range(GL_X01.shape[0]):
                h = h0 + (i + GL_X01[n]) * wh / nh
                total += GL_W01[n] * (_orthant_ramp(h, k0, c) - _orthant_ramp(h, k1, c))
        return total / (nh * wk)
    for j in range(nk):
        for m in range(GL_X01.shape[0]):
            k = k0 + (j + GL_X01[m]) * wk / nk
            total += GL_W01[m] * (_orthant_ramp(k, h0, c) - _orthant_ramp(k, h1, c))
    return total / (nk * wh)


@njit(cache=True)
def any_narrow(p, start, a):
    """Whether a finite segment of the piecewise-linear σ (params p) has t_{q+1} − t_q < NARROW·a."""
    for q in range(start, p.shape[0] - 2, 2):
        if p[q + 2] - p[q] < NARROW * a:
            return True
    return False


@njit(cache=True)
def pl_pair_ramps(p, a, b, c):
    """K(a, b, c) for bounded σ = σ_L + Σ_q Δv_q ρ_q (a, b > 0), each term bounded:
    K = σ_L² + σ_L Σ_q Δv_q (E ρ_q(aX) + E ρ_q(bY)) + Σ_qr Δv_q Δv_r E ρ_q(aX) ρ_r(bY)."""
    slopes = segment_slopes(p, 1)
    n = (p.shape[0] - 1) // 2
    total = 0.0
    for q in range(1, n):
        tq, tq1 = p[2 * q - 1], p[2 * q + 1]
        dq = slopes[q] * (tq1 - tq)
        total += dq * (ramp_mean(tq / a, tq1 / a) + ramp_mean(tq / b, tq1 / b))
    y0 = p[0]
    total *= y0
    total += y0 * y0
    for q in range(1, n):
        tq, tq1 = p[2 * q - 1], p[2 * q + 1]
        dq = slopes[q] * (tq1 - tq)
        for r in range(1, n):
            tr, tr1 = p[2 * r - 1], p[2 * r + 1]
            dr = slopes[r] * (tr1 - tr)
            total += dq * dr * ramp_pair_mean(tq / a, tq1 / a, tr / b, tr1 / b, c)
    return total


@njit(cache=True)
def _rotated_parts(h0, h1, k0, k1, c):
    """(E[X 1{X ∈ [h0, h1]} ρ'(Y)], P(X ∈ [h0, h1], Y ∈ [k0, k1])) for c ∈ (0, 1), ρ' the ramp on
    [k0, k1], in X = αU + βV, Y = αU − βV as :func:`_rotated_ramp_pair` (U exact per piece, V by
    Gauss–Legendre between the kinks v = (h − k)/(2β))."""
    alpha = math.sqrt(0.5 * (1.0 + c))
    beta = math.sqrt(0.5 * (1.0 - c))
    cuts = _v_cuts(h0, h1, k0, k1, beta)
    m = cuts.shape[0]
    first = 0.0
    prob = 0.0
    for i in range(m - 1):
        lo, hi = cuts[i], cuts[i + 1]
        if not hi > lo:
            continue
        panels = int(math.ceil(hi - lo))
        width = (hi - lo) / panels
        for j in range(panels):
            for n in range(GL_X01.shape[0]):
                v = lo + (j + GL_X01[n]) * width
                w = width * GL_W01[n] * norm_pdf(v)
                u0, u1 = (h0 - beta * v) / alpha, (h1 - beta * v) / alpha
                r0, r1 = (k0 + beta * v) / alpha, (k1 + beta * v) / alpha
                first += w * piecewise_1d(u0, u1, INDICATOR, r0, r1, RAMP_UP, beta * v, alpha)
                prob += w * piecewise_1d(u0, u1, INDICATOR, r0, r1, INDICATOR, 1.0, 0.0)
    return first, prob


@njit(cache=True)
def _exy_minus(h, k, c):
    """E[X (Y − k); X > h, Y > k]."""
    _, ex, _, exy = orthant_moments(h, k, c)
    return exy - k * ex


@njit(cache=True)
def ramp_pair_parts(h0, h1, k0, k1, c):
    """(E[X 1{X ∈ B} ρ'(Y)]/w, P(X ∈ B, Y ∈ B')/(w w')) for the boxes B = [h0, h1] (width w),
    B' = [k0, k1] (width w'), ρ' the ramp on B': the pieces of ∂_a K and ∂_c K, bounded, by the
    rules of :func:`ramp_pair_mean` (closed form for wide boxes, Gauss–Legendre in narrow ones,
    rotated coordinates near |c| = 1, the 1-D integral at c = ±1)."""
    wh, wk = h1 - h0, k1 - k0
    narrow_h, narrow_k = wh < NARROW, wk < NARROW
    if not narrow_h and not narrow_k:
        first = (_exy_minus(h0, k0, c) - _exy_minus(h1, k0, c) - _exy_minus(h0, k1, c) + _exy_minus(h1, k1, c)) / wk
        prob = bvn_upper(h0, k0, c) - bvn_upper(h1, k0, c) - bvn_upper(h0, k1, c) + bvn_upper(h1, k1, c)
        return first / wh, prob / (wh * wk)
    if c >= 1.0 or c <= -1.0:
        if c >= 1.0:
            lo, hi, mode = k0, k1, RAMP_UP
        else:  # Y = −X
            lo, hi, mode = -k1, -k0, RAMP_DOWN
        first = piecewise_1d(h0, h1, INDICATOR, lo, hi, mode, 0.0, 1.0)
        prob = piecewise_1d(h0, h1, INDICATOR, lo, hi, INDICATOR, 1.0, 0.0)
        return first / wh, prob / (wh * wk)
    s = math.sqrt((1.0 - c) * (1.0 + c))
    nh = _panels(wh, s) if narrow_h else 1
    nk = _panels(wk, s) if narrow_k else 1
    if nh > MAX_PANELS or nk > MAX_PANELS:
        if c > 0.0:
            first, prob = _rotated_parts(h0, h1, k0, k1, c)
        else:  # ρ'(Y) = 1 − ρ̃(−Y), ρ̃ on [−k1, −k0]; 1{Y ∈ B'} = 1{−Y ∈ −B'}; corr(X, −Y) = −c
            first, prob = _rotated_parts(h0, h1, -k1, -k0, -c)
            first = (norm_pdf(h0) - norm_pdf(h1)) - first
        return first / wh, prob / (wh * wk)
    first = 0.0
    prob = 0.0
    if narrow_h:  # average over h ∈ B of h φ(h) E[ρ'(Y) | X = h] and of φ(h) P(Y ∈ B' | X = h)/w'
        for i in range(nh):
            for n in range(GL_X01.shape[0]):
                h = h0 + (i + GL_X01[n]) * wh / nh
                w = GL_W01[n] / nh * norm_pdf(h)
                u0, u1 = (k0 - c * h) / s, (k1 - c * h) / s
                first += w * h * ramp_mean(u0, u1)
                if narrow_k:
                    inner = 0.0
                    for j in range(nk):
                        for m in range(GL_X01.shape[0]):
                            k = k0 + (j + GL_X01[m]) * wk / nk
                            inner += GL_W01[m] / nk * norm_pdf((k - c * h) / s) / s
                    prob += w * inner
                else:
                    prob += w * (norm_cdf(-u0) - norm_cdf(-u1)) / wk
        return first, prob
    # wide B, narrow B': average over k ∈ B' of E[X 1{X ∈ B}; Y > k]/w and of φ(k) P(X ∈ B | Y = k)/w
    for j in range(nk):
        for m in range(GL_X01.shape[0]):
            k = k0 + (j + GL_X01[m]) * wk / nk
            w = GL_W01[m] / nk
            first += w * (orthant_moments(h0, k, c)[1] - orthant_moments(h1, k, c)[1])
            prob += w * norm_pdf(k) * (norm_cdf(-(h0 - c * k) / s) - norm_cdf(-(h1 - c * k) / s))
    return first / wh, prob / wh


@njit(cache=True)
def pl_pair_gradient_ramps(p, a, b, c):
    """(∂_a K, ∂_c K) for bounded σ = σ_L + Σ_q Δv_q ρ_q (a, b > 0), each term bounded:
    ∂_a ρ_q(aX) = X 1{X ∈ B_q}/(a w_q), so
        ∂_a K = (1/a) Σ_q Δv_q [σ_L E[X 1{X ∈ B_q}]/w_q + Σ_r Δv_r E[X 1{X ∈ B_q} ρ_r(bY)]/w_q],
        ∂_c K = Σ_qr Δv_q Δv_r P(X ∈ B_q, Y ∈ B'_r)/(w_q w'_r)     (= ab E σ'(aX)σ'(bY)),
    B_q = [t_q/a, t_{q+1}/a], B'_r = [t_r/b, t_{r+1}/b]."""
    slopes = segment_slopes(p, 1)
    n = (p.shape[0] - 1) // 2
    y0 = p[0]
    da = 0.0
    dc = 0.0
    for q in range(1, n):
        tq, tq1 = p[2 * q - 1], p[2 * q + 1]
        dq = slopes[q] * (tq1 - tq)
        h0, h1 = tq / a, tq1 / a
        wq = h1 - h0
        if wq < NARROW:
            first = 0.0
            for i in range(GL_X01.shape[0]):
                h = h0 + GL_X01[i] * wq
                first += GL_W01[i] * h * norm_pdf(h)
        else:
            first = (norm_pdf(h0) - norm_pdf(h1)) / wq
        inner = y0 * first
        for r in range(1, n):
            tr, tr1 = p[2 * r - 1], p[2 * r + 1]
            dr = slopes[r] * (tr1 - tr)
            part, prob = ramp_pair_parts(h0, h1, tr / b, tr1 / b, c)
            inner += dr * part
            dc += dq * dr * prob
        da += dq * inner
    return da / a, dc


