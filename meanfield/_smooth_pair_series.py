"""Pair sums of smooth σ (tanh, sigmoid, erf) by Mehler's expansion: one dot product per pair.

For u = m₁ + s₁X, v = m₂ + s₂Y with (X, Y) standard normal of correlation c (Mehler's formula),

    E σ₁(u)σ₂(v) = Σ_{k≥0} c^k h_k(m₁, s₁) h'_k(m₂, s₂),     h_k(m, s) = E σ(m + sG) p_k(G),

p_k = He_k/√k! the normalised Hermite polynomials. The coefficients h_0..h_K are computed once
per neuron and class (composite 8-point Gauss–Legendre in G on [−12, 12], 128 panels), so a pair
costs K + 1 multiply-adds (Horner in c) instead of the 2-D quadrature of
:func:`meanfield.gaussian_integrals.gauss_pair` (~0.3 ms a pair for tanh with biases).

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
from numba import njit, prange

from ._pair_sums import class_moments, pair_correlation
from ._ramps import GL_W01, GL_X01
from ._row_blocks import row_blocks
from ._wide_smooth import WIDE
from .activations import act_deriv, act_deriv2, act_value
from .gaussian_integrals import TINY_SCALE, gauss_pair

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
        h[lo:hi] = np.einsum("rij,kj->irk", f, basis)
        energy[lo:hi] = np.einsum("rij,j->ir", f * f, w)
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


@njit(cache=True, parallel=True)
def _series_rows(k1, p1, k2, p2, weights, means, variances, W1, W2, a2, m1, s1, m2, s2, tab1, tab2, same, grad, tol,
                 lo, hi, rows, dm, dw):
    """rows (and with ``grad`` dm, dw; see meanfield._pair_sums) for lo ≤ i < hi: series in c where
    the truncation bounds allow, :func:`gauss_pair` otherwise (``same``: the sets are one, the
    diagonal from the 1-D moments). tab = (H, E, T, cross, ok) of :func:`hermite_tables` per class."""
    H1, E1, T1, X1, ok1 = tab1
    H2, E2, T2, _, ok2 = tab2
    n_k, n2, d = weights.shape[0], W2.shape[0], W1.shape[1]
    top = H1.shape[3] - 1
    for i in prange(lo, hi):
        acc = np.zeros(d)
        total = 0.0
        dmi = 0.0
        if grad:
            for l in range(d):
                dw[i, l] = 0.0
        for k in range(n_k):
            sum_m = 0.0
            sum_a = 0.0
            if grad:
                for l in range(d):
                    acc[l] = 0.0
            for j in range(n2):
                c = min(1.0, max(-1.0, pair_correlation(W1, W2, variances, k, i, j, s1, s2, same)))
                power = abs(c) ** (top + 1)
                series = ok1[k, i] and ok2[k, j] and _resolved(power, T1[k, i, 0], E1[k, i, 0], T2[k, j, 0],
                                                               E2[k, j, 0], tol)
                if grad:
                    series = series and (_resolved(power, T1[k, i, 1], E1[k, i, 1], T2[k, j, 0], E2[k, j, 0], tol)
                                         and _resolved(power, T1[k, i, 2], E1[k, i, 2], T2[k, j, 0], E2[k, j, 0], tol)
                                         and _resolved(power, T1[k, i, 1], E1[k, i, 1], T2[k, j, 1], E2[k, j, 1], tol))
                if same and i == j and ok1[k, i]:
                    g, g_m1, g_a1, g_c = X1[k, i, 0], X1[k, i, 1], X1[k, i, 2], X1[k, i, 3]
                elif series:
                    g = _horner(c, H1, k, i, 0, H2, j, 0)
                    g_m1 = _horner(c, H1, k, i, 1, H2, j, 0) if grad else 0.0
                    g_a1 = 0.5 * _horner(c, H1, k, i, 2, H2, j, 0) if grad else 0.0
                    g_c = _horner(c, H1, k, i, 1, H2, j, 1) if grad else 0.0
                else:
                    g, g_m1, _, g_a1, _, g_c = gauss_pair(k1, p1, k2, p2, m1[k, i], s1[k, i], m2[k, j], s2[k, j], c)
                total += weights[k] * a2[j] * g
                if grad:
                    sum_m += a2[j] * g_m1
                    sum_a += a2[j] * g_a1
                    for l in range(d):
                        acc[l] += a2[j] * g_c * W2[j, l]
            dmi += weights[k] * sum_m
            if grad:
                for l in range(d):
                    dw[i, l] += weights[k] * (means[k, l] * sum_m + variances[k, l] * (2.0 * W1[i, l] * sum_a + acc[l]))
        rows[i] = total
        if grad:
            dm[i] = dmi


def _class_tables(activation, W, b, means, variances, kmax):
    """(m, s, (H, E, T, cross, ok)): moments (K, N) and the tables of :func:`hermite_tables`
    stacked over the classes (H: (K, N, 3, kmax + 1))."""
    m, s = class_moments(W, b, means, variances)
    tables = [hermite_tables(activation, m[k], s[k], kmax) for k in range(means.shape[0])]
    return m, s, tuple(np.stack(parts) for parts in zip(*tables))


def series_pair_rows(act1, act2, classes, W1, b1, a2, W2, b2, same, grad=False, kmax=KMAX, tol=TOL, progress=None):
    """rows[i] = Σ_j a2_j Σ_k π_k E σ₁(u_i)σ₂(v_j) (and with ``grad`` dm, dw) for smooth σ₁, σ₂
    (module docstring), as :func:`meanfield._pair_sums.pair_sums`.

    Parameters
    ----------
    act1, act2 : Activation
        Smooth σ₁, σ₂.
    classes : tuple
        (weights π_k, labels, means μ_k (K, d), stds (K, d)) of the Gaussian classes.
    W1, b1 : ndarray
        The first set of neurons (N₁, d), (N₁,).
    a2, W2, b2 : ndarray
        The second set (N₂,), (N₂, d), (N₂,).
    same : bool
        The first N₁ neurons of the second set are the first set (c_ii = 1 exactly).
    grad : bool
        Also dm (N₁,) and dw (N₁, d) of :mod:`meanfield._pair_sums`.
    kmax : int
        Highest Hermite degree K.
    tol : float
        Largest truncation bound accepted per pair.
    progress : bool or None
        A tqdm bar over the rows (:func:`meanfield._row_blocks.row_blocks`; None: when stderr is
        a terminal and the sum is large). Ctrl-C stops between row blocks (KeyboardInterrupt propagates).

    Returns
    -------
    ndarray, shape (N₁,), or (rows, dm, dw) with ``grad``
    """
    weights, _, means, stds = classes
    variances = stds**2
    k1, p1 = act1.kernel_spec()
    k2, p2 = act2.kernel_spec()
    m1, s1, tab1 = _class_tables(act1, W1, b1, means, variances, kmax)
    m2, s2, tab2 = _class_tables(act2, W2, b2, means, variances, kmax)
    n, d = W1.shape
    rows, dm, dw = np.empty(n), np.empty(n), np.empty((n, d) if grad else (n, 0))
    for lo, hi in row_blocks(n, W2.shape[0] * weights.size, progress):
        _series_rows(k1, p1, k2, p2, weights, means, variances, W1, W2, a2, m1, s1, m2, s2, tab1, tab2, bool(same),
                     bool(grad), float(tol), lo, hi, rows, dm, dw)
    return (rows, dm, dw) if grad else rows
