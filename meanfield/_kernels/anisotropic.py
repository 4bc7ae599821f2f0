"""Numba kernels of the reduced anisotropic model: the (k, j) feature sums per point.

With the tables h_k, ∂_s h_k, ∂_b h_k, g_k = h_k/s (k ≤ K) of one class at M points and
monomials p^j q^{k−j}, for coefficients A_kj:

    feature_sums:  F_kj += Σ_m c_m h_k p_m^j q_m^{k−j}                     (feature means)
    field_sums:    S_a = Σ A h_k p^j q^{k−j},  S_b = Σ A ∂_b h_k p^j q^{k−j},
                   S_1 = Σ A [∂_s h_k p₁ P Q + g_k (q₁² ∂_p(P Q) − p₁ q₁ ∂_q(P Q))]  at (p₁, q₁),
                   S_2 = Σ A [∂_s h_k q₂ P Q + g_k (p₂² ∂_q(P Q) − p₂ q₂ ∂_p(P Q))]  at (p₂, q₂),

P Q = p^j q^{k−j}; (p₁, q₁), (p₂, q₂) equal (p, q) except at s = 0, where the caller passes the
axis directions (1, 0) and (0, 1) (one-sided limits). O(M · P) work, no allocation per point.
"""
import math

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def _powers(x, out):
    out[0] = 1.0
    for j in range(1, out.shape[0]):
        out[j] = out[j - 1] * x


@njit(cache=True)
def pl_shifted_tables(offset, left, knots, coefs, s, b, m_out, e_out):
    """Piecewise-linear σ = offset + left·t + Σ_i coefs_i (t − knots_i)₊: m = E σ(sG + b) and
    e_k = E[σ'(sG + b) p_k(G)], k = 0..K+1 (e_out[m, k]), by the closed forms of
    :mod:`meanfield.shifted_hermite` (q_k = φ(τ) p_k(τ) by its recurrence, τ clipped to ±40)."""
    kk = e_out.shape[1]
    inv_sqrt_2pi = 1.0 / math.sqrt(2.0 * math.pi)
    for m in range(s.shape[0]):
        sm, bm = s[m], b[m]
        mean = offset + left * bm
        for k in range(kk):
            e_out[m, k] = 0.0
        e_out[m, 0] = left
        for i in range(knots.shape[0]):
            gap = knots[i] - bm
            if sm > 0.0:
                tau = gap / sm
            elif gap > 0.0:
                tau = 40.0
            elif gap < 0.0:
                tau = -40.0
            else:
                tau = 0.0
            tau = min(max(tau, -40.0), 40.0)
            upper = 0.5 * math.erfc(tau / math.sqrt(2.0))
            phi = inv_sqrt_2pi * math.exp(-0.5 * tau * tau)
            c = coefs[i]
            mean += c * (sm * (phi - tau * upper) if sm > 0.0 else max(-gap, 0.0))
            e_out[m, 0] += c * upper
            q_prev, q_cur = 0.0, phi
            for k in range(1, kk):  # e_k += c q_{k−1}/√k
                e_out[m, k] += c * q_cur / math.sqrt(k)
                q_next = (tau * q_cur - math.sqrt(k - 1) * q_prev) / math.sqrt(k)
                q_prev, q_cur = q_cur, q_next
        m_out[m] = mean


@njit(cache=True, inline="always")
def _k_tables(e, mean, s, m, sq, h, g, dhs):
    """At point m: h_k = m (k = 0) or s e_{k−1}/√k, g_k = e_{k−1}/√k (g_0 = 0),
    ∂_s h_k = √(k+1) e_{k+1} + √k e_{k−1}, for k = 0..K (e[m, :] holds e_0..e_{K+1})."""
    h[0] = mean[m]
    g[0] = 0.0
    dhs[0] = e[m, 1]
    for k in range(1, h.shape[0]):
        g[k] = e[m, k - 1] / sq[k]
        h[k] = s[m] * g[k]
        dhs[k] = sq[k + 1] * e[m, k + 1] + sq[k] * e[m, k - 1]


@njit(cache=True)
def feature_sums(ks, js, e, mean, s, p, q, c, out):
    """out[i] += Σ_m c[m] h_{ks[i]}(s_m, b_m) p[m]^js[i] q[m]^(ks[i]−js[i])."""
    kmax = e.shape[1] - 2
    pp = np.empty(kmax + 1)
    qq = np.empty(kmax + 1)
    h = np.empty(kmax + 1)
    g = np.empty(kmax + 1)
    dhs = np.empty(kmax + 1)
    sq = np.sqrt(np.arange(kmax + 2).astype(np.float64))
    for m in range(p.shape[0]):
        _powers(p[m], pp)
        _powers(q[m], qq)
        _k_tables(e, mean, s, m, sq, h, g, dhs)
        cm = c[m]
        for i in range(ks.shape[0]):
            k, j = ks[i], js[i]
            out[i] += cm * h[k] * pp[j] * qq[k - j]


@njit(cache=True)
def field_sums(ks, js, A, e, mean, s, p, q, p1, q1, p2, q2, out):
    """out[m, 0..3] = (S_a, S_b, S_1, S_2) at each point m (see the module docstring), from
    e_k (k ≤ K+1) and m: h_k as in :func:`_h`, ∂_b h_k = e_k, g_k = e_{k−1}/√k,
    ∂_s h_k = √(k+1) e_{k+1} + √k e_{k−1}."""
    kmax = e.shape[1] - 2
    h = np.empty(kmax + 1)
    g = np.empty(kmax + 1)
    dhs = np.empty(kmax + 1)
    sq = np.sqrt(np.arange(kmax + 2).astype(np.float64))
    pp = np.empty(kmax + 1)
    qq = np.empty(kmax + 1)
    pp1 = np.empty(kmax + 1)
    qq1 = np.empty(kmax + 1)
    pp2 = np.empty(kmax + 1)
    qq2 = np.empty(kmax + 1)
    for m in range(p.shape[0]):
        _powers(p[m], pp)
        _powers(q[m], qq)
        _powers(p1[m], pp1)
        _powers(q1[m], qq1)
        _powers(p2[m], pp2)
        _powers(q2[m], qq2)
        _k_tables(e, mean, s, m, sq, h, g, dhs)
        sa = 0.0
        sb = 0.0
        s1 = 0.0
        s2 = 0.0
        pm, qm = p[m], q[m]
        regular = p1[m] == pm and q1[m] == qm and p2[m] == pm and q2[m] == qm
        for i in range(ks.shape[0]):
            k, j = ks[i], js[i]
            a = A[i]
            hk, gk, dhsk = h[k], g[k], dhs[k]
            mono = pp[j] * qq[k - j]
            sa += a * hk * mono
            sb += a * e[m, k] * mono
            if regular:
                dp = j * pp[j - 1] * qq[k - j] if j > 0 else 0.0
                dq = (k - j) * pp[j] * qq[k - j - 1] if k > j else 0.0
                common = gk * pm * qm
                s1 += a * (dhsk * pm * mono + gk * qm * qm * dp - common * dq)
                s2 += a * (dhsk * qm * mono + gk * pm * pm * dq - common * dp)
                continue
            # r1 derivative at (p1, q1)
            mono1 = pp1[j] * qq1[k - j]
            dp1 = j * pp1[j - 1] * qq1[k - j] if j > 0 else 0.0
            dq1 = (k - j) * pp1[j] * qq1[k - j - 1] if k > j else 0.0
            s1 += a * (dhsk * p1[m] * mono1 + gk * (q1[m] * q1[m] * dp1 - p1[m] * q1[m] * dq1))
            # r2 derivative at (p2, q2)
            mono2 = pp2[j] * qq2[k - j]
            dp2 = j * pp2[j - 1] * qq2[k - j] if j > 0 else 0.0
            dq2 = (k - j) * pp2[j] * qq2[k - j - 1] if k > j else 0.0
            s2 += a * (dhsk * q2[m] * mono2 + gk * (p2[m] * p2[m] * dq2 - p2[m] * q2[m] * dp2))
        out[m, 0] = sa
        out[m, 1] = sb
        out[m, 2] = s1
        out[m, 3] = s2
