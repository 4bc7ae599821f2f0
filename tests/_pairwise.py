"""Pair-by-pair evaluations of R_N and ∇Ψ (the independent truth for the blocked kernels):
every pair through the public pair_kernel / pair_kernel_gradient (series for |c| ≤ ½,
closed form or quadrature beyond), summed with NumPy."""
import numpy as np

from meanfield.pair_kernel import pair_kernel, pair_kernel_gradient


def add_special_pairs(W):
    """A particle at 0 (row 5) and a near-duplicate pair (rows 6, 7; cos ≈ 1 − 1e-7)."""
    W = W.copy()
    W[5] = 0.0
    W[7] = 1.01 * W[6] + 1e-3 * W[8]
    return W


def _units_and_cosines(W):
    r = np.linalg.norm(W, axis=1)
    unit = np.divide(W, r[:, None], out=np.zeros_like(W), where=r[:, None] > 0)
    cos = np.clip(unit @ unit.T, -1.0, 1.0)
    np.fill_diagonal(cos, 1.0)
    return r, unit, cos


def pairwise_risk(model, W):
    """R_N = 1 + (2/N) Σ_i v(r_i) + (1/N²) Σ_ij ½ Σ_s K(s r_i, s r_j, c_ij)."""
    r, _, cos = _units_and_cosines(W)
    pairs = sum(0.5 * pair_kernel(model.activation, s * r[:, None], s * r[None, :], cos).sum() for s in model.scales)
    return 1.0 + 2.0 * model.v(r).mean() + pairs / r.size**2


def pairwise_gradient(model, W):
    """∇Ψ(w_i) = v'(r_i) ŵ_i + (1/N) Σ_j ½ Σ_s [s ∂_aK ŵ_i + (∂_cK / r_i)(ŵ_j − c_ij ŵ_i)], and
    σ'(0+) (1/N) Σ_j ½ Σ_s s h_1(s r_j) ŵ_j at w_i = 0."""
    r, unit, cos = _units_and_cosines(W)
    n = r.size
    expected = np.zeros_like(W)
    zero = r == 0
    for s in model.scales:
        da, dc = pair_kernel_gradient(model.activation, s * r[:, None], s * r[None, :], cos)
        np.fill_diagonal(dc, 0.0)  # j = i: no angular part
        with np.errstate(divide="ignore", invalid="ignore"):
            weights = np.where(r[:, None] > 0, 0.5 * dc / r[:, None], 0.0)
        radial = 0.5 * s * da.sum(axis=1) - (weights * cos).sum(axis=1)
        expected += radial[:, None] * unit + weights @ unit
        h1 = model.activation.hermite(s * r, 1)[:, 1]
        expected[zero] += 0.5 * s * model.activation.derivative(0.0) * (h1 @ unit)
    expected /= n
    expected += np.where(zero, 0.0, model.dv(r))[:, None] * unit
    return expected
