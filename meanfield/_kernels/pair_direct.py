"""The pair kernel K(a, b, c) = E[σ(aX) σ(bY)] and its derivatives, pair by pair (Numba).

Mehler's series K = Σ_k c^k h_k(a) h_k(b) for |c| ≤ C_SERIES (K_SERIES terms, tail ≤
0.5^48 ≈ 3.6e-15 relative); beyond, the closed form in orthant moments for piecewise-linear σ
(:mod:`.ramp_pairs`) and for smooth σ the trapezoidal rule in the rotated coordinates
X = αU + βV, Y = αU − βV (:func:`smooth_pair_sums`; the wide rule of :mod:`.wide_smooth` from
slope · max(a, b) ≥ PAIR_WIDE). Gradients (∂_aK, ∂_bK, ∂_cK) by the same routes.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from .activation import (KIND_ERF, KIND_PIECEWISE_LINEAR, KIND_PIECEWISE_LINEAR_TAILS, KIND_TANH, act_strip, act_value,
                         act_value_deriv)
from .gaussian import norm_pdf
from .ramp_pairs import (_TAIL, _TINY, _relu_mean, any_narrow, orthant_moments, pl_pair_gradient_ramps, pl_pair_ramps,
                         relu_pair)
from .wide_smooth import _HALF_RANGE, _trapezoid, smooth_mean, wide_pair

C_SERIES = 0.5
K_SERIES = 48
#: slope · max(a, b) from which smooth σ take the wide rule of :mod:`meanfield._kernels.wide_smooth` instead
#: of the trapezoidal rule (~50 ms a pair there, growing like the square).
PAIR_WIDE = 30.0
@njit(cache=True)
def pl_pair_closed_form(p, a, b, c):
    """K(a, b, c) for σ = p[0] + Σ_i p[2i+2] (t − p[2i+1])₊ (closed form)."""
    y0 = p[0]
    n = (p.shape[0] - 1) // 2
    if a < _TINY or b < _TINY:
        # σ(aX) = σ(0) + O(a): below round-off for a < 1e-100, and exact at a = 0.
        # K = σ(0) · m(other)  (avoids overflow of t_i/a in the closed form)
        other = max(a, b) if max(a, b) >= _TINY else 0.0
        s0 = act_value(KIND_PIECEWISE_LINEAR, p, 0.0)
        if other == 0.0:
            return s0 * s0
        mo = y0
        for i in range(n):
            mo += p[2 * i + 2] * other * _relu_mean(p[2 * i + 1] / other)
        return s0 * mo
    if any_narrow(p, 1, a) or any_narrow(p, 1, b):  # the closed form cancels: ~1e-16 a b
        return pl_pair_ramps(p, a, b, c)
    ma = 0.0
    mb = 0.0
    cross = 0.0
    for i in range(n):
        ti, ci = p[2 * i + 1], p[2 * i + 2]
        ma += ci * a * _relu_mean(ti / a)
        mb += ci * b * _relu_mean(ti / b)
        for j in range(n):
            tj, cj = p[2 * j + 1], p[2 * j + 2]
            cross += ci * cj * relu_pair(ti / a, tj / b, c)
    return y0 * y0 + y0 * (ma + mb) + a * b * cross


@njit(cache=True)
def smooth_pair_sums(kind, p, a, b, c):
    """(K, ∂_aK, ∂_cK) at (a, b, c) for smooth σ: with X = αU + βV, Y = αU − βV,
        K = E[σ(aX)σ(bY)],  ∂_aK = E[σ'(aX) X σ(bY)],  ∂_cK = ab E[σ'(aX)σ'(bY)] (Price),
    each a trapezoidal sum over (U, V). σ(a(αu + βv)) is analytic in u for |Im u| <
    w/(α max(a, b)) and in v for |Im v| < w/(β max(a, b)), w = act_strip: the spacing
    follows (few nodes in V near c = 1, in U near c = −1; one where the factor is 0).
    Cost ∝ (slope · max(a, b))² nodes: used while slope · max(a, b) < PAIR_WIDE (≤ ~50 ms); beyond,
    :func:`meanfield._kernels.wide_smooth.wide_pair` (step + remainder, cost independent of the scale):
    K = G, ∂_aK = 2a ∂_{A₁}G + c b ∂_C G, ∂_cK = ab ∂_C G at zero means."""
    if kind == KIND_PIECEWISE_LINEAR or kind == KIND_PIECEWISE_LINEAR_TAILS:
        raise ValueError("smooth_pair_sums: a piecewise-linear σ takes its closed form, not the smooth rule")
    if p[1] * max(a, b) >= PAIR_WIDE:
        if min(a, b) < _TINY:  # σ(0·X) = σ(0): K = σ(0) E σ(bY) (Stein: E Yσ(bY) = b E σ'(bY))
            f0, g0 = act_value_deriv(kind, p, 0.0)
            if a < _TINY:
                mean, dm, _ = smooth_mean(kind, p, 0.0, b)
                return f0 * mean, g0 * c * b * dm, a * b * g0 * dm
            mean, dm, da = smooth_mean(kind, p, 0.0, a)
            return f0 * mean, 2.0 * a * da * f0, a * b * g0 * dm
        g, _, _, ga, _, gc = wide_pair(kind, p, kind, p, 0.0, a, 0.0, b, c)
        if a * b <= 1e250:
            return g, 2.0 * a * ga + c * b * gc, a * b * gc
        # ∂_C G underflows: ab E σ'(aX)σ'(bY) = (Σ jumps)² φ₂(t₀/a, t₀/b; c) + O(1/(slope² ab))
        rest = (1.0 - c) * (1.0 + c)
        if rest <= 0.0:  # ∂_cK ~ ab/(a + b) at |c| = 1: not evaluated (pair_gradient_direct raises)
            return g, 2.0 * a * ga + c * b * gc, math.nan
        h, k = p[2] / a, p[2] / b
        dens = math.exp(-(h * h - 2.0 * c * h * k + k * k) / (2.0 * rest)) / (2.0 * math.pi * math.sqrt(rest))
        return g, 2.0 * a * ga + c * b * gc, 4.0 * p[0] * p[0] * dens
    alpha = math.sqrt(max(0.0, 0.5 * (1.0 + c)))
    beta = math.sqrt(max(0.0, 0.5 * (1.0 - c)))
    scale = max(a, b) / act_strip(kind, p)
    hu, ju = _trapezoid(1.0 / (scale * alpha) if scale * alpha > 0.0 else math.inf)
    hv, jv = _trapezoid(1.0 / (scale * beta) if scale * beta > 0.0 else math.inf)
    wv = np.empty(2 * jv + 1)
    for iv in range(-jv, jv + 1):
        wv[iv + jv] = hv * norm_pdf(iv * hv) if jv > 0 else 1.0
    value = 0.0
    da = 0.0
    dc = 0.0
    for iu in range(-ju, ju + 1):
        u = iu * hu
        wu = hu * norm_pdf(u) if ju > 0 else 1.0
        val_u = 0.0
        da_u = 0.0
        dc_u = 0.0
        # nodes on the disc u² + v² ≤ _HALF_RANGE² (outside, φ(u)φ(v) < 3e-18 / 2π)
        kv = min(jv, int(math.sqrt(max(0.0, _HALF_RANGE**2 - u * u)) / hv)) if jv > 0 else 0
        for iv in range(-kv, kv + 1):
            v = iv * hv
            w = wv[iv + jv]
            x = alpha * u + beta * v
            y = alpha * u - beta * v
            fx, gx = act_value_deriv(kind, p, a * x)
            fy, gy = act_value_deriv(kind, p, b * y)
            val_u += w * fx * fy
            da_u += w * gx * x * fy
            dc_u += w * gx * gy
        value += wu * val_u
        da += wu * da_u
        dc += wu * dc_u
    return value, da, a * b * dc


@njit(cache=True)
def pl_pair_direct(kind, p, a, b, c):
    """K(a, b, c) without the series for piecewise-linear σ (``kind`` KIND_PIECEWISE_LINEAR): the closed form."""
    return pl_pair_closed_form(p, a, b, c)


@njit(cache=True)
def smooth_pair_direct(kind, p, a, b, c):
    """K(a, b, c) without the series for smooth σ: the quadrature of :func:`smooth_pair_sums`."""
    return smooth_pair_sums(kind, p, a, b, c)[0]


@njit(cache=True)
def pair_direct(kind, p, a, b, c):
    """K(a, b, c) without the series: closed form (piecewise linear) or quadrature (every rule
    compiled: kernels that take one kind family use :func:`pair_direct_rule`)."""
    if kind == KIND_PIECEWISE_LINEAR:
        return pl_pair_direct(kind, p, a, b, c)
    return smooth_pair_direct(kind, p, a, b, c)


def pair_direct_rule(kind):
    """The direct rule K(a, b, c) of activation ``kind`` as a kernel argument: :func:`pl_pair_direct`
    or :func:`smooth_pair_direct` (one per kind family, so a kernel compiles only the rule in use).
    An unknown kind raises ValueError."""
    if kind == KIND_PIECEWISE_LINEAR:
        return pl_pair_direct
    if kind in (KIND_TANH, KIND_ERF, KIND_PIECEWISE_LINEAR_TAILS):  # linear tails: smooth_pair_sums raises
        return smooth_pair_direct
    raise ValueError(f"kind: must be one of the activation kinds 0..3, got {kind!r}")


@njit(cache=True)
def pair_series(ha, hb, c):
    """Σ_k c^k ha[k] hb[k] (Horner)."""
    out = 0.0
    for k in range(ha.shape[0] - 1, -1, -1):
        out = out * c + ha[k] * hb[k]
    return out


@njit(cache=True)
def _pair_kernel_many(kind, p, a, b, c, ha, hb, series):
    out = np.empty(a.shape[0])
    for i in range(a.shape[0]):
        if abs(c[i]) <= C_SERIES and series[i]:
            out[i] = pair_series(ha[i], hb[i], c[i])
        else:
            out[i] = pair_direct(kind, p, a[i], b[i], c[i])
    return out


# ------------------------------------------------------------------ gradients
@njit(cache=True)
def _threshold(t, a):
    """τ = t/a with the a → 0+ limit (±∞ stands as ±2·_TAIL, 0 stays 0)."""
    if a < _TINY:
        if t == 0.0:
            return 0.0
        return math.copysign(2.0 * _TAIL, t)
    return t / a
@njit(cache=True)
def pl_pair_gradient(p, a, b, c):
    """(∂_a K, ∂_c K) for piecewise-linear σ, closed form:

    ∂_a K = E[σ'(aX) X σ(bY)] = Σ_i c_i [y₀ φ(τ_i) + b Σ_j c_j (E[XY;A_ij] − τ'_j E[X;A_ij])],
    ∂_c K = ab E[σ'(aX)σ'(bY)] = ab Σ_ij c_i c_j P(A_ij)       (Price's theorem),
    A_ij = {X > τ_i, Y > τ'_j}, τ_i = t_i/a, τ'_j = t_j/b; right limits at a = 0.
    """
    n = (p.shape[0] - 1) // 2
    if a >= _TINY and b >= _TINY and (any_narrow(p, 1, a) or any_narrow(p, 1, b)):
        return pl_pair_gradient_ramps(p, a, b, c)  # the closed form cancels: ~1e-16 a b
    if b < _TINY:  # σ(bY) ≡ σ(0): ∂_a K = σ(0) m'(a), ∂_c K = 0
        s0 = act_value(KIND_PIECEWISE_LINEAR, p, 0.0)
        dm = 0.0
        for i in range(n):
            dm += p[2 * i + 2] * norm_pdf(min(abs(_threshold(p[2 * i + 1], a)), 2 * _TAIL))
        return s0 * dm, 0.0
    da, _, dc = _pl_orthant_gradient(p, a, b, c, False)
    return da, dc


@njit(cache=True)
def _pl_orthant_gradient(p, a, b, c, with_b):
    """(∂_a K, ∂_b K, ∂_c K) of piecewise-linear σ by the orthant moments of :func:`pl_pair_gradient`
    (b ≥ _TINY); ∂_b K (0 unless ``with_b``) from the same moments, X ↔ Y:

        ∂_b K = Σ_j c_j y₀ φ(τ'_j) + a Σ_ij c_i c_j (E[XY;A_ij] − τ_i E[Y;A_ij])."""
    y0 = p[0]
    n = (p.shape[0] - 1) // 2
    db = 0.0
    if with_b:
        for j in range(n):
            db += p[2 * j + 2] * y0 * norm_pdf(min(abs(p[2 * j + 1] / b), 2 * _TAIL))
    da = 0.0
    both = 0.0
    for i in range(n):
        ci = p[2 * i + 2]
        ti = _threshold(p[2 * i + 1], a)
        inner = y0 * norm_pdf(min(abs(ti), 2 * _TAIL))
        for j in range(n):
            cj = p[2 * j + 2]
            tj = p[2 * j + 1] / b
            prob, ex, ey, exy = orthant_moments(ti, tj, c)
            inner += b * cj * (exy - tj * ex)
            if with_b:
                db += a * ci * cj * (exy - ti * ey)
            both += ci * cj * prob
        da += ci * inner
    return da, db, a * b * both


@njit(cache=True)
def self_pair_gradient(kind, p, a):
    """∂_a K(a, b, 1) at b = a: E[σ'(aX) X σ(aX)] (the j = i term of the drift), closed form
    or the trapezoidal rule of :func:`smooth_pair_sums` at c = 1 (one node set, one tanh a node)."""
    if kind == KIND_PIECEWISE_LINEAR:
        return pl_pair_gradient(p, a, a, 1.0)[0]
    if kind == KIND_PIECEWISE_LINEAR_TAILS:
        raise ValueError("self_pair_gradient: no rule for σ with linear tails")
    if p[1] * a >= PAIR_WIDE:
        return smooth_pair_sums(kind, p, a, a, 1.0)[1]
    h, n = _trapezoid(act_strip(kind, p) / a if a > 0.0 else math.inf)
    total = 0.0
    for i in range(-n, n + 1):
        x = i * h
        w = h * norm_pdf(x) if n > 0 else 1.0
        f, g = act_value_deriv(kind, p, a * x)
        total += w * f * g * x
    return total


@njit(cache=True)
def pl_pair_gradient_both(p, a, b, c):
    """(∂_a K, ∂_b K, ∂_c K) for piecewise-linear σ, ∂_b K(a, b, c) = ∂_a K(b, a, c). Where both
    scales are regular and no segment is narrow, one set of orthant moments serves both
    (:func:`_pl_orthant_gradient`): half the bivariate-normal evaluations of two calls;
    elsewhere it is two calls of :func:`pl_pair_gradient`."""
    if a < _TINY or b < _TINY or any_narrow(p, 1, a) or any_narrow(p, 1, b):
        da, dc = pl_pair_gradient(p, a, b, c)
        return da, pl_pair_gradient(p, b, a, c)[0], dc
    return _pl_orthant_gradient(p, a, b, c, True)


@njit(cache=True)
def pair_gradient_direct_both(kind, p, a, b, c):
    """(∂_a K, ∂_b K, ∂_c K) without the series: :func:`pl_pair_gradient_both` for piecewise-linear
    σ, else two calls of :func:`pair_gradient_direct`."""
    if kind == KIND_PIECEWISE_LINEAR:
        return pl_pair_gradient_both(p, a, b, c)
    da, dc = pair_gradient_direct(kind, p, a, b, c)
    return da, pair_gradient_direct(kind, p, b, a, c)[0], dc


@njit(cache=True)
def pair_gradient_direct(kind, p, a, b, c):
    if kind == KIND_PIECEWISE_LINEAR:
        return pl_pair_gradient(p, a, b, c)
    _, da, dc = smooth_pair_sums(kind, p, a, b, c)
    if math.isnan(dc):
        raise ValueError("a, b: ∂K/∂c at |c| = 1 grows like a·b/(a + b) and is not evaluated beyond a·b = 1e250")
    return da, dc


@njit(cache=True)
def pair_gradient_series(ha, dha, hb, c):
    """(Σ_k c^k h_k'(a) h_k(b), Σ_k k c^{k−1} h_k(a) h_k(b)), stopped once |c|^k < 1e-16."""
    da = dha[0] * hb[0]
    dc = 0.0
    pw = 1.0  # c^(k-1)
    for k in range(1, ha.shape[0]):
        dc += k * pw * ha[k] * hb[k]
        pw_k = pw * c
        da += pw_k * dha[k] * hb[k]
        pw = pw_k
        if abs(pw) * k < 1e-16:
            break
    return da, dc


@njit(cache=True)
def _pair_gradient_many(kind, p, a, b, c, ha, dha, hb, series):
    da = np.empty(a.shape[0])
    dc = np.empty(a.shape[0])
    for i in range(a.shape[0]):
        if abs(c[i]) <= C_SERIES and series[i]:
            da[i], dc[i] = pair_gradient_series(ha[i], dha[i], hb[i], c[i])
        else:
            da[i], dc[i] = pair_gradient_direct(kind, p, a[i], b[i], c[i])
    return da, dc


