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
from .activations import KIND_PIECEWISE_LINEAR, Activation, act_strip, act_value, act_value_deriv
from ._validation import as_finite_array, check_instance

C_SERIES = 0.5
K_SERIES = 48
_TINY = 1e-100  # scale below which σ(aX) equals σ(0) to double precision
_TAIL = 40.0  # |threshold| beyond which a Gaussian ramp is 0 or linear to double precision

# Trapezoidal rule for smooth σ (smooth_pair_sums): nodes on |x| ≤ _HALF_RANGE
# (∫_{|x|>9} φ < 3e-19), spacing h = 2π τ / _ALIASING with τ = 0.8 × the strip half-width
# of analyticity (capped at _MAX_STRIP, where the Gaussian itself limits h ≤ 0.47):
# the aliasing error of ∫ φ F is ~ e^{−2πτ/h} = e^{−40} relative.
_HALF_RANGE = 9.0
_ALIASING = 40.0
_MAX_STRIP = 3.0


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
def _trapezoid(strip):
    """(spacing h, J) of the rule x_j = j h, |j| ≤ J, for ∫ φ(x) F(x) dx with F analytic
    in |Im x| < strip; (0, 0), a single node at 0, when F is constant (strip = inf)."""
    if not math.isfinite(strip):
        return 0.0, 0
    h = 2.0 * math.pi * min(0.8 * strip, _MAX_STRIP) / _ALIASING
    return h, int(math.ceil(_HALF_RANGE / h))


@njit(cache=True)
def smooth_pair_sums(kind, p, a, b, c):
    """(K, ∂_aK, ∂_cK) at (a, b, c) for smooth σ: with X = αU + βV, Y = αU − βV,
        K = E[σ(aX)σ(bY)],  ∂_aK = E[σ'(aX) X σ(bY)],  ∂_cK = ab E[σ'(aX)σ'(bY)] (Price),
    each a trapezoidal sum over (U, V). σ(a(αu + βv)) is analytic in u for |Im u| <
    w/(α max(a, b)) and in v for |Im v| < w/(β max(a, b)), w = act_strip: the spacing
    follows (few nodes in V near c = 1, in U near c = −1; one where the factor is 0).
    Cost ∝ (slope · max(a, b))² nodes at most: ~0.3–0.7 ms for slope · max(a, b) ≈ 3,
    ~50 ms at 30."""
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


@njit(cache=True)
def _pair_kernel_many(kind, p, a, b, c, ha, hb):
    out = np.empty(a.shape[0])
    for i in range(a.shape[0]):
        if abs(c[i]) <= C_SERIES:
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
    """K(a, b, c) = E[σ(aX)σ(bY)] with corr(X, Y) = c, broadcasting a, b ≥ 0, c ∈ [−1, 1]."""
    check_instance(activation, Activation, "activation")
    a, b, c, shape = _pair_arguments(a, b, c)
    ha = activation.hermite(a, K_SERIES - 1)
    hb = activation.hermite(b, K_SERIES - 1)
    kind, p = activation.kernel_spec()
    return _pair_kernel_many(kind, p, a, b, c, ha, hb).reshape(shape)


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
    y0 = p[0]
    n = (p.shape[0] - 1) // 2
    if b < _TINY:  # σ(bY) ≡ σ(0): ∂_a K = σ(0) m'(a), ∂_c K = 0
        s0 = act_value(KIND_PIECEWISE_LINEAR, p, 0.0)
        dm = 0.0
        for i in range(n):
            dm += p[2 * i + 2] * norm_pdf(min(abs(_threshold(p[2 * i + 1], a)), 2 * _TAIL))
        return s0 * dm, 0.0
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
            both += ci * cj * prob
        da += ci * inner
    return da, a * b * both


@njit(cache=True)
def self_pair_gradient(kind, p, a):
    """∂_a K(a, b, 1) at b = a: E[σ'(aX) X σ(aX)] (the j = i term of the drift), closed form
    or the trapezoidal rule of :func:`smooth_pair_sums` at c = 1 (one node set, one tanh a node)."""
    if kind == KIND_PIECEWISE_LINEAR:
        return pl_pair_gradient(p, a, a, 1.0)[0]
    h, n = _trapezoid(act_strip(kind, p) / a if a > 0.0 else math.inf)
    total = 0.0
    for i in range(-n, n + 1):
        x = i * h
        w = h * norm_pdf(x) if n > 0 else 1.0
        f, g = act_value_deriv(kind, p, a * x)
        total += w * f * g * x
    return total


@njit(cache=True)
def pair_gradient_direct(kind, p, a, b, c):
    if kind == KIND_PIECEWISE_LINEAR:
        return pl_pair_gradient(p, a, b, c)
    _, da, dc = smooth_pair_sums(kind, p, a, b, c)
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
def _pair_gradient_many(kind, p, a, b, c, ha, dha, hb):
    da = np.empty(a.shape[0])
    dc = np.empty(a.shape[0])
    for i in range(a.shape[0]):
        if abs(c[i]) <= C_SERIES:
            da[i], dc[i] = pair_gradient_series(ha[i], dha[i], hb[i], c[i])
        else:
            da[i], dc[i] = pair_gradient_direct(kind, p, a[i], b[i], c[i])
    return da, dc


def pair_kernel_gradient(activation, a, b, c):
    """(∂K/∂a, ∂K/∂c) of K(a, b, c) = E[σ(aX)σ(bY)] (right limits at a = 0), broadcasting."""
    check_instance(activation, Activation, "activation")
    a, b, c, shape = _pair_arguments(a, b, c)
    kind, p = activation.kernel_spec()
    da, dc = _pair_gradient_many(kind, p, a, b, c, activation.hermite(a, K_SERIES - 1),
                                 activation.hermite(a, K_SERIES - 1, derivative=True),
                                 activation.hermite(b, K_SERIES - 1))
    return da.reshape(shape), dc.reshape(shape)
