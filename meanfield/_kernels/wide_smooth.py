"""Gaussian integrals of smooth sigmoidal σ (tanh, erf) at wide scales, exact for every finite input.

σ(t) = shift + amp·S(κ(t − t₀)) with S = tanh or erf(·/√2) is a step plus a fast-decaying odd
remainder:

    σ = σ_∞ + r,   σ_∞(t) = shift + amp·sgn(t − t₀),   r(t₀ + x) = −r(t₀ − x) = amp (S(κx) − 1) (x > 0),

|r(t₀ ± x)| ≤ 2|amp| e^{−2κx} (tanh), |amp| erfc(κx/√2) (erf). The step's integrals are closed forms
(Φ, and the bivariate normal orthant probability for pairs); r, σ' and σ'' live within
|x| ≤ L = 23/κ (tanh) or 10/κ (erf) of t₀, where they are integrated by 8-point Gauss–Legendre
on panels of width ≤ ½/κ (the poles of tanh are at distance π/(2κ)), in the offset x = t − t₀
itself (t = m + sG never has to be rounded near t₀, whatever m and s). So the cost does not
grow with the scale s (the trapezoidal rule of :mod:`meanfield.gaussian_integrals` takes ~46 κs
nodes a dimension), and every term is bounded:

    E σ(m + sG)  = shift + amp·erf(δ/(s√2)) + ∫₀^L r(t₀ + x) [p(t₀ + x) − p(t₀ − x)] dx,  δ = m − t₀,
    E σ'(m + sG) = ∫₀^L σ'(t₀ + x) [p(t₀ + x) + p(t₀ − x)] dx   (σ' even, σ'' odd about t₀),

p the density of m + sG; p(t₀ + x) − p(t₀ − x) = sgn δ · p(t₀ + x) (−expm1(−2x|δ|/s²)) without
cancellation. Pairs E σ₁(u)σ₂(v) (u = m₁ + s₁X, v = m₂ + s₂Y, corr c, ordered so that
κ₁s₁ ≥ κ₂s₂): E σ₁(u)F(v) = E σ_∞,1(u)F(v) + ∫ r₁(t) p_u(t) E[F(v) | u = t] dt, the conditional
mean by :func:`wide_mean` or the narrow rule (v | u = t ~ N(m₂ + c s₂(t − m₁)/s₁, (1 − c²)s₂²), a
function of t on scales ≥ 1/κ₁); E sgn(u − t₀₁)F(v) = ∫ F(t) p_v(t) erf(·) dt for decaying F
(σ₂', σ₂'', r₂), the erf of the conditional law of u | v = t, on panels refined geometrically
towards its transition (width √(1 − c²) s₂/|c|, a jump at |c| = 1). The ∂_A terms of pairs,
∫ σ'' p F with σ'' odd and p F slowly varying, are integrated by parts, −∫ σ' (p F)' (a direct sum
would cancel to ~1e-16 over the relative variation of p F across the width 1/κ).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from .gaussian import bvn_upper, norm_cdf, norm_pdf
from .ramps import GL_W01, GL_X01
from .activation import KIND_TANH, act_deriv, act_deriv2, act_strip, act_value

#: κs (slope × scale) from which the wide rule replaces the trapezoidal rule (which takes
#: ~46 κs nodes a dimension and loses ~1e-16 per node).
WIDE = 4.0
_PANEL = 0.5  # panel width × κ
_FINE_PANELS = 20  # panels of the finest width next to a transition (then doubling)
_RANGE = 9.0  # |G| ≤ 9: ∫_{|g|>9} φ < 3e-19
_SQRT_HALF = math.sqrt(0.5)
# The trapezoidal rule for smooth σ at narrow scales (also smooth_pair_sums): nodes on
# |x| ≤ _HALF_RANGE (∫_{|x|>9} φ < 3e-19), spacing h = 2π τ / _ALIASING with τ = 0.8 × the strip
# half-width of analyticity (capped at _MAX_STRIP, where the Gaussian itself limits h ≤ 0.47):
# the aliasing error of ∫ φ F is ~ e^{−2πτ/h} = e^{−40} relative.
_HALF_RANGE = 9.0
_ALIASING = 40.0
_MAX_STRIP = 3.0


@njit(cache=True, inline="always")
def smooth_parts(kind, p):
    """(amp, κ, t₀, shift, L) of σ = shift + amp S(κ(t − t₀)), p = (amp, slope, center, shift)."""
    kappa = p[1]
    return p[0], kappa, p[2], p[3], (23.0 if kind == KIND_TANH else 10.0) / kappa


@njit(cache=True)
def tail_terms(kind, p, x):
    """(r(t₀ + x), σ'(t₀ + x), σ''(t₀ + x)) for x ≥ 0 (r = σ − shift − amp), without cancellation."""
    amp, kappa = p[0], p[1]
    if kind == KIND_TANH:
        e = math.exp(-2.0 * kappa * x)
        inv = 1.0 / (1.0 + e)
        sech2 = 4.0 * e * inv * inv
        return -2.0 * amp * e * inv, amp * kappa * sech2, -2.0 * amp * kappa * kappa * (1.0 - e) * inv * sech2
    t = p[2] + x
    return -amp * math.erfc(_SQRT_HALF * kappa * x), act_deriv(kind, p, t), act_deriv2(kind, p, t)


@njit(cache=True)
def wide_mean(kind, p, m, s):
    """(M, ∂_m M, ∂_A M) of M = E σ(m + sG), A = s², s > 0 (module docstring)."""
    amp, kappa, t0, shift, span = smooth_parts(kind, p)
    delta = m - t0
    sign = 1.0 if delta >= 0.0 else -1.0
    a = abs(delta) / s
    value = shift + amp * math.erf(_SQRT_HALF * delta / s)
    dm = 0.0
    da = 0.0
    span = min(span, s * (_RANGE + a))  # beyond, p(t₀ ± x) < φ(9)
    panels = max(1, int(math.ceil(span * kappa / _PANEL)))
    width = span / panels
    for j in range(panels):
        for n in range(GL_X01.shape[0]):
            x = (j + GL_X01[n]) * width
            w = width * GL_W01[n] / s
            z = x / s
            near = norm_pdf(z - a)  # s p(t₀ + sgn δ x)
            far = norm_pdf(z + a)
            diff = sign * near * -math.expm1(-2.0 * z * a)  # s [p(t₀ + x) − p(t₀ − x)]
            r, d1, d2 = tail_terms(kind, p, x)
            value += w * r * diff
            dm += w * d1 * (near + far)
            da += w * d2 * diff
    return value, dm, 0.5 * da


@njit(cache=True)
def _offsets(length, fine, width, out, count):
    """Append to out[count:] the offsets d₁ < d₂ < … ≤ ``length`` (last = length) of panels: _FINE_PANELS
    of width ``fine``, then growing by factors of 2 up to ``width``; returns the new count."""
    d = 0.0
    step = min(fine, width)
    steps = 0
    while True:
        nxt = d + step
        if nxt >= length or length - nxt < 0.25 * step:
            out[count] = length
            return count + 1
        out[count] = nxt
        count += 1
        d = nxt
        steps += 1
        if steps >= _FINE_PANELS:  # ~10 fine widths resolved (a Gaussian transition), then growing
            step = min(2.0 * step, width)


@njit(cache=True)
def panel_edges(lo, hi, width, point, fine):
    """Sorted panel edges of [lo, hi] with widths ≤ ``width``; when lo < point < hi, ``point`` is
    an edge and the panels next to it grow geometrically from ``fine`` (≤ width) on both sides."""
    if not fine > 0.0 or fine > width:
        fine = width
    graded = 2 * (int(math.log2(width / fine)) + 2 + _FINE_PANELS) if fine < width else 0
    out = np.empty(int((hi - lo) / width) + graded + 8)
    if not lo < point < hi:
        out[0] = lo
        count = _offsets(hi - lo, width, width, out, 1)
        for i in range(1, count):
            out[i] = lo + out[i]
        out[count - 1] = hi
        return out[:count]
    left = np.empty(int((point - lo) / width) + graded + 4)
    nl = _offsets(point - lo, fine, width, left, 0)
    for i in range(nl):  # lo … point, ascending
        out[i] = point - left[nl - 1 - i]
    out[0] = lo
    out[nl] = point
    count = _offsets(hi - point, fine, width, out, nl + 1)
    for i in range(nl + 1, count):
        out[i] = point + out[i]
    out[count - 1] = hi
    return out[:count]


@njit(cache=True)
def _trapezoid(strip):
    """(spacing h, J) of the rule x_j = j h, |j| ≤ J, for ∫ φ(x) F(x) dx with F analytic
    in |Im x| < strip; (0, 0), a single node at 0, when F is constant (strip = inf)."""
    if not math.isfinite(strip):
        return 0.0, 0
    h = 2.0 * math.pi * min(0.8 * strip, _MAX_STRIP) / _ALIASING
    return h, int(math.ceil(_HALF_RANGE / h))


@njit(cache=True)
def erf_mean(p, m, s):
    """(M, ∂_m M, ∂_A M) for σ = κ' + ν Φ(γ(t − t₀)) (σ = shift + amp erf(γ(t − t₀)/√2): ν = 2 amp,
    κ' = shift − amp): M = κ' + ν Φ(h), h = (m − t₀)/q, q = √(γ⁻² + s²) (no overflow of γ²s²)."""
    nu, gamma, t0 = 2.0 * p[0], p[1], p[2]
    q = math.hypot(1.0 / gamma, s)
    h = (m - t0) / q
    dens = nu * norm_pdf(h)
    return p[3] - p[0] + nu * norm_cdf(h), dens / q, -(dens * h / q) / (2.0 * q)


@njit(cache=True)
def smooth_mean(kind, p, m, s):
    """(M, ∂_m M, ∂_A M) of M = E σ(m + sG) for smooth σ, s ≥ 0: erf in closed form; tanh by the
    trapezoidal rule in G while κs < WIDE, else :func:`wide_mean`; s < 1e-100: (σ(m), σ'(m), ½σ''(m))."""
    if kind != KIND_TANH:
        return erf_mean(p, m, s)
    if s < 1e-100:  # u = m: ∂_A M = ½ σ''(m) (conditional means given u at |c| = 1 need it)
        return act_value(kind, p, m), act_deriv(kind, p, m), 0.5 * act_deriv2(kind, p, m)
    if s * p[1] >= WIDE:
        return wide_mean(kind, p, m, s)
    step, count = _trapezoid(act_strip(kind, p) / s)
    value = 0.0
    dm = 0.0
    da = 0.0
    for j in range(-count, count + 1):
        x = j * step
        w = step * norm_pdf(x) if count > 0 else 1.0
        t = m + s * x
        value += w * act_value(kind, p, t)
        dm += w * act_deriv(kind, p, t)
        da += w * act_deriv2(kind, p, t)
    return value, dm, 0.5 * da


@njit(cache=True)
def _sign_moments(k1, p1, k2, p2, m1, s1, m2, s2, c):
    """(E sgn(u − t₀₁) r₂(v), E sgn(u − t₀₁) σ₂'(v), ½ E sgn(u − t₀₁) σ₂''(v)) by a 1-D rule in the
    offset x = v − t₀₂, the sign's conditional mean erf(·) refined towards its transition."""
    amp2, kap2, t02, _, span = smooth_parts(k2, p2)
    root = math.sqrt(max(0.0, (1.0 - c) * (1.0 + c)))
    hx = (p1[2] - m1) / s1  # u < t₀₁ ⇔ X < hx
    hy = (t02 - m2) / s2  # v = t₀₂ + x ⇔ Y = hy + x/s₂
    lo = max(-span, s2 * (-_RANGE - hy))
    hi = min(span, s2 * (_RANGE - hy))
    out0 = 0.0
    out1 = 0.0
    out2 = 0.0
    if not hi > lo:
        return out0, out1, out2
    width = min(_PANEL / kap2, _PANEL * s2)
    # X | Y = y ~ N(c y, 1 − c²): E[sgn(X − hx) | Y = y] = erf((c y − hx)/(root √2)); transition at
    # y = hx/c, i.e. x* = s₂ (hx/c − hy), of width root s₂/|c| in x
    if c != 0.0:
        point = s2 * (hx / c - hy)
        fine = 0.5 * root * s2 / abs(c)
    else:
        point = math.inf
        fine = math.inf
    edges = panel_edges(lo, hi, width, point, fine)
    if lo < 0.0 < hi:  # r₂ jumps at x = 0: make it an edge
        edges = np.sort(np.append(edges, 0.0))
    for j in range(edges.shape[0] - 1):
        a, b = edges[j], edges[j + 1]
        if not b > a:
            continue
        for n in range(GL_X01.shape[0]):
            x = a + (b - a) * GL_X01[n]
            w = (b - a) * GL_W01[n] * norm_pdf(hy + x / s2) / s2
            y = hy + x / s2
            arg = c * y - hx
            if root > 0.0:
                sgn = math.erf(_SQRT_HALF * arg / root)
                slope = c / (s2 * root) * 2.0 * norm_pdf(arg / root)  # dS/dx
            else:
                sgn = 1.0 if arg > 0.0 else (-1.0 if arg < 0.0 else 0.0)
                slope = 0.0
            r, d1, _ = tail_terms(k2, p2, abs(x))
            if x < 0.0:
                r = -r
            out0 += w * sgn * r
            out1 += w * sgn * d1
            # ∫ σ₂'' p_v S = −∫ σ₂' (p_v' S + p_v S') (by parts: σ₂'' is odd and S slowly varying, the
            # direct sum would cancel to ~1e-16/(its width × S')); p_v' = −(y/s₂) p_v
            out2 += w * d1 * (y * sgn / s2 - slope)
    if root == 0.0 and c != 0.0 and lo < point < hi:  # S jumps by 2 sgn(c) at `point`
        out2 -= 2.0 * math.copysign(1.0, c) * tail_terms(k2, p2, abs(point))[1] * norm_pdf(hy + point / s2) / s2
    return out0, out1, 0.5 * out2


@njit(cache=True)
def wide_pair_ordered(k1, p1, k2, p2, m1, s1, m2, s2, c, ):
    """(G, ∂_{m₁}G, ∂_{m₂}G, ∂_{A₁}G, ∂_{A₂}G, ∂_C G) of G = E σ₁(u)σ₂(v) for s₁ > 0 (module docstring)."""
    amp1, kap1, t01, shift1, span1 = smooth_parts(k1, p1)
    amp2, _, t02, shift2, _ = smooth_parts(k2, p2)
    root = math.sqrt(max(0.0, (1.0 - c) * (1.0 + c)))
    # step of σ₁: E σ_∞,1(u) F(v) = shift₁ E F(v) + amp₁ E sgn(u − t₀₁) F(v)
    mean2, dmean2, amean2 = smooth_mean(k2, p2, m2, s2, )
    hx, hy = (t01 - m1) / s1, (t02 - m2) / s2
    both = bvn_upper(-hx, -hy, c)  # P(X < hx, Y < hy)
    px, py = norm_cdf(hx), norm_cdf(hy)
    sgn_x = (1.0 - px) - px  # E sgn(u − t₀₁)
    sgn_xy = 1.0 - 2.0 * px - 2.0 * py + 4.0 * both  # E sgn(u − t₀₁) sgn(v − t₀₂)
    s_r2, s_d2, s_a2 = _sign_moments(k1, p1, k2, p2, m1, s1, m2, s2, c)
    value = shift1 * mean2 + amp1 * (shift2 * sgn_x + amp2 * sgn_xy + s_r2)
    dm2 = shift1 * dmean2 + amp1 * s_d2
    da2 = shift1 * amean2 + amp1 * s_a2
    dm1 = 0.0
    da1 = 0.0
    dc = 0.0
    # remainder of σ₁ and σ₁', σ₁'': ∫ f(t₀₁ ± x) p_u E[· | u] over the offset x ∈ [0, L₁]
    lo = 0.0
    hi = min(span1, s1 * (_RANGE + abs(hx)))
    if hi > lo:
        panels = max(1, int(math.ceil(hi / min(_PANEL / kap1, _PANEL * s1))))
        width = hi / panels
        base = (m2 - t02) + c * s2 * hx  # E[v | u = t₀₁] − t₀₂
        for j in range(panels):
            for n in range(GL_X01.shape[0]):
                x = (j + GL_X01[n]) * width
                r, d1, _ = tail_terms(k1, p1, x)
                for side in (1.0, -1.0):
                    w = width * GL_W01[n] * norm_pdf(hx + side * x / s1) / s1
                    if w == 0.0:
                        continue
                    mean = t02 + base + c * s2 * (side * x / s1)
                    g, dg, ag = smooth_mean(k2, p2, mean, root * s2, )
                    value += w * side * r * g
                    dm1 += w * d1 * g
                    # ∫ σ₁'' p_u g = −∫ σ₁' (p_u' g + p_u g') by parts (σ₁'' odd: no cancellation),
                    # p_u' = −(z/s₁) p_u, z = (t − m₁)/s₁; g' = (c s₂/s₁) E[σ₂'(v) | u = t]
                    da1 += w * d1 * ((hx + side * x / s1) * g - c * s2 * dg) / s1
                    dc += w * d1 * dg
                    dm2 += w * side * r * dg
                    da2 += w * side * r * ag
    return value, dm1, dm2, 0.5 * da1, da2, dc


@njit(cache=True)
def wide_pair(k1, p1, k2, p2, m1, s1, m2, s2, c, ):
    """:func:`wide_pair_ordered` with the wider σ (larger κs) first."""
    if p1[1] * s1 >= p2[1] * s2:
        return wide_pair_ordered(k1, p1, k2, p2, m1, s1, m2, s2, c, )
    g, d2, d1, a2, a1, dc = wide_pair_ordered(k2, p2, k1, p1, m2, s2, m1, s1, c, )
    return g, d1, d2, a1, a2, dc
