"""The radial kernel u(r, r') as a dense table, for the d where the Mehler series is too slow.

The Mehler series u = ½ Σ_s Σ_k μ_k(d) h_k(s r) h_k(s r') converges like μ_k h_k²: at small d
(μ_k ~ k^{−(d−1)/2}) with a kinked σ (h_k² ~ k^{−3/2}) algebraically, far too slowly for
1e-10. The slow part is the angular average near c = ±1. With p(c) the density of the cosine
c between two uniform directions in R^d (∝ (1 − c²)^{(d−3)/2}) and a split point c₀:

    E_c K(a, b, c) = ∫_{|c|≤c₀} K p dc + ∫_{c₀}^1 [K(a, b, c) + K(a, b, −c)] p(c) dc,

and, by Taylor's formula with integral remainder at c₀ (and at −c₀ for the mirror part),

    ∫_{c₀}^1 K(c) p(c) dc = K(c₀) P₀ + ∂_cK(c₀) P₁ + ∫_{c₀}^1 ∂²_cK(c) Q(c) dc,
    P₀ = ∫_{c₀}^1 p,   Q(c) = ∫_c^1 (c' − c) p(c') dc',   P₁ = Q(c₀).

Everything but the last integral is a Mehler series evaluated at |c| ≤ c₀ (geometric
convergence): a low-rank part Σ_k λ_k h_k(a) h_k(b) with, for even k,

    λ_k = ∫_{|c|≤c₀} c^k p dc + 2 P₀ c₀^k + 2 P₁ k c₀^{k−1}     (λ_odd = 0).

For piecewise-linear σ = y₀ + Σ_p c_p (t − t_p)₊, σ'' = Σ_p c_p δ(t − t_p) and Price's theorem
gives ∂²_cK = a b Σ_pq c_p c_q φ₂(t_p/a, t_q/b; c) (φ₂ the bivariate normal density with
correlation c; ∂²_cK(−c) = a b Σ_pq c_p c_q φ₂(t_p/a, −t_q/b; c)), so the remainder is

    R(a, b) = a b Σ_pq c_p c_q ∫_{c₀}^1 [φ₂(x_p, y_q; c) + φ₂(x_p, −y_q; c)] Q(c) dc,
    x_p = t_p/a, y_q = t_q/b,

a 1-D integral of exponentials, by Gauss–Legendre in θ = arccos c ∈ [0, arccos c₀] (the
integrand is analytic in θ except for a layer exp(−(x − y)²/2θ²) of height O(|x − y|^{d+2})).
Its a-derivative is closed form too (∂_xφ₂ = −(x − cy)/(1 − c²) φ₂). A table on M × M' points
costs O(M M' (K + knots² · nodes)) once, with the exponentials skipped where they underflow
against e^{−60}.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ._kernels.activation import KIND_PIECEWISE_LINEAR

#: the split point c₀: the series handles |c| ≤ c₀ (terms until λ_k k² ≤ 1e-3 · tol)
SPLIT_COSINE = 0.75
#: Gauss–Legendre nodes in θ ∈ [0, arccos c₀] for the remainder (checked against twice as many)
REMAINDER_NODES = 48
#: the nodes are θ = arccos(c₀) s^power, s Gauss–Legendre on [0, 1]: power 2 resolves the
#: layer near θ = 0 (measured at d = 2: 48 nodes 3e-12, 32 nodes 9e-10 against a 4800-node rule)
NODE_POWER = 2
#: exponents above this are dropped (e^{−60} ≈ 1e-26)
_EXPONENT_CUT = 60.0
#: scale below which σ(aX) equals σ(0) (as in pair_kernel)
_TINY = 1e-100


def _theta_density(theta, d):
    """Density of the angle θ between two uniform directions in R^d: sin^{d−2}θ / Z."""
    log_z = 0.5 * math.log(math.pi) + math.lgamma(0.5 * (d - 1)) - math.lgamma(0.5 * d)
    return np.sin(theta) ** (d - 2) * math.exp(-log_z)


def split_rule(d, kmax, c0=SPLIT_COSINE, nodes=REMAINDER_NODES, power=NODE_POWER):
    """(λ_0..λ_kmax, node cosines c_n, node weights W_n) of the split above, for d ≥ 2.

    W_n = g_n Q(c_n) sin θ_n / (2π √(1 − c_n²)) with g_n the Gauss–Legendre weights in θ,
    so that ∫_{c₀}^1 φ₂(x, y; c) Q(c) dc ≈ Σ_n W_n exp(−(x² − 2c_n x y + y²)/(2(1 − c_n²))).
    """
    if d < 2:
        raise ValueError(f"d: the split angular rule needs d >= 2, got {d}")
    theta0 = math.acos(c0)
    g, gw = np.polynomial.legendre.leggauss(64)

    def integral(f, lo, hi):
        x = 0.5 * (lo + hi) + 0.5 * (hi - lo) * g
        return 0.5 * (hi - lo) * (gw @ f(x))

    def q_of(theta):  # Q(cos θ) = ∫_0^θ (cos φ − cos θ) w(φ) dφ
        return integral(lambda phi: (np.cos(phi) - math.cos(theta)) * _theta_density(phi, d), 0.0, theta)

    p0 = integral(lambda phi: _theta_density(phi, d), 0.0, theta0)
    p1 = q_of(theta0)
    k = np.arange(kmax + 1)
    # ∫_{|c|≤c₀} c^k p dc = 2 ∫_{θ₀}^{π/2} cos^k θ w(θ) dθ (even k), 4 × 64 nodes
    edges = np.linspace(theta0, 0.5 * math.pi, 5)
    inner = sum(integral(lambda th: np.cos(th)[:, None] ** k * _theta_density(th, d)[:, None], lo, hi)
                for lo, hi in zip(edges[:-1], edges[1:]))
    lam = 2.0 * inner + 2.0 * p0 * c0**k + 2.0 * p1 * k * c0 ** np.maximum(k - 1, 0)
    lam[1::2] = 0.0
    x, w = np.polynomial.legendre.leggauss(int(nodes))
    sgrid = 0.5 * (x + 1.0)
    theta = theta0 * sgrid**power
    jac = 0.5 * theta0 * power * sgrid ** (power - 1)
    c = np.cos(theta)
    q = np.array([q_of(th) for th in theta])
    weights = jac * w * q / (2.0 * math.pi)  # dc = sin θ dθ cancels φ₂'s 1/√(1 − c²) = 1/sin θ
    return lam, c, np.sin(theta) ** 2, weights


def series_terms(lam, tol):
    """Smallest even K with λ_k (k + 2)² ≤ 1e-3 · tol for every k ≥ K (None if none)."""
    bad = np.nonzero(lam * (np.arange(lam.size) + 2.0) ** 2 > 1e-3 * tol)[0]
    K = 0 if bad.size == 0 else int(bad[-1]) + 1
    K += K % 2
    return K if K < lam.size else None


@njit(cache=True)
def _factors(p, s, r, sn2, wn):
    """Per point r_i and knot t_p (scale s): x = t_p/(s r_i) (the a → 0+ limit drops a knot
    t ≠ 0, where φ₂ vanishes, and keeps t = 0 at x = 0), present[i, p], the row factors
    A[i, p, n] = exp(−x²/(2 sin²θ_n)), and for the pairs with the other threshold 0:
    zero_val[i, p] = Σ_n W_n 2A, zero_der[i, p] = Σ_n W_n 2A (1 + x²/sin²θ_n)."""
    n_knots = (p.shape[0] - 1) // 2
    m, nodes = r.shape[0], sn2.shape[0]
    x = np.zeros((m, n_knots))
    present = np.zeros((m, n_knots), np.bool_)
    A = np.zeros((m, n_knots, nodes))
    zero_val = np.zeros((m, n_knots))
    zero_der = np.zeros((m, n_knots))
    for i in range(m):
        a = s * r[i]
        for ip in range(n_knots):
            t = p[2 * ip + 1]
            if a >= _TINY:
                xi = t / a
            elif t == 0.0:
                xi = 0.0
            else:
                continue
            if 0.5 * xi * xi > _EXPONENT_CUT:
                continue  # every φ₂(x, ·; c) ≤ e^{−x²/2} underflows against e^{−60}
            present[i, ip] = True
            x[i, ip] = xi
            zv = 0.0
            zd = 0.0
            for k in range(nodes):
                e = math.exp(-0.5 * xi * xi / sn2[k])
                A[i, ip, k] = e
                zv += 2.0 * wn[k] * e
                zd += 2.0 * wn[k] * e * (1.0 + xi * xi / sn2[k])
            zero_val[i, ip] = zv
            zero_der[i, ip] = zd
    return x, present, A, zero_val, zero_der


@njit(cache=True, fastmath={"contract", "reassoc"})
def _remainder_pair(p, xr, pr, Ar, zvr, zdr, xc, pc, Ac, zvc, cn, sn2, inv_sn2, c_inv, wn, want_derivs):
    """(R/(ab), ∂_aR/b) for one pair (row factors *r, column factors *c of :func:`_factors`):
    Σ_pq c_p c_q Σ_n W_n (e⁺ + e⁻) and Σ_pq c_p c_q Σ_n W_n (e⁺(1 + x(x − cy)/sin²θ) +
    e⁻(1 + x(x + cy)/sin²θ)), e^± = exp(−(x² ∓ 2cxy + y²)/(2 sin²θ)) = A_x A_y exp(±cxy/sin²θ)."""
    n_knots = xr.shape[0]
    val = 0.0
    der = 0.0
    for ip in range(n_knots):
        if not pr[ip]:
            continue
        x = xr[ip]
        for iq in range(n_knots):
            if not pc[iq]:
                continue
            y = xc[iq]
            cc = p[2 * ip + 2] * p[2 * iq + 2]
            if x == 0.0:  # e⁺ = e⁻ = A_y
                val += cc * zvc[iq]
                der += cc * zvc[iq]
                continue
            if y == 0.0:  # e⁺ = e⁻ = A_x
                val += cc * zvr[ip]
                der += cc * zdr[ip]
                continue
            gap = abs(x) - abs(y)
            if 0.5 * gap * gap > _EXPONENT_CUT:  # exponent ≥ (|x| − |y|)²/2
                continue
            v = 0.0
            g = 0.0
            xy = x * y
            for k in range(sn2.shape[0]):
                inv = inv_sn2[k]
                arg = xy * c_inv[k]
                base = Ar[ip, k] * Ac[iq, k]
                if abs(arg) < 600.0:
                    e = math.exp(arg)
                    ep = base * e
                    em = base / e
                else:  # A_x A_y underflows while exp(arg) overflows: the exponents directly
                    sq = -0.5 * (x * x + y * y) * inv
                    ep = math.exp(sq + arg)
                    em = math.exp(sq - arg)
                v += wn[k] * (ep + em)
                if want_derivs:
                    g += wn[k] * (ep * (1.0 + x * (x - cn[k] * y) * inv) + em * (1.0 + x * (x + cn[k] * y) * inv))
            val += cc * v
            der += cc * g
    return val, der


@njit(cache=True, parallel=True)
def _remainder_table(p, scales, r, rp, cn, sn2, wn, values, derivs, want_values, want_derivs, symmetric):
    """values[i, j] += ½ Σ_s R(s r_i, s rp_j), derivs[i, j] += ½ Σ_s s ∂_aR(s r_i, s rp_j);
    ``symmetric`` (r = rp, values only): j ≥ i computed and mirrored."""
    for si in range(scales.shape[0]):
        s = scales[si]
        xr, pr, Ar, zvr, zdr = _factors(p, s, r, sn2, wn)
        xc, pc, Ac, zvc, zdc = _factors(p, s, rp, sn2, wn)
        inv_sn2 = 1.0 / sn2
        c_inv = cn * inv_sn2
        for i in prange(r.shape[0]):
            a = s * r[i]
            for j in range(i if symmetric else 0, rp.shape[0]):
                b = s * rp[j]
                val, der = _remainder_pair(p, xr[i], pr[i], Ar[i], zvr[i], zdr[i], xc[j], pc[j], Ac[j], zvc[j],
                                           cn, sn2, inv_sn2, c_inv, wn, want_derivs)
                if want_values:
                    values[i, j] += 0.5 * a * b * val
                    if symmetric and j > i:
                        values[j, i] += 0.5 * a * b * val
                if want_derivs:
                    derivs[i, j] += 0.5 * s * b * der


def dense_kernel(activation, scales, d, r, rp, tol, values=True, derivatives=False):
    """(U, D) with U[i, j] = u(r_i, rp_j) and D[i, j] = ∂_r u(r_i, rp_j) (right limit at r = 0)
    by the split angular rule of this module (piecewise-linear σ, d ≥ 2); None where not asked."""
    kind, p = activation.kernel_spec()
    if kind != KIND_PIECEWISE_LINEAR:
        raise ValueError("the dense radial kernel (small d, where the Mehler series cannot reach tol) is "
                         "implemented for piecewise-linear σ only; use the particle flow for this σ")
    lam, cn, sn2, wn = split_rule(d, 400)
    K = series_terms(lam, tol)
    if K is None:  # pragma: no cover - c₀ = 0.75 converges by k ≈ 160
        raise RuntimeError("split rule: the series part does not converge")
    r = np.ascontiguousarray(r, dtype=float)
    rp = np.ascontiguousarray(rp, dtype=float)
    U = np.zeros((r.size, rp.size)) if values else None
    D = np.zeros((r.size, rp.size)) if derivatives else None
    ks = np.arange(0, max(K, 2), 2)
    for s in scales:
        hb = activation.hermite(s * rp, ks[-1])[:, ks]
        if values:
            ha = activation.hermite(s * r, ks[-1])[:, ks]
            U += 0.5 * (ha * lam[ks]) @ hb.T
        if derivatives:
            dha = activation.hermite(s * r, ks[-1], derivative=True)[:, ks]
            D += 0.5 * s * (dha * lam[ks]) @ hb.T
    dummy = np.zeros((1, 1))
    _remainder_table(np.asarray(p, dtype=float), np.asarray(scales, dtype=float), r, rp, cn, sn2, wn,
                     U if values else dummy, D if derivatives else dummy, bool(values), bool(derivatives),
                     bool(values and not derivatives and r.size == rp.size and np.array_equal(r, rp)))
    return U, D
