"""Series planning for the finite-N R_N and ∇Ψ of the isotropic model: how many Mehler terms.

K(a, b, c) = Σ_k c^k h_k(a) h_k(b): the Hermite tables h_t[s, k, j] = h_k(s r_j) hold ``terms``
coefficients per particle, and a pair with |c| > C_SERIES takes the series when its Parseval
bound |c|^K √(T_K(a) T_K(b)) ≤ tol (T_K = Σ_{k≥K} h_k², :mod:`meanfield._kernels.mehler`), else the
direct rule. This module picks ``terms`` (K_SERIES, up to MAX_TERMS or LONG_TERMS) from the
particles' cosines and builds the tables; only cost choices, never accuracy ones (every pair the
table cannot serve within its bound takes the direct rule). Rationale: docs/numerics.rst,
"Series planning of the isotropic drift".
"""
from __future__ import annotations

import numpy as np

from ._kernels.activation import KIND_PIECEWISE_LINEAR
from ._kernels.mehler import GRADIENT_SERIES_TOL, _largest_cosine, _pair_series_terms, _parseval_tails
from ._kernels.isotropic_pairs import RISK_SERIES_TOL
from ._kernels.pair_direct import C_SERIES, K_SERIES

#: Largest number of Hermite terms a truncation may use (radial features and pair tables).
MAX_TERMS = 256
#: Small-d table length: ~0.1 ms a particle against ~1 ms a pair for the smooth-σ quadrature.
LONG_TERMS = 1024
#: Smooth σ: LONG_TERMS when more than 1/this of the particles have a partner beyond MAX_TERMS' reach.
LONG_TABLE_FRACTION = 8
#: Piecewise-linear drift: particles sampled (evenly spaced) to predict the strongly correlated pairs.
LONG_SAMPLE_ROWS = 64
#: ... long table when ≥ this many |c| > C_SERIES partners per particle (series ~0.1–0.5 µs vs ~5 µs).
LONG_MIN_PARTNERS = 0.25
#: ... LONG_TERMS instead of MAX_TERMS when ≥ this many partners per particle lie beyond MAX_TERMS' reach.
LONG_MIN_FAR = 1.0
#: Symmetric closed-form pass when the sampled fraction beyond reach ≥ this · (d + 1) (break-even d ≈ 5).
CLOSED_PAIR_COST_RATIO = 4e-4


def _long_series_plan(unit_t):
    """(terms, symmetric) for the drift of piecewise-linear σ. terms: the Hermite table length,
    K_SERIES, or the terms the largest sampled off-diagonal |c| < 1 needs by the pair rule with
    T_K/T_1 ≤ 1 (capped at MAX_TERMS, or LONG_TERMS, see LONG_SAMPLE_ROWS). symmetric: whether
    the closed-form pairs take the pass over i < j (see CLOSED_PAIR_COST_RATIO). Only cost
    choices: every pair the table cannot serve within its bound takes the closed form."""
    n, d = unit_t.shape[1], unit_t.shape[0]
    if n < 2:
        return K_SERIES, False
    rows = np.unique(np.linspace(0, n - 1, min(n, LONG_SAMPLE_ROWS)).astype(np.int64))
    cos = np.abs(unit_t[:, rows].T @ unit_t)
    cos[np.arange(rows.size), rows] = 0.0
    big = cos[(cos > C_SERIES) & (cos < 1.0)]
    per_particle = big.size / rows.size
    if per_particle < LONG_MIN_PARTNERS:
        return K_SERIES, False
    unit_tails = np.ones((1, LONG_TERMS + 1, 1))
    terms = _pair_series_terms(float(big.max()), 0, 0, unit_tails, GRADIENT_SERIES_TOL, True) or LONG_TERMS
    if terms > MAX_TERMS:
        far = np.count_nonzero(big > _reach(MAX_TERMS, GRADIENT_SERIES_TOL, True)) / rows.size
        terms = LONG_TERMS if far >= LONG_MIN_FAR else MAX_TERMS
    beyond = np.count_nonzero(big > _reach(terms, GRADIENT_SERIES_TOL, True)) / (rows.size * (n - 1))
    return max(K_SERIES, terms), bool(beyond >= CLOSED_PAIR_COST_RATIO * (d + 1))


def _series_tables(activation, scales, r, terms, long_series, derivatives):
    """(h_t, dh_t, tails, second) of :func:`pair_tables` for k < terms: tails
    (Parseval, T_K = Σ_{k≥K} h_k², summed within the table, E σ² − Σ_k h_k² + TAIL_FLOOR E σ²
    beyond it; particle-major, tails[j, K, s]) only for ``long_series`` (else shape (N, 0, 2)),
    second = E σ(s r G)² unless the drift needs neither (piecewise-linear σ without the long
    series)."""
    # E σ² for the tails (long series) and as K(a, a, 1) in R_N
    with_second = long_series or not derivatives
    tables = [activation.hermite_table(s * r, terms - 1, second_moment=with_second, derivatives=derivatives)
              for s in scales]
    h_t = np.stack([t[0] for t in tables])
    dh_t = np.stack([t[1] for t in tables]) if derivatives else None
    second = np.stack([t[2] for t in tables]) if with_second else None
    if long_series:
        tails = np.empty((r.size, terms + 1, h_t.shape[0]))
        _parseval_tails(h_t, second, tails)
    else:
        tails = np.zeros((r.size, 0, 2))
    return h_t, dh_t, tails, second


def _served_cosine(tails):
    """The largest |c| (to 1e-6, from below) for which the drift's table of ``tails.shape[1] − 1``
    terms meets the bound of :func:`_pair_series_terms` for every pair (T_K ≤ T_1); C_SERIES
    without a table."""
    n_max = tails.shape[1] - 1
    return _reach(n_max, GRADIENT_SERIES_TOL, True) if n_max > K_SERIES else C_SERIES


def _reach(terms, tol, derivatives):
    """Largest |c| (to 1e-6) whose pair rule with T_K/T_1 ≤ 1 needs at most ``terms`` terms."""
    lo, hi = C_SERIES, 1.0
    unit_tails = np.ones((1, terms + 1, 1))
    while hi - lo > 1e-6:
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if _pair_series_terms(mid, 0, 0, unit_tails, tol, derivatives) else (lo, mid)
    return lo


def pair_tables(activation, scales, r, unit_t, derivatives, drift_series):
    """Hermite tables of the pair kernels, k-major (the kernels loop over j), and whether the
    drift's closed-form pairs take the symmetric pass (:func:`meanfield._isotropic_particles.closed_pairs`):
    h_t[s, k, j] = h_k(s r_j), dh_t[s, k, j] = h_k'(s r_j) (None unless ``derivatives``)
    and tails[j, K, s] ≥ T_K(s r_j) = Σ_{k≥K} h_k(s r_j)² = E σ(s r_j G)² − Σ_{k<K} h_k(s r_j)²
    (Parseval; summed within the table, TAIL_FLOOR added to the rest); second[s, j] =
    E σ(s r_j G)² (the pair kernel at c = 1; None for the drift of piecewise-linear σ
    without the long series).

    Smooth σ: the series also serves the pairs with |c| > C_SERIES (~1 µs against ~0.5 ms
    for the quadrature), so the tables hold as many terms as the largest off-diagonal
    |c| needs (see :func:`_pair_series_terms`), between K_SERIES and MAX_TERMS, or
    LONG_TERMS when many particles have a partner beyond MAX_TERMS' reach (small d).
    Piecewise-linear σ: R_N takes K_SERIES terms and the closed form beyond C_SERIES; the
    drift the same, or, when sampled cosines predict enough pairs beyond C_SERIES
    (:func:`_long_series_plan`), a longer table with tails, so that those pairs take the
    series where its bound allows (~0.1–0.5 µs against ~5 µs for the closed form).
    """
    kind, _ = activation.kernel_spec()
    smooth = kind != KIND_PIECEWISE_LINEAR
    symmetric = False
    if smooth:
        largest = _largest_cosine(unit_t) if r.size > 1 else np.zeros(r.size)
        tol = GRADIENT_SERIES_TOL if derivatives else RISK_SERIES_TOL
        # the pair rule with T_K/T_1 ≤ 1 (any σ): enough terms for every pair with |c| ≤ top
        unit_tails = np.ones((1, LONG_TERMS + 1, 1))
        terms = _pair_series_terms(float(largest.max()), 0, 0, unit_tails, tol, derivatives) or LONG_TERMS
        reach = _reach(MAX_TERMS, tol, derivatives)
        if np.count_nonzero(largest > reach) * LONG_TABLE_FRACTION < r.size:
            terms = min(terms, MAX_TERMS)  # the few pairs beyond MAX_TERMS' reach take the quadrature
        terms = max(K_SERIES, terms)
    elif derivatives and drift_series:
        terms, symmetric = _long_series_plan(unit_t)
    else:
        terms = K_SERIES
    return _series_tables(activation, scales, r, terms, smooth or terms > K_SERIES, derivatives) \
        + (symmetric,)
