"""The finite-N risk R_N and drift ∇Ψ of the isotropic model: one pass over blocks of pairs (Numba).

Σ_ij U(w_i, w_j), U = ½ Σ_s K(s r_i, s r_j, c_ij), and per particle
∇Ψ(w_i) ∝ Σ_j ½ Σ_s [s ∂_aK ŵ_i + (∂_cK / r_i)(ŵ_j − c_ij ŵ_i)]: Mehler's series (:mod:`.mehler`)
for |c| ≤ C_SERIES and for the pairs beyond whose Parseval bound allows it, else the direct rule
(:mod:`.pair_direct`: closed form or quadrature). Blocks of GRADIENT_ROW_BLOCK rows, threaded
over rows (or, for the closed-form pairs i < j, over CLOSED_TASKS fixed tasks summed in order:
the result does not depend on the thread count). No N × N array. R_N has one kernel per direct
rule (:func:`.pair_direct.pair_direct_rule`), so a ramp run compiles no smooth quadrature.
"""
from __future__ import annotations


import numpy as np
from numba import njit, prange

from .mehler import (C_SPLIT, GRADIENT_J_BLOCK, GRADIENT_ROW_BLOCK, GRADIENT_SERIES_TOL, SPLIT_FRACTION,
                     _add_mixed_directions, _cosine_chunk, _cosine_workspace, _mehler_gradient, _mehler_pair_value,
                     _mehler_tail, _mehler_value, _pair_cosine, _pair_series_terms, _pair_series_terms_from,
                     _row_factors, _series_terms, _takes_closed_form)
from .pair_direct import (C_SERIES, K_SERIES, pair_direct_rule, pair_gradient_direct, pair_gradient_direct_both,
                          pl_pair_direct, self_pair_gradient, smooth_pair_direct)

#: R_N, smooth σ: pairs with |c| > C_SERIES take the series while its Parseval bound is ≤ this (relative).
RISK_SERIES_TOL = 1e-14
#: Rows per block of the symmetric closed-form pass (docs/numerics.rst, "Series planning of the isotropic drift").
CLOSED_ROW_BLOCK = 32
#: Fixed task count of that pass, each with its own accumulator summed in task order (thread-count independent).
CLOSED_TASKS = 16
@njit(cache=True, fastmath={"contract", "reassoc"})
def _gradient_block(i0, i1, kind, p, scales, r, zero, unit_t, h_t, h_j, dh_t, tails, c_served, dsigma0, symmetric,
                    radial, angular):
    """Rows i0 .. i1 − 1 of ∇Ψ(w_i) = radial_i ŵ_i + angular_i, angular_i = Σ_j mixing_ij ŵ_j
    (both before the 1/N), in one pass over chunks of GRADIENT_J_BLOCK neurons j and
    without any N×N array: per chunk the cosines, the Mehler sums, the mixing weights
    and Σ_j mixing_ij ŵ_j, each chunk of ŵ and h shared by the block's rows.

    unit_t[:, j] = ŵ_j (0 for w_j = 0); h_t[s, k, j] = h_k(s r_j) (k-major, so the loops
    over j vectorise), h_j[j, k, s] the same particle-major (the per-pair series), dh_t[s, k, j] = h_k'(s r_j). Pairs with |c_ij| ≤ C_SERIES use the
    series with as many terms as the chunk's largest such |c| needs (k|c|^(k−1) ≤
    GRADIENT_SERIES_TOL for the first omitted k) or, when few pairs lie above C_SPLIT,
    as many as |c| ≤ C_SPLIT needs plus per-pair tails for those few. Pairs with |c| > C_SERIES:
    with tails given (smooth σ, or piecewise-linear σ with the long table) the series with the
    terms :func:`_pair_series_terms` asks for (continuing the chunk's sums), else, and for
    j = i (c = 1, no angular part), the direct evaluation; with ``symmetric`` the pairs j ≠ i that
    take the closed form (:func:`_takes_closed_form` on :func:`_pair_cosine`) are left to
    :func:`_closed_pairs`. A row with w_i = 0 gets the mean SGD direction with σ'(0+):
    mixing_ij = ½ Σ_s s σ'(0+) h_1(s r_j), radial_i = 0.
    """
    d, n = unit_t.shape
    nb = i1 - i0
    n_terms = h_t.shape[1]
    for b in range(nb):
        radial[i0 + b] = 0.0
        for q in range(d):
            angular[i0 + b, q] = 0.0
    cos, c_max, n_mid, n_big = _cosine_workspace(nb)
    mix = np.empty((nb, GRADIENT_J_BLOCK))
    da = np.empty(GRADIENT_J_BLOCK)
    dc = np.empty(GRADIENT_J_BLOCK)
    factors = np.empty((nb, n_terms, 4))
    for b in range(nb):
        _row_factors(i0 + b, scales, h_t, dh_t, factors[b])
    for j0 in range(0, n, GRADIENT_J_BLOCK):
        m = min(n - j0, GRADIENT_J_BLOCK)
        _cosine_chunk(i0, i1, j0, j0 + m, unit_t, cos, c_max, n_mid, n_big)
        for b in range(nb):
            i = i0 + b
            mb = mix[b, :m]
            for jj in range(m):
                mb[jj] = 0.0
            if zero[i]:
                for si in range(scales.shape[0]):
                    coef = 0.5 * scales[si] * dsigma0
                    h1 = h_t[si, 1, j0:j0 + m]
                    for jj in range(m):
                        mb[jj] += coef * h1[jj]
                continue
            cb = cos[b, :m]
            inv_r = 1.0 / r[i]
            split = 0 < n_mid[b] <= m // SPLIT_FRACTION  # else all pairs take the chunk's terms
            terms = _series_terms(min(c_max[b], C_SPLIT) if split else c_max[b], n_terms)
            _mehler_gradient(terms - 1, cb, h_t, factors[b], j0, da, dc)
            acc_r = 0.0
            for jj in range(m):  # series pairs only (|c| > C_SERIES, the diagonal among them, are masked out)
                c = cb[jj]
                valid = abs(c) <= C_SERIES
                dcj = dc[jj] * inv_r if valid else 0.0
                acc_r += (da[jj] if valid else 0.0) - c * dcj
                mb[jj] += dcj
            if split:  # the few series pairs that need more terms than the chunk's
                for jj in range(m):
                    c = cb[jj]
                    if C_SPLIT < abs(c) <= C_SERIES:
                        da_tail, dc_tail = _mehler_tail(terms, _series_terms(abs(c), n_terms), c, h_j[j0 + jj],
                                                        factors[b])
                        acc_r += da_tail - c * dc_tail * inv_r
                        mb[jj] += dc_tail * inv_r
            if n_big[b] > 0:  # the direct pairs of this chunk (rare for large d)
                for jj in range(m):
                    c = cb[jj]
                    if abs(c) <= C_SERIES:
                        continue
                    j = j0 + jj
                    terms_ij = 0
                    if j != i:
                        if not _takes_closed_form(abs(_pair_cosine(unit_t, i, j)), i, j, tails, c_served):
                            terms_ij = _pair_series_terms_from(abs(c), terms, i, j, tails, GRADIENT_SERIES_TOL)
                        elif symmetric:
                            continue  # _closed_pairs gives this pair to both rows
                    if terms_ij > 0:  # the long series (its Parseval bound allows it)
                        # the chunk's sums hold the terms k < terms ≤ terms_ij
                        daj, dcj = _mehler_tail(terms, terms_ij, c, h_j[j], factors[b])
                        daj += da[jj]
                        dcj += dc[jj]
                        acc_r += daj - c * dcj * inv_r
                        mb[jj] += dcj * inv_r
                        continue
                    for si in range(scales.shape[0]):
                        s = scales[si]
                        if j == i:  # c = 1: no angular part
                            acc_r += 0.5 * s * self_pair_gradient(kind, p, s * r[i])
                            continue
                        daj, dcj = pair_gradient_direct(kind, p, s * r[i], s * r[j], c)
                        acc_r += 0.5 * (s * daj - c * dcj * inv_r)
                        mb[jj] += 0.5 * dcj * inv_r
            radial[i] += acc_r
        _add_mixed_directions(i0, nb, j0, m, unit_t, mix, angular)


@njit(inline="always")
def _risk_block(direct, i0, i1, kind, p, scales, r, unit_t, h_t, tails, diag):
    """Σ_{i0≤i<i1} [½ Σ_s diag_si + 2 Σ_{j>i} ½ Σ_s K(s r_i, s r_j, c_ij)]: the rows' share of
    Σ_ij U(w_i, w_j), chunk by chunk in j ≥ i0 as in :func:`_gradient_block` (no N×N array).
    K(a, a, 1) = diag (E σ(aG)²); the series uses K_SERIES terms of h_t for |c| ≤ C_SERIES
    (tail ≤ 0.5^48 relative); beyond, smooth σ takes the series with the terms that
    :func:`_pair_series_terms` asks for (tails given), else ``direct(kind, p, a, b, c)``
    (:func:`pair_direct_rule`). Inlined (Numba IR) into one kernel per rule, :func:`_risk_block_pl`
    and :func:`_risk_block_smooth`: each compiles only its own rule."""
    n = unit_t.shape[1]
    nb = i1 - i0
    cos, c_max, n_mid, n_big = _cosine_workspace(nb)
    val = np.empty(GRADIENT_J_BLOCK)
    total = 0.0
    for b in range(nb):
        for si in range(scales.shape[0]):
            total += 0.5 * diag[si, i0 + b]
    for j0 in range(i0, n, GRADIENT_J_BLOCK):
        m = min(n - j0, GRADIENT_J_BLOCK)
        _cosine_chunk(i0, i1, j0, j0 + m, unit_t, cos, c_max, n_mid, n_big)
        for b in range(nb):
            i = i0 + b
            cb = cos[b, :m]
            first = i + 1 - j0  # pairs j > i
            for si in range(scales.shape[0]):
                _mehler_value(i, si, cb, h_t, j0, K_SERIES, val)
                for jj in range(m):
                    total += val[jj] if (jj >= first and abs(cb[jj]) <= C_SERIES) else 0.0
            if n_big[b] > 0:
                for jj in range(max(first, 0), m):
                    c = cb[jj]
                    if abs(c) > C_SERIES:
                        j = j0 + jj
                        terms_ij = _pair_series_terms(abs(c), i, j, tails, RISK_SERIES_TOL, False)
                        for si in range(scales.shape[0]):
                            if terms_ij > 0:  # smooth σ: the long series (its Parseval bound allows it)
                                total += _mehler_pair_value(terms_ij, c, h_t, si, i, j)
                            else:
                                s = scales[si]
                                total += direct(kind, p, s * r[i], s * r[j], c)
    return total


@njit(cache=True, fastmath={"contract", "reassoc"})
def _risk_block_pl(i0, i1, kind, p, scales, r, unit_t, h_t, tails, diag):
    return _risk_block(pl_pair_direct, i0, i1, kind, p, scales, r, unit_t, h_t, tails, diag)


@njit(cache=True, fastmath={"contract", "reassoc"})
def _risk_block_smooth(i0, i1, kind, p, scales, r, unit_t, h_t, tails, diag):
    return _risk_block(smooth_pair_direct, i0, i1, kind, p, scales, r, unit_t, h_t, tails, diag)


@njit(inline="always")
def _risk_rows_serial(block, kind, p, scales, r, unit_t, h_t, tails, diag):
    """Σ_ij U(w_i, w_j) (before the 1/N²), block after block of rows (``block``: a :func:`_risk_block` kernel)."""
    n = unit_t.shape[1]
    total = 0.0
    for i0 in range(0, n, GRADIENT_ROW_BLOCK):
        total += block(i0, min(n, i0 + GRADIENT_ROW_BLOCK), kind, p, scales, r, unit_t, h_t, tails, diag)
    return total


@njit(inline="always")
def _risk_rows_parallel(block, kind, p, scales, r, unit_t, h_t, tails, diag):
    """As :func:`_risk_rows_serial`, threaded: task t takes the row blocks t and n_blocks − 1 − t."""
    n = unit_t.shape[1]
    n_blocks = (n + GRADIENT_ROW_BLOCK - 1) // GRADIENT_ROW_BLOCK
    n_tasks = (n_blocks + 1) // 2
    partial = np.zeros(n_tasks)
    for task in prange(n_tasks):  # block task with block n_blocks − 1 − task: equal pair counts
        i0 = task * GRADIENT_ROW_BLOCK
        acc = block(i0, min(n, i0 + GRADIENT_ROW_BLOCK), kind, p, scales, r, unit_t, h_t, tails, diag)
        other = n_blocks - 1 - task
        if other != task:
            i0 = other * GRADIENT_ROW_BLOCK
            acc += block(i0, min(n, i0 + GRADIENT_ROW_BLOCK), kind, p, scales, r, unit_t, h_t, tails, diag)
        partial[task] = acc
    return partial.sum()


@njit(cache=True)
def _risk_pairs_serial_pl(kind, p, scales, r, unit_t, h_t, tails, diag):
    return _risk_rows_serial(_risk_block_pl, kind, p, scales, r, unit_t, h_t, tails, diag)


@njit(cache=True)
def _risk_pairs_serial_smooth(kind, p, scales, r, unit_t, h_t, tails, diag):
    return _risk_rows_serial(_risk_block_smooth, kind, p, scales, r, unit_t, h_t, tails, diag)


@njit(cache=True, parallel=True)
def _risk_pairs_parallel_pl(kind, p, scales, r, unit_t, h_t, tails, diag):
    return _risk_rows_parallel(_risk_block_pl, kind, p, scales, r, unit_t, h_t, tails, diag)


@njit(cache=True, parallel=True)
def _risk_pairs_parallel_smooth(kind, p, scales, r, unit_t, h_t, tails, diag):
    return _risk_rows_parallel(_risk_block_smooth, kind, p, scales, r, unit_t, h_t, tails, diag)


def risk_pairs(kind, p, scales, r, unit_t, h_t, tails, diag, parallel):
    """Σ_ij U(w_i, w_j) (before the 1/N²) by the kernel of the direct rule of ``kind``
    (:func:`pair_direct_rule`), threaded with ``parallel``: a ramp or ReLU run never compiles
    the smooth quadrature, nor a smooth run the piecewise-linear closed forms."""
    smooth = pair_direct_rule(kind) is smooth_pair_direct
    if parallel:
        kernel = _risk_pairs_parallel_smooth if smooth else _risk_pairs_parallel_pl
    else:
        kernel = _risk_pairs_serial_smooth if smooth else _risk_pairs_serial_pl
    return kernel(kind, p, scales, r, unit_t, h_t, tails, diag)


@njit(cache=True)
def _gradient_serial(kind, p, scales, r, zero, unit_t, h_t, h_j, dh_t, tails, c_served, dsigma0, symmetric):
    d, n = unit_t.shape
    radial = np.empty(n)
    angular = np.empty((n, d))
    for i0 in range(0, n, GRADIENT_ROW_BLOCK):
        _gradient_block(i0, min(n, i0 + GRADIENT_ROW_BLOCK), kind, p, scales, r, zero, unit_t, h_t, h_j, dh_t, tails,
                        c_served, dsigma0, symmetric, radial, angular)
    return radial, angular


@njit(cache=True, parallel=True)
def _gradient_parallel(kind, p, scales, r, zero, unit_t, h_t, h_j, dh_t, tails, c_served, dsigma0, symmetric):
    d, n = unit_t.shape
    radial = np.empty(n)
    angular = np.empty((n, d))
    n_blocks = (n + GRADIENT_ROW_BLOCK - 1) // GRADIENT_ROW_BLOCK
    for blk in prange(n_blocks):
        i0 = blk * GRADIENT_ROW_BLOCK
        _gradient_block(i0, min(n, i0 + GRADIENT_ROW_BLOCK), kind, p, scales, r, zero, unit_t, h_t, h_j, dh_t, tails,
                        c_served, dsigma0, symmetric, radial, angular)
    return radial, angular


@njit(cache=True)
def _closed_block(i0, i1, kind, p, scales, r, unit_t, tails, c_served, radial, angular):
    """The pairs (i, j), i0 ≤ i < i1, j > i, that take the drift's closed form, once per pair:
    (∂_a K, ∂_b K, ∂_c K) at (s r_i, s r_j, c) from one evaluation (pair_gradient_direct_both)
    give both rows their terms of :func:`_gradient_block` (before the 1/N),

        radial_i += ½ Σ_s (s ∂_aK − c ∂_cK / r_i),   angular_i += (½ Σ_s ∂_cK / r_i) ŵ_j,

    and the same for row j with ∂_bK, r_j and ŵ_i. The cosines of the chunks select the
    candidates |c| > C_SERIES; the decision and c itself come from :func:`_pair_cosine`, as in
    :func:`_gradient_block`, so each pair is taken by exactly one of the two passes."""
    d, n = unit_t.shape
    nb = i1 - i0
    cos, c_max, n_mid, n_big = _cosine_workspace(nb)
    for j0 in range(i0, n, GRADIENT_J_BLOCK):
        m = min(n - j0, GRADIENT_J_BLOCK)
        _cosine_chunk(i0, i1, j0, j0 + m, unit_t, cos, c_max, n_mid, n_big)
        for b in range(nb):
            if n_big[b] == 0:
                continue
            i = i0 + b
            for jj in range(max(0, i + 1 - j0), m):
                if abs(cos[b, jj]) <= C_SERIES:
                    continue
                j = j0 + jj
                c = _pair_cosine(unit_t, i, j)
                if not _takes_closed_form(abs(c), i, j, tails, c_served):
                    continue
                grad_i = 0.0
                grad_j = 0.0
                mixing = 0.0
                for si in range(scales.shape[0]):
                    s = scales[si]
                    da, db, dc = pair_gradient_direct_both(kind, p, s * r[i], s * r[j], c)
                    grad_i += 0.5 * (s * da - c * dc / r[i])
                    grad_j += 0.5 * (s * db - c * dc / r[j])
                    mixing += 0.5 * dc
                radial[i] += grad_i
                radial[j] += grad_j
                for q in range(d):
                    angular[i, q] += mixing / r[i] * unit_t[q, j]
                    angular[j, q] += mixing / r[j] * unit_t[q, i]


@njit(cache=True, parallel=True)
def _closed_pair_tasks(kind, p, scales, r, unit_t, tails, c_served):
    """Per task, the sums of :func:`_closed_block` (CLOSED_TASKS × (N,), × (N, d)): task t takes
    the block pairs (b, n_blocks − 1 − b), b ≡ t mod CLOSED_TASKS (equal pair counts j > i), whatever
    the thread count."""
    d, n = unit_t.shape
    n_blocks = (n + CLOSED_ROW_BLOCK - 1) // CLOSED_ROW_BLOCK
    n_pairs = (n_blocks + 1) // 2
    radial = np.zeros((CLOSED_TASKS, n))
    angular = np.zeros((CLOSED_TASKS, n, d))
    for task in prange(CLOSED_TASKS):
        for blk in range(task, n_pairs, CLOSED_TASKS):
            i0 = blk * CLOSED_ROW_BLOCK
            _closed_block(i0, min(n, i0 + CLOSED_ROW_BLOCK), kind, p, scales, r, unit_t, tails, c_served, radial[task],
                          angular[task])
            other = n_blocks - 1 - blk
            if other != blk:
                i0 = other * CLOSED_ROW_BLOCK
                _closed_block(i0, min(n, i0 + CLOSED_ROW_BLOCK), kind, p, scales, r, unit_t, tails, c_served,
                              radial[task], angular[task])
    return radial, angular


