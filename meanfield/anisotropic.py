"""The anisotropic Gaussians ("variable selection") example, reduced to (a, b, r₁, r₂).

Data: y = ±1 w.p. ½, x ~ N(0, Σ±), Σ± = diag((1 ± Δ)² on coordinates 1..s0, 1 on the others).
Network: σ*(x; θ) = a σ(⟨w, x⟩ + b). Split w = (w₁, w₂) ∈ R^{s0} × R^{d−s0}, r₁ = ‖w₁‖,
r₂ = ‖w₂‖. Under class ± (scale c± = 1 ± Δ), ⟨w, x⟩ ~ N(0, s±²) with s±² = c±² r₁² + r₂².

With p = c r₁/s, q = r₂/s (p² + q² = 1), the Mehler expansion of
E σ(sX + b) σ(s'Y + b') in the correlation c = p p' cos φ₁ + q q' cos φ₂, averaged over the two
independent angles (cos φ₁ the cosine of two uniform directions of R^{s0}, cos φ₂ of
R^{d−s0}), gives the exact reduced potentials of an O(s0)×O(d−s0)-invariant law ρ̄:

    v(θ)      = −(a/2) [m(s₊, b) − m(s₋, b)],          m(s, b) = E σ(sG + b),
    u(θ, θ')  = ½ Σ_± Σ_{k, j} λ_kj f^±_kj(θ) f^±_kj(θ'),
    f^±_kj(θ) = a h_k(s±, b) p±^j q±^{k−j},            λ_kj = C(k, j) μ_j(s0) μ_{k−j}(d − s0),
    ψ(θ; ρ̄)  = v(θ) + ∫ u(θ, θ') ρ̄(dθ'),              R(ρ̄) = 1 + 2∫v dρ̄ + ∫∫u dρ̄ dρ̄,

with h_k(s, b) = E[σ(sG + b) He_k(G)]/√k! (:mod:`meanfield.shifted_hermite`) and μ_k(n) the
moments of :func:`meanfield.sphere_moments` (μ_odd = 0: only even k and j enter). The kernel is
low rank: ψ on M points costs O(M · K²) (features indexed by (k, j), k ≤ K).

Truncation bound. For even k ≥ K+2, |E c^k| ≤ E c^{K+2} ≤ μ*_{K+2} := max(μ_{K+2}(s0),
μ_{K+2}(d−s0)) (c = αX + γY with α + γ = pp' + qq' ≤ 1, and x^{K+2} is convex), so with the
Parseval tail T(θ) = E σ(sG + b)² − Σ_{k≤K} h_k(s, b)²,

    |u − u_K|(θ, θ') ≤ ½ Σ_± |a a'| √(T±(θ) T±(θ')) μ*_{K+2}.

Large-d limit (d → ∞ at fixed s0/d): μ_k(s0), μ_k(d−s0) → δ_{k0}, so only k = 0 survives and
u(θ, θ') = ½ Σ_± a a' m(s±, b) m(s'±, b') (:meth:`AnisotropicGaussians.large_d`); the
ratio s0/d then enters only through the initial law of (r₁, r₂).

Reduced dynamics: each coordinate moves with −2ξ ∂ψ (ṙ₁ = (w₁/r₁)·ẇ₁ = −2ξ ∂_{r₁}ψ); the
density on (r₁, r₂) carries the Jacobian r₁^{s0−1} r₂^{d−s0−1}. ψ is even in r₁ and in r₂,
so ∂_{r₁}ψ = 0 at r₁ = 0 and ∂_{r₂}ψ = 0 at r₂ = 0. At w = 0 (s = 0) the derivatives are
the one-sided limits along the axes: ∂_{r₁}ψ(0+, 0) and ∂_{r₂}ψ(0, 0+).

Reduced points are (M, 4) arrays with columns (a, b, r₁, r₂).
"""
from __future__ import annotations

import math

import numpy as np

from ._anisotropic_kernels import feature_sums, field_sums
from ._validation import as_finite_array, check_magnitude, check_positive, check_real
from .activations import Activation
from .data import GaussianMixture
from .gaussian_integrals import gaussian_pair
from .mean_field_model import MeanFieldModel
from .network import TwoLayerNetwork
from .params import Params
from .shifted_hermite import shifted_hermite
from .sphere import sphere_moments

__all__ = ["AnisotropicGaussians", "REDUCED_COLUMNS"]

#: Column order of reduced points.
REDUCED_COLUMNS = ("a", "b", "r1", "r2")
#: Points per chunk of the (features × points) work arrays.
_CHUNK = 4096
#: Default truncation: the smallest even K with μ*_{K+2} below this, at most _KMAX_CAP.
_MU_TOL = 1e-15
_KMAX_CAP = 60


def _moments(n, kmax):
    """μ_k(n), with n = 0 (no coordinates: the vector is 0, only k = 0) and n = inf (δ_{k0})."""
    if n == 0:
        mu = np.zeros(kmax + 1)
        mu[0] = 1.0
        return mu
    return sphere_moments(n, kmax)


class AnisotropicGaussians:
    """Exact reduced mean-field model of the anisotropic Gaussians on (a, b, r₁, r₂).

    Parameters
    ----------
    delta : float
        Δ ∈ (0, 1): the class covariances are (1 ± Δ)² on the s0 signal coordinates.
    d : int or float
        Input dimension, an integer ≥ 1, or ``np.inf`` (use :meth:`large_d`).
    s0 : int or None
        Number of signal coordinates, 1 ≤ s0 ≤ d (None when d = ∞).
    activation : Activation
        σ (piecewise linear, bounded or with linear tails; tanh; erf).
    train : tuple of str
        Trained subset of ("a", "w", "b"); untrained coordinates have zero gradient.
    kmax : int, optional
        Even truncation order K ≥ 0 of the Mehler series (default: the smallest even K with
        μ*_{K+2} ≤ 1e-15, at most 60; see :meth:`truncation_bound`).

    Attributes
    ----------
    kmax : int
        The truncation order K used.
    mu_star : float
        μ*_{K+2} = max(μ_{K+2}(s0), μ_{K+2}(d − s0)), the factor of the truncation bound.
    ks, js, lam : ndarray
        The (k, j) indices of the features and their weights λ_kj > 0.
    network : TwoLayerNetwork
        σ and the trained set.

    Raises
    ------
    ValueError
        If ``delta`` ∉ (0, 1), ``activation`` is not an :class:`Activation`, ``d`` is not an
        integer ≥ 1 nor ``np.inf``, ``s0`` ∉ [1, d], ``kmax`` is not an even integer ≥ 0,
        or ``train`` is invalid.

    Examples
    --------
    ψ(θ; δ_θ) = v(θ) + u(θ, θ), and R(ρ̄) = 1 + 2∫v dρ̄ + ∫∫u dρ̄ dρ̄:

    >>> import numpy as np
    >>> from meanfield import relu
    >>> model = AnisotropicGaussians(0.5, d=20, s0=4, activation=relu())
    >>> X = np.array([[1.0, 0.1, 0.6, 0.3], [0.5, 0.0, 0.2, 0.8]])
    >>> bool(abs(model.psi(X[:1], X[:1])[0] - (model.v(X[:1])[0] + model.u(X[:1], X[:1])[0, 0])) < 1e-12)
    True
    >>> round(model.risk(X), 6), round(float(1 + 2 * model.v(X).mean() + model.u(X, X).mean()), 6)
    (0.95811, 0.95811)
    """

    def __init__(self, delta, d, s0, activation, train=("a", "w", "b"), kmax=None):
        delta = check_positive(delta, "delta")
        if not delta < 1:
            raise ValueError(f"delta: must lie in (0, 1), got {delta}")
        if not isinstance(activation, Activation):
            raise ValueError(f"activation: expected an Activation, got {type(activation).__name__}")
        self.network = TwoLayerNetwork(activation, train)
        self.activation, self.train, self.delta = activation, self.network.train, delta
        if d == np.inf:
            self.d, self.s0, n1, n2 = np.inf, None, np.inf, np.inf
        else:
            if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
                raise ValueError(f"d: must be an integer >= 1 (or np.inf), got {d!r}")
            if isinstance(s0, bool) or not isinstance(s0, (int, np.integer)) or not 1 <= s0 <= d:
                raise ValueError(f"s0: must be an integer in [1, d={d}], got {s0!r}")
            self.d, self.s0, n1, n2 = int(d), int(s0), int(s0), int(d) - int(s0)
        self._n = (n1, n2)
        if kmax is None:
            mu_star = np.maximum(_moments(n1, _KMAX_CAP + 2), _moments(n2, _KMAX_CAP + 2))
            kmax = next((k for k in range(0, _KMAX_CAP + 1, 2) if mu_star[k + 2] <= _MU_TOL), _KMAX_CAP)
        if isinstance(kmax, bool) or not isinstance(kmax, (int, np.integer)) or kmax < 0 or kmax % 2:
            raise ValueError(f"kmax: must be an even integer >= 0, got {kmax!r}")
        self.kmax = int(kmax)
        mu1, mu2 = _moments(n1, self.kmax + 2), _moments(n2, self.kmax + 2)
        self.mu_star = float(max(mu1[self.kmax + 2], mu2[self.kmax + 2]))
        ks, js, lam = [], [], []
        for k in range(0, self.kmax + 1, 2):
            for j in range(0, k + 1, 2):
                weight = math.comb(k, j) * mu1[j] * mu2[k - j]
                if weight > 0:
                    ks.append(k)
                    js.append(j)
                    lam.append(weight)
        self.ks, self.js, self.lam = np.array(ks), np.array(js), np.array(lam)
        self.scales = (1.0 + delta, 1.0 - delta)
        self.labels = (1.0, -1.0)
        self.r_sharp = 1.0

    @classmethod
    def large_d(cls, delta, activation, train=("a", "w", "b")):
        """The d → ∞ limit at fixed s0/d: only the k = 0 Mehler term survives.

        Parameters
        ----------
        delta : float
            Δ ∈ (0, 1).
        activation : Activation
            σ.
        train : tuple of str
            Trained subset of ("a", "w", "b").

        Returns
        -------
        AnisotropicGaussians
            With d = ∞, s0 = None, K = 0: u(θ, θ') = ½ Σ_± a a' m(s±, b) m(s'±, b').

        Examples
        --------
        >>> from meanfield import relu
        >>> AnisotropicGaussians.large_d(0.5, relu()).kmax
        0
        """
        return cls(delta, np.inf, None, activation, train, kmax=0)

    def __repr__(self):
        return (f"AnisotropicGaussians(delta={self.delta}, d={self.d}, s0={self.s0}, {self.activation!r}, "
                f"train={self.train!r}, kmax={self.kmax})")

    @property
    def n_features(self):
        """Number of (k, j) features per class."""
        return self.ks.size

    # ------------------------------------------------------------------ full model
    def full_model(self):
        """The full-dimensional :class:`MeanFieldModel` this model reduces (finite d only).

        Returns
        -------
        MeanFieldModel
            ``GaussianMixture.anisotropic(delta, d, s0)`` with the same network.

        Raises
        ------
        ValueError
            For the large-d limit (d = ∞).
        """
        if self.d == np.inf:
            raise ValueError("full_model: the large-d limit has no full-dimensional model")
        return MeanFieldModel(GaussianMixture.anisotropic(self.delta, self.d, self.s0), self.network)

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

    # ------------------------------------------------------------------ features
    def _geometry(self, X, c):
        a, b, r1, r2 = X.T
        s = np.sqrt((c * r1) ** 2 + r2**2)
        safe = np.where(s > 0, s, 1.0)
        p = np.where(s > 0, c * r1 / safe, 0.0)
        q = np.where(s > 0, r2 / safe, 0.0)
        return a, b, s, p, q

    def _powers(self, x):
        out = np.empty((self.kmax + 1, x.size))
        out[0] = 1.0
        for j in range(1, self.kmax + 1):
            out[j] = out[j - 1] * x
        return out

    def class_features(self, X, c):
        """f̃_kj = h_k(s, b) p^j q^{k−j} (without the factor a) of the class with scale c
        (one of ``self.scales``), shape (P, M), and m(s, b).

        Parameters
        ----------
        X : ndarray, shape (M, 4)
            Reduced points (not validated here: pass the output of :meth:`check_points`).
        c : float
            Class scale, 1 + Δ or 1 − Δ.

        Returns
        -------
        features : ndarray, shape (P, M)
            f̃_kj at the points, P = ``n_features``.
        m : ndarray, shape (M,)
            m(s, b) = E σ(sG + b), s² = c² r₁² + r₂².
        """
        a, b, s, p, q = self._geometry(X, c)
        table = shifted_hermite(self.activation, s, b, self.kmax)
        pp, qq = self._powers(p), self._powers(q)
        return table.h()[self.ks] * pp[self.js] * qq[self.ks - self.js], table.m

    def _tables(self, X, c):
        """(a, b, s, p, q, ShiftedHermite table) of class scale c at the points X."""
        a, b, s, p, q = self._geometry(X, c)
        return a, b, s, p, q, shifted_hermite(self.activation, s, b, self.kmax)

    def feature_means(self, X, weights=None):
        """F^±_kj = ∫ f^±_kj dρ̄ for ρ̄ = Σ_m w_m δ_{X_m}, shape (2, P), and ∫ v dρ̄.

        Parameters
        ----------
        X : array_like, shape (M, 4)
            Reduced points, columns (a, b, r₁, r₂), finite, r₁, r₂ ≥ 0 (r₂ = 0 when s0 = d), M ≥ 1.
        weights : array_like, shape (M,), optional
            Non-negative weights w_m of the points of ρ̄ = Σ_m w_m δ_{X_m}, with a positive sum
            (normalised); None = uniform.

        Returns
        -------
        F : ndarray, shape (2, P)
            Rows for the classes + and −.
        vbar : float
            ∫ v dρ̄.

        Raises
        ------
        ValueError
            If a point array is not a finite (M, 4) array with r₁, r₂ ≥ 0 (see :meth:`check_points`)
            or the weights are invalid (see :meth:`check_weights`).
        """
        X = self.check_points(X, "X")
        w = self.check_weights(weights, X.shape[0])
        F = np.zeros((2, self.n_features))
        v = 0.0
        for start in range(0, X.shape[0], _CHUNK):
            Xc, wc = X[start:start + _CHUNK], w[start:start + _CHUNK]
            aw = np.ascontiguousarray(Xc[:, 0] * wc)
            for i, (c, label) in enumerate(zip(self.scales, self.labels)):
                _, _, s, p, q, table = self._tables(Xc, c)
                feature_sums(self.ks, self.js, table.e.T, table.m, s, p, q, aw, F[i])
                v += -0.5 * label * float(aw @ table.m)
        return F, v

    def _coefficients(self, X, weights):
        F, vbar = self.feature_means(X, weights)
        return 0.5 * self.lam * F, F, vbar

    # ------------------------------------------------------------------ potentials
    def v(self, X):
        """v(θ) = −(a/2)[m(s₊, b) − m(s₋, b)] at the points X, shape (M,).

        Parameters
        ----------
        X : array_like, shape (M, 4)
            Reduced points, columns (a, b, r₁, r₂), finite, r₁, r₂ ≥ 0 (r₂ = 0 when s0 = d), M ≥ 1.

        Returns
        -------
        ndarray, shape (M,)
            v at each point.

        Raises
        ------
        ValueError
            If a point array is not a finite (M, 4) array with r₁, r₂ ≥ 0 (see :meth:`check_points`)
            or the weights are invalid (see :meth:`check_weights`).
        """
        X = self.check_points(X, "X")
        m = [self._geometry_mean(X, c) for c in self.scales]
        return -0.5 * X[:, 0] * (m[0] - m[1])

    def _geometry_mean(self, X, c):
        _, b, s, _, _ = self._geometry(X, c)
        return shifted_hermite(self.activation, s, b, 0).m

    def u(self, X, Y):
        """u(θ_i, θ'_j) (M, M') by the truncated series (for tests and inspection).

        Parameters
        ----------
        X : array_like, shape (M, 4)
            Reduced points, columns (a, b, r₁, r₂), finite, r₁, r₂ ≥ 0 (r₂ = 0 when s0 = d), M ≥ 1.
        Y : array_like, shape (M', 4)
            Reduced points, as ``X``.

        Returns
        -------
        ndarray, shape (M, M')
            u(X_i, Y_j), symmetric when Y = X.

        Raises
        ------
        ValueError
            If a point array is not a finite (M, 4) array with r₁, r₂ ≥ 0 (see :meth:`check_points`)
            or the weights are invalid (see :meth:`check_weights`).
        """
        X, Y = self.check_points(X, "X"), self.check_points(Y, "Y")
        out = np.zeros((X.shape[0], Y.shape[0]))
        for c in self.scales:
            fx, fy = self.class_features(X, c)[0], self.class_features(Y, c)[0]
            out += 0.5 * (fx * X[:, 0]).T @ (self.lam[:, None] * fy * Y[:, 0])
        return out

    def psi(self, Y, X, weights=None):
        """ψ(θ; ρ̄) at the points Y for ρ̄ = Σ_m w_m δ_{X_m} (uniform weights by default).

        Parameters
        ----------
        Y : array_like, shape (M', 4)
            Evaluation points (a, b, r₁, r₂).
        X : array_like, shape (M, 4)
            Reduced points, columns (a, b, r₁, r₂), finite, r₁, r₂ ≥ 0 (r₂ = 0 when s0 = d), M ≥ 1.
        weights : array_like, shape (M,), optional
            Non-negative weights w_m of the points of ρ̄ = Σ_m w_m δ_{X_m}, with a positive sum
            (normalised); None = uniform.

        Returns
        -------
        ndarray, shape (M',)
            ψ(Y_i; ρ̄) = v(Y_i) + Σ_m w_m u(Y_i, X_m).

        Raises
        ------
        ValueError
            If a point array is not a finite (M, 4) array with r₁, r₂ ≥ 0 (see :meth:`check_points`)
            or the weights are invalid (see :meth:`check_weights`).
        """
        Y = self.check_points(Y, "Y")
        A, _, _ = self._coefficients(X, weights)
        out = np.empty(Y.shape[0])
        for start in range(0, Y.shape[0], _CHUNK):
            Yc = Y[start:start + _CHUNK]
            out[start:start + _CHUNK] = self._field(Yc, A, psi_only=True)
        return out

    def risk(self, X, weights=None):
        """R(ρ̄) = 1 + 2∫v dρ̄ + ½ Σ_± Σ_kj λ_kj (F^±_kj)² for ρ̄ = Σ_m w_m δ_{X_m}.

        Parameters
        ----------
        X : array_like, shape (M, 4)
            Reduced points, columns (a, b, r₁, r₂), finite, r₁, r₂ ≥ 0 (r₂ = 0 when s0 = d), M ≥ 1.
        weights : array_like, shape (M,), optional
            Non-negative weights w_m of the points of ρ̄ = Σ_m w_m δ_{X_m}, with a positive sum
            (normalised); None = uniform.

        Returns
        -------
        float
            R(ρ̄) (truncated at K).

        Raises
        ------
        ValueError
            If a point array is not a finite (M, 4) array with r₁, r₂ ≥ 0 (see :meth:`check_points`)
            or the weights are invalid (see :meth:`check_weights`).
        """
        A, F, vbar = self._coefficients(X, weights)
        return float(self.r_sharp + 2.0 * vbar + np.sum(A * F))

    def psi_gradient(self, Y, X=None, weights=None, coefficients=None):
        """(∂_a ψ, ∂_b ψ, ∂_{r₁} ψ, ∂_{r₂} ψ)(Y; ρ̄) as an (M, 4) array, ρ̄ = Σ_m w_m δ_{X_m};
        columns of untrained coordinates are 0 (r₁, r₂ are trained with w).

        Parameters
        ----------
        Y : array_like, shape (M, 4)
            Evaluation points (a, b, r₁, r₂).
        X : array_like, shape (M', 4), optional
            Points of ρ̄; required unless ``coefficients`` is given.
        weights : array_like, shape (M',), optional
            Weights of the points of ρ̄ (normalised); None = uniform.
        coefficients : ndarray, shape (2, P), optional
            Precomputed ½ λ_kj F^±_kj of ρ̄ (then ``X`` and ``weights`` are not used).

        Returns
        -------
        ndarray, shape (M, 4)
            ∇ψ at the points Y; at s = 0 the one-sided limits along the r₁ and r₂ axes.

        Raises
        ------
        ValueError
            If a point array is not a finite (M, 4) array with r₁, r₂ ≥ 0 (see :meth:`check_points`)
            or the weights are invalid (see :meth:`check_weights`).
        """
        Y = self.check_points(Y, "Y")
        A = self._coefficients(X, weights)[0] if coefficients is None else coefficients
        out = np.empty_like(Y)
        for start in range(0, Y.shape[0], _CHUNK):
            out[start:start + _CHUNK] = self._gradient_chunk(Y[start:start + _CHUNK], A)
        for col, name in ((0, "a"), (1, "b")):
            if name not in self.train:
                out[:, col] = 0.0
        if "w" not in self.train:
            out[:, 2:] = 0.0
        return out

    def _gradient_chunk(self, Y, A):
        return self._field(Y, A, psi_only=False)

    def _field(self, Y, A, psi_only):
        """ψ(Y) (psi_only) or ∇ψ(Y) (M, 4) for the coefficients A (2, P) = ½ λ F^±."""
        a = Y[:, 0]
        grad = np.zeros_like(Y)
        psi = np.zeros(Y.shape[0])
        sums = np.empty_like(Y)
        for i, (c, label) in enumerate(zip(self.scales, self.labels)):
            _, b, s, p, q, table = self._tables(Y, c)
            zero = s == 0  # w = 0: one-sided limits along the r₁ (r₂) axis
            p1, q1 = np.where(zero, 1.0, p), q
            p2, q2 = p, np.where(zero, 1.0, q)
            field_sums(self.ks, self.js, A[i], table.e.T, table.m, s, p, q, p1, q1, p2, q2, sums)
            # v = −(a/2) Σ_± label m(s±, b); ∂_s m = e_1, ∂_b m = e_0; ∂s/∂r₁ = c p, ∂s/∂r₂ = q
            psi += -0.5 * label * a * table.m + a * sums[:, 0]
            if psi_only:
                continue
            dvs = -0.5 * label * a * table.e[1]
            grad[:, 0] += -0.5 * label * table.m + sums[:, 0]
            grad[:, 1] += -0.5 * label * a * table.e[0] + a * sums[:, 1]
            grad[:, 2] += c * (a * sums[:, 2] + dvs * p1)
            grad[:, 3] += a * sums[:, 3] + dvs * q2
        return psi if psi_only else grad

    def velocity(self, X, weights=None, xi=1.0):
        """−2ξ ∇ψ(X_m; ρ̄) at the points of ρ̄ = Σ_m w_m δ_{X_m} (the reduced particle field).

        Parameters
        ----------
        X : array_like, shape (M, 4)
            Reduced points, columns (a, b, r₁, r₂), finite, r₁, r₂ ≥ 0 (r₂ = 0 when s0 = d), M ≥ 1.
        weights : array_like, shape (M,), optional
            Non-negative weights w_m of the points of ρ̄ = Σ_m w_m δ_{X_m}, with a positive sum
            (normalised); None = uniform.
        xi : float
            Step-size factor ξ, finite and ≥ 0.

        Returns
        -------
        ndarray, shape (M, 4)
            The velocity of each point, zero in the untrained columns.

        Raises
        ------
        ValueError
            If a point array is not a finite (M, 4) array with r₁, r₂ ≥ 0 (see :meth:`check_points`)
            or the weights are invalid (see :meth:`check_weights`), or ``xi`` is negative or
            not finite.
        """
        X = self.check_points(X, "X")
        xi = check_positive(xi, "xi", strict=False)
        return -2.0 * xi * self.psi_gradient(X, X, weights)

    # ------------------------------------------------------------------ truncation
    def parseval_tails(self, X):
        """T±(θ) = E σ(s±G + b)² − Σ_{k≤K} h_k(s±, b)² ≥ 0, shape (2, M).

        (1e-15 · E σ² is added as a round-off allowance.)

        Parameters
        ----------
        X : array_like, shape (M, 4)
            Reduced points, columns (a, b, r₁, r₂), finite, r₁, r₂ ≥ 0 (r₂ = 0 when s0 = d), M ≥ 1.

        Returns
        -------
        ndarray, shape (2, M)
            Rows for the classes + and −.

        Raises
        ------
        ValueError
            If a point array is not a finite (M, 4) array with r₁, r₂ ≥ 0 (see :meth:`check_points`)
            or the weights are invalid (see :meth:`check_weights`).
        """
        X = self.check_points(X, "X")
        out = np.empty((2, X.shape[0]))
        for i, c in enumerate(self.scales):
            _, b, s, _, _ = self._geometry(X, c)
            second = gaussian_pair(self.activation, s, b, s, b, 1.0)[0]
            h = shifted_hermite(self.activation, s, b, self.kmax).h()
            out[i] = np.maximum(second - np.sum(h * h, axis=0), 0.0) + 1e-15 * second
        return out

    def truncation_bound(self, Y, X, weights=None):
        """Bound on |ψ_K(Y; ρ̄) − ψ(Y; ρ̄)|: ½ Σ_± |a| √T±(θ) ∫|a'| √T±(θ') dρ̄ · μ*_{K+2}.

        Parameters
        ----------
        Y : array_like, shape (M', 4)
            Evaluation points.
        X : array_like, shape (M, 4)
            Reduced points, columns (a, b, r₁, r₂), finite, r₁, r₂ ≥ 0 (r₂ = 0 when s0 = d), M ≥ 1.
        weights : array_like, shape (M,), optional
            Non-negative weights w_m of the points of ρ̄ = Σ_m w_m δ_{X_m}, with a positive sum
            (normalised); None = uniform.

        Returns
        -------
        ndarray, shape (M',)
            The bound at each point of Y.

        Raises
        ------
        ValueError
            If a point array is not a finite (M, 4) array with r₁, r₂ ≥ 0 (see :meth:`check_points`)
            or the weights are invalid (see :meth:`check_weights`).
        """
        Y, X = self.check_points(Y, "Y"), self.check_points(X, "X")
        w = self.check_weights(weights, X.shape[0])
        ty, tx = np.sqrt(self.parseval_tails(Y)), np.sqrt(self.parseval_tails(X))
        per = (tx * np.abs(X[:, 0])) @ w
        return 0.5 * np.abs(Y[:, 0]) * (ty * per[:, None]).sum(axis=0) * self.mu_star
