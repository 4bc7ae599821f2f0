"""Hermite coefficients of a shifted activation: σ(sG + b) with a bias b.

For G ~ N(0, 1), p_k = He_k/√k! (normalised probabilists' Hermite polynomials), s ≥ 0:

    h_k(s, b) = E[σ(sG + b) p_k(G)],     e_k(s, b) = E[σ'(sG + b) p_k(G)].

Stein's identity E[f(G) He_{k+1}(G)] = E[f'(G) He_k(G)] links them,

    h_k = s e_{k−1}/√k  (k ≥ 1),    ∂_b h_k = e_k,    ∂_s h_k = √(k+1) e_{k+1} + √k e_{k−1},

so one table e_0..e_{K+1} and h_0 = m(s, b) = E σ(sG + b) give every h_k and its two
derivatives, and h_k/s = e_{k−1}/√k stays finite as s → 0 (needed by the reduced
anisotropic model, whose features carry (r₁/s)^j (r₂/s)^{k−j}).

Piecewise-linear σ(t) = y₀ + l t + Σ_i c_i (t − t_i)₊ (bounded or with linear tails such as
ReLU): σ(sG + b) is piecewise linear in G with knots τ_i = (t_i − b)/s (the knots move by −b),
and in closed form

    e_0 = l + Σ_i c_i Φ(−τ_i),   e_k = Σ_i c_i φ(τ_i) p_{k−1}(τ_i)/√k  (k ≥ 1),
    m   = y₀ + l b + Σ_i c_i s [φ(τ_i) − τ_i Φ(−τ_i)],

with q_k = φ(τ) p_k(τ) from the stable recurrence q_{k+1} = (τ q_k − √k q_{k−1})/√(k+1).
At s = 0 every quantity is the right limit s → 0+ (τ_i = ±∞ off the knots; τ_i = 0 when
b sits on a knot, so e_0 takes c_i/2 there, not σ'(b+)). Smooth σ (tanh, erf): e_k and m by
a composite Gauss–Legendre rule in G on [−12, 12] (accurate while slope·s ≲ panels/4).
"""
from __future__ import annotations

import math

import numpy as np

from ._kernels.anisotropic import pl_shifted_tables
from ._validation import as_finite_array
from .activations import KIND_PIECEWISE_LINEAR, KIND_PIECEWISE_LINEAR_TAILS, Activation
from .activations.smooth import _gauss_legendre_composite

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

__all__ = ["ShiftedHermite", "shifted_hermite"]


class ShiftedHermite:
    """Tables at M points (s_m, b_m): ``m`` (M,) = E σ(sG + b) and ``e`` (K+2, M) = e_k(s, b),
    k = 0..K+1, with h_k, ∂_s h_k, ∂_b h_k, h_k/s for k = 0..K derived by Stein's identity."""

    def __init__(self, s, m, e):
        self.s, self.m, self.e = s, m, e
        self.kmax = e.shape[0] - 2
        self._sq = np.sqrt(np.arange(self.kmax + 2, dtype=float))[:, None]

    def h(self):
        """h_k(s, b), k = 0..K, shape (K+1, M)."""
        out = self.h_over_s() * self.s
        out[0] = self.m
        return out

    def h_over_s(self):
        """g_k = h_k/s = e_{k−1}/√k for k ≥ 1 (row 0 is 0: h_0/s is never needed), shape (K+1, M)."""
        g = np.zeros((self.kmax + 1, self.e.shape[1]))
        g[1:] = self.e[:self.kmax] / self._sq[1:self.kmax + 1]
        return g

    def dh_ds(self):
        """∂_s h_k = √(k+1) e_{k+1} + √k e_{k−1}, k = 0..K."""
        out = self._sq[1:self.kmax + 2] * self.e[1:self.kmax + 2]
        out[1:] += self._sq[1:self.kmax + 1] * self.e[:self.kmax]
        return out

    def dh_db(self):
        """∂_b h_k = e_k, k = 0..K."""
        return self.e[:self.kmax + 1]


def _hermite_phi(tau, kmax):
    """q[k] = φ(τ) p_k(τ), k = 0..kmax, by the recurrence (stable: |q_k| ≤ ~φ(τ)^{1/2})."""
    q = np.empty((kmax + 1,) + tau.shape)
    q[0] = _INV_SQRT_2PI * np.exp(-0.5 * tau * tau)
    if kmax >= 1:
        q[1] = tau * q[0]
    for k in range(1, kmax):
        q[k + 1] = (tau * q[k] - math.sqrt(k) * q[k - 1]) / math.sqrt(k + 1)
    return q


def _piecewise_tables(activation, s, b, kmax):
    m, e = np.empty(s.size), np.empty((s.size, kmax + 2))  # point-major: the kernels' layout
    pl_shifted_tables(float(activation.offset), float(activation.left_slope), activation.knots, activation.coefs,
                      np.ascontiguousarray(s), np.ascontiguousarray(b), m, e)
    return m, e.T


def _piecewise_tables_numpy(activation, s, b, kmax):
    """NumPy replay of :func:`pl_shifted_tables` (tests)."""
    from scipy.special import ndtr  # deferred: import time (see tests/test_import_time.py)

    knots, coefs = activation.knots, activation.coefs
    left, y0 = activation.left_slope, activation.offset
    m = y0 + left * b
    e = np.zeros((kmax + 2, s.size))
    e[0] = left
    positive = s > 0
    safe = np.where(positive, s, 1.0)
    for t_i, c_i in zip(knots, coefs):
        gap = t_i - b
        tau = np.where(positive, gap / safe, np.sign(gap) * 40.0)
        tau = np.clip(tau, -40.0, 40.0)
        upper = ndtr(-tau)
        phi = _INV_SQRT_2PI * np.exp(-0.5 * tau * tau)
        m = m + c_i * np.where(positive, s * (phi - tau * upper), np.maximum(-gap, 0.0))
        e[0] += c_i * upper
        if kmax + 1 >= 1:
            q = _hermite_phi(tau, kmax)
            e[1:] += c_i * q / np.sqrt(np.arange(1, kmax + 2, dtype=float))[:, None]
    return m, e


def _smooth_tables(activation, s, b, kmax, panels):
    x, w = _gauss_legendre_composite(-12.0, 12.0, int(panels), 8)
    w = w * _INV_SQRT_2PI * np.exp(-0.5 * x * x)
    basis = np.empty((kmax + 2, x.size))
    basis[0] = 1.0
    if kmax + 1 >= 1:
        basis[1] = x
    for k in range(1, kmax + 1):
        basis[k + 1] = (x * basis[k] - math.sqrt(k) * basis[k - 1]) / math.sqrt(k + 1)
    basis *= w
    t = s[:, None] * x[None, :] + b[:, None]
    m = activation(t) @ w
    e = activation.derivative(t) @ basis.T  # (M, K+2), point-major
    return m, e.T


def shifted_hermite(activation, s, b, kmax, panels=128):
    """:class:`ShiftedHermite` tables of σ(s_m G + b_m) for 1-D arrays ``s`` ≥ 0 and ``b``.

    Parameters
    ----------
    activation : Activation (piecewise linear in closed form; smooth σ by quadrature)
    s, b : (M,) scales (≥ 0) and biases.
    kmax : K ≥ 0; the tables hold e_0..e_{K+1} (so h_k and its derivatives for k ≤ K).
    panels : panels of the 8-point Gauss–Legendre rule for smooth σ.
    """
    if not isinstance(activation, Activation):
        raise ValueError(f"activation: expected an Activation, got {type(activation).__name__}")
    s = as_finite_array(s, "s", ndim=1, nonnegative=True)
    b = as_finite_array(b, "b", ndim=1)
    if b.shape != s.shape:
        raise ValueError(f"b: expected shape {s.shape} (as s), got {b.shape}")
    if isinstance(kmax, bool) or not isinstance(kmax, (int, np.integer)) or kmax < 0:
        raise ValueError(f"kmax: must be an integer >= 0, got {kmax!r}")
    kind = activation.kernel_spec()[0]
    if kind in (KIND_PIECEWISE_LINEAR, KIND_PIECEWISE_LINEAR_TAILS):
        m, e = _piecewise_tables(activation, s, b, int(kmax))
    else:
        m, e = _smooth_tables(activation, s, b, int(kmax), panels)
    return ShiftedHermite(s, np.asarray(m, dtype=float).reshape(s.shape), e)
