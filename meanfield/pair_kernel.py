"""The pair kernel K(a, b, c) = E[σ(aX) σ(bY)], X, Y standard normal, corr(X, Y) = c.

For w, w' ∈ R^d and x ~ N(0, s² I_d), ⟨w,x⟩ = s‖w‖X and ⟨w',x⟩ = s‖w'‖Y with
c = cos∠(w, w'), so E_x[σ(⟨w,x⟩)σ(⟨w',x⟩)] = K(s‖w‖, s‖w'‖, c).

Evaluation (every c ∈ [−1, 1], a, b ≥ 0):
* |c| ≤ C_SERIES: Mehler's series K = Σ_k c^k h_k(a) h_k(b), truncated after
  K_SERIES terms; by Cauchy-Schwarz and Bessel's inequality the tail is at most
  |c|^K √(E σ(aG)² E σ(bG)²) ≤ 0.5^48 ≈ 3.6e-15 relative.
* otherwise, piecewise-linear σ: closed form in φ, Φ and the bivariate normal
  orthant probability (σ = y₀ + Σ c_i (t − t_i)₊, so K is a sum of
  E[(X−h)₊(Y−k)₊]); smooth σ: the trapezoidal rule in the rotated coordinates
  X = αU + βV, Y = αU − βV (α = √((1+c)/2), β = √((1−c)/2), U, V independent), with
  the node spacing in each set by the strip where the integrand is analytic
  (:func:`smooth_pair_sums`): near c = ±1 the integrand hardly depends on one of
  U, V, which then takes few nodes.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._gaussian import bvn_upper, norm_cdf, norm_pdf
from ._ramps import (GL_W01, GL_X01, INDICATOR, MAX_PANELS, NARROW, RAMP_DOWN, RAMP_UP, _V_RANGE, _panels,
                     piecewise_1d, ramp_mean, ramp_product_1d, segment_slopes)
from .activations import (KIND_PIECEWISE_LINEAR, KIND_PIECEWISE_LINEAR_TAILS, Activation, act_strip, act_value,
                          act_value_deriv)
from ._validation import as_finite_array, check_instance
from ._wide_smooth import _HALF_RANGE, _trapezoid, smooth_mean, wide_pair

C_SERIES = 0.5
K_SERIES = 48
#: slope · max(a, b) from which smooth σ take the wide rule of :mod:`meanfield._wide_smooth` instead
#: of the trapezoidal rule (~50 ms a pair there, growing like the square).
PAIR_WIDE = 30.0

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
    :func:`meanfield._wide_smooth.wide_pair` (step + remainder, cost independent of the scale):
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
def pair_direct(kind, p, a, b, c):
    """K(a, b, c) without the series: closed form (piecewise linear) or quadrature."""
    if kind == KIND_PIECEWISE_LINEAR:
        return pl_pair_closed_form(p, a, b, c)
    return smooth_pair_sums(kind, p, a, b, c)[0]


@njit(cache=True)
def pair_series(ha, hb, c):
    """Σ_k c^k ha[k] hb[k] (Horner)."""
    out = 0.0
    for k in range(ha.shape[0] - 1, -1, -1):
        out = out * c + ha[k] * hb[k]
    return out


def _series_points(activation, kind, p, a, b):
    """Where Mehler's series may be used: everywhere for piecewise-linear σ; for smooth σ where
    slope · max(a, b) is within the Hermite quadratures' accurate range (they raise beyond), the rest
    taking the direct rule. Returns (mask, a, b) with the scales outside the mask set to 0
    (their coefficients are not used)."""
    if kind == KIND_PIECEWISE_LINEAR:
        return np.ones(a.shape, bool), a, b
    ok = p[1] * np.maximum(a, b) < activation.hermite_steepness()  # smooth σ: Tanh or Erf
    return ok, np.where(ok, a, 0.0), np.where(ok, b, 0.0)


@njit(cache=True)
def _pair_kernel_many(kind, p, a, b, c, ha, hb, series):
    out = np.empty(a.shape[0])
    for i in range(a.shape[0]):
        if abs(c[i]) <= C_SERIES and series[i]:
            out[i] = pair_series(ha[i], hb[i], c[i])
        else:
            out[i] = pair_direct(kind, p, a[i], b[i], c[i])
    return out


def _pair_arguments(a, b, c):
    """Validated, broadcast, flattened (a, b, c) and their common shape."""
    a = as_finite_array(a, "a", nonnegative=True)
    b = as_finite_array(b, "b", nonnegative=True)
    c = as_finite_array(c, "c")
    if np.any(np.abs(c) > 1.0):
        raise ValueError("c: correlations must lie in [-1, 1]")
    a, b, c = np.broadcast_arrays(a, b, c)
    flat = (np.ascontiguousarray(x, dtype=float).ravel() for x in (a, b, c))
    return (*flat, a.shape)


def pair_kernel(activation, a, b, c):
    """K(a, b, c) = E[σ(aX)σ(bY)] with corr(X, Y) = c, broadcasting a, b ≥ 0, c ∈ [−1, 1].

    Mehler's series Σ_k c^k h_k(a) h_k(b) (48 terms) for |c| ≤ 1/2; otherwise the closed form
    (piecewise-linear σ) or the trapezoidal rule in rotated coordinates (smooth σ).

    Parameters
    ----------
    activation : Activation
        The activation σ.
    a, b : array_like of float
        Scales, finite and ≥ 0 (for the model, a = s‖w‖, b = s‖w'‖).
    c : array_like of float
        Correlations in [−1, 1] (the cosine of the angle between w and w').

    Returns
    -------
    ndarray
        K, with the broadcast shape of ``a``, ``b``, ``c`` (0-d for scalars).

    Raises
    ------
    ValueError
        If ``activation`` is not an :class:`Activation`, ``a`` or ``b`` is negative or
        non-finite, ``c`` is non-finite or outside [−1, 1], or the shapes do not broadcast.

    Examples
    --------
    For σ(t) = erf(t/√2), K = (2/π) arcsin(abc / ((1 + a²)(1 + b²))^{1/2}) (arcsine law):

    >>> import numpy as np
    >>> from meanfield import erf
    >>> k = pair_kernel(erf(), 1.0, 2.0, 0.8)
    >>> round(float(k), 6), round(float(2 / np.pi * np.arcsin(1.6 / np.sqrt(10))), 6)
    (0.337727, 0.337727)
    """
    check_instance(activation, Activation, "activation")
    a, b, c, shape = _pair_arguments(a, b, c)
    kind, p = activation.kernel_spec()
    if kind == KIND_PIECEWISE_LINEAR_TAILS:
        return _unbounded_pair(activation, a, b, c)[0].reshape(shape)
    series, a_s, b_s = _series_points(activation, kind, p, a, b)
    ha = activation.hermite(a_s, K_SERIES - 1)
    hb = activation.hermite(b_s, K_SERIES - 1)
    return _pair_kernel_many(kind, p, a, b, c, ha, hb, series).reshape(shape)


def _unbounded_pair(activation, a, b, c):
    """(K, ∂_a K, ∂_c K) for σ with linear tails (relu, leaky relu: no convergent Mehler tail
    bound, no ramp layout) from the closed form G(m₁ = m₂ = 0, A₁ = a², A₂ = b², C = abc) of
    :func:`meanfield.gaussian_integrals.gaussian_pair`: ∂_a K = 2a ∂_{A₁}G + bc ∂_C G,
    ∂_c K = ab ∂_C G."""
    from .gaussian_integrals import gaussian_pair  # it builds on this module

    value, _, _, d_a1, _, d_c = gaussian_pair(activation, a, 0.0, b, 0.0, c)
    return value, 2.0 * a * d_a1 + b * c * d_c, a * b * d_c


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


def pair_kernel_gradient(activation, a, b, c):
    """(∂K/∂a, ∂K/∂c) of K(a, b, c) = E[σ(aX)σ(bY)] (right limits at a = 0), broadcasting.

    ∂_a K = E[σ'(aX) X σ(bY)], ∂_c K = ab E[σ'(aX)σ'(bY)] (Price's theorem); the series
    Σ_k c^k h_k'(a) h_k(b), Σ_k k c^{k−1} h_k(a) h_k(b) for |c| ≤ 1/2, else as in :func:`pair_kernel`.

    Parameters
    ----------
    activation : Activation
        The activation σ.
    a, b : array_like of float
        Scales, finite and ≥ 0.
    c : array_like of float
        Correlations in [−1, 1].

    Returns
    -------
    dK_da : ndarray
        ∂K/∂a, with the broadcast shape of ``a``, ``b``, ``c``.
    dK_dc : ndarray
        ∂K/∂c, same shape.

    Raises
    ------
    ValueError
        If ``activation`` is not an :class:`Activation`, ``a`` or ``b`` is negative or
        non-finite, ``c`` is non-finite or outside [−1, 1], or the shapes do not broadcast.

    Examples
    --------
    For σ(t) = erf(t/√2), ∂_c K = (2/π) q / (1 − q²c²)^{1/2} with q = ab / ((1 + a²)(1 + b²))^{1/2}:

    >>> import numpy as np
    >>> from meanfield import erf
    >>> da, dc = pair_kernel_gradient(erf(), 1.0, 2.0, 0.8)
    >>> q = 2.0 / np.sqrt(10.0)
    >>> round(float(dc), 6), round(float(2 / np.pi * q / np.sqrt(1 - (0.8 * q) ** 2)), 6)
    (0.466792, 0.466792)
    """
    check_instance(activation, Activation, "activation")
    a, b, c, shape = _pair_arguments(a, b, c)
    kind, p = activation.kernel_spec()
    if kind == KIND_PIECEWISE_LINEAR_TAILS:
        _, da, dc = _unbounded_pair(activation, a, b, c)
        return da.reshape(shape), dc.reshape(shape)
    series, a_s, b_s = _series_points(activation, kind, p, a, b)
    da, dc = _pair_gradient_many(kind, p, a, b, c, activation.hermite(a_s, K_SERIES - 1),
                                 activation.hermite(a_s, K_SERIES - 1, derivative=True),
                                 activation.hermite(b_s, K_SERIES - 1), series)
    return da.reshape(shape), dc.reshape(shape)


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
    return np.sort(cuts[:m])


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
    unit ramps ρ on [h0, h1], ρ' on [k0, k1] (see :mod:`meanfield._ramps`): the closed form
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
