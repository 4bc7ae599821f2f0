"""Mehler's expansion of E σ₁(u)σ₂(v) for smooth σ (tanh, sigmoid, erf): one dot product per pair.

For u = m₁ + s₁X, v = m₂ + s₂Y with (X, Y) standard normal of correlation c (Mehler's formula),

    E σ₁(u)σ₂(v) = Σ_{k≥0} c^k h_k(m₁, s₁) h'_k(m₂, s₂),     h_k(m, s) = E σ(m + sG) p_k(G),

p_k = He_k/√k! the normalised Hermite polynomials. The coefficients h_0..h_K are computed once
per neuron and class (composite 8-point Gauss–Legendre in G on [−12, 12], 128 panels), so a pair
costs K + 1 multiply-adds (Horner in c) instead of the 2-D quadrature of
:func:`meanfield.gaussian_integrals.gauss_pair` (~0.3 ms a pair for tanh with biases). This module
holds the tables and the per-pair terms; :func:`meanfield._kernels.pair_sums.pair_sums` sums them.

By Cauchy–Schwarz and Parseval (Σ_k h_k² = E σ(m + sG)²) the truncation after degree K errs by
at most

    |c|^{K+1} √(T₁ T₂),    T = E σ(m + sG)² − Σ_{k≤K} h_k²  (the tail energy, + 1e-14 E σ² for rounding),

so the series is used where that bound is below ``tol`` (relative to √(E σ₁² E σ₂²) when it
exceeds 1). The derivatives are series of the same kind (Price's theorem / the heat equation),

    ∂_{m₁}G = Σ c^k e_k h'_k,   ∂_{A₁}G = ½ Σ c^k f_k h'_k,   ∂_C G = Σ c^k e_k e'_k,

e_k, f_k the coefficients of σ₁', σ₁'', each with its own bound. The diagonal i = j of R_N
(c = 1) takes E σ², E σ'σ, ½ E σ''σ, E σ'² from the same quadrature; the other pairs with |c|
near 1 (near-parallel neurons) and the neurons the quadrature does not resolve (κs ≥ WIDE, the
wide rule's domain, where the coefficients decay slowly; s < 1e-100) take the exact integral.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from .activation import act_deriv, act_deriv2, act_value
from .gauss_moments import TINY_SCALE
from .ramps import GL_W01, GL_X01
from .wide_smooth import WIDE

#: Highest Hermite degree K of the series.
KMAX = 96
#: Largest truncation bound |c|^{K+1} √(T₁T₂) accepted per pair (else the exact integral).
TOL = 1e-15
_PANELS = 128
_RANGE = 12.0  # ∫_{|g| > 12} φ < 4e-33
_ROWS_PER_BLOCK = 2048  # neurons per table block (memory)


def _nodes():
    """Composite Gauss–Legendre nodes x on [−12, 12] and weights w φ(x)."""
    width = 2.0 * _RANGE / _PANELS
    x = (-_RANGE + width * (np.arange(_PANELS)[:, None] + GL_X01[None, :])).ravel()
    w = np.tile(width * GL_W01, _PANELS) * np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    return x, w


@njit(cache=True)
def _on_nodes(kind, p, m, s, x, out):
    """out[r, i, j] = σ^{(r)}(m_i + s_i x_j), r = 0, 1, 2."""
    for i in range(m.shape[0]):
        for j in range(x.shape[0]):
            t = m[i] + s[i] * x[j]
            out[0, i, j] = act_value(kind, p, t)
            out[1, i, j] = act_deriv(kind, p, t)
            out[2, i, j] = act_deriv2(kind, p, t)


def hermite_tables(activation, m, s, kmax=KMAX):
    """(h, energy, tail, cross, ok) for σ^{(r)}(m_i + s_i G), r = 0, 1, 2 (σ, σ', σ''): h (M, 3, K+1)
    the coefficients E σ^{(r)}(m + sG) p_k(G) (h_k, e_k, f_k), energy (M, 3) E σ^{(r)}(m + sG)²,
    tail (M, 3) the tail energies T (module docstring), cross (M, 4) = E σ², E σ'σ, ½ E σ''σ, E σ'²
    (the diagonal c = 1), ok (M,) whether the quadrature resolves σ (1e-100 ≤ s and κs < WIDE,
    κ the slope of σ)."""
    kind, p = activation.kernel_spec()
    x, w = _nodes()
    basis = np.empty((kmax + 1, x.size))  # p_k(x) w φ(x) by the three-term recurrence
    basis[0] = w
    if kmax >= 1:
        basis[1] = x * w
    for k in range(1, kmax):
        basis[k + 1] = (x * basis[k] - math.sqrt(k) * basis[k - 1]) / math.sqrt(k + 1)
    h = np.empty((m.size, 3, kmax + 1))
    energy, cross = np.empty((m.size, 3)), np.empty((m.size, 4))
    for lo in range(0, m.size, _ROWS_PER_BLOCK):
        hi = min(m.size, lo + _ROWS_PER_BLOCK)
        f = np.empty((3, hi - lo, x.size))
        _on_nodes(kind, p, m[lo:hi], s[lo:hi], x, f)
        h[lo:hi] = (f.reshape(-1, x.size) @ basis.T).reshape(3, hi - lo, kmax + 1).transpose(1, 0, 2)  # BLAS
        energy[lo:hi] = ((f * f) @ w).T
        cross[lo:hi] = np.stack([energy[lo:hi, 0], (f[1] * f[0]) @ w, 0.5 * (f[2] * f[0]) @ w, energy[lo:hi, 1]], 1)
    tail = np.maximum(energy - np.sum(h * h, axis=2), 0.0) + 1e-14 * energy
    ok = (s >= TINY_SCALE) & (s * p[1] < WIDE)
    return h, energy, tail, cross, ok


@njit(cache=True, inline="always")
def _resolved(power, t1, e1, t2, e2, tol):
    """The truncation bound |c|^{K+1} √(T₁T₂) is below tol · max(1, √(E₁E₂))."""
    return power * math.sqrt(t1 * t2) <= tol * max(1.0, math.sqrt(e1 * e2))


@njit(cache=True, inline="always")
def _horner(c, H1, k, i, r1, H2, j, r2):
    """Σ_q c^q H1[k, i, r1, q] H2[k, j, r2, q]."""
    top = H1.shape[3] - 1
    g = H1[k, i, r1, top] * H2[k, j, r2, top]
    for q in range(top - 1, -1, -1):
        g = g * c + H1[k, i, r1, q] * H2[k, j, r2, q]
    return g


@njit(cache=True, inline="always")
def series_terms(tab1, tab2, k, i, j, c, diagonal, grad, tol):
    """(used, G, ∂_{m₁}G, ∂_{A₁}G, ∂_C G) of the pair (i, j) under class k from the tables
    (H, E, T, cross, ok) of :func:`hermite_tables`: the 1-D moments on the ``diagonal`` (c = 1, one
    set), the series where every truncation bound holds; ``used`` False otherwise (exact rule)."""
    H1, E1, T1, X1, ok1 = tab1
    H2, E2, T2, _, ok2 = tab2
    if not ok1[k, i]:
        return False, 0.0, 0.0, 0.0, 0.0
    if diagonal:
        return True, X1[k, i, 0], X1[k, i, 1], X1[k, i, 2], X1[k, i, 3]
    if not ok2[k, j]:
        return False, 0.0, 0.0, 0.0, 0.0
    power = abs(c) ** H1.shape[3]
    if not _resolved(power, T1[k, i, 0], E1[k, i, 0], T2[k, j, 0], E2[k, j, 0], tol):
        return False, 0.0, 0.0, 0.0, 0.0
    g = _horner(c, H1, k, i, 0, H2, j, 0)
    if not grad:
        return True, g, 0.0, 0.0, 0.0
    if not (_resolved(power, T1[k, i, 1], E1[k, i, 1], T2[k, j, 0], E2[k, j, 0], tol)
            and _resolved(power, T1[k, i, 2], E1[k, i, 2], T2[k, j, 0], E2[k, j, 0], tol)
            and _resolved(power, T1[k, i, 1], E1[k, i, 1], T2[k, j, 1], E2[k, j, 1], tol)):
        return False, 0.0, 0.0, 0.0, 0.0
    return (True, g, _horner(c, H1, k, i, 1, H2, j, 0), 0.5 * _horner(c, H1, k, i, 2, H2, j, 0),
            _horner(c, H1, k, i, 1, H2, j, 1))


def class_tables(activation, m, s, kmax=KMAX):
    """The tables (H, E, T, cross, ok) of :func:`hermite_tables` for the moments m, s (K, N) of
    every class, stacked (H: (K, N, 3, kmax + 1))."""
    tables = [hermite_tables(activation, m[k], s[k], kmax) for k in range(m.shape[0])]
    return tuple(np.stack(parts) for parts in zip(*tables))


def no_tables(n_classes, n):
    """Tables that send every pair to the exact rule (ok False everywhere)."""
    return (np.zeros((n_classes, n, 3, 1)), np.zeros((n_classes, n, 3)), np.zeros((n_classes, n, 3)),
            np.zeros((n_classes, n, 4)), np.zeros((n_classes, n), dtype=np.bool_))
