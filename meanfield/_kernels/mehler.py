"""Mehler's series for pairs of isotropic particles, block by block (Numba).

For unit vectors ŵ_i, ŵ_j and c = ⟨ŵ_i, ŵ_j⟩, K(a, b, c) = Σ_k c^k h_k(a) h_k(b) with the
Hermite tables h_t[s, k, j] = h_k(s r_j); the cosines of a block of pairs (:func:`_cosine_chunk`),
the series of values and derivatives over a chunk (Horner in c), and the per-pair truncation
rule: the tail after K terms is at most |c|^K √(T_K(a) T_K(b)) (Cauchy–Schwarz with the Parseval
tails T_K = Σ_{k≥K} h_k², :func:`_parseval_tails`), K chosen so that this is ≤ tol relative
(:func:`_pair_series_terms`). Used by :mod:`.isotropic_pairs`.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .pair_direct import C_SERIES

#: Rows i per task of the pair passes (they share each chunk of ŵ_j and h_k(s r_j)).
GRADIENT_ROW_BLOCK = 16
#: Neurons j per chunk: a chunk's Horner state stays in L1 over all k.
GRADIENT_J_BLOCK = 256
#: Drift series until k|c|^(k−1) ≤ this: tail ≲ 2e-11 max_k |h_k(a)h_k(b)| (measured ≤ 5e-13, docs/numerics.rst).
GRADIENT_SERIES_TOL = 1e-11
#: A chunk's vectorised series stops where pairs with |c| ≤ this converge; the rare pairs above go one by one ...
C_SPLIT = 0.35
#: ... when at most 1/SPLIT_FRACTION of the chunk's pairs lie above C_SPLIT (large d).
SPLIT_FRACTION = 16
#: Parseval tails beyond the table get this × E σ² on top (bounds the rounding of E σ² − Σ h_k²: stays an upper bound).
TAIL_FLOOR = 64 * np.finfo(float).eps
@njit(cache=True)
def _parseval_tails(h_t, second, tails):
    """tails[j, K, s] = Σ_{K≤k<terms} h_t[s, k, j]² + rest[s, j], K = 0..terms, with the rest
    beyond the table max(E σ² − Σ_k h_k², 0) + TAIL_FLOOR E σ² (the difference carries rounding
    of ~1e-16 E σ²: the floor keeps the tails upper bounds). Particle-major: one pair's bound
    (:func:`_pair_series_terms`) reads two contiguous rows."""
    n_s, terms, n = h_t.shape
    total = np.zeros(n)
    for s in range(n_s):
        for j in range(n):
            total[j] = 0.0
        for k in range(terms):
            h = h_t[s, k]
            for j in range(n):
                total[j] += h[j] * h[j]
        for j in range(n):
            tails[j, terms, s] = max(second[s, j] - total[j], 0.0) + TAIL_FLOOR * second[s, j]
        for j in range(n):
            acc = tails[j, terms, s]
            for k in range(terms - 1, -1, -1):
                acc += h_t[s, k, j] * h_t[s, k, j]
                tails[j, k, s] = acc


@njit(cache=True)
def _coordinates(unit_t, q, width, i, present):
    """ŵ_i[q .. q + 3] (0 beyond d, all 0 if not present)."""
    if not present:
        return 0.0, 0.0, 0.0, 0.0
    return (unit_t[q, i], unit_t[q + 1, i] if width > 1 else 0.0, unit_t[q + 2, i] if width > 2 else 0.0,
            unit_t[q + 3, i] if width > 3 else 0.0)


@njit(cache=True)
def _cosine_workspace(nb):
    """The outputs of :func:`_cosine_chunk` for nb rows: cos, c_max, n_mid, n_big."""
    return (np.empty((nb, GRADIENT_J_BLOCK)), np.empty(nb), np.empty(nb, np.int64),
            np.empty(nb, np.int64))


@njit(cache=True, fastmath={"contract", "reassoc", "nnan", "ninf", "nsz"})  # unit vectors: all finite
def _cosine_chunk(i0, i1, j0, j1, unit_t, cos, c_max, n_mid, n_big):
    """cos[b, jj] = ŵ_(i0+b)·ŵ_(j0+jj) clipped to [−1, 1] for the rows i0 ≤ i < i1 and the
    chunk j0 ≤ j < j1, four coordinates × four rows per pass; per row, c_max = the largest
    |c| ≤ C_SERIES, n_mid = the number of C_SPLIT < |c| ≤ C_SERIES and n_big = the number
    of |c| > C_SERIES (the diagonal, c = 1, among them)."""
    d = unit_t.shape[0]
    m = j1 - j0
    nb = i1 - i0
    for b in range(nb):
        for jj in range(m):
            cos[b, jj] = 0.0
    q = 0
    while q < d:
        width = min(4, d - q)
        x0, x1, x2, x3 = unit_t[q, j0:j1], unit_t[q + min(1, width - 1), j0:j1], \
            unit_t[q + min(2, width - 1), j0:j1], unit_t[q + min(3, width - 1), j0:j1]
        for b in range(0, nb, 4):  # four rows per pass share the loads of x0..x3
            rows = min(4, nb - b)
            a0, a1, a2, a3 = _coordinates(unit_t, q, width, i0 + b, True)
            b0, b1, b2, b3 = _coordinates(unit_t, q, width, i0 + b + min(1, rows - 1), rows > 1)
            e0, e1, e2, e3 = _coordinates(unit_t, q, width, i0 + b + min(2, rows - 1), rows > 2)
            f0, f1, f2, f3 = _coordinates(unit_t, q, width, i0 + b + min(3, rows - 1), rows > 3)
            c0 = cos[b, :m]  # rows past the block alias the last row and add zeros
            c1 = cos[b + min(1, rows - 1), :m]
            c2 = cos[b + min(2, rows - 1), :m]
            c3 = cos[b + min(3, rows - 1), :m]
            for jj in range(m):
                y0, y1, y2, y3 = x0[jj], x1[jj], x2[jj], x3[jj]
                t0 = (a0 * y0 + a1 * y1) + (a2 * y2 + a3 * y3)
                t1 = (b0 * y0 + b1 * y1) + (b2 * y2 + b3 * y3)
                t2 = (e0 * y0 + e1 * y1) + (e2 * y2 + e3 * y3)
                t3 = (f0 * y0 + f1 * y1) + (f2 * y2 + f3 * y3)
                c3[jj] += t3
                c2[jj] += t2
                c1[jj] += t1
                c0[jj] += t0
        q += width
    for b in range(nb):
        cb = cos[b, :m]
        largest = 0.0
        mid = 0
        big = 0
        for jj in range(m):
            c = min(1.0, max(-1.0, cb[jj]))
            cb[jj] = c
            small = abs(c) <= C_SERIES
            largest = max(largest, abs(c) if small else 0.0)
            mid += 1 if (small and abs(c) > C_SPLIT) else 0
            big += 0 if small else 1
        c_max[b] = largest
        n_mid[b] = mid
        n_big[b] = big


@njit(cache=True)
def _row_factors(i, scales, h_t, dh_t, out):
    """out[k] = (½ s₀ h_k'(s₀ r_i), ½ s₁ h_k'(s₁ r_i), ½ k h_k(s₀ r_i), ½ k h_k(s₁ r_i)):
    row i's factors of the Mehler sums of :func:`_mehler_gradient`, both scales."""
    for k in range(out.shape[0]):
        out[k, 0] = 0.5 * scales[0] * dh_t[0, k, i]
        out[k, 1] = 0.5 * scales[1] * dh_t[1, k, i]
        out[k, 2] = 0.5 * k * h_t[0, k, i]
        out[k, 3] = 0.5 * k * h_t[1, k, i]


@njit(cache=True, fastmath={"contract", "reassoc"})
def _mehler_gradient(top, cb, h_t, f, j0, da, dc):
    """Horner in c over the chunk j0 .. j0 + len(cb) − 1 for the terms k ≤ top, both scales
    s at once (f from :func:`_row_factors`, b_j = s r_j):
        da_j = ½ Σ_s s Σ_k c^k h_k'(a_i) h_k(b_j),   dc_j = ½ Σ_s Σ_{k≥1} k c^(k−1) h_k(a_i) h_k(b_j).
    Four k per pass over j, so da, dc are loaded and stored once per four terms."""
    m = cb.shape[0]
    g0, g1 = h_t[0, top, j0:j0 + m], h_t[1, top, j0:j0 + m]
    for jj in range(m):
        da[jj] = f[top, 0] * g0[jj] + f[top, 1] * g1[jj]
        dc[jj] = f[top, 2] * g0[jj] + f[top, 3] * g1[jj]
    k = top - 1
    while k >= 4:  # four terms per pass
        a0, a1, b0, b1 = f[k, 0], f[k, 1], f[k, 2], f[k, 3]
        e0, e1, p0, p1 = f[k - 1, 0], f[k - 1, 1], f[k - 1, 2], f[k - 1, 3]
        s0, s1, t0, t1 = f[k - 2, 0], f[k - 2, 1], f[k - 2, 2], f[k - 2, 3]
        v0, v1, w0, w1 = f[k - 3, 0], f[k - 3, 1], f[k - 3, 2], f[k - 3, 3]
        g0, g1 = h_t[0, k, j0:j0 + m], h_t[1, k, j0:j0 + m]
        q0, q1 = h_t[0, k - 1, j0:j0 + m], h_t[1, k - 1, j0:j0 + m]
        x0, x1 = h_t[0, k - 2, j0:j0 + m], h_t[1, k - 2, j0:j0 + m]
        z0, z1 = h_t[0, k - 3, j0:j0 + m], h_t[1, k - 3, j0:j0 + m]
        for jj in range(m):
            c = cb[jj]
            x = da[jj] * c + (a0 * g0[jj] + a1 * g1[jj])
            y = dc[jj] * c + (b0 * g0[jj] + b1 * g1[jj])
            x = x * c + (e0 * q0[jj] + e1 * q1[jj])
            y = y * c + (p0 * q0[jj] + p1 * q1[jj])
            x = x * c + (s0 * x0[jj] + s1 * x1[jj])
            y = y * c + (t0 * x0[jj] + t1 * x1[jj])
            da[jj] = x * c + (v0 * z0[jj] + v1 * z1[jj])
            dc[jj] = y * c + (w0 * z0[jj] + w1 * z1[jj])
        k -= 4
    while k >= 1:  # two terms per pass
        k2 = max(k - 1, 0)  # with k = 1 alone, the second term is k = 0 of da only
        a0, a1, b0, b1 = f[k, 0], f[k, 1], f[k, 2], f[k, 3]
        e0, e1 = f[k2, 0], f[k2, 1]
        g0, g1 = h_t[0, k, j0:j0 + m], h_t[1, k, j0:j0 + m]
        q0, q1 = h_t[0, k2, j0:j0 + m], h_t[1, k2, j0:j0 + m]
        if k >= 2:
            p0, p1 = f[k2, 2], f[k2, 3]
            for jj in range(m):
                c = cb[jj]
                x = da[jj] * c + (a0 * g0[jj] + a1 * g1[jj])
                y = dc[jj] * c + (b0 * g0[jj] + b1 * g1[jj])
                da[jj] = x * c + (e0 * q0[jj] + e1 * q1[jj])
                dc[jj] = y * c + (p0 * q0[jj] + p1 * q1[jj])
        else:  # k = 1: the last term of dc, the last two of da
            for jj in range(m):
                c = cb[jj]
                x = da[jj] * c + (a0 * g0[jj] + a1 * g1[jj])
                dc[jj] = dc[jj] * c + (b0 * g0[jj] + b1 * g1[jj])
                da[jj] = x * c + (e0 * q0[jj] + e1 * q1[jj])
            return
        k -= 2
    if k == 0:  # the last term of da
        e0, e1 = f[0, 0], f[0, 1]
        g0, g1 = h_t[0, 0, j0:j0 + m], h_t[1, 0, j0:j0 + m]
        for jj in range(m):
            da[jj] = da[jj] * cb[jj] + (e0 * g0[jj] + e1 * g1[jj])


@njit(cache=True)
def _series_terms(c_abs, n_terms):
    """Smallest K ≥ 2 with K c^(K−1) ≤ GRADIENT_SERIES_TOL (at most n_terms): the terms k < K
    of the gradient sums of pairs with |c| ≤ c_abs."""
    terms = 2
    power = c_abs  # c^(K−1)
    while terms < n_terms and terms * power > GRADIENT_SERIES_TOL:
        terms += 1
        power *= c_abs
    return terms


@njit(cache=True, fastmath={"contract", "reassoc"})
def _mehler_tail(k_lo, k_hi, c, hj, f):
    """The terms k_lo ≤ k < k_hi of the sums of :func:`_mehler_gradient` for one pair, hj[k, s] =
    h_k(s r_j) (particle-major row of h_j, contiguous in k):
    (½ Σ_s s Σ_k c^k h_k'(a) h_k(b), ½ Σ_s Σ_k k c^(k−1) h_k(a) h_k(b)).
    Four Horner chains in c⁴ (terms k ≡ k_lo + ρ mod 4, ρ = 0..3), joined by one Horner step
    in c: four independent multiply-adds per term instead of one dependent chain (the long
    series of small d spends most of its time here)."""
    n_terms = k_hi - k_lo
    if n_terms <= 0:
        return 0.0, 0.0
    c4 = (c * c) * (c * c)
    x0 = x1 = x2 = x3 = 0.0
    y0 = y1 = y2 = y3 = 0.0
    top = k_lo + (n_terms // 4) * 4  # the partial group k ≥ top first, then full groups down
    if top < k_hi:
        x0 = f[top, 0] * hj[top, 0] + f[top, 1] * hj[top, 1]
        y0 = f[top, 2] * hj[top, 0] + f[top, 3] * hj[top, 1]
    if top + 1 < k_hi:
        x1 = f[top + 1, 0] * hj[top + 1, 0] + f[top + 1, 1] * hj[top + 1, 1]
        y1 = f[top + 1, 2] * hj[top + 1, 0] + f[top + 1, 3] * hj[top + 1, 1]
    if top + 2 < k_hi:
        x2 = f[top + 2, 0] * hj[top + 2, 0] + f[top + 2, 1] * hj[top + 2, 1]
        y2 = f[top + 2, 2] * hj[top + 2, 0] + f[top + 2, 3] * hj[top + 2, 1]
    for k in range(top - 4, k_lo - 1, -4):
        a0, a1 = hj[k, 0], hj[k, 1]
        b0, b1 = hj[k + 1, 0], hj[k + 1, 1]
        e0, e1 = hj[k + 2, 0], hj[k + 2, 1]
        g0, g1 = hj[k + 3, 0], hj[k + 3, 1]
        x0 = x0 * c4 + (f[k, 0] * a0 + f[k, 1] * a1)
        y0 = y0 * c4 + (f[k, 2] * a0 + f[k, 3] * a1)
        x1 = x1 * c4 + (f[k + 1, 0] * b0 + f[k + 1, 1] * b1)
        y1 = y1 * c4 + (f[k + 1, 2] * b0 + f[k + 1, 3] * b1)
        x2 = x2 * c4 + (f[k + 2, 0] * e0 + f[k + 2, 1] * e1)
        y2 = y2 * c4 + (f[k + 2, 2] * e0 + f[k + 2, 3] * e1)
        x3 = x3 * c4 + (f[k + 3, 0] * g0 + f[k + 3, 1] * g1)
        y3 = y3 * c4 + (f[k + 3, 2] * g0 + f[k + 3, 3] * g1)
    x = ((x3 * c + x2) * c + x1) * c + x0
    y = ((y3 * c + y2) * c + y1) * c + y0
    low = c ** (k_lo - 1)
    return x * low * c, y * low


@njit(cache=True)
def _pair_series_terms(c_abs, i, j, tails, tol, derivatives):
    """Terms K ≤ tails.shape[1] − 1 of the Mehler series for the pair (i, j), both scales,
    or 0 if no K meets the bound (then the pair takes the quadrature or the closed form). With
    T_K = Σ_{k≥K} h_k² (tails, Parseval) and Cauchy-Schwarz the omitted terms obey

        |Σ_{k≥K} c^k h_k(a) h_k(b)|            ≤ |c|^K √(T_K(a) T_K(b)),
        |Σ_{k≥K} k c^(k−1) h_k(a) h_k(b)|      ≤ K|c|^(K−1) √(T_K(a) T_K(b)),
        |Σ_{k≥K} c^k h_k'(a) h_k(b)|           ≤ (2/a)(K+2)|c|^K √(T_K(a) T_K(b)),

    the last from a h_k'(a) = √((k+1)(k+2)) h_{k+2}(a) + k h_k(a) (Stein; σ absolutely
    continuous); K is the smallest with the bound (factor (K+2)|c|^(K−1) for ``derivatives``,
    |c|^K otherwise) ≤ tol · √(T_1(a) T_1(b)), where T_1 = Var σ(aG) (not E σ², which holds
    σ(0)² as a → 0 while every term k ≥ 1 vanishes like a), and K ≥ |c|/(1−|c|) (monotone
    factors). So the omitted part of the value and of the c-sum is ≤ tol √(T_1 T_1), that of
    the a-sum ≤ (2|c|/a) tol √(T_1 T_1): in the drift, where it enters as ½ s ∂_aK with
    a = s r_i, as ∂_cK / r_i does, both are ≤ tol √(T_1 T_1) / r_i, and √T_1(s r_i) ≤ s r_i
    sup|σ'|."""
    n_max = tails.shape[1] - 1
    if n_max < 1 or c_abs >= 1.0:
        return 0
    start = 1
    if derivatives:
        start = max(2, int(math.ceil(c_abs / (1.0 - c_abs))))
    if start > n_max or not _series_bound_met(c_abs, n_max, i, j, tails, tol, derivatives):
        return 0
    lo, hi = start, n_max  # the bound holds at hi and both factors decrease in K: bisect
    while lo < hi:
        mid = (lo + hi) // 2
        if _series_bound_met(c_abs, mid, i, j, tails, tol, derivatives):
            hi = mid
        else:
            lo = mid + 1
    return lo


@njit(cache=True)
def _pair_series_terms_from(c_abs, first, i, j, tails, tol):
    """A number of terms K ≥ first that meets the drift's bound of :func:`_pair_series_terms`
    (not necessarily the smallest: candidates first, then × 5/4 + 1 up to the table's end, a few
    bound evaluations instead of a bisection's ~10, reading each particle's tails in increasing
    K), or 0 if the table's end does not (callers ask :func:`_takes_closed_form` first)."""
    n_max = tails.shape[1] - 1
    if n_max < 1 or c_abs >= 1.0:
        return 0
    terms = min(max(first, 2, int(math.ceil(c_abs / (1.0 - c_abs)))), n_max)
    while True:
        if _series_bound_met(c_abs, terms, i, j, tails, tol, True):
            return terms
        if terms == n_max:
            return 0
        terms = min(n_max, terms + terms // 4 + 1)


@njit(cache=True)
def _takes_closed_form(c_abs, i, j, tails, c_served):
    """Whether the drift's pair (i, j) (i ≠ j) takes the closed form: no table with tails, |c| = 1,
    or the bound of :func:`_pair_series_terms` fails at the table's end (it decreases in K, so
    then it fails for every K). |c| ≤ c_served (:func:`_served_cosine`) is served by the table
    whatever the tails, without evaluating the bound. Symmetric in (i, j)."""
    n_max = tails.shape[1] - 1
    if n_max < 1 or c_abs >= 1.0:
        return True
    return c_abs > c_served and not _series_bound_met(c_abs, n_max, i, j, tails, GRADIENT_SERIES_TOL, True)


@njit(cache=True)
def _pair_cosine(unit_t, i, j):
    """ŵ_i·ŵ_j clipped to [−1, 1], summed over the coordinates in order from the lower index (no
    fastmath): the same bits for (i, j) and (j, i) in every pass, so the drift's passes agree on
    which pairs take the closed form."""
    lo, hi = min(i, j), max(i, j)
    total = 0.0
    for q in range(unit_t.shape[0]):
        total += unit_t[q, lo] * unit_t[q, hi]
    return min(1.0, max(-1.0, total))


@njit(cache=True)
def _series_bound_met(c_abs, terms, i, j, tails, tol, derivatives):
    """Whether factor² T_K(a) T_K(b) ≤ tol² T_1(a) T_1(b) at K = terms for every scale (the rule
    of :func:`_pair_series_terms`, squared)."""
    power = c_abs ** (terms - 1)
    factor = (terms + 2) * power if derivatives else power * c_abs
    ti, tj = tails[i], tails[j]
    for si in range(tails.shape[2]):
        if factor * factor * (ti[terms, si] * tj[terms, si]) > tol * tol * (ti[1, si] * tj[1, si]):
            return False
    return True


@njit(cache=True, fastmath={"contract", "reassoc"})
def _mehler_pair_value(terms, c, h_t, si, i, j):
    """Σ_{k<terms} c^k h_k(s r_i) h_k(s r_j) (Horner) for one pair and scale index si."""
    out = 0.0
    for k in range(terms - 1, -1, -1):
        out = out * c + h_t[si, k, i] * h_t[si, k, j]
    return out


@njit(cache=True)
def _largest_cosine_block(i0, i1, unit_t, largest):
    """largest[i] = max |ŵ_i·ŵ_j| over j ≠ i with C_SERIES < |c| < 1 (0 if none), i0 ≤ i < i1,
    from the cosines of :func:`_cosine_chunk` (|c| = 1, duplicates, never take the series)."""
    n = unit_t.shape[1]
    nb = i1 - i0
    cos, c_max, n_mid, n_big = _cosine_workspace(nb)
    for b in range(nb):
        largest[i0 + b] = 0.0
    for j0 in range(0, n, GRADIENT_J_BLOCK):
        m = min(n - j0, GRADIENT_J_BLOCK)
        _cosine_chunk(i0, i1, j0, j0 + m, unit_t, cos, c_max, n_mid, n_big)
        for b in range(nb):
            if n_big[b] > 0:
                for jj in range(m):
                    if j0 + jj != i0 + b and C_SERIES < abs(cos[b, jj]) < 1.0:
                        largest[i0 + b] = max(largest[i0 + b], abs(cos[b, jj]))


@njit(cache=True, parallel=True)
def _largest_cosine(unit_t):
    """Per particle, the largest off-diagonal |cos| in (C_SERIES, 1) (0 if none)."""
    n = unit_t.shape[1]
    largest = np.empty(n)
    n_blocks = (n + GRADIENT_ROW_BLOCK - 1) // GRADIENT_ROW_BLOCK
    for blk in prange(n_blocks):
        i0 = blk * GRADIENT_ROW_BLOCK
        _largest_cosine_block(i0, min(n, i0 + GRADIENT_ROW_BLOCK), unit_t, largest)
    return largest


@njit(cache=True, fastmath={"contract", "reassoc"})
def _add_mixed_directions(i0, nb, j0, m, unit_t, mix, angular):
    """angular[i0 + b] += Σ_jj mix[b, jj] ŵ_(j0+jj) for b < nb, four coordinates × two rows
    per pass (each coordinate row of the chunk is loaded once per two rows)."""
    d = unit_t.shape[0]
    q = 0
    while q < d:
        width = min(4, d - q)
        u0, u1, u2, u3 = unit_t[q, j0:j0 + m], unit_t[q + min(1, width - 1), j0:j0 + m], \
            unit_t[q + min(2, width - 1), j0:j0 + m], unit_t[q + min(3, width - 1), j0:j0 + m]
        for b in range(0, nb, 2):
            second = b + 1 < nb
            ma = mix[b, :m]
            mb = mix[b + 1 if second else b, :m]
            a0 = a1 = a2 = a3 = 0.0
            e0 = e1 = e2 = e3 = 0.0
            for jj in range(m):
                w, v = ma[jj], mb[jj]
                y0, y1, y2, y3 = u0[jj], u1[jj], u2[jj], u3[jj]
                a0 += w * y0
                a1 += w * y1
                a2 += w * y2
                a3 += w * y3
                e0 += v * y0
                e1 += v * y1
                e2 += v * y2
                e3 += v * y3
            _add_coordinates(angular[i0 + b], q, width, a0, a1, a2, a3)
            if second:
                _add_coordinates(angular[i0 + b + 1], q, width, e0, e1, e2, e3)
        q += width


@njit(cache=True)
def _add_coordinates(row, q, width, a0, a1, a2, a3):
    """row[q .. q + width − 1] += (a0, a1, a2, a3)[:width]."""
    row[q] += a0
    if width > 1:
        row[q + 1] += a1
    if width > 2:
        row[q + 2] += a2
    if width > 3:
        row[q + 3] += a3


@njit(cache=True, fastmath={"contract", "reassoc"})
def _mehler_value(i, si, cb, h_t, j0, terms, out):
    """out_j = Σ_{k<terms} c^k h_k(a_i) h_k(b_j) (Horner, four k per pass)."""
    m = cb.shape[0]
    top = terms - 1
    ak, hk = h_t[si, top, i], h_t[si, top, j0:j0 + m]
    for jj in range(m):
        out[jj] = ak * hk[jj]
    k = top - 1
    while k >= 3:
        a0, h0 = h_t[si, k, i], h_t[si, k, j0:j0 + m]
        a1, h1 = h_t[si, k - 1, i], h_t[si, k - 1, j0:j0 + m]
        a2, h2 = h_t[si, k - 2, i], h_t[si, k - 2, j0:j0 + m]
        a3, h3 = h_t[si, k - 3, i], h_t[si, k - 3, j0:j0 + m]
        for jj in range(m):
            c = cb[jj]
            x = out[jj] * c + a0 * h0[jj]
            x = x * c + a1 * h1[jj]
            x = x * c + a2 * h2[jj]
            out[jj] = x * c + a3 * h3[jj]
        k -= 4
    while k >= 0:
        ak, hk = h_t[si, k, i], h_t[si, k, j0:j0 + m]
        for jj in range(m):
            out[jj] = out[jj] * cb[jj] + ak * hk[jj]
        k -= 1


