"""Gaussian (Hermite) coefficients of piecewise-linear σ = y₀ + l t + Σ_q c_q (t − t_q)₊ (Numba).

h_k(a) = E[σ(aG) He_k(G)]/√k! and dh_k/da in closed form (Stein's identity reduces them to φ, Φ
and Hermite polynomials at the thresholds τ_q = t_q/a), Gauss–Legendre on narrow segments (width
< NARROW, where the closed form cancels); E σ(aG)² by the ramp integrals of :mod:`.ramps`.
The kernels of :class:`meanfield.activations.PiecewiseLinear`.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from .activation import KIND_PIECEWISE_LINEAR, _SQRT_HALF, act_value
from .ramps import GL_W01, GL_X01, NARROW, ramp_mean, ramp_variance_part

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@njit(cache=True)
def _pl_hermite_table(a, tau_t, upper_t, offset, knots, coefs, values, derivs):
    """values[k, m] = h_k(a_m), derivs[k, m] = h_k'(a_m) for σ = offset + Σ_i c_i (t − t_i)₊,
    k = 0..K−1 (either output may be None: Numba compiles it out), with tau_t[i, m] = t_i/a_m, upper_t = Φ(−tau_t) and the points m in the
    inner loops (vectorised). With q_n(τ) = φ(τ)He_n(τ)/√n! (stable three-term recurrence):
        h_0 = offset + Σ_i c_i (a q_0(τ_i) − t_i Φ(−τ_i)),  h_1 = a Σ_i c_i Φ(−τ_i),
        h_k = a Σ_i c_i q_{k−2}(τ_i) / √(k(k−1))                             (k ≥ 2),
        h_0' = Σ_i c_i q_0(τ_i),  h_1' = Σ_i c_i (Φ(−τ_i) + τ_i q_0(τ_i)),
        h_k' = Σ_i c_i [q_{k−2}(τ_i)/√(k(k−1)) + τ_i q_{k−1}(τ_i)/√k]        (k ≥ 2)."""
    n_k, n_m = (values if values is not None else derivs).shape
    q_prev = np.empty(n_m)  # q_{k−2}(τ_i) per point
    q = np.empty(n_m)  # q_{k−1}(τ_i)
    coef = np.empty(n_m)  # c_i restricted to the wide segments next to knot i, per point
    for k in range(n_k):
        for m in range(n_m):
            if values is not None:
                values[k, m] = offset if k == 0 else 0.0
            if derivs is not None:
                derivs[k, m] = 0.0
    n_knots = knots.shape[0]
    slopes = np.zeros(n_knots + 1)  # slope s_q on [t_q, t_{q+1}] of Σ c_i (t − t_i)₊
    for i in range(n_knots):
        slopes[i + 1] = slopes[i] + coefs[i]
    _narrow_segments(a, knots, slopes, values, derivs)
    for i in range(n_knots):
        knot = knots[i]
        t, up = tau_t[i], upper_t[i]
        for m in range(n_m):
            # c_i = s_i − s_{i−1}: the closed form keeps the ends of wide segments only
            right = slopes[i + 1] if i + 1 == n_knots or knots[i + 1] - knot >= NARROW * a[m] else 0.0
            left = slopes[i] if i == 0 or knot - knots[i - 1] >= NARROW * a[m] else 0.0
            coef[m] = right - left
        for m in range(n_m):
            c = coef[m]
            q_prev[m] = _INV_SQRT_2PI * math.exp(-0.5 * t[m] * t[m])
            q[m] = t[m] * q_prev[m]
            if values is not None:
                values[0, m] += c * (a[m] * q_prev[m] - knot * up[m])
                if n_k > 1:
                    values[1, m] += a[m] * c * up[m]
            if derivs is not None:
                derivs[0, m] += c * q_prev[m]
                if n_k > 1:
                    derivs[1, m] += c * (up[m] + t[m] * q_prev[m])
        for k in range(2, n_k):
            inv_pair = 1.0 / math.sqrt(k * (k - 1))
            inv_root = 1.0 / math.sqrt(k)
            root_prev = math.sqrt(k - 1)
            for m in range(n_m):
                qp, qq, c = q_prev[m], q[m], coef[m]
                if values is not None:
                    values[k, m] += a[m] * c * qp * inv_pair
                if derivs is not None:
                    derivs[k, m] += c * (qp * inv_pair + t[m] * qq * inv_root)
                q_prev[m] = qq
                q[m] = (t[m] * qq - root_prev * qp) * inv_root


@njit(cache=True)
def _narrow_segments(a, knots, slopes, values, derivs):
    """Add the segments with t_{q+1} − t_q < NARROW·a_m, where the closed form cancels, by the
    8-point Gauss–Legendre average over the box B = [t_q/a, t_{q+1}/a] (Δv_q = s_q (t_{q+1} − t_q)):
        h_0 += Δv_q avg_B Φ(−h),  h_k += Δv_q avg_B q_{k−1}(h)/√k,  h_k' += (Δv_q/a) avg_B h q_k(h)."""
    n_k = (values if values is not None else derivs).shape[0]
    for q in range(1, knots.shape[0]):
        gap = knots[q] - knots[q - 1]
        dv = slopes[q] * gap
        for m in range(a.shape[0]):
            if not gap < NARROW * a[m]:
                continue
            h0, width = knots[q - 1] / a[m], gap / a[m]
            for n in range(GL_X01.shape[0]):
                h = h0 + width * GL_X01[n]
                weight = dv * GL_W01[n]
                q_prev = _INV_SQRT_2PI * math.exp(-0.5 * h * h)  # q_0(h)
                if values is not None:
                    values[0, m] += weight * 0.5 * math.erfc(h * _SQRT_HALF)
                if derivs is not None:
                    derivs[0, m] += weight / a[m] * h * q_prev
                q_cur = h * q_prev  # q_1(h)
                for k in range(1, n_k):
                    if values is not None:
                        values[k, m] += weight * q_prev / math.sqrt(k)  # q_{k−1}/√k
                    if derivs is not None:
                        derivs[k, m] += weight / a[m] * h * q_cur  # h q_k
                    q_prev, q_cur = q_cur, (h * q_cur - math.sqrt(k) * q_prev) / math.sqrt(k + 1)


@njit(cache=True)
def _pl_second_moment(kind, p, a, out):
    """out[m] = E σ(a_m G)² for σ = y₀ + l t + Σ_q c_q (t − t_q)₊, with h_q = t_q/a:
        σ(aG) = y₀ + l a G + a Σ_q c_q (G − h_q)₊,   E(G − h)₊ = φ(h) − hΦ(−h),
        E G(G − h)₊ = Φ(−h),   E(G − h)₊(G − k)₊ = (1 + hk)Φ(−k) − hφ(k)   (k = max(h, k));
    at a = 0, σ(0)²."""
    start = 1 if kind == KIND_PIECEWISE_LINEAR else 2
    left = 0.0 if kind == KIND_PIECEWISE_LINEAR else p[1]
    for m in range(a.shape[0]):
        s = a[m]
        if s < 1e-100:
            v = act_value(kind, p, 0.0)
            out[m] = v * v
            continue
        if kind == KIND_PIECEWISE_LINEAR and _has_narrow(p, s):
            out[m] = _bounded_second_moment(p, s)
            continue
        total = p[0] * p[0] + left * left * s * s
        for q in range(start, p.shape[0], 2):
            h, c = p[q] / s, p[q + 1]
            ramp = _INV_SQRT_2PI * math.exp(-0.5 * h * h) - h * 0.5 * math.erfc(h * _SQRT_HALF)
            total += 2.0 * c * s * (p[0] * ramp + left * s * 0.5 * math.erfc(h * _SQRT_HALF))
            for r in range(start, p.shape[0], 2):
                k = p[r] / s
                lo, hi = min(h, k), max(h, k)
                both = (1.0 + lo * hi) * 0.5 * math.erfc(hi * _SQRT_HALF) - lo * _INV_SQRT_2PI * math.exp(-0.5 * hi * hi)
                total += c * p[r + 1] * s * s * both
        out[m] = total


@njit(cache=True)
def _has_narrow(p, a):
    """Whether a segment of the bounded σ (params p) has t_{q+1} − t_q < NARROW·a."""
    for q in range(1, p.shape[0] - 2, 2):
        if p[q + 2] - p[q] < NARROW * a:
            return True
    return False


@njit(cache=True)
def _bounded_second_moment(p, a):
    """E σ(aG)² for bounded σ = σ_L + Σ_q Δv_q ρ_q, every term bounded (ρ_q ρ_r = ρ_r for q < r):
        σ_L² + 2σ_L Σ_q Δv_q E ρ_q + Σ_q Δv_q² (E ρ_q − E ρ_q(1 − ρ_q)) + 2 Σ_{q<r} Δv_q Δv_r E ρ_r."""
    y0 = p[0]
    n = (p.shape[0] - 1) // 2
    slope = 0.0
    total = y0 * y0
    below = 0.0  # Σ_{q<r} Δv_q
    for r in range(1, n):
        slope += p[2 * r]
        t0, t1 = p[2 * r - 1], p[2 * r + 1]
        dv = slope * (t1 - t0)
        mean = ramp_mean(t0 / a, t1 / a)
        total += 2.0 * y0 * dv * mean + dv * dv * (mean - ramp_variance_part(t0 / a, t1 / a))
        total += 2.0 * below * dv * mean
        below += dv
    return total


