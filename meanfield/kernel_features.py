"""The radial kernel u(r, r') on a set of points, in the two forms the radial solvers use.

Low rank (Mehler features): u(r_i, r_j) ≈ Σ_j' weights[j'] values[j', i] values[j', j], O(M K);
dense: U[i, j] = u(r_i, r_j) (small d, where the series is too long). Both give the potential
Σ_j u(r_i, r_j) m_j of masses m and its r-derivative. The features come from a truncation of
Mehler's series u = ½ Σ_s Σ_k μ_k(d) h_k(s r) h_k(s r') whose Parseval bound meets a tolerance.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._series_plan import MAX_TERMS


@dataclass(frozen=True)
class KernelFeatures:
    """Low-rank form of the radial kernel on points r_1..r_M:

        u(r_i, r_j) ≈ Σ_j' weights[j'] values[j', i] values[j', j],
        ∂_r u(r_i, r_j) ≈ Σ_j' weights[j'] derivatives[j', i] values[j', j],

    with |error| ≤ error_bound · √(E σ(s r_i G)² E σ(s r_j G)²) summed over s.
    Rows are (scale s, even k < terms): values = h_k(s r), derivatives = s h_k'(s r),
    weights = ½ μ_k(d).

    Attributes
    ----------
    values : ndarray, shape (2 K', M)
        h_k(s r_i), one row per (scale s, even k < terms).
    derivatives : ndarray, shape (2 K', M)
        s h_k'(s r_i).
    weights : ndarray, shape (2 K',)
        ½ μ_k(d).
    terms : int
        The number K of Mehler terms; the even k < K, K' = ⌈K/2⌉ of them, are kept.
    error_bound : float
        The relative truncation bound.

    Examples
    --------
    >>> import numpy as np
    >>> from meanfield import IsotropicGaussians, ramp
    >>> feats = IsotropicGaussians(0.5, 10, ramp()).kernel_features([0.5, 1.0, 2.0])
    >>> feats.values.shape == (feats.terms, 3), bool(feats.error_bound <= 1e-10)   # 2 scales × K/2 even k
    (True, True)
    """

    values: np.ndarray
    derivatives: np.ndarray
    weights: np.ndarray
    terms: int
    error_bound: float

    def project(self, masses):
        """Moments ⟨h_k(s·), ρ̄⟩ = Σ_i masses_i values[:, i].

        Parameters
        ----------
        masses : ndarray, shape (M,)
            Masses of ρ̄ at the feature points.

        Returns
        -------
        ndarray, shape (2 K',)
        """
        return self.values @ masses

    def potential(self, masses):
        """∫u(r_i, r')ρ̄(dr') at the feature points, for ρ̄ = Σ masses_i δ_{r_i}.

        Parameters
        ----------
        masses : ndarray, shape (M,)
            Masses of ρ̄ at the feature points.

        Returns
        -------
        ndarray, shape (M,)
        """
        return (self.weights * self.project(masses)) @ self.values

    def potential_derivative(self, masses):
        """∂_r ∫u(r, r')ρ̄(dr') at the feature points.

        Parameters
        ----------
        masses : ndarray, shape (M,)
            Masses of ρ̄ at the feature points.

        Returns
        -------
        ndarray, shape (M,)
        """
        return (self.weights * self.project(masses)) @ self.derivatives


@dataclass(frozen=True)
class KernelMatrix:
    """Dense form of the radial kernel on points r_1..r_M (where the Mehler series is too slow):

        values[i, j] = u(r_i, r_j),   derivatives[i, j] = ∂_r u(r_i, r_j)  (None if not built),

    each within ~1e-11 of the exact angular average (see :mod:`meanfield.radial_table`).
    Same interface as :class:`KernelFeatures` for the radial solvers.
    """

    values: np.ndarray | None
    derivatives: np.ndarray | None

    def potential(self, masses):
        """∫u(r_i, r')ρ̄(dr') at the points, for ρ̄ = Σ masses_i δ_{r_i}."""
        return self.values @ masses

    def potential_derivative(self, masses):
        """∂_r ∫u(r, r')ρ̄(dr') at the points."""
        return self.derivatives @ masses


def truncation(activation, a, mu, tol, large_d_limit):
    """Smallest even K with μ_K · max_a T_K(a)/S(a) ≤ tol, T_K(a) = Σ_{k≥K} h_k(a)², μ = ``mu``.

    T_K = E σ(aG)² − Σ_{k<K} h_k(a)² (Parseval), and by Cauchy-Schwarz and the
    monotonicity of μ_k over even k, |Σ_{k≥K} μ_k h_k(a) h_k(b)| ≤ μ_K √(T_K(a)T_K(b)).
    Returns (K, bound, h) with h[:, k] = h_k(a) for k < K; K = None if MAX_TERMS
    terms are not enough (then h has MAX_TERMS columns).
    """
    if large_d_limit:
        return 1, 0.0, activation.hermite(a, 0)
    second = activation.gaussian_second_moment(a)
    scale = np.maximum(second, np.finfo(float).tiny)
    kmax = 32
    while True:
        h = activation.hermite(a, kmax)
        tail = np.maximum(second[:, None] - np.cumsum(h**2, axis=1), 0.0)  # tail[:, K-1] = T_K
        for K in range(2, kmax + 1, 2):
            bound = mu[K] * float(np.max(tail[:, K - 1] / scale)) if a.size else 0.0
            if bound <= tol:
                return K, bound, h[:, :K]
        if kmax >= MAX_TERMS:
            return None, bound, h[:, :MAX_TERMS]
        kmax = min(2 * kmax, MAX_TERMS)


def mehler_features(activation, scales, mu, tol, r, large_d_limit=False, allow_inexact=False):
    """Mehler features of u(r, r') = ½ Σ_s Σ_k μ_k h_k(s r) h_k(s r') on the 1-D radii ``r``,
    scales s; None if the series cannot meet ``tol`` (one truncation search; with
    ``allow_inexact`` MAX_TERMS terms are used instead)."""
    a = np.concatenate([s * r for s in scales])
    K, bound, h = truncation(activation, a, mu, tol, large_d_limit)
    if K is None:
        if not allow_inexact:
            return None
        K = MAX_TERMS
    ks = np.arange(0, K, 2)
    dh = activation.hermite(a, K - 1, derivative=True)[:, ks]
    n, ns = r.size, len(scales)
    values = h[:, ks].reshape(ns, n, ks.size).transpose(0, 2, 1).reshape(ns * ks.size, n)
    derivs = (dh.reshape(ns, n, ks.size) * scales[:, None, None]).transpose(0, 2, 1).reshape(ns * ks.size, n)
    weights = np.tile(0.5 * mu[ks], ns)
    return KernelFeatures(values, derivs, weights, int(K), float(bound))
