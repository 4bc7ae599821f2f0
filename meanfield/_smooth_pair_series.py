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

so the series is used where that bound is below ``tol``. The diagonal i = j of R_N (c = 1) takes
E σ(m + sG)² from the same quadrature; the other pairs with |c| near 1 (near-parallel neurons)
and the neurons the quadrature does not resolve (κs ≥ WIDE, the wide rule's domain, where the
h_k decay slowly; s < 1e-100) take the exact integral. Only values are summed (R_N, R#);
gradients keep the exact pair sums.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ._pair_sums import class_moments, pair_correlation
from ._ramps import GL_W01, GL_X01
from ._row_blocks import row_blocks
from ._wide_smooth import WIDE
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


def hermite_tables(activation, m, s, kmax=KMAX):
    """(h, energy, tail, ok) for σ(m_i + s_i G): h (M, K+1) the coefficients h_k = E σ(m + sG) p_k(G),
    energy (M,) E σ(m + sG)², tail (M,) the tail energy T (module docstring), ok (M,) whether the
    quadrature resolves σ (1e-100 ≤ s and κs < WIDE, κ the slope of σ)."""
    x, w = _nodes()
    basis = np.empty((kmax + 1, x.size))  # p_k(x) w φ(x) by the three-term recurrence
    basis[0] = w
    if kmax >= 1:
        basis[1] = x * w
    for k in range(1, kmax):
        basis[k + 1] = (x * basis[k] - math.sqrt(k) * basis[k - 1]) / math.sqrt(k + 1)
    h = np.empty((m.size, kmax + 1))
    energy = np.empty(m.size)
    for lo in range(0, m.size, _ROWS_PER_BLOCK):
        f = activation(m[lo:lo + _ROWS_PER_BLOCK, None] + s[lo:lo + _ROWS_PER_BLOCK, None] * x[None, :])
        h[lo:lo + _ROWS_PER_BLOCK] = f @ basis.T
        energy[lo:lo + _ROWS_PER_BLOCK] = (f * f) @ w
    tail = np.maximum(energy - np.sum(h * h, axis=1), 0.0) + 1e-14 * energy
    slope = activation.kernel_spec()[1][1]
    ok = (s >= TINY_SCALE) & (s * slope < WIDE)
    return h, energy, tail, ok


@njit(cache=True, parallel=True)
def _series_rows(k1, p1, k2, p2, weights, variances, W1, W2, a2, m1, s1, m2, s2, H1, H2, E1, T1, T2, ok1, ok2,
                 same, tol, lo, hi, rows):
    """rows[i] = Σ_j a2_j Σ_k π_k G_k(i, j) for lo ≤ i < hi: Horner in c where the truncation bound
    allows, :func:`gauss_pair` otherwise (``same``: the sets are one, G_ii = E σ(u_i)² = E1)."""
    n_k, n2 = weights.shape[0], W2.shape[0]
    top = H1.shape[2] - 1
    for i in prange(lo, hi):
        total = 0.0
        for k in range(n_k):
            acc = 0.0
            for j in range(n2):
                c = min(1.0, max(-1.0, pair_correlation(W1, W2, variances, k, i, j, s1, s2, same)))
                if same and i == j and ok1[k, i]:
                    g = E1[k, i]
                elif ok1[k, i] and ok2[k, j] and abs(c) ** (top + 1) * math.sqrt(T1[k, i] * T2[k, j]) <= tol:
                    g = H1[k, i, top] * H2[k, j, top]
                    for q in range(top - 1, -1, -1):
                        g = g * c + H1[k, i, q] * H2[k, j, q]
                else:
                    g = gauss_pair(k1, p1, k2, p2, m1[k, i], s1[k, i], m2[k, j], s2[k, j], c)[0]
                acc += a2[j] * g
            total += weights[k] * acc
        rows[i] = total


def _class_tables(activation, W, b, means, variances, kmax):
    """(m, s, H, E, T, ok) per class: moments (K, N) and the tables of :func:`hermite_tables`
    stacked over the classes (H: (K, N, kmax + 1))."""
    m, s = class_moments(W, b, means, variances)
    tables = [hermite_tables(activation, m[k], s[k], kmax) for k in range(means.shape[0])]
    return (m, s) + tuple(np.stack(parts) for parts in zip(*tables))


def series_pair_rows(act1, act2, classes, W1, b1, a2, W2, b2, same, kmax=KMAX, tol=TOL, progress=None):
    """rows[i] = Σ_j a2_j Σ_k π_k E σ₁(u_i)σ₂(v_j) for smooth σ₁, σ₂ (module docstring), as
    :func:`meanfield._pair_sums.pair_sums` without gradients.

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
    kmax : int
        Highest Hermite degree K.
    tol : float
        Largest truncation bound accepted per pair.
    progress : bool or None
        A tqdm bar over the rows (:func:`meanfield._row_blocks.row_blocks`; None: when stderr is
        a terminal and the sum is large). Ctrl-C stops between row blocks (KeyboardInterrupt propagates).

    Returns
    -------
    ndarray, shape (N₁,)
    """
    weights, _, means, stds = classes
    variances = stds**2
    k1, p1 = act1.kernel_spec()
    k2, p2 = act2.kernel_spec()
    m1, s1, H1, E1, T1, ok1 = _class_tables(act1, W1, b1, means, variances, kmax)
    m2, s2, H2, _, T2, ok2 = _class_tables(act2, W2, b2, means, variances, kmax)
    rows = np.empty(W1.shape[0])
    for lo, hi in row_blocks(W1.shape[0], W2.shape[0] * weights.size, progress):
        _series_rows(k1, p1, k2, p2, weights, variances, W1, W2, a2, m1, s1, m2, s2, H1, H2, E1, T1, T2, ok1, ok2,
                     bool(same), float(tol), lo, hi, rows)
    return rows
