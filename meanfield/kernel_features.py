"""The radial kernel u(r, r') on a set of points, in the two forms the radial solvers use.

Low rank (Mehler features): u(r_i, r_j) ≈ Σ_j' weights[j'] values[j', i] values[j', j], O(M K);
dense: U[i, j] = u(r_i, r_j) (small d, where the series is too long). Both give the potential
Σ_j u(r_i, r_j) m_j of masses m and its r-derivative.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
    >>> from meanfield import ramp
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


