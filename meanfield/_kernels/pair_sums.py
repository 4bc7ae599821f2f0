"""Numba pair sums behind the exact population quantities of :class:`MeanFieldModel`.

For two sets of neurons (a1, W1, b1), (a2, W2, b2) and Gaussian classes (π_k, μ_k, s_k),
with u_i = ⟨w1_i, x⟩ + b1_i, v_j = ⟨w2_j, x⟩ + b2_j under class k (means m = Wμ_k + b,
variances A = Σ_l W_l² s_kl², covariance C_ij = Σ_l W1_il W2_jl s_kl²):

    rows[i] = Σ_j a2_j Σ_k π_k G_k(i, j),                 G = E σ₁(u_i)σ₂(v_j)
    dm[i]   = Σ_j a2_j Σ_k π_k ∂_{m₁}G_k(i, j)
    dw[i]   = Σ_k π_k [μ_k Σ_j a2_j ∂_{m₁}G + 2 s_k² ∘ w1_i Σ_j a2_j ∂_{A₁}G + s_k² ∘ Σ_j a2_j ∂_C G w2_j]

so that ∂/∂a1_i Σ_ij a1_i a2_j ΣπG = rows[i], ∂/∂b1_i = a1_i dm[i], ∇_{w1_i} = a1_i dw[i].
One pass over all (i, j) pairs, threaded over i; no N×N array.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .gauss_moments import gauss_mean, gauss_pair
from .smooth_series import series_terms


#: Largest pre-activation scale √A = √(Σ_l w_l² s_l²) and |mean| accepted (products of two stay finite).
MAX_SCALE = 1e150
MAX_VARIANCE = MAX_SCALE**2


@njit(cache=True)
def class_moments(W, b, means, variances):
    """m[k, i] = ⟨w_i, μ_k⟩ + b_i and s[k, i] = √(Σ_l w_il² s_kl²); raises beyond MAX_VARIANCE."""
    n_k = means.shape[0]
    n, d = W.shape
    m = np.empty((n_k, n))
    s = np.empty((n_k, n))
    for k in range(n_k):
        for i in range(n):
            mean = b[i]
            var = 0.0
            for l in range(d):
                mean += W[i, l] * means[k, l]
                var += W[i, l] * W[i, l] * variances[k, l]
            if not (var <= MAX_VARIANCE and abs(mean) <= MAX_SCALE):
                raise ValueError("theta: a neuron's pre-activation scale √(Σ_l w_l² s_l²) or mean ⟨w, μ⟩ + b "
                                 "exceeds 1e150 (or is not finite): its Gaussian integrals overflow")
            m[k, i] = mean
            s[k, i] = np.sqrt(var)
    return m, s


@njit(cache=True, inline="always")
def pair_correlation(W1, W2, variances, k, i, j, s1, s2, same):
    """c_ij = Σ_l W1_il W2_jl s_kl² / (s1_ki s2_kj) under class k (0 at a zero scale; exactly 1 for
    i = j when the sets are one, ``same``)."""
    if same and i == j:
        return 1.0
    cov = 0.0
    for l in range(W1.shape[1]):
        cov += W1[i, l] * W2[j, l] * variances[k, l]
    scale = s1[k, i] * s2[k, j]
    return cov / scale if scale > 0.0 else 0.0


@njit(cache=True, parallel=True)
def pair_sums(k1, p1, k2, p2, weights, means, variances, W1, b1, a2, W2, b2, same, grad, rows, dm, dw, lo, hi,
              tab1, tab2, tol):
    """Fill rows (and with ``grad`` dm, dw) lo ≤ i < hi as in the module docstring. ``same``: the
    two sets are one (then c_ii = 1 exactly: near c = 1 a kinked σ's G moves like √(1 − c), so a
    rounded c_ii = 1 − 1e-16 would cost ~1e-8). Each pair takes Mehler's series from the tables
    ``tab1``, ``tab2`` where it converges (:func:`meanfield._kernels.smooth_series.series_terms`; tables of
    :func:`meanfield._kernels.smooth_series.no_tables` never do), the exact :func:`gauss_pair` otherwise."""
    n1, d = W1.shape
    n2 = W2.shape[0]
    n_k = weights.shape[0]
    m1, s1 = class_moments(W1, b1, means, variances)
    m2, s2 = class_moments(W2, b2, means, variances)
    for i in prange(lo, hi):
        acc = np.zeros(d)
        total = 0.0
        dmi = 0.0
        if grad:
            for l in range(d):
                dw[i, l] = 0.0
        for k in range(n_k):
            pk = weights[k]
            sum_m = 0.0
            sum_a = 0.0
            if grad:
                for l in range(d):
                    acc[l] = 0.0
            for j in range(n2):
                c = min(1.0, max(-1.0, pair_correlation(W1, W2, variances, k, i, j, s1, s2, same)))
                used, g, g_m1, g_a1, g_c = series_terms(tab1, tab2, k, i, j, c, same and i == j, grad, tol)
                if not used:
                    g, g_m1, _, g_a1, _, g_c = gauss_pair(k1, p1, k2, p2, m1[k, i], s1[k, i], m2[k, j], s2[k, j], c)
                total += pk * a2[j] * g
                if grad:
                    sum_m += a2[j] * g_m1
                    sum_a += a2[j] * g_a1
                    coef = a2[j] * g_c
                    for l in range(d):
                        acc[l] += coef * W2[j, l]
            dmi += pk * sum_m
            if grad:
                for l in range(d):
                    dw[i, l] += pk * (means[k, l] * sum_m + variances[k, l] * (2.0 * W1[i, l] * sum_a + acc[l]))
        rows[i] = total
        if grad:
            dm[i] = dmi


@njit(cache=True)
def mean_sums(kind, p, weights, labels, means, variances, W, b, grad, rows, dm, dw):
    """rows[i] = Σ_k π_k y_k M_k(i), dm[i] = Σ_k π_k y_k ∂_m M_k(i),
    dw[i] = Σ_k π_k y_k (μ_k ∂_m M_k + 2 s_k² ∘ w_i ∂_A M_k), M_k(i) = E σ(u_i) under class k."""
    n, d = W.shape
    m, s = class_moments(W, b, means, variances)
    for i in range(n):
        rows[i] = 0.0
        dm[i] = 0.0
        for l in range(d):
            dw[i, l] = 0.0
        for k in range(weights.shape[0]):
            value, d_m, d_a = gauss_mean(kind, p, m[k, i], s[k, i])
            py = weights[k] * labels[k]
            rows[i] += py * value
            if grad:
                dm[i] += py * d_m
                for l in range(d):
                    dw[i, l] += py * (means[k, l] * d_m + 2.0 * variances[k, l] * W[i, l] * d_a)
