"""Reduced points of the anisotropic model: θ = (a, w, b) ↦ (a, b, r₁, r₂), r₁ = ‖w₁‖, r₂ = ‖w₂‖.

w = (w₁, w₂) ∈ R^{s0} × R^{d−s0}. An O(s0)×O(d−s0)-invariant law of θ is determined by its
image on (a, b, r₁, r₂); :meth:`ReducedPoints.lift` samples it back (uniform directions of w₁,
w₂), :meth:`ReducedPoints.init` draws the image of w ~ N(0, κ²/d I_d) (r₁² = κ² χ²_{s0}/d,
r₂² = κ² χ²_{d−s0}/d). Reduced points are (M, 4) arrays with columns REDUCED_COLUMNS.
"""
from __future__ import annotations

import math

import numpy as np

from ._validation import as_finite_array, check_magnitude, check_positive, check_real
from .params import Params

#: Column order of reduced points.
REDUCED_COLUMNS = ("a", "b", "r1", "r2")


class ReducedPoints:
    """The coordinate maps and checks of reduced points (a base of
    :class:`~meanfield.AnisotropicGaussians`, which sets ``d`` and ``s0``)."""

    def reduce(self, params):
        """(N, 4) reduced points (a, b, ‖w₁‖, ‖w₂‖) of :class:`Params`.

        Parameters
        ----------
        params : Params
            Full parameters with ``params.d == self.d``.

        Returns
        -------
        ndarray, shape (N, 4)
            Columns (a, b, r₁ = ‖w₁‖, r₂ = ‖w₂‖), w₁ the first s0 coordinates of w.

        Raises
        ------
        ValueError
            If ``params`` is not a :class:`Params` of dimension d.
        """
        if not isinstance(params, Params) or params.d != self.d:
            raise ValueError(f"params: expected Params with d = {self.d}")
        W = params.W
        return np.column_stack([params.a, params.b, np.linalg.norm(W[:, :self.s0], axis=1),
                                np.linalg.norm(W[:, self.s0:], axis=1)])

    def lift(self, X, seed=None):
        """Params with the reduced coordinates X and uniform directions of w₁, w₂ (one numpy
        Generator from ``seed``): a sample of the O(s0)×O(d−s0)-invariant law over X.

        Parameters
        ----------
        X : array_like, shape (M, 4)
            Reduced points, columns (a, b, r₁, r₂), finite, r₁, r₂ ≥ 0 (r₂ = 0 when s0 = d), M ≥ 1.
        seed : int or None
            Seed of ``np.random.default_rng`` drawing the directions.

        Returns
        -------
        Params
            a = X[:, 0], b = X[:, 1], W of shape (M, d) with ‖w₁‖ = r₁, ‖w₂‖ = r₂
            (``reduce(lift(X))`` returns X up to round-off).

        Raises
        ------
        ValueError
            If ``X`` is invalid (see :meth:`check_points`) or d = ∞.
        """
        X = self.check_points(X, "X")
        if self.d == np.inf:
            raise ValueError("lift: the large-d limit has no full-dimensional model")
        rng = np.random.default_rng(seed)
        G = rng.standard_normal((X.shape[0], self.d))
        for cols, r in ((slice(0, self.s0), X[:, 2]), (slice(self.s0, self.d), X[:, 3])):
            block = G[:, cols]
            norm = np.linalg.norm(block, axis=1)
            block *= np.divide(r, norm, out=np.zeros_like(r), where=norm > 0)[:, None]
        return Params(X[:, 0], G, X[:, 1])

    def init(self, n, kappa=0.8, seed=None, a=1.0, b=0.0, s0_fraction=None):
        """n reduced points of the law of :meth:`MeanFieldModel.init` (w ~ N(0, κ²/d I_d)):
        r₁ = κ √(χ²_{s0}/d), r₂ = κ √(χ²_{d−s0}/d), a ≡ ``a``, b ≡ ``b``. For the large-d
        limit pass ``s0_fraction`` = s0/d: r₁ = κ √(s0/d), r₂ = κ √(1 − s0/d) (deterministic).

        Parameters
        ----------
        n : int
            Number of points, ≥ 1.
        kappa : float
            κ > 0, the scale of w.
        seed : int or None
            Seed of ``np.random.default_rng`` drawing the χ² variables (finite d).
        a : float
            Initial output weight of every point.
        b : float
            Initial bias of every point.
        s0_fraction : float, optional
            s0/d ∈ (0, 1]; required for the large-d limit, ignored otherwise.

        Returns
        -------
        ndarray, shape (n, 4)
            Columns (a, b, r₁, r₂).

        Raises
        ------
        ValueError
            If ``n`` is not a positive integer, ``kappa`` ≤ 0, or (d = ∞) ``s0_fraction`` ∉ (0, 1].
        """
        a, b = (check_magnitude(check_real(v, name), name) for name, v in (("a", a), ("b", b)))
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n: must be a positive integer, got {n!r}")
        kappa = check_positive(kappa, "kappa")
        if self.d == np.inf:
            if s0_fraction is None or not 0 < s0_fraction <= 1:
                raise ValueError(f"s0_fraction: must lie in (0, 1] for the large-d limit, got {s0_fraction!r}")
            r1 = np.full(n, kappa * math.sqrt(s0_fraction))
            r2 = np.full(n, kappa * math.sqrt(1.0 - s0_fraction))
        else:
            rng = np.random.default_rng(seed)
            r1 = kappa * np.sqrt(rng.chisquare(self.s0, n) / self.d)
            r2 = kappa * np.sqrt(rng.chisquare(self.d - self.s0, n) / self.d) if self.d > self.s0 else np.zeros(n)
        return np.column_stack([np.full(n, float(a)), np.full(n, float(b)), r1, r2])

    # ------------------------------------------------------------------ checks
    def check_points(self, X, name="X"):
        """``X`` as a finite (M, 4) array (a, b, r₁, r₂) with r₁, r₂ ≥ 0 (r₂ = 0 when s0 = d).

        Parameters
        ----------
        X : array_like, shape (M, 4)
            Reduced points, M ≥ 1.
        name : str
            Argument name used in the error messages.

        Returns
        -------
        ndarray, shape (M, 4)
            C-contiguous float copy (or view) of ``X``.

        Raises
        ------
        ValueError
            If ``X`` is not a finite 2-D array of shape (M ≥ 1, 4), has a negative radius, or
            r₂ ≠ 0 when s0 = d.
        """
        X = as_finite_array(X, name, ndim=2)
        if X.shape[1] != 4 or X.shape[0] < 1:
            raise ValueError(f"{name}: expected shape (M, 4) with columns (a, b, r1, r2), got {X.shape}")
        if np.any(X[:, 2:] < 0):
            raise ValueError(f"{name}: the radii r1, r2 (columns 2, 3) must be non-negative")
        if self.s0 == self.d and np.any(X[:, 3] != 0):
            raise ValueError(f"{name}: with s0 = d there are no noise coordinates: r2 must be 0")
        return np.ascontiguousarray(X)

    def check_weights(self, weights, n):
        """``weights`` (default uniform) as n non-negative weights summing to 1 (ValueError otherwise).

        Parameters
        ----------
        weights : array_like, shape (n,), or None
            Non-negative finite weights with a positive sum; None = uniform.
        n : int
            Expected number of weights.

        Returns
        -------
        ndarray, shape (n,)
            The normalised weights.

        Raises
        ------
        ValueError
            If ``weights`` is not a finite non-negative 1-D array of length n with a positive sum.
        """
        if weights is None:
            return np.full(n, 1.0 / n)
        w = as_finite_array(weights, "weights", ndim=1, nonnegative=True)
        if w.shape != (n,) or w.sum() <= 0:
            raise ValueError(f"weights: expected {n} non-negative weights with a positive sum")
        return w / w.sum()
