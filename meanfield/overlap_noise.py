"""The second moment of the SGD step in overlap coordinates: E[δ_i δ_j] of teacher–student learning.

One online-SGD step moves w_i by (2s/α) δ_i x with δ_i = (y − f(x)) a_i σ'(λ_i + b_i); its square adds
(2s/α)² δ_i δ_j ‖x‖² to Q_ij, whose mean is (2s/α)² d E[δ_i δ_j] as d → ∞ (the η² term of the
committee-machine ODE). With y − f = r(u) + noise, r(u) = Σ_k c_k φ_k(u_k + m_k) over the K + M units
(c = −α a/K for the student's σ, a*/M for the teacher's σ*), u centred Gaussian of covariance
Σ = [[Q, R], [Rᵀ, T]]:

    E[δ_i δ_j] = a_i a_j (Σ_kl c_k c_l E[σ'_i σ'_j φ_k φ_l] + noise² E[σ'_i σ'_j]).

For erf σ (centre 0, any amplitude, slope and shift) and all biases 0, Saad & Solla's closed forms
give every term (:func:`_erf_closed`). Otherwise E[σ'_i σ'_j] is a pair integral (∂_C of
:func:`meanfield.gaussian_pair`), and the four-point term is computed by conditioning on
(λ_i, λ_j) = (s_i z₁, s_j(c z₁ + √(1 − c²) z₂)): given z the other units are Gaussian
(u = Bz + e, Cov e = Σ − BBᵀ), so E[φ_k φ_l | z] is an exact pair integral, and the outer integral
over z ~ N(0, I₂) is a Gauss–Legendre product rule on [−8, 8]² (panels ≤ 8 wide, 40 nodes each)
split where σ'_i, σ'_j jump (the knots of a piecewise-linear σ; the inner panels follow z₁).
Relative error ~1e-13 for erf (measured against the closed form); fewer nodes per panel when the
caller asks for less (``rtol``: :data:`ORDERS`; an ODE integrated at rtol 1e-4 takes 20 nodes,
4× fewer points in 2-D). For piecewise-linear σ the panels make each piece smooth unless a third
unit is (nearly) parallel to w_i or w_j, which puts a kink of E[φ_k φ_l | z] off the breaks where
the rule converges only algebraically (ReLU is tested against Monte Carlo of single SGD steps, to
its ~0.3% standard errors).
"""
from __future__ import annotations

import numpy as np

from ._validation import check_instance, check_positive, check_rtol
from .activations import KIND_ERF
from .gaussian_integrals import gaussian_pair
from .order_parameters import OrderParameters, _check_pair, _pair_table, _scales

#: Half-width of the integration box in units of the standard deviation (φ(8) ≈ 5e-15).
BOX = 8.0
#: Largest panel width and Gauss–Legendre nodes per panel: 1e-13 relative against Saad–Solla's closed
#: form for erf (Gauss–Hermite converges far slower here: 1e-5 with 80 nodes).
PANEL = 8.0
NODES = 40
#: (nodes per panel, bound on the relative error of E[δ_i δ_j], to its largest entry): measured on
#: random and plateau-like overlaps (ReLU, leaky ReLU and erf, with and without biases; no two units
#: correlated beyond PARALLEL) against 100 nodes on panels 2 wide, the largest error times 3;
#: :func:`sgd_noise_overlaps` takes the fewest nodes whose bound is ≤ rtol.
ORDERS = ((16, 1.5e-3), (20, 3e-5), (24, 1e-6), (30, 6e-9), (NODES, 3e-12))
#: Beyond this |correlation| of two units the rule converges only algebraically (module docstring;
#: ReLU at 0.995: 1e-4 with 20 nodes, 1e-8 with 40): every rtol then takes the full NODES.
PARALLEL = 0.98
_RULES = {n: np.polynomial.legendre.leggauss(n) for n, _ in ORDERS}


def _order(rtol):
    """Nodes per panel for a relative accuracy ``rtol`` (:data:`ORDERS`)."""
    return next((n for n, bound in ORDERS if bound <= rtol), NODES)


def _max_correlation(sigma):
    """The largest |Σ_kl| / √(Σ_kk Σ_ll) over k ≠ l (0 where a variance is 0)."""
    s = _scales(np.diag(sigma))
    scale = np.outer(s, s)
    corr = np.abs(np.divide(sigma, scale, out=np.zeros_like(scale), where=scale > 0))
    np.fill_diagonal(corr, 0.0)
    return float(corr.max())


def _breaks(points):
    """Panel edges on [−BOX, BOX]: the given points inside, and splits so no panel exceeds PANEL."""
    edges = np.unique(np.concatenate([[-BOX, BOX], [p for p in points if -BOX < p < BOX]]))
    out = [edges[0]]
    for lo, hi in zip(edges[:-1], edges[1:]):
        pieces = max(1, int(np.ceil((hi - lo) / PANEL - 1e-12)))
        out.extend(lo + (hi - lo) * np.arange(1, pieces + 1) / pieces)
    return np.array(out)


def _panel_nodes(edges, nodes):
    """Gauss–Legendre nodes and weights (times the N(0, 1) density) over the panels ``edges``,
    ``nodes`` per panel."""
    gl_x, gl_w = _RULES[nodes]
    lo, hi = edges[:-1, None], edges[1:, None]
    x = 0.5 * (hi + lo) + 0.5 * (hi - lo) * gl_x
    w = 0.5 * (hi - lo) * gl_w * np.exp(-0.5 * x * x) / np.sqrt(2.0 * np.pi)
    return x.ravel(), w.ravel()


def _inner_nodes(lo_edges, z1, nodes):
    """Per outer node z₁: inner nodes (n1, n2) whose panels break at the given z₁-dependent points
    (lo_edges: (n1, P) break points, NaN where none)."""
    rows_x, rows_w = [], []
    for points in lo_edges:
        x, w = _panel_nodes(_breaks(points[np.isfinite(points)]), nodes)
        rows_x.append(x)
        rows_w.append(w)
    size = max(len(x) for x in rows_x)
    X = np.zeros((len(z1), size))
    Wt = np.zeros((len(z1), size))
    for r, (x, w) in enumerate(zip(rows_x, rows_w)):
        X[r, :len(x)], Wt[r, :len(w)] = x, w
    return X, Wt


def _knots(activation):
    return np.asarray(getattr(activation, "knots", ()), dtype=float)


def _four_point(op, activation, teacher_activation, i, j, coef, nodes):
    """E[σ'(λ_i + b_i) σ'(λ_j + b_j) r²] with r = Σ_k coef_k φ_k (module docstring)."""
    k = op.K
    sigma = np.block([[op.Q, op.R], [op.R.T, op.T]])
    means = np.concatenate([op.b, op.b_teacher])
    si, sj = _scales(np.array([op.Q[i, i], op.Q[j, j]]))
    c = op.Q[i, j] / (si * sj) if si * sj > 0 else 0.0
    c = float(np.clip(c, -1.0, 1.0))
    root = np.sqrt(max(0.0, (1.0 - c) * (1.0 + c)))
    two = root > 1e-7                      # else λ_j is (to ~1e-14) a function of z₁ alone
    B1 = sigma[:, i] / si if si > 0 else np.zeros(len(means))
    if sj > 0 and two:
        B2 = (sigma[:, j] / sj - c * B1) / root
    else:
        B2 = np.zeros(len(means))
    kn_i, kn_j = _knots(activation) - op.b[i], _knots(activation) - op.b[j]
    outer_points = list(kn_i / si) if si > 0 else []
    if sj > 0 and not two and abs(c) > 0:
        outer_points += list(kn_j / (sj * c))
    z1, w1 = _panel_nodes(_breaks(outer_points), nodes)
    if two and sj > 0 and kn_j.size:
        inner_points = (kn_j[None, :] / sj - c * z1[:, None]) / root
    else:
        inner_points = np.full((z1.size, 1), np.nan)
    if two:
        z2, w2 = _inner_nodes(inner_points, z1, nodes)
    else:
        z2, w2 = np.zeros((z1.size, 1)), np.ones((z1.size, 1))
    Z1 = np.broadcast_to(z1[:, None], z2.shape).ravel()
    Z2, weight = z2.ravel(), (w1[:, None] * w2).ravel()
    keep = weight > 0
    Z1, Z2, weight = Z1[keep], Z2[keep], weight[keep]
    mean = means[None, :] + Z1[:, None] * B1[None, :] + Z2[:, None] * B2[None, :]        # (nodes, U)
    cov = sigma - np.outer(B1, B1) - np.outer(B2, B2)
    s = _scales(np.diag(cov))
    lam_i, lam_j = mean[:, i], mean[:, j]
    slopes = activation.derivative(lam_i) * activation.derivative(lam_j)
    second = np.zeros(Z1.size)
    blocks = (slice(0, k), slice(k, None))
    acts = (activation, teacher_activation)
    for p, (bp, ap) in enumerate(zip(blocks, acts)):
        for q, (bq, aq) in enumerate(zip(blocks, acts)):
            if q < p:
                continue
            scale = np.outer(s[bp], s[bq])
            corr = np.clip(np.divide(cov[bp, bq], scale, out=np.zeros_like(scale), where=scale > 0), -1.0, 1.0)
            if p == q:
                np.fill_diagonal(corr, 1.0)
            g = gaussian_pair(ap, s[bp][None, :, None], mean[:, bp][:, :, None], s[bq][None, None, :],
                              mean[:, bq][:, None, :], corr[None], activation2=aq)[0]
            part = np.einsum("nkl,k,l->n", g, coef[bp], coef[bq])
            second += part if p == q else 2.0 * part
    return float(np.sum(weight * slopes * second))


def _erf_form(activation):
    """(A, γ, κ) if σ(t) = κ + A erf(γt/√2) (an erf with centre 0), else None."""
    kind, p = activation.kernel_spec()
    if kind != KIND_ERF or p[2] != 0.0:
        return None
    return p[0], p[1], p[3]


def _erf_closed(op, forms, coef):
    """Saad & Solla's closed forms for σ = κ + A g(γ·), g = erf(·/√2), all biases 0: with u = γλ of
    covariance C, E[g'_i g'_j] = (2/π)/√Λ₄, E[g'_i g'_j g_k] = 0 (odd), E[g'_i g'_j g_k g_l] = I₄ =
    (4/π²) arcsin(Λ₀/√(Λ₁Λ₂))/√Λ₄ with Λ₄ = (1 + C_ii)(1 + C_jj) − C_ij², Λ₀ = Λ₄C_kl − C_jk C_jl (1 + C_ii)
    − C_ik C_il (1 + C_jj) + C_ij C_ik C_jl + C_ij C_il C_jk, Λ₁ = Λ₀(l = k) + Λ₄, Λ₂ = Λ₀(k = l) + Λ₄; so
    E[σ'_i σ'_j r²] = A_i A_j γ_i γ_j [(Σ c_k κ_k)² I₂ + Σ_kl c_k A_k c_l A_l I₄(ijkl)]."""
    k, m = op.K, op.M
    amp, gam, kap = (np.concatenate([np.full(k, forms[0][n]), np.full(m, forms[1][n])]) for n in range(3))
    C = np.block([[op.Q, op.R], [op.R.T, op.T]]) * np.outer(gam, gam)
    D = 1.0 + np.diag(C)
    i, j = np.arange(k)[:, None, None, None], np.arange(k)[None, :, None, None]
    kk, ll = np.arange(k + m)[None, None, :, None], np.arange(k + m)[None, None, None, :]
    lam4 = D[i] * D[j] - C[i, j] ** 2

    def lam(p, q):
        return (lam4 * C[p, q] - C[j, p] * C[j, q] * D[i] - C[i, p] * C[i, q] * D[j] + C[i, j] * C[i, p] * C[j, q]
                + C[i, j] * C[i, q] * C[j, p])
    ratio = np.clip(lam(kk, ll) / np.sqrt((lam(kk, kk) + lam4) * (lam(ll, ll) + lam4)), -1.0, 1.0)
    i4 = 4.0 / np.pi**2 * np.arcsin(ratio) / np.sqrt(lam4)
    w = coef * amp
    i2 = 2.0 / np.pi / np.sqrt(lam4[:, :, 0, 0])
    scale = np.outer(amp[:k] * gam[:k], amp[:k] * gam[:k])
    return scale * ((coef @ kap) ** 2 * i2 + np.einsum("ijkl,k,l->ij", i4, w, w)), scale * i2


def sgd_noise_overlaps(op, activation, teacher_activation, noise=0.0, scale=1.0, rtol=1e-12):
    """E[δ_i δ_j], δ_i = (y − f(x)) a_i σ'(λ_i + b_i): the second moment of the SGD step in overlap coordinates.

    E[δ_i δ_j] = a_i a_j (Σ_kl c_k c_l E[σ'_i σ'_j φ_k φ_l] + noise² E[σ'_i σ'_j]) with c = −α a/K on the
    student's units and a*/M on the teacher's (module docstring: the four-point term by a 2-D
    Gauss–Legendre rule over the conditioning pair, exact pair integrals inside, unless σ and σ* are
    erf with biases 0: Saad & Solla's closed form).

    Parameters
    ----------
    op : OrderParameters
    activation, teacher_activation : Activation
        The student's σ and the teacher's σ*.
    noise : float
        Label noise standard deviation, ≥ 0.
    scale : float
        The output scale α > 0.
    rtol : float
        The relative accuracy the quadrature needs, in [1e-13, 0.1]: its nodes per panel
        (:data:`ORDERS`; the default, anything below 3e-12, and two units correlated beyond
        :data:`PARALLEL` take the full 40). The closed form ignores it.

    Returns
    -------
    ndarray, shape (K, K)
        Symmetric.

    Raises
    ------
    ValueError
        On a wrong type, a negative noise or scale, an rtol outside [1e-13, 0.1], or a piecewise-linear σ
        paired with a smooth one.

    Examples
    --------
    >>> import numpy as np
    >>> from meanfield import OrderParameters, relu
    >>> op = OrderParameters(Q=[[1.0]], R=[[0.0]], T=[[1.0]], a=[1.0], b=[0.0], a_teacher=[0.0], b_teacher=[0.0])
    >>> round(float(sgd_noise_overlaps(op, relu(), relu())[0, 0]), 10)   # E[1{λ>0} λ₊²] = 1/2
    0.5
    """
    op = check_instance(op, OrderParameters, "op")
    _check_pair(activation, teacher_activation)
    noise, alpha = check_positive(noise, "noise", strict=False), check_positive(scale, "scale")
    nodes = _order(check_rtol(rtol))
    if _max_correlation(np.block([[op.Q, op.R], [op.R.T, op.T]])) > PARALLEL:
        nodes = NODES
    k, m = op.K, op.M
    coef = np.concatenate([-alpha * op.a / k, op.a_teacher / m])
    forms = (_erf_form(activation), _erf_form(teacher_activation))
    if None not in forms and not np.any(op.b) and not np.any(op.b_teacher):
        out, slopes = _erf_closed(op, forms, coef)
        return np.outer(op.a, op.a) * (out + noise**2 * slopes)
    out = np.empty((k, k))
    for i in range(k):
        for j in range(i, k):
            out[i, j] = out[j, i] = _four_point(op, activation, teacher_activation, i, j, coef, nodes)
    if noise > 0:
        s = _scales(np.diag(op.Q))
        out += noise**2 * _pair_table(activation, s, op.b, activation, s, op.b, op.Q, True)[5]
    return np.outer(op.a, op.a) * out


__all__ = ["sgd_noise_overlaps"]
