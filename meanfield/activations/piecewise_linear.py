"""Piecewise-linear activations σ = y₀ + l t + Σ_q c_q (t − t_q)₊ and their Gaussian integrals.

For a standard normal G and a ≥ 0, h_k(a) = E[σ(aG) He_k(G)]/√k! (probabilists' Hermite He_k)
and dh_k/da have closed forms (Stein's identity E[f(G)He_k(G)] = E[f'(G)He_{k−1}(G)] reduces
them to φ, Φ and Hermite polynomials). At a = 0 every quantity is the right limit a → 0+
(never σ'(0) times something): this matters for activations with a kink at 0.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from .._ramps import GL_W01, GL_X01, NARROW, ramp_mean, ramp_variance_part
from .._validation import as_finite_array, check_int, check_real
from ._kinds import KIND_PIECEWISE_LINEAR, KIND_PIECEWISE_LINEAR_TAILS, _SQRT_HALF, act_value
from .base import Activation

# |τ| beyond this is numerically infinite for φ, Φ (φ(40) underflows to 0).
_TAU_CLIP = 40.0
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
#: Largest |knot|, |value| and |slope| a PiecewiseLinear accepts: the closed forms multiply two
#: of them (and a Gaussian scale), which stays finite in double precision below this.
MAX_MAGNITUDE = 1e100


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


class PiecewiseLinear(Activation):
    """σ linear between ``knots`` with the given ``values``; outside them linear with
    ``left_slope`` and ``right_slope`` (0 by default: constant, bounded σ).

    Written as σ(t) = y₀ + l t + Σ_i c_i (t − t_i)₊ with l the left slope and c_i the
    slope changes at the knots. Bounded σ (both tail slopes 0) is kind
    ``KIND_PIECEWISE_LINEAR``; otherwise ``KIND_PIECEWISE_LINEAR_TAILS`` (ReLU, leaky ReLU),
    which the exact isotropic radial model does not take (its Mehler bounds need
    bounded σ) but :class:`~meanfield.MeanFieldModel` does.

    Parameters
    ----------
    knots : array_like, shape (Q,)
        Strictly increasing t_1 < … < t_Q; Q ≥ 2 for bounded σ, Q ≥ 1 with a tail slope.
    values : array_like, shape (Q,)
        σ(t_i) at the knots.
    left_slope, right_slope : float
        Slopes of σ below t_1 and above t_Q.

    Attributes
    ----------
    coefs : ndarray, shape (Q,)
        The slope changes c_i.
    offset : float
        y₀ = σ(t_1) − l t_1.
    bounded : bool
        Both tail slopes are 0.

    Raises
    ------
    ValueError
        If ``knots`` has too few entries or is not strictly increasing, ``values`` has
        another shape, an entry is NaN or infinite, or a knot, value or slope (tails, or
        between knots) exceeds 1e100 in absolute value.

    Examples
    --------
    >>> sigma = PiecewiseLinear([0.0, 1.0], [0.0, 1.0])   # clip(t, 0, 1)
    >>> sigma([-1.0, 0.25, 3.0]).tolist(), sigma.coefs.tolist(), sigma.bounded
    ([0.0, 0.25, 1.0], [1.0, -1.0], True)
    >>> round(float(sigma.gaussian_mean(0.0)), 12)        # a → 0+: σ(0)
    0.0
    """

    name = "piecewise_linear"

    def __init__(self, knots, values, left_slope=0.0, right_slope=0.0):
        knots = as_finite_array(knots, "knots", ndim=1)
        values = as_finite_array(values, "values", ndim=1)
        left = check_real(left_slope, "left_slope")
        right = check_real(right_slope, "right_slope")
        bounded = left == 0.0 and right == 0.0
        if knots.size < (2 if bounded else 1):
            raise ValueError(f"knots: need at least {2 if bounded else 1} knot(s), got {knots.size}")
        if values.shape != knots.shape:
            raise ValueError(f"values: expected {knots.size} values (one per knot), got {values.size}")
        if np.any(np.diff(knots) <= 0):
            raise ValueError("knots: must be strictly increasing")
        for name, arr in (("knots", knots), ("values", values)):
            if np.max(np.abs(arr)) > MAX_MAGNITUDE:
                raise ValueError(f"{name}: entries must lie in [-{MAX_MAGNITUDE:g}, {MAX_MAGNITUDE:g}] (products of "
                                 f"the Gaussian integrals overflow beyond), got {float(np.max(np.abs(arr)))!r}")
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            slopes = np.diff(values) / np.diff(knots)
        for name, slope in (("left_slope", left), ("right_slope", right)):
            if abs(slope) > MAX_MAGNITUDE:
                raise ValueError(f"{name}: must lie in [-{MAX_MAGNITUDE:g}, {MAX_MAGNITUDE:g}], got {slope!r}")
        if not np.all(np.abs(slopes) <= MAX_MAGNITUDE):
            raise ValueError(f"values: slopes (v[i+1] - v[i])/(t[i+1] - t[i]) must lie in [-{MAX_MAGNITUDE:g}, "
                             f"{MAX_MAGNITUDE:g}] (knots too close or values too far apart), got "
                             f"{float(np.max(np.abs(slopes)))!r}")
        self.knots, self.values = knots, values
        self.left_slope, self.right_slope = left, right
        self.bounded = bounded
        self.coefs = np.diff(np.concatenate([[left], slopes, [right]]))
        self.offset = float(values[0] - left * knots[0])  # σ(t) = offset + l t + Σ c_i (t − t_i)₊
        pairs = np.column_stack([knots, self.coefs]).ravel()
        if bounded:
            self._kind, self._params = KIND_PIECEWISE_LINEAR, np.concatenate([[self.offset], pairs])
        else:
            self._kind, self._params = KIND_PIECEWISE_LINEAR_TAILS, np.concatenate([[self.offset, left], pairs])

    def __repr__(self):
        tails = "" if self.bounded else f", left_slope={self.left_slope}, right_slope={self.right_slope}"
        return f"PiecewiseLinear(knots={self.knots.tolist()}, values={self.values.tolist()}{tails})"

    def __call__(self, t):
        t = np.asarray(t, dtype=float)
        return (self.offset + self.left_slope * t
                + (self.coefs * np.maximum(t[..., None] - self.knots, 0.0)).sum(-1))

    def derivative(self, t):
        t = np.asarray(t, dtype=float)
        return self.left_slope + (self.coefs * (t[..., None] >= self.knots)).sum(-1)

    def kernel_spec(self):
        return self._kind, self._params

    def sup_norm(self):
        return float(np.max(np.abs(self.values))) if self.bounded else math.inf

    def _taus(self, a):
        """τ_i = t_i/a, clipped to ±40, with the a → 0+ limit at a = 0."""
        a = as_finite_array(a, "a", nonnegative=True)
        t = self.knots
        with np.errstate(divide="ignore", invalid="ignore"):
            tau = t / a[..., None]
        tau = np.where(a[..., None] == 0.0, np.sign(t) * _TAU_CLIP, tau)
        return a, np.clip(tau, -_TAU_CLIP, _TAU_CLIP)

    def hermite(self, a, kmax, derivative=False):
        a = as_finite_array(a, "a", nonnegative=True)
        kmax = check_int(kmax, "kmax", minimum=0)
        (table,) = self._hermite_tables(a.reshape(-1), kmax, not derivative, derivative)
        return np.ascontiguousarray(table.T).reshape(a.shape + (kmax + 1,))

    def hermite_table(self, a, kmax, second_moment=False, derivatives=True):
        a = as_finite_array(a, "a", nonnegative=True, ndim=1)
        kmax = check_int(kmax, "kmax", minimum=0)
        tables = self._hermite_tables(a, kmax, True, derivatives)
        tables = tables if derivatives else tables + (None,)
        return tables + (self.gaussian_second_moment(a),) if second_moment else tables

    def _hermite_tables(self, a, kmax, values, derivatives):
        """The requested k-major tables (h_k(a_m), then h_k'(a_m)) for 1-D a, one recurrence pass;
        the linear tail l t adds l a to h_1 and l to h_1'."""
        from scipy.special import ndtr  # deferred: import time (see tests/test_import_time.py)

        a, tau = self._taus(a)
        tau_t = np.ascontiguousarray(tau.T)
        out = [np.empty((kmax + 1, a.size)) if wanted else None for wanted in (values, derivatives)]
        _pl_hermite_table(a, tau_t, ndtr(-tau_t), self.offset, self.knots, self.coefs, *out)  # ndtr(−τ) = Φ(−τ)
        if kmax >= 1 and self.left_slope != 0.0:
            if out[0] is not None:
                out[0][1] += self.left_slope * a
            if out[1] is not None:
                out[1][1] += self.left_slope
        return tuple(x for x in out if x is not None)

    def gaussian_second_moment(self, a):
        a = as_finite_array(a, "a", nonnegative=True)
        out = np.empty(a.size)
        _pl_second_moment(self._kind, self._params, np.ascontiguousarray(a, dtype=float).ravel(), out)
        return out.reshape(a.shape)


def relu():
    """σ(t) = max(t, 0).

    Returns
    -------
    PiecewiseLinear

    Examples
    --------
    >>> relu()([-1.0, 2.0]).tolist(), float(relu().derivative(0.0))   # σ'(0+) = 1, the right limit
    ([0.0, 2.0], 1.0)
    """
    return PiecewiseLinear([0.0], [0.0], right_slope=1.0)


def leaky_relu(negative_slope=0.01):
    """σ(t) = t for t ≥ 0, ``negative_slope`` · t below.

    Parameters
    ----------
    negative_slope : float

    Returns
    -------
    PiecewiseLinear

    Examples
    --------
    >>> leaky_relu(0.1)([-2.0, 3.0]).tolist()
    [-0.2, 3.0]
    """
    return PiecewiseLinear([0.0], [0.0], left_slope=negative_slope, right_slope=1.0)


def hard_tanh():
    """σ(t) = clip(t, −1, 1).

    Returns
    -------
    PiecewiseLinear

    Examples
    --------
    >>> hard_tanh()([-5.0, 0.5, 5.0]).tolist()
    [-1.0, 0.5, 1.0]
    """
    return PiecewiseLinear([-1.0, 1.0], [-1.0, 1.0])


def ramp():
    """The reference ramp of the isotropic Gaussians example: −2.5 for t ≤ 0.5, 7.5 for t ≥ 1.5.

    Returns
    -------
    PiecewiseLinear

    Examples
    --------
    >>> ramp()([0.0, 1.0, 2.0]).tolist()
    [-2.5, 2.5, 7.5]
    """
    return PiecewiseLinear([0.5, 1.5], [-2.5, 7.5])


def nonmonotone():
    """The non-monotone variant: knots (0, −2.5), (0.5, −4), (1.5, 7.5), with a kink at 0.

    Returns
    -------
    PiecewiseLinear

    Examples
    --------
    >>> float(nonmonotone().derivative(0.0)), float(nonmonotone().derivative(-1.0))   # σ'(0+), σ'(0−)
    (-3.0, 0.0)
    """
    return PiecewiseLinear([0.0, 0.5, 1.5], [-2.5, -4.0, 7.5])
