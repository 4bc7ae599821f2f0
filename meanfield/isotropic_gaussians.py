"""The "separating two isotropic Gaussians" model of Mei-Montanari-Nguyen.

y = +1 w.p. ½ with x ~ N(0, (1+Δ)² I_d); y = −1 w.p. ½ with x ~ N(0, (1−Δ)² I_d).
Neurons θ = w ∈ R^d, σ*(x; w) = σ(⟨w, x⟩), R# = E y² = 1.

Radial reduction (s ranges over the two scales 1 ± Δ):
    v(r)     = −½ [m((1+Δ) r) − m((1−Δ) r)],                      m(a) = E σ(aG)
    u(r, r') = ½ Σ_s E_c K(s r, s r', c),   K(a, b, c) = E[σ(aX)σ(bY)], corr c
             = ½ Σ_s Σ_k μ_k(d) h_k(s r) h_k(s r')                 (Mehler series)
    ψ(r; ρ̄) = v(r) + ∫ u(r, r') ρ̄(dr'),   R(ρ̄) = 1 + 2∫v dρ̄ + ∫∫u dρ̄ dρ̄.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from ._validation import as_finite_array, check_positive
from .activations import KIND_PIECEWISE_LINEAR, KIND_TANH, Activation
from .data import GaussianMixture
from .interface import SGDSpec
from .params import Params
from .pair_kernel import (_TINY, C_SERIES, K_SERIES, pair_direct, pair_gradient_direct, pair_gradient_direct_both,
                          pair_kernel, self_pair_gradient)
from .radial_table import dense_kernel
from .sphere import angle_quadrature, sphere_moments

#: Relative tolerance of the truncated Mehler series (see ``kernel_features``).
DEFAULT_TOL = 1e-10
#: Largest number of Hermite terms a truncation may use.
MAX_TERMS = 256
#: Particle count from which the O(N²) kernels use threads (below, thread start-up dominates).
PARALLEL_MIN = 256
#: Gauss-Legendre nodes in the angle for the exact angular average (converged to ~1e-14).
ANGLE_NODES = 128
#: potential_gradient, population_risk: rows i per task (they share each chunk of ŵ_j and h_k(s r_j)).
GRADIENT_ROW_BLOCK = 16
#: potential_gradient, population_risk: neurons j per chunk (a chunk's Horner state stays in L1 over all k).
GRADIENT_J_BLOCK = 256
#: potential_gradient: series terms until k|c|^(k−1) ≤ this (the truncation error is this
#: times ~2 max_k |h_k(a) h_k(b)|, i.e. relative to σ's Hermite coefficients).
GRADIENT_SERIES_TOL = 1e-11
#: potential_gradient: a chunk's vectorised series stops where pairs with |c| ≤ this are
#: converged; the rare pairs above it get their remaining terms one by one.
C_SPLIT = 0.35
#: ... when at most 1/SPLIT_FRACTION of the chunk's pairs lie above C_SPLIT (large d).
SPLIT_FRACTION = 16
#: population_risk, smooth σ: pairs with |c| > C_SERIES take the Mehler series while its
#: Parseval tail bound is ≤ this relative to √(E σ(aG)² E σ(bG)²) (see _pair_series_terms).
RISK_SERIES_TOL = 1e-14
#: ... up to MAX_TERMS terms, or LONG_TERMS when more than 1/LONG_TABLE_FRACTION of the
#: particles have a partner the shorter series cannot serve (small d): the longer table costs
#: ~0.1 ms a particle, the quadrature ~1 ms a pair.
LONG_TERMS = 1024
LONG_TABLE_FRACTION = 8
#: potential_gradient, piecewise-linear σ: the pairs with |c| > C_SERIES take the Mehler series too
#: (under the per-pair bound of _pair_series_terms; ~0.1–0.5 µs against ~5 µs a scale for the
#: closed form, which serves the pairs beyond the table's reach) when the cosines of
#: LONG_SAMPLE_ROWS evenly spaced particles with all others predict at least LONG_MIN_PARTNERS
#: such partners per particle (a longer table costs ~1–2 µs a particle per 100 terms);
#: LONG_TERMS instead of MAX_TERMS when at least LONG_MIN_FAR partners per particle lie beyond
#: MAX_TERMS' reach (small d).
LONG_SAMPLE_ROWS = 64
LONG_MIN_PARTNERS = 0.25
LONG_MIN_FAR = 1.0
#: ... the pairs the long table cannot serve take the closed form once per pair i < j, giving
#: both rows their terms (one set of bivariate-normal evaluations instead of two), in a second
#: pass that recomputes the cosines (~0.5 ns a pair and coordinate against ~4.4 µs the closed
#: form saves; measured break-even near d = 5): when the sampled fraction of pairs beyond the
#: long table's reach is at least CLOSED_PAIR_COST_RATIO · (d + 1) (iid particles: about 16% at
#: d = 2 and 3% at d = 3, which take the pass; 0.14% at d = 5 and none at d ≥ 10, which do not).
CLOSED_PAIR_COST_RATIO = 4e-4
#: ... rows per block of that pass, and its fixed number of tasks (each with its own (N, d + 1)
#: accumulator, summed in task order: the result does not depend on the thread count).
CLOSED_ROW_BLOCK = 32
CLOSED_TASKS = 16
#: ... the Parseval tails beyond the Hermite table are E σ² − Σ_k h_k² plus this times E σ²
#: (an upper bound on the rounding of that difference, so the bound stays an upper bound).
TAIL_FLOOR = 64 * np.finfo(float).eps


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
    """(h_t, dh_t, tails, second) of ``IsotropicGaussians._pair_tables`` for k < terms: tails
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


def _as_generator(rng):
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer, np.random.SeedSequence)):
        return np.random.default_rng(rng)
    raise ValueError(f"rng: expected a numpy Generator, a SeedSequence or an integer seed, got {type(rng).__name__}")


def _normalised_weights(weights, n, name="weights"):
    if weights is None:
        return np.full(n, 1.0 / n)
    w = as_finite_array(weights, name, ndim=1, nonnegative=True)
    if w.size != n:
        raise ValueError(f"{name}: expected {n} weights, got {w.size}")
    total = w.sum()
    if total <= 0:
        raise ValueError(f"{name}: must have a positive sum")
    return w / total


class IsotropicGaussians:
    """Two centred Gaussians with variances (1±Δ)² separated by a two-layer network.

    Parameters
    ----------
    delta : float
        Δ, in (0, 1).
    d : int
        The input dimension, ≥ 1 (the radial functions need d ≥ 2).
    activation : Activation
        A bounded :class:`PiecewiseLinear` σ or a :class:`Tanh` (sigmoid).
    large_d_limit : bool
        Use the d → ∞ kernel (only the k = 0 Mehler term, u = ½Σ_s m(sr)m(sr')).
        ``sample`` and ``population_risk`` still use the finite ``d``.
    tol : float
        Relative tolerance of the truncated Mehler series, > 0.
    drift_series : bool
        Piecewise-linear σ: the drift (``potential_gradient``) takes Mehler's series also for
        the strongly correlated pairs (|c| > ½) within a per-pair Parseval error bound, the
        closed form serving the rest (default; up to ~15× faster at small d). False: the
        closed form for every pair with |c| > ½ (an independent route, for checks).

    Raises
    ------
    ValueError
        If ``delta`` is not in (0, 1), ``d`` is not an integer ≥ 1, ``tol`` is not positive
        and finite, ``drift_series`` is not a bool, or ``activation`` is not a bounded
        piecewise-linear σ or a tanh.

    Examples
    --------
    >>> from meanfield import ramp
    >>> model = IsotropicGaussians(0.5, 10, ramp())
    >>> float(model.v(0.0)) == 0.0                                      # m((1+Δ)·0) = m((1−Δ)·0)
    True
    >>> r_sharp, v, u = model.r_sharp, float(model.v(1.0)), float(model.u(1.0, 1.0))
    >>> bool(abs(model.radial_risk([1.0]) - (r_sharp + 2 * v + u)) < 1e-12)   # R(δ_r) = 1 + 2v(r) + u(r, r)
    True
    """

    def __init__(self, delta, d, activation, large_d_limit=False, tol=DEFAULT_TOL, drift_series=True):
        delta = check_positive(delta, "delta")
        if not delta < 1:
            raise ValueError(f"delta: must lie in (0, 1), got {delta}")
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
            raise ValueError(f"d: must be an integer >= 1, got {d!r}")
        if not isinstance(activation, Activation):
            raise ValueError(f"activation: expected an Activation, got {type(activation).__name__}")
        if activation.kernel_spec()[0] not in (KIND_PIECEWISE_LINEAR, KIND_TANH):
            raise ValueError(f"activation: the radial model takes a bounded piecewise-linear σ or tanh/sigmoid, "
                             f"got {activation!r}; use MeanFieldModel for ReLU, erf and other σ")
        self.delta = delta
        self.d = int(d)
        self.activation = activation
        self.large_d_limit = bool(large_d_limit)
        self.tol = check_positive(tol, "tol")
        if not isinstance(drift_series, (bool, np.bool_)):
            raise ValueError(f"drift_series: must be True or False, got {drift_series!r}")
        self.drift_series = bool(drift_series)
        self.scales = np.array([1.0 + delta, 1.0 - delta])
        self.r_sharp = 1.0  # R# = E y²
        self._mu = sphere_moments(np.inf if self.large_d_limit else self.d, MAX_TERMS)

    def __repr__(self):
        return (f"IsotropicGaussians(delta={self.delta}, d={self.d}, activation={self.activation!r}"
                + (", large_d_limit=True)" if self.large_d_limit else ")"))

    # ------------------------------------------------------------------ data
    def sample(self, n, rng=None):
        """n iid pairs (X, y): X of shape (n, d), labels y ∈ {±1} of shape (n,).

        Parameters
        ----------
        n : int
            Number of pairs, ≥ 1.
        rng : int, SeedSequence, Generator or None
            Seed or generator; the labels are drawn first, then X.

        Returns
        -------
        X : ndarray, shape (n, d)
        y : ndarray, shape (n,)

        Raises
        ------
        ValueError
            If ``n`` is not a positive integer or ``rng`` of another type.
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n: must be a positive integer, got {n!r}")
        rng = _as_generator(rng)
        y = np.where(rng.random(n) < 0.5, 1.0, -1.0)
        scale = np.where(y > 0, self.scales[0], self.scales[1])
        X = rng.standard_normal((n, self.d)) * scale[:, None]
        return X, y

    # ------------------------------------------------------- radial potentials
    def _radii(self, r, name="r"):
        return as_finite_array(r, name, nonnegative=True)

    def v(self, r):
        """v(r) = −½ [m((1+Δ)r) − m((1−Δ)r)].

        Parameters
        ----------
        r : array_like
            Radii r ≥ 0, finite (any shape).

        Returns
        -------
        ndarray
            v(r), the shape of ``r``.
        """
        r = self._radii(r)
        m = self.activation.gaussian_mean
        return -0.5 * (m(self.scales[0] * r) - m(self.scales[1] * r))

    def dv(self, r):
        """v'(r) = −½ [(1+Δ) m'((1+Δ)r) − (1−Δ) m'((1−Δ)r)] (right limit at r = 0).

        Parameters
        ----------
        r : array_like
            Radii r ≥ 0, finite (any shape).

        Returns
        -------
        ndarray
            v'(r), the shape of ``r``.
        """
        r = self._radii(r)
        return self._dv_from_slopes([self.activation.gaussian_mean_derivative(s * r) for s in self.scales])

    def _dv_from_slopes(self, dm):
        """v'(r) from dm[s] = m'(s r) = h_0'(s r) per scale."""
        return -0.5 * (self.scales[0] * dm[0] - self.scales[1] * dm[1])

    def _truncation(self, a):
        """Smallest even K with μ_K · max_a T_K(a)/S(a) ≤ tol, T_K(a) = Σ_{k≥K} h_k(a)².

        T_K = E σ(aG)² − Σ_{k<K} h_k(a)² (Parseval), and by Cauchy-Schwarz and the
        monotonicity of μ_k over even k, |Σ_{k≥K} μ_k h_k(a) h_k(b)| ≤ μ_K √(T_K(a)T_K(b)).
        Returns (K, bound, h) with h[:, k] = h_k(a) for k < K; K = None if MAX_TERMS
        terms are not enough (then h has MAX_TERMS columns).
        """
        if self.large_d_limit:
            return 1, 0.0, self.activation.hermite(a, 0)
        second = self.activation.gaussian_second_moment(a)
        scale = np.maximum(second, np.finfo(float).tiny)
        kmax = 32
        while True:
            h = self.activation.hermite(a, kmax)
            tail = np.maximum(second[:, None] - np.cumsum(h**2, axis=1), 0.0)  # tail[:, K-1] = T_K
            for K in range(2, kmax + 1, 2):
                bound = self._mu[K] * float(np.max(tail[:, K - 1] / scale)) if a.size else 0.0
                if bound <= self.tol:
                    return K, bound, h[:, :K]
            if kmax >= MAX_TERMS:
                return None, bound, h[:, :MAX_TERMS]
            kmax = min(2 * kmax, MAX_TERMS)

    def kernel_features(self, r, allow_inexact=False):
        """Low-rank features of u on the points ``r`` (see :class:`KernelFeatures`).

        The number of terms is chosen so that the relative error bound is ≤ ``tol``;
        if ``MAX_TERMS`` terms cannot reach it (small d with a kinked σ), a ValueError
        is raised unless ``allow_inexact``, in which case the bound is reported.
        :meth:`radial_kernel` falls back to a dense table instead.

        Parameters
        ----------
        r : array_like
            Radii r ≥ 0, finite (flattened to the M feature points).
        allow_inexact : bool, optional
            Use MAX_TERMS terms when ``tol`` cannot be met (``error_bound`` reports the bound).

        Returns
        -------
        KernelFeatures

        Raises
        ------
        ValueError
            If ``r`` has a negative, NaN or infinite entry, or the series cannot meet ``tol``
            within MAX_TERMS terms and not ``allow_inexact``.

        Examples
        --------
        >>> import numpy as np
        >>> from meanfield import ramp
        >>> model, r, masses = IsotropicGaussians(0.5, 10, ramp()), np.array([0.5, 1.0, 2.0]), np.array([0.2, 0.3, 0.5])
        >>> feats = model.kernel_features(r)
        >>> bool(np.allclose(feats.potential(masses), model.psi(r, r, masses) - model.v(r), atol=1e-12))   # ψ − v
        True
        """
        r = self._radii(r, "r").ravel()
        feats = self._features(r, allow_inexact)
        if feats is None:
            raise ValueError(
                f"kernel_features: the Mehler series cannot reach tol={self.tol:g} within {MAX_TERMS} terms at "
                f"d={self.d}; kernel_features(r, allow_inexact=True) reports the achieved error bound, and "
                "radial_kernel(r) falls back to the dense kernel table")
        return feats

    def radial_kernel(self, r, derivatives=False):
        """The radial kernel on the points ``r`` for the radial solvers: the Mehler features
        (:class:`KernelFeatures`, O(M K)) when the series meets ``tol``, else a dense
        :class:`KernelMatrix` (O(M²), values only unless ``derivatives``) by the split angular
        rule of :mod:`meanfield.radial_table` (small d). Raises ValueError at d = 1.

        Parameters
        ----------
        r : array_like
            Radii r ≥ 0, finite (flattened).
        derivatives : bool, optional
            Build ∂_r u as well when the dense table is used.

        Returns
        -------
        KernelFeatures or KernelMatrix
            Both give ``potential(masses)`` and ``potential_derivative(masses)``.

        Raises
        ------
        ValueError
            If ``r`` has a negative or non-finite entry, or the dense table is needed at d = 1 or
            for a smooth σ (the dense table is implemented for piecewise-linear σ only).
        """
        r = self._radii(r, "r").ravel()
        feats = self._features(r)
        if feats is not None:
            return feats
        U, D = self.dense_kernel(r, r, values=not derivatives, derivatives=derivatives)
        return KernelMatrix(U, D)

    def dense_kernel(self, r, rp, values=True, derivatives=False):
        """(U, D), U[i, j] = u(r_i, rp_j) and D[i, j] = ∂_r u(r_i, rp_j) (right limit at r = 0),
        each None unless asked, by the split angular rule (any d ≥ 2, piecewise-linear σ):
        a Mehler series for |c| ≤ ¾ and a Gauss–Legendre integral of ∂²_cK for |c| > ¾.

        Parameters
        ----------
        r, rp : array_like
            Radii ≥ 0, finite (each flattened: M and M' points).
        values : bool, optional
            Build U.
        derivatives : bool, optional
            Build D.

        Returns
        -------
        U : ndarray, shape (M, M'), or None
        D : ndarray, shape (M, M'), or None

        Raises
        ------
        ValueError
            If d < 2 (the radial reduction does not apply), σ is not piecewise linear, or a radius
            is negative or not finite.

        Examples
        --------
        >>> import numpy as np
        >>> from meanfield import ramp
        >>> model, r = IsotropicGaussians(0.5, 10, ramp()), np.array([0.5, 1.0, 2.0])
        >>> U, _ = model.dense_kernel(r, r)
        >>> bool(np.allclose(U, model.u(r[:, None], r[None, :]), atol=1e-9)), bool(np.allclose(U, U.T))
        (True, True)
        """
        if self.d < 2:
            raise ValueError(
                "d: the radial reduction needs d >= 2; at d = 1 the 'radius' |w| loses the sign of w "
                "(the law of w ∈ R is not determined by that of |w|, and particles cross w = 0), so "
                "the radial kernel, ψ(r) and the radial solvers do not apply: use the particle flow or SGD")
        r = self._radii(r, "r").ravel()
        rp = self._radii(rp, "rp").ravel()
        return dense_kernel(self.activation, self.scales, self.d, r, rp, self.tol, values, derivatives)

    def _features(self, r, allow_inexact=False):
        """Features on the 1-D radii ``r``, or None if the series cannot meet ``tol``
        (one truncation search; with ``allow_inexact`` MAX_TERMS terms are used instead)."""
        a = np.concatenate([s * r for s in self.scales])
        K, bound, h = self._truncation(a)
        if K is None:
            if not allow_inexact:
                return None
            K = MAX_TERMS
        ks = np.arange(0, K, 2)
        dh = self.activation.hermite(a, K - 1, derivative=True)[:, ks]
        n, ns = r.size, len(self.scales)
        values = h[:, ks].reshape(ns, n, ks.size).transpose(0, 2, 1).reshape(ns * ks.size, n)
        derivs = (dh.reshape(ns, n, ks.size) * self.scales[:, None, None]).transpose(0, 2, 1).reshape(ns * ks.size, n)
        weights = np.tile(0.5 * self._mu[ks], ns)
        return KernelFeatures(values, derivs, weights, int(K), float(bound))

    def u(self, r, rp):
        """u(r, r') with broadcasting: the Mehler series when it meets ``tol``,
        otherwise the angular average of the exact pair kernel (Gauss-Legendre in θ).

        Parameters
        ----------
        r, rp : array_like
            Radii ≥ 0, finite; broadcast together.

        Returns
        -------
        ndarray
            u(r, r'), the broadcast shape.

        Examples
        --------
        >>> from meanfield import ramp
        >>> sigma, model = ramp(), IsotropicGaussians(0.5, 10, ramp())
        >>> expected = 0.5 * sum(sigma.gaussian_mean(s * 1.0) for s in (1.5, 0.5)) * sigma(0.0)   # u(r, 0) = ½ Σ_s m(sr) σ(0)
        >>> round(float(model.u(1.0, 0.0)), 9) == round(float(expected), 9)
        True
        """
        r, rp = np.broadcast_arrays(self._radii(r, "r"), self._radii(rp, "rp"))
        feats = self._features(np.concatenate([r.ravel(), rp.ravel()]))
        if feats is None:
            return self._u_angular(r, rp)
        n = r.size
        out = np.einsum("j,ji,ji->i", feats.weights, feats.values[:, :n], feats.values[:, n:])
        return out.reshape(r.shape)

    def _u_angular(self, r, rp):
        """u(r, r') = ½ Σ_s E_θ K(s r, s r', cos θ) by Gauss-Legendre in the angle θ."""
        theta, w = angle_quadrature(self.d, ANGLE_NODES)
        out = np.zeros(np.broadcast(r, rp).shape)
        for s in self.scales:
            k = pair_kernel(self.activation, (s * r)[..., None], (s * rp)[..., None], np.cos(theta))
            out += 0.5 * (k @ w)
        return out

    def psi(self, r, radii, weights=None):
        """ψ(r; ρ̄) = v(r) + Σ_i w_i u(r, r_i) for ρ̄ = Σ_i w_i δ_{r_i} (weights sum to 1).

        Parameters
        ----------
        r : array_like
            Radii ≥ 0, finite, where ψ is evaluated (any shape).
        radii : array_like
            The atoms r_i ≥ 0 of ρ̄ (flattened, at least one).
        weights : array_like or None
            Non-negative masses w_i with a positive sum (normalised); default uniform.

        Returns
        -------
        ndarray
            ψ(r; ρ̄), the shape of ``r``.

        Raises
        ------
        ValueError
            If ``radii`` is empty, a radius is negative or not finite, or ``weights`` has the
            wrong length, a negative entry or a zero sum.
        """
        r = self._radii(r, "r")
        radii = self._radii(radii, "radii").ravel()
        if radii.size == 0:
            raise ValueError("radii: empty")
        w = _normalised_weights(weights, radii.size)
        return self.v(r) + self._potential(r.ravel(), radii, w).reshape(r.shape)

    def dpsi(self, r, radii, weights=None):
        """∂_r ψ(r; ρ̄) (right limit at r = 0), via the Mehler features, or the dense
        kernel (:meth:`dense_kernel`) where the series cannot meet ``tol``.

        Parameters
        ----------
        r : array_like
            Radii ≥ 0, finite, where ∂_r ψ is evaluated (any shape).
        radii : array_like
            The atoms r_i ≥ 0 of ρ̄ (flattened, at least one).
        weights : array_like or None
            Non-negative masses w_i with a positive sum (normalised); default uniform.

        Returns
        -------
        ndarray
            ∂_r ψ(r; ρ̄), the shape of ``r``.

        Raises
        ------
        ValueError
            If ``radii`` is empty, a radius is negative or not finite, or ``weights`` has the
            wrong length, a negative entry or a zero sum.
        """
        r = self._radii(r, "r")
        radii = self._radii(radii, "radii").ravel()
        if radii.size == 0:
            raise ValueError("radii: empty")
        w = _normalised_weights(weights, radii.size)
        feats = self._features(np.concatenate([r.ravel(), radii]))
        if feats is None:
            _, D = self.dense_kernel(r.ravel(), radii, values=False, derivatives=True)
            return self.dv(r) + (D @ w).reshape(r.shape)
        m = r.size
        coef = feats.weights * (feats.values[:, m:] @ w)
        return self.dv(r) + (coef @ feats.derivatives[:, :m]).reshape(r.shape)

    def _potential(self, r, radii, w):
        """Σ_i w_i u(r, r_i) for 1-D r: O((M+n)K) by features when the series is valid."""
        feats = self._features(np.concatenate([r, radii]))
        if feats is None:
            if self.d >= 2 and self.activation.kernel_spec()[0] == KIND_PIECEWISE_LINEAR:
                return self.dense_kernel(r, radii)[0] @ w
            return self._u_angular(r[:, None], radii[None, :]) @ w
        m = r.size
        return (feats.weights * (feats.values[:, m:] @ w)) @ feats.values[:, :m]

    def radial_risk(self, radii, weights=None):
        """R(ρ̄) = 1 + 2∫v dρ̄ + ∫∫u dρ̄ dρ̄ for ρ̄ = Σ_i w_i δ_{r_i}.

        Parameters
        ----------
        radii : array_like
            The atoms r_i ≥ 0 of ρ̄ (flattened, at least one).
        weights : array_like or None
            Non-negative masses w_i with a positive sum (normalised); default uniform.

        Returns
        -------
        float
            R(ρ̄), the mean-field (N → ∞) risk of the radial law ρ̄.

        Raises
        ------
        ValueError
            If ``radii`` is empty, a radius is negative or not finite, or ``weights`` has the
            wrong length, a negative entry or a zero sum.
        """
        radii = self._radii(radii, "radii").ravel()
        if radii.size == 0:
            raise ValueError("radii: empty")
        w = _normalised_weights(weights, radii.size)
        return float(self.r_sharp + 2.0 * w @ self.v(radii) + w @ self._potential(radii, radii, w))

    # ------------------------------------------------------- solver interface
    train = ("w",)
    risk_kind = "population"
    output_scale = 1.0

    def as_params(self, theta, name="theta"):
        """θ as Params: an (N, d) array W, or Params with a ≡ 1 and b ≡ 0 (the network here).

        Parameters
        ----------
        theta : Params or ndarray, shape (N, d)
            The neurons; as Params only with a ≡ 1 and b ≡ 0.
        name : str
            The argument name used in error messages.

        Returns
        -------
        Params

        Raises
        ------
        ValueError
            If ``theta`` is Params with some a_i ≠ 1 or b_i ≠ 0, or its input dimension is not ``d``.
        """
        if isinstance(theta, Params):
            if not (np.all(theta.a == 1.0) and np.all(theta.b == 0.0)):
                raise ValueError(f"{name}: IsotropicGaussians is the network with a ≡ 1, b ≡ 0; "
                                 "use MeanFieldModel for other output weights or biases")
            params = theta
        else:
            params = Params.from_weights(theta, name)
        if params.d != self.d:
            raise ValueError(f"{name}: expected shape (N, {self.d}) with N >= 1, got {params.W.shape}")
        return params

    def risk(self, theta):
        """The exact R_N (what the solvers record).

        Parameters
        ----------
        theta : Params or ndarray, shape (N, d)

        Returns
        -------
        float
            :meth:`population_risk` of ``theta``.
        """
        return self.population_risk(theta)

    def sgd_spec(self):
        """The :class:`SGDSpec` of the fused SGD kernel (isotropic w-only fast path).

        Returns
        -------
        SGDSpec
            σ, w trained (not a, b), the isotropic mixture and ``isotropic_scales`` = (1 + Δ, 1 − Δ).
        """
        kind, p = self.activation.kernel_spec()
        data = GaussianMixture.isotropic(self.delta, self.d).kernel_spec()
        return SGDSpec(kind, np.asarray(p, dtype=float), False, True, False, data, self.scales.copy())

    # ---------------------------------------------------------- finite network
    def _particles(self, W):
        """Checked weights (N, d), N ≥ 1 → radii r, the mask r < _TINY (w = 0 to double
        precision: σ(s r X) = σ(0)) and the unit vectors ŵ (0 where masked)."""
        W = as_finite_array(W, "W", ndim=2)
        if W.shape[1] != self.d or W.shape[0] == 0:
            raise ValueError(f"W: expected shape (N, {self.d}) with N >= 1, got {W.shape}")
        r = np.linalg.norm(W, axis=1)
        zero = r < _TINY
        return r, zero, np.divide(W, r[:, None], out=np.zeros_like(W), where=~zero[:, None])

    def _pair_tables(self, r, unit_t, derivatives):
        """Hermite tables of the pair kernels, k-major (the kernels loop over j), and whether the
        drift's closed-form pairs take the symmetric pass (:func:`_closed_pairs`):
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
        kind, _ = self.activation.kernel_spec()
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
        elif derivatives and self.drift_series:
            terms, symmetric = _long_series_plan(unit_t)
        else:
            terms = K_SERIES
        return _series_tables(self.activation, self.scales, r, terms, smooth or terms > K_SERIES, derivatives) \
            + (symmetric,)

    def population_risk(self, W):
        """Exact R_N(θ) = 1 + (2/N) Σ_i V(w_i) + (1/N²) Σ_ij U(w_i, w_j) of the network
        ŷ(x) = (1/N) Σ_i σ(⟨w_i, x⟩), W of shape (N, d). No Monte Carlo: U(w, w') =
        ½ Σ_s K(s‖w‖, s‖w'‖, cos∠(w, w')), K as in :func:`pair_kernel`: the Mehler series
        (48 terms) for |c| ≤ ½; beyond, the closed form for piecewise-linear σ and for smooth
        σ the series again while its Parseval bound is ≤ RISK_SERIES_TOL = 1e-14 relative
        (see :func:`_pair_series_terms`), else the quadrature of
        :func:`~meanfield.pair_kernel.smooth_pair_sums`.

        Parameters
        ----------
        W : ndarray, shape (N, d), or Params
            The input weights (Params: a ≡ 1, b ≡ 0).

        Returns
        -------
        float
            R_N.

        Raises
        ------
        ValueError
            If ``W`` is not finite, not of shape (N, d) with N ≥ 1, or Params with a ≢ 1 or b ≢ 0.
        """
        if isinstance(W, Params):
            W = self.as_params(W, "W").W
        r, _, unit = self._particles(W)
        kind, p = self.activation.kernel_spec()
        unit_t = np.ascontiguousarray(unit.T)
        h_t, _, tails, diag, _ = self._pair_tables(r, unit_t, derivatives=False)
        kernel = _risk_pairs_parallel if r.size >= PARALLEL_MIN else _risk_pairs_serial
        total = kernel(kind, p, self.scales, r, unit_t, h_t, tails, diag)
        return float(self.r_sharp + 2.0 * self.v(r).mean() + total / r.size**2)

    def potential_gradient(self, W):
        """∇_θ Ψ(θ_i; ρ̂) for every particle, ρ̂ = (1/N) Σ_j δ_{θ_j}, W of shape (N, d).

        ∇Ψ(w_i) = v'(r_i) ŵ_i + (1/N) Σ_j ½ Σ_s [s ∂_aK ŵ_i + (∂_cK / r_i)(ŵ_j − c_ij ŵ_i)],
        K evaluated at (s r_i, s r_j, c_ij), c_ij = ŵ_i·ŵ_j (Mehler series for |c| ≤ ½; the
        j = i term has c = 1 and no angular part). Pairs with |c| > ½: the Mehler series
        with as many terms as the pair's Parseval bound needs (≤ GRADIENT_SERIES_TOL ·
        √(Var σ(aG) Var σ(bG)), up to MAX_TERMS or LONG_TERMS; :func:`_pair_series_terms`)
        where that bound allows, else the closed form (piecewise-linear σ) or the quadrature
        of :func:`~meanfield.pair_kernel.smooth_pair_sums` (~0.5 ms a pair; smooth σ): |c|
        near 1 (small d, near-duplicates). Piecewise-linear σ takes the long series only
        when sampled cosines predict enough such pairs (:func:`_long_series_plan`; the
        closed form costs ~5 µs a pair and scale, the series ~0.1–0.5 µs).
        This equals (N/2) ∂R_N/∂θ_i. At w_i = 0, where Ψ is not differentiable for a σ
        kinked at 0, the gradient is defined as the population average of the SGD
        direction with σ'(0+): E_x[σ'(0+)(ŷ(x) − y) x] = σ'(0+) (1/N) Σ_j ½ Σ_s s h_1(s r_j) ŵ_j.

        Cost: O(N²(d + K)) in one Numba pass over blocks of pairs (threaded from
        PARALLEL_MIN particles; no N×N array), K ≤ 48 series terms per pair for both
        scales at once. A chunk's vectorised series takes as many terms as its largest
        |c| ≤ C_SPLIT needs; the few pairs with C_SPLIT < |c| ≤ ½ add their remaining
        terms one by one (when they are at most 1/SPLIT_FRACTION of the chunk, as for
        large d). Truncation: the first omitted term has k|c|^(k−1) ≤
        GRADIENT_SERIES_TOL = 1e-11 at the pair's own |c| (or the chunk's largest), so
        the omitted tail of a pair's sums is below ~2·1e-11 · max_k |h_k(a) h_k(b)|
        (≤ 1.2e-9 for the reference ramp; measured ≤ 5e-13 against the direct
        evaluation). ``benchmarks/flow_speed.py`` compares the cost with W Wᵀ.

        Parameters
        ----------
        W : ndarray, shape (N, d), or Params
            The input weights (Params: a ≡ 1, b ≡ 0).

        Returns
        -------
        ndarray, shape (N, d), or Params
            ∇_w Ψ(w_i; ρ̂) per row; for Params in, Params with zero a and b components.

        Raises
        ------
        ValueError
            If ``W`` is not finite, not of shape (N, d) with N ≥ 1, or Params with a ≢ 1 or b ≢ 0.

        Examples
        --------
        >>> import numpy as np
        >>> from meanfield import ramp
        >>> model = IsotropicGaussians(0.5, 10, ramp())
        >>> W = np.random.default_rng(0).standard_normal((3, 10)) / np.sqrt(10)
        >>> E = np.zeros_like(W); E[1, 2] = 1e-5                   # ∇Ψ = (N/2) ∂R_N/∂w_i, by central differences
        >>> fd = (model.population_risk(W + E) - model.population_risk(W - E)) / 2e-5 * 3 / 2
        >>> bool(abs(model.potential_gradient(W)[1, 2] - fd) < 1e-6)
        True
        """
        if isinstance(W, Params):  # Params in, Params out (the solver interface)
            n = W.n
            return Params(np.zeros(n), self.potential_gradient(self.as_params(W, "W").W), np.zeros(n))
        r, zero, unit = self._particles(W)
        n = r.size
        kind, p = self.activation.kernel_spec()
        unit_t = np.ascontiguousarray(unit.T)
        h_t, dh_t, tails, _, symmetric = self._pair_tables(r, unit_t, derivatives=True)
        dsigma0 = float(self.activation.derivative(0.0))
        kernel = _gradient_parallel if n >= PARALLEL_MIN else _gradient_serial
        h_j = np.ascontiguousarray(h_t.transpose(2, 1, 0))  # particle-major, for the per-pair series
        c_served = _served_cosine(tails)
        radial, angular = kernel(kind, p, self.scales, r, zero, unit_t, h_t, h_j, dh_t, tails, c_served, dsigma0,
                                 symmetric)
        if symmetric:  # the closed-form pairs, once per pair i < j
            closed_radial, closed_angular = _closed_pairs(kind, p, self.scales, r, unit_t, tails, c_served)
            radial += closed_radial
            angular += closed_angular
        radial = radial / n + np.where(zero, 0.0, self._dv_from_slopes(dh_t[:, 0]))  # h_0' = m'
        return radial[:, None] * unit + angular / n


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


def _served_cosine(tails):
    """The largest |c| (to 1e-6, from below) for which the drift's table of ``tails.shape[1] − 1``
    terms meets the bound of :func:`_pair_series_terms` for every pair (T_K ≤ T_1); C_SERIES
    without a table."""
    n_max = tails.shape[1] - 1
    return _reach(n_max, GRADIENT_SERIES_TOL, True) if n_max > K_SERIES else C_SERIES


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


def _reach(terms, tol, derivatives):
    """Largest |c| (to 1e-6) whose pair rule with T_K/T_1 ≤ 1 needs at most ``terms`` terms."""
    lo, hi = C_SERIES, 1.0
    unit_tails = np.ones((1, terms + 1, 1))
    while hi - lo > 1e-6:
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if _pair_series_terms(mid, 0, 0, unit_tails, tol, derivatives) else (lo, mid)
    return lo


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


@njit(cache=True, fastmath={"contract", "reassoc"})
def _risk_block(i0, i1, kind, p, scales, r, unit_t, h_t, tails, diag):
    """Σ_{i0≤i<i1} [½ Σ_s diag_si + 2 Σ_{j>i} ½ Σ_s K(s r_i, s r_j, c_ij)]: the rows' share of
    Σ_ij U(w_i, w_j), chunk by chunk in j ≥ i0 as in :func:`_gradient_block` (no N×N array).
    K(a, a, 1) = diag (E σ(aG)²); the series uses K_SERIES terms of h_t for |c| ≤ C_SERIES
    (tail ≤ 0.5^48 relative); beyond, smooth σ takes the series with the terms that
    :func:`_pair_series_terms` asks for (tails given), else the direct evaluation."""
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
                                total += pair_direct(kind, p, s * r[i], s * r[j], c)
    return total


@njit(cache=True)
def _risk_pairs_serial(kind, p, scales, r, unit_t, h_t, tails, diag):
    n = unit_t.shape[1]
    total = 0.0
    for i0 in range(0, n, GRADIENT_ROW_BLOCK):
        total += _risk_block(i0, min(n, i0 + GRADIENT_ROW_BLOCK), kind, p, scales, r, unit_t, h_t, tails, diag)
    return total


@njit(cache=True, parallel=True)
def _risk_pairs_parallel(kind, p, scales, r, unit_t, h_t, tails, diag):
    n = unit_t.shape[1]
    n_blocks = (n + GRADIENT_ROW_BLOCK - 1) // GRADIENT_ROW_BLOCK
    n_tasks = (n_blocks + 1) // 2
    partial = np.zeros(n_tasks)
    for task in prange(n_tasks):  # block task with block n_blocks − 1 − task: equal pair counts
        i0 = task * GRADIENT_ROW_BLOCK
        acc = _risk_block(i0, min(n, i0 + GRADIENT_ROW_BLOCK), kind, p, scales, r, unit_t, h_t, tails, diag)
        other = n_blocks - 1 - task
        if other != task:
            i0 = other * GRADIENT_ROW_BLOCK
            acc += _risk_block(i0, min(n, i0 + GRADIENT_ROW_BLOCK), kind, p, scales, r, unit_t, h_t, tails, diag)
        partial[task] = acc
    return partial.sum()


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


def _closed_pairs(kind, p, scales, r, unit_t, tails, c_served):
    """The closed-form pairs' share of the drift (radial (N,), angular (N, d), before the 1/N),
    once per pair i < j (:func:`_closed_pair_tasks`), the tasks summed in order."""
    radial, angular = _closed_pair_tasks(kind, p, scales, r, unit_t, tails, c_served)
    return radial.sum(axis=0), angular.sum(axis=0)
