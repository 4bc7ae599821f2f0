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

import numpy as np

from ._isotropic_particles import IsotropicParticles, radial_potential, radial_slope
from ._kernels.activation import KIND_PIECEWISE_LINEAR, KIND_TANH
from ._series_plan import MAX_TERMS
from ._validation import as_finite_array, as_generator, check_positive, normalised_weights
from .activations import Activation
from .data import GaussianMixture
from .interface import SGDSpec
from .kernel_features import KernelFeatures, KernelMatrix, mehler_features
from .pair_kernel import pair_kernel
from .params import Params
from .radial_table import dense_kernel
from .sphere import angle_quadrature, sphere_moments

__all__ = ["IsotropicGaussians", "KernelFeatures", "KernelMatrix"]

#: Relative tolerance of the truncated Mehler series (see ``kernel_features``).
DEFAULT_TOL = 1e-10
#: Particle count from which the O(N²) kernels use threads (below, thread start-up dominates).
PARALLEL_MIN = 256
#: Gauss-Legendre nodes in the angle for the exact angular average (converged to ~1e-14).
ANGLE_NODES = 128


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
    >>> bool(abs(model.law_risk([1.0]) - (r_sharp + 2 * v + u)) < 1e-12)   # R(δ_r) = 1 + 2v(r) + u(r, r)
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
        self._finite = IsotropicParticles(self.scales, self.d, activation, self.drift_series)

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
        rng = as_generator(rng)
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
        return radial_potential(self.activation, self.scales, self._radii(r))

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
        return radial_slope(self.scales, [self.activation.gaussian_mean_derivative(s * r) for s in self.scales])

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
        """Features on the 1-D radii ``r``, or None if the series cannot meet ``tol``."""
        return mehler_features(self.activation, self.scales, self._mu, self.tol, r, self.large_d_limit, allow_inexact)

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
        w = normalised_weights(weights, radii.size)
        return self.v(r) + self._potential(r.ravel(), radii, w).reshape(r.shape)

    def psi_gradient(self, r, radii, weights=None):
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
        w = normalised_weights(weights, radii.size)
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

    def law_risk(self, radii, weights=None):
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
        w = normalised_weights(weights, radii.size)
        return float(self.r_sharp + 2.0 * w @ self.v(radii) + w @ self._potential(radii, radii, w))

    def dpsi(self, r, radii, weights=None):
        """Alias of :meth:`psi_gradient` (old name).

        Parameters
        ----------
        r, radii, weights
            As for :meth:`psi_gradient`.

        Returns
        -------
        ndarray
        """
        return self.psi_gradient(r, radii, weights)

    def radial_risk(self, radii, weights=None):
        """Alias of :meth:`law_risk` (old name).

        Parameters
        ----------
        radii, weights
            As for :meth:`law_risk`.

        Returns
        -------
        float
        """
        return self.law_risk(radii, weights)

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
    def population_risk(self, W):
        """Exact R_N(θ) = 1 + (2/N) Σ_i V(w_i) + (1/N²) Σ_ij U(w_i, w_j) of the network
        ŷ(x) = (1/N) Σ_i σ(⟨w_i, x⟩), W of shape (N, d). No Monte Carlo: U(w, w') =
        ½ Σ_s K(s‖w‖, s‖w'‖, cos∠(w, w')), K as in :func:`pair_kernel`: the Mehler series
        (48 terms) for |c| ≤ ½; beyond, the closed form for piecewise-linear σ and for smooth
        σ the series again while its Parseval bound is ≤ RISK_SERIES_TOL = 1e-14 relative
        (see :func:`_pair_series_terms`), else the quadrature of
        :func:`~meanfield._kernels.pair_direct.smooth_pair_sums`.

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
        return self._finite.population_risk(W)

    def potential_gradient(self, W):
        """∇_θ Ψ(θ_i; ρ̂) for every particle, ρ̂ = (1/N) Σ_j δ_{θ_j}, W of shape (N, d).

        ∇Ψ(w_i) = v'(r_i) ŵ_i + (1/N) Σ_j ½ Σ_s [s ∂_aK ŵ_i + (∂_cK / r_i)(ŵ_j − c_ij ŵ_i)],
        K evaluated at (s r_i, s r_j, c_ij), c_ij = ŵ_i·ŵ_j (the j = i term has c = 1 and no
        angular part); = (N/2) ∂R_N/∂θ_i. Mehler's series for |c| ≤ ½ and, within its per-pair
        Parseval bound (GRADIENT_SERIES_TOL = 1e-11), beyond; else the closed form
        (piecewise-linear σ) or the quadrature (smooth σ). At w_i = 0 the gradient is the
        population average of the SGD direction with σ'(0+): σ'(0+) (1/N) Σ_j ½ Σ_s s h_1(s r_j) ŵ_j.
        Cost O(N²(d + K)) in one Numba pass, threaded from PARALLEL_MIN particles, no N × N
        array (docs/numerics.rst, "Series planning of the isotropic drift").

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
        return self._finite.potential_gradient(W)
