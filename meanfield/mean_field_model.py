"""A data law and a network together: the mean-field functional and what the solvers need.

For σ*(x; θ) = a σ(⟨w, x⟩ + b), the network f(x) = (α/N) Σ_i σ*(x; θ_i) (output scale α,
optionally centred: minus the same network at fixed θ⁰) and a data law (x, y):

    V(θ) = −E[y σ*(x; θ)],   U(θ, θ') = E[σ*(x; θ) σ*(x; θ')],   R# = E y²,
    R_N(θ) = E (y − f(x))² = R# + (2α/N) Σ_i V(θ_i) + (α²/N²) Σ_ij U(θ_i, θ_j)   (uncentred),
    Ψ(θ; ρ̂) = −E[(y − f(x)) σ*(x; θ)] = V(θ) + (α/N) Σ_j U(θ, θ_j),
    ∇_θ Ψ(θ_i; ρ̂) = (N/2α) ∂R_N/∂θ_i;  the flow is dθ_i/dt = −2ξ (∇Ψ(θ_i)/α + λθ_i).

Exact (no Monte Carlo) when x is Gaussian given the class (:class:`GaussianMixture`,
:class:`TeacherStudent`): every term is a Gaussian integral of
:mod:`meanfield.gaussian_integrals`. For the isotropic mixture with the w-only network and a
bounded σ, the model takes the fast blocked Mehler kernels of :class:`IsotropicGaussians`
(:mod:`meanfield._isotropic_particles`, the same numbers). For :class:`ArrayData` the risk is the empirical one on the
held-out arrays, while the exact functional (R_N, ∇Ψ) is that of the training arrays'
empirical law (full-batch gradient flow).
"""
from __future__ import annotations

from functools import cached_property

import numpy as np

from ._validation import as_finite_array, check_magnitude, check_overflow
from ._isotropic_particles import IsotropicParticles
from ._kernels.pair_sums import class_moments, mean_sums
from ._smooth_pair_series import pair_rows
from ._kernels.activation import KIND_PIECEWISE_LINEAR, KIND_PIECEWISE_LINEAR_TAILS, KIND_TANH
from .data import ArrayData, DataLaw, GaussianMixture, TeacherStudent
from .gaussian_integrals import gaussian_pair
from .interface import SGDSpec
from .network import TwoLayerNetwork
from .params import Params


#: What keeps the exact functional finite (the message of its overflow errors).
_OVERFLOW_INPUTS = "|a|, |W|, |b|, the labels, the class means and the output scale α"


def _gradient_params(grad_a, grad_w, grad_b):
    """The gradient as Params, refusing an overflow with what to keep in range (not a misleading
    "W: contains NaN or inf" about an argument the user passed finite)."""
    for part in (grad_a, grad_w, grad_b):
        check_overflow(part, "potential_gradient", _OVERFLOW_INPUTS)
    return Params(grad_a, grad_w, grad_b)


def _piecewise(activation):
    return activation.kernel_spec()[0] in (KIND_PIECEWISE_LINEAR, KIND_PIECEWISE_LINEAR_TAILS)


class MeanFieldModel:
    """The mean-field model of ``network`` trained on ``data``.

    Parameters
    ----------
    data : DataLaw
        :class:`GaussianMixture`, :class:`TeacherStudent` or :class:`ArrayData`.
    network : TwoLayerNetwork
        σ, the trained coordinates and the output scale α (``network.scale``).
    offset : Params or None
        Centre the network at these frozen neurons: f(x) = (α/N) Σ_i [σ*(x; θ_i) − σ*(x; θ⁰_i)]
        (see :meth:`centered`).

    Raises
    ------
    ValueError
        if ``data``, ``network`` or ``offset`` has the wrong type or dimension.

    Examples
    --------
    >>> from meanfield import GaussianMixture, TwoLayerNetwork, relu
    >>> model = MeanFieldModel(GaussianMixture.anisotropic(delta=0.5, d=8, s0=2),
    ...                        TwoLayerNetwork(relu(), train=("a", "w", "b")))
    >>> theta = model.init(20, kappa=0.8, seed=0)
    >>> risk = model.population_risk(theta)       # exact, no Monte Carlo
    >>> grad = model.potential_gradient(theta)    # Params of ∇Ψ(θ_i; ρ̂)
    >>> grad.W.shape, bool(risk > 0)
    ((20, 8), True)
    """

    def __init__(self, data, network, offset=None):
        if not isinstance(data, DataLaw):
            raise ValueError(f"data: expected a DataLaw (GaussianMixture, TeacherStudent, ArrayData), "
                             f"got {type(data).__name__}")
        if not isinstance(network, TwoLayerNetwork):
            raise ValueError(f"network: expected a TwoLayerNetwork, got {type(network).__name__}")
        self.data, self.network = data, network
        self.activation, self.train = network.activation, network.train
        self.output_scale = network.scale
        self.d = data.d
        if offset is not None and not isinstance(offset, Params):
            raise ValueError(f"offset: expected Params or None, got {type(offset).__name__}")
        if offset is not None and offset.d != self.d:
            raise ValueError(f"offset: expected d = {self.d} input weights per neuron, got {offset.d}")
        self.offset = None if offset is None else offset.copy()
        self._kind, self._p = self.activation.kernel_spec()
        self._classes = data.gaussian_classes()
        self._finite = isinstance(data, ArrayData)
        self.exact = self._classes is not None or self._finite
        self._inexact_reason = None
        if isinstance(data, TeacherStudent) and _piecewise(data.activation) != _piecewise(self.activation):
            self.exact = False  # SGD still runs; the exact functional has no rule for this pair
            self._inexact_reason = (f"there is no exact rule for the pair of σ {self.activation!r} (student) and "
                                    f"{data.activation!r} (teacher): one is piecewise linear, the other smooth")
        self._radial = None
        if (isinstance(data, GaussianMixture) and data.isotropic_delta is not None and self.train == ("w",)
                and self.output_scale == 1.0 and self.offset is None
                and (self._kind == KIND_TANH or (self._kind == KIND_PIECEWISE_LINEAR))):
            delta = float(data.isotropic_delta)
            self._radial = IsotropicParticles(np.array([1.0 + delta, 1.0 - delta]), self.d, self.activation)

    @cached_property
    def r_sharp(self):
        """R# = E y², the risk of f ≡ 0 (None if unavailable); for :class:`TeacherStudent` data
        noise² + (1/M²) Σ_st a*_s a*_t E σ*(ν_s + b*_s) σ*(ν_t + b*_t), computed on first use (not
        when the model is built: its pair kernel compiles on a cold cache, and not every run needs it)."""
        if isinstance(self.data, TeacherStudent) and self.exact:
            teacher = self._teacher_params()
            rows = self._pair_rows(self.data.activation, teacher, self.data.activation, teacher)
            return float(teacher.a @ rows) / teacher.n**2 + self.data.noise_std**2
        return None if self.data.r_sharp is None else float(self.data.r_sharp)

    def __repr__(self):
        extra = "" if self.offset is None else f", offset=<{self.offset.n} neurons>"
        return f"MeanFieldModel({self.data!r}, {self.network!r}{extra})"

    def centered(self, theta0):
        """The same model with the network centred at θ⁰: f(x) − f(x; θ⁰), zero at θ = θ⁰.

        Parameters
        ----------
        theta0 : Params or (N, d) array
            The frozen neurons θ⁰ (the lazy-training convention starts every run from them).

        Returns
        -------
        MeanFieldModel
        """
        return MeanFieldModel(self.data, self.network, offset=MeanFieldModel(self.data, self.network).as_params(
            theta0, "theta0"))

    @property
    def risk_kind(self):
        """"population" (exact R_N), "empirical" (mean squared error on the held-out arrays of
        :class:`ArrayData`) or None (no exact rule, see :attr:`exact`: SGD runs, recording its
        risk is refused)."""
        if not self.exact:
            return None
        return "empirical" if self._finite else "population"

    # ------------------------------------------------------------------ parameters
    def init(self, n, kappa=0.8, seed=None, a=1.0, b=0.0, a_std=0.0, b_std=0.0):
        """N neurons with w_i ~ N(0, κ²/d I_d), a_i ~ N(a, a_std²), b_i ~ N(b, b_std²).

        One numpy Generator from ``seed`` draws W, then a (if a_std > 0), then b (if b_std > 0).

        Parameters
        ----------
        n : int
            Number of neurons N, ≥ 1.
        kappa : float
            κ > 0: E‖w_i‖² = κ².
        seed : int, Generator or None
            Seed of the one Generator (``numpy.random.default_rng(seed)``).
        a, b : float
            Means of the output weights and biases.
        a_std, b_std : float
            Their standard deviations, ≥ 0 (0: constant).

        Returns
        -------
        Params

        Raises
        ------
        ValueError
            on a non-positive ``n`` or ``kappa``, a negative standard deviation, or a value beyond
            1e150 in magnitude.
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n: must be a positive integer, got {n!r}")
        values = {}
        for name, v, positive in (("kappa", kappa, True), ("a", a, False), ("b", b, False),
                                  ("a_std", a_std, False), ("b_std", b_std, False)):
            v = float(check_magnitude(as_finite_array(v, name), name))
            if (positive and v <= 0) or (name.endswith("std") and v < 0):
                raise ValueError(f"{name}: must be {'positive' if positive else 'non-negative'}, got {v!r}")
            values[name] = v
        rng = np.random.default_rng(seed)
        W = rng.standard_normal((n, self.d)) * (values["kappa"] / np.sqrt(self.d))
        a_arr = values["a"] + values["a_std"] * rng.standard_normal(n) if values["a_std"] else np.full(n, values["a"])
        b_arr = values["b"] + values["b_std"] * rng.standard_normal(n) if values["b_std"] else np.full(n, values["b"])
        return Params(a_arr, W, b_arr)

    def as_params(self, theta, name="theta"):
        """``theta`` as :class:`Params`.

        Parameters
        ----------
        theta : Params or (N, d) array
            An array is the network with input weights W, a ≡ 1 and b ≡ 0.
        name : str
            The argument name used in error messages.

        Returns
        -------
        Params

        Raises
        ------
        ValueError
            if the dimension does not match ``d``, (centred model) N differs from the offset's, or an
            entry of a, W, b exceeds 1e150 in magnitude (its square would overflow).
        """
        if isinstance(theta, Params):
            params = theta
        else:
            params = Params.from_weights(theta, name)
        if params.d != self.d:
            raise ValueError(f"{name}: expected d = {self.d} input weights per neuron, got {params.d}")
        for field in ("a", "W", "b"):
            check_magnitude(getattr(params, field), f"{name}.{field}")
        if self.offset is not None and params.n != self.offset.n:
            raise ValueError(f"{name}: expected N = {self.offset.n} neurons (as the centring offset), got {params.n}")
        return params

    # ------------------------------------------------------------------ network
    def _combined(self, theta):
        """(θ̃, signs): θ followed by the offset neurons with negated output weights, so that
        f = (α/N) Σ_{j ≤ N + N⁰} ã_j σ(⟨w̃_j, x⟩ + b̃_j)."""
        if self.offset is None:
            return theta
        o = self.offset
        return Params(np.concatenate([theta.a, -o.a]), np.vstack([theta.W, o.W]), np.concatenate([theta.b, o.b]))

    def output(self, theta, X):
        """f(x) = (α/N) Σ_i a_i σ(⟨w_i, x⟩ + b_i), minus the offset network when centred.

        Parameters
        ----------
        theta : Params or (N, d) array
        X : ndarray, shape (n, d)

        Returns
        -------
        ndarray, shape (n,)
        """
        X = self._inputs(X, "X")
        theta = self.as_params(theta)
        out = self.network.output(theta, X)
        if self.offset is not None:
            out = out - self.network.output(self.offset, X)
        return out

    def empirical_risk(self, theta, X, y):
        """(1/n) Σ_m (y_m − f(x_m))².

        Parameters
        ----------
        theta : Params or (N, d) array
        X : ndarray, shape (n, d)
        y : ndarray, shape (n,)

        Returns
        -------
        float

        Raises
        ------
        ValueError
            if ``y`` does not have one label per row of ``X``, or the risk overflows the float range.
        """
        y = as_finite_array(y, "y", ndim=1)
        out = self.output(theta, X)
        if y.shape != out.shape:
            raise ValueError(f"y: expected {out.size} labels (one per row of X), got {y.size}")
        return float(check_overflow(np.mean((y - out) ** 2), "empirical_risk", _OVERFLOW_INPUTS))

    def risk(self, theta):
        """The risk solvers record: the exact R_N, or for :class:`ArrayData` the empirical risk on its
        held-out arrays (see :attr:`risk_kind`).

        Parameters
        ----------
        theta : Params or (N, d) array

        Returns
        -------
        float
        """
        if self._finite:
            return self.empirical_risk(theta, self.data.X_test, self.data.y_test)
        return self.population_risk(theta)

    def tangent_kernel(self, theta, X, X2=None):
        """The tangent kernel K(x_p, x'_q) = (1/N) Σ_i ⟨∇_θσ*(x_p; θ_i), ∇_θσ*(x'_q; θ_i)⟩.

        Over the trained coordinates, with z = ⟨w, x⟩ + b and D = a σ'(Z):
        K = (1/N) [1_a σ(Z)σ(Z')ᵀ + 1_w (D D'ᵀ) ∘ (X X'ᵀ) + 1_b D D'ᵀ] (P × N arrays, BLAS).
        Under the time convention of :class:`TwoLayerNetwork` the output moves by
        ∂_t f(x) = 2ξ E_x'[K(x, x')(y' − f(x'))] whatever α.

        Parameters
        ----------
        theta : Params or (N, d) array
        X : ndarray, shape (P, d)
        X2 : ndarray, shape (Q, d), or None
            Default ``X``.

        Returns
        -------
        ndarray, shape (P, Q)
        """
        theta = self.as_params(theta)
        X = self._inputs(X, "X")
        X2 = X if X2 is None else self._inputs(X2, "X2")
        Z, Z2 = X @ theta.W.T + theta.b, X2 @ theta.W.T + theta.b
        out = np.zeros((X.shape[0], X2.shape[0]))
        if "a" in self.train:
            out += self.activation(Z) @ self.activation(Z2).T
        if "w" in self.train or "b" in self.train:
            DD = (self.activation.derivative(Z) * theta.a) @ (self.activation.derivative(Z2) * theta.a).T
            if "w" in self.train:
                out += DD * (X @ X2.T)
            if "b" in self.train:
                out += DD
        return out / theta.n

    def _inputs(self, X, name):
        X = as_finite_array(X, name, ndim=2)
        if X.shape[1] != self.d:
            raise ValueError(f"{name}: expected {self.d} columns, got {X.shape[1]}")
        return X

    # ------------------------------------------------------------ exact functional
    def _require_exact(self, what):
        if not self.exact:
            raise ValueError(f"{what}: the population quantities of {self.data!r} are not available "
                             f"({self._inexact_reason}); use empirical_risk")

    def _teacher_params(self):
        t = self.data
        return Params(t.a, t.W, t.b)

    def _pair_rows(self, act1, theta1, act2, theta2, grad=False, same=None):
        """rows[i] = Σ_j a2_j Σ_k π_k E σ₁(u_i)σ₂(v_j) (and dm, dw; see meanfield._kernels.pair_sums);
        ``same``: the first N₁ neurons of θ₂ are θ₁ (default: θ₂ is θ₁). Values of smooth pairs
        other than erf–erf take Mehler's series (meanfield._smooth_pair_series); a progress bar on a
        terminal for large sums, Ctrl-C between row blocks."""
        return pair_rows(act1, act2, self._classes, theta1.W, theta1.b, theta2.a, theta2.W, theta2.b,
                         theta1 is theta2 if same is None else same, grad)

    def _v_parts(self, theta, grad):
        """(r, dm, dw) with V(θ_i) = −a_i r_i, ∂_a V = −r_i, ∂_b V = −a_i dm_i, ∇_w V = −a_i dw_i."""
        if isinstance(self.data, TeacherStudent):
            teacher = self._teacher_params()
            teacher = Params(teacher.a / teacher.n, teacher.W, teacher.b)
            return self._pair_rows(self.activation, theta, self.data.activation, teacher, grad=True)
        weights, labels, means, stds = self._classes
        n = theta.n
        rows, dm, dw = np.empty(n), np.empty(n), np.empty((n, self.d))
        mean_sums(self._kind, self._p, weights, labels, means, stds**2, theta.W, theta.b, grad, rows, dm, dw)
        return rows, dm, dw

    def _delegates(self, theta):
        return self._radial is not None and np.all(theta.a == 1.0) and np.all(theta.b == 0.0)

    def V(self, theta):
        """V(θ_i) = −E[y σ*(x; θ_i)] per neuron.

        Parameters
        ----------
        theta : Params or (N, d) array

        Returns
        -------
        ndarray, shape (N,)

        Raises
        ------
        ValueError
            if the population quantities are not available (see :attr:`exact`).
        """
        self._require_exact("V")
        theta = self.as_params(theta)
        if self._finite:
            return -theta.a * (self.data.y @ self.activation(self.data.X @ theta.W.T + theta.b)) / self.data.y.size
        return -theta.a * self._v_parts(theta, grad=False)[0]

    def U(self, theta, theta2=None):
        """U(θ_i, θ'_j) = E[σ*(x; θ_i) σ*(x; θ'_j)] as an N × N' array (for inspection and tests).

        Parameters
        ----------
        theta : Params or (N, d) array
        theta2 : Params, (N', d) array or None
            Default ``theta``.

        Returns
        -------
        ndarray, shape (N, N')

        Raises
        ------
        ValueError
            if the population quantities are not available.
        """
        self._require_exact("U")
        theta = self.as_params(theta)
        theta2 = theta if theta2 is None else self.as_params(theta2, "theta2")
        if self._finite:
            S1 = self.activation(self.data.X @ theta.W.T + theta.b) * theta.a
            S2 = self.activation(self.data.X @ theta2.W.T + theta2.b) * theta2.a
            return S1.T @ S2 / self.data.y.size
        weights, _, means, stds = self._classes
        out = np.zeros((theta.n, theta2.n))
        for pk, mu, s in zip(weights, means, stds):
            var = s**2
            (m1, s1), (m2, s2) = (class_moments(t.W, t.b, mu[None, :], var[None, :]) for t in (theta, theta2))
            m1, s1, m2, s2 = m1[0], s1[0], m2[0], s2[0]
            scale = np.outer(s1, s2)
            c = np.divide((theta.W * var) @ theta2.W.T, scale, out=np.zeros_like(scale), where=scale > 0)
            if theta2 is theta:
                np.fill_diagonal(c, 1.0)  # exactly: see meanfield._kernels.pair_sums.pair_sums
            g = gaussian_pair(self.activation, s1[:, None], m1[:, None], s2[None, :], m2[None, :],
                              np.clip(c, -1.0, 1.0))[0]
            out += pk * g
        return out * np.outer(theta.a, theta2.a)

    def population_risk(self, theta):
        """The exact risk R_N(θ) = E (y − f(x))².

        R# + (2α/N) Σ_j V(θ̃_j) + (α²/N²) Σ_jk U(θ̃_j, θ̃_k) over the neurons θ̃ of the (centred)
        network, from one threaded pass over the pairs; for :class:`ArrayData`, the mean over its
        training rows. Smooth σ (tanh, sigmoid) sum the pairs by Mehler's series where it converges.
        From 2e7 pair evaluations a progress bar shows on a terminal; Ctrl-C raises
        KeyboardInterrupt between row blocks.

        Parameters
        ----------
        theta : Params or (N, d) array

        Returns
        -------
        float

        Raises
        ------
        ValueError
            if the population quantities are not available, or the risk overflows the float range.
        """
        self._require_exact("population_risk")
        theta = self.as_params(theta)
        if self._finite:
            return self.empirical_risk(theta, self.data.X, self.data.y)
        if self._delegates(theta):
            return self._radial.population_risk(theta.W)
        alpha, n = self.output_scale, theta.n
        full = self._combined(theta)
        v = -full.a * self._v_parts(full, grad=False)[0]
        rows = self._pair_rows(self.activation, full, self.activation, full)
        risk = self.r_sharp + 2.0 * alpha * v.sum() / n + alpha**2 * (full.a @ rows) / n**2
        return float(check_overflow(risk, "population_risk", _OVERFLOW_INPUTS))

    def potential_gradient(self, theta):
        """∇_θ Ψ(θ_i; ρ̂) = −E[(y − f(x)) ∇_θσ*(x; θ_i)] = (N/2α) ∂R_N/∂θ_i for every neuron.

        At w_i = 0 the σ' terms take the right limit σ'(b_i+).

        Parameters
        ----------
        theta : Params or (N, d) array

        Returns
        -------
        Params
            The gradient, zero in untrained coordinates.

        Raises
        ------
        ValueError
            if the population quantities are not available, or the gradient overflows the float range.
        """
        self._require_exact("potential_gradient")
        theta = self.as_params(theta)
        n = theta.n
        if self._finite:
            return self._finite_gradient(theta)
        if self._delegates(theta):
            return Params(np.zeros(n), self._radial.potential_gradient(theta.W), np.zeros(n))
        alpha = self.output_scale
        rv, dmv, dwv = self._v_parts(theta, grad=True)
        rows, dm, dw = self._pair_rows(self.activation, theta, self.activation, self._combined(theta), grad=True,
                                       same=True)
        a = theta.a
        grad_a = -rv + alpha * rows / n if "a" in self.train else np.zeros(n)
        grad_b = a * (alpha * dm / n - dmv) if "b" in self.train else np.zeros(n)
        grad_w = a[:, None] * (alpha * dw / n - dwv) if "w" in self.train else np.zeros((n, self.d))
        return _gradient_params(grad_a, grad_w, grad_b)

    def _finite_gradient(self, theta):
        """−(1/n) Σ_m (y_m − f(x_m)) ∇_θσ*(x_m; θ_i) over the training rows (BLAS)."""
        X, y = self.data.X, self.data.y
        Z = X @ theta.W.T + theta.b
        residual = (y - self.output(theta, X)) / y.size
        n = theta.n
        grad_a = -(self.activation(Z).T @ residual) if "a" in self.train else np.zeros(n)
        if "w" in self.train or "b" in self.train:
            weighted = self.activation.derivative(Z) * residual[:, None]  # (rows, N)
            grad_b = -theta.a * weighted.sum(axis=0) if "b" in self.train else np.zeros(n)
            grad_w = -theta.a[:, None] * (weighted.T @ X) if "w" in self.train else np.zeros((n, self.d))
        else:
            grad_b, grad_w = np.zeros(n), np.zeros((n, self.d))
        return _gradient_params(grad_a, grad_w, grad_b)

    # ------------------------------------------------------------------ solvers
    def sgd_spec(self):
        """The :class:`SGDSpec` of this model (what the fused SGD kernel reads).

        Returns
        -------
        SGDSpec
        """
        kind, p = self._kind, np.asarray(self._p, dtype=float)
        scales = None
        if self._radial is not None:
            scales = np.array(self._radial.scales)
        return SGDSpec(kind, p, "a" in self.train, "w" in self.train, "b" in self.train,
                       self.data.kernel_spec(), scales, self.output_scale, self.offset)

    def sample(self, n, rng=None):
        """n iid pairs of the data law.

        Parameters
        ----------
        n : int
            Number of pairs, ≥ 1.
        rng : int, Generator or None
            Seed or generator of the data law's sampler.

        Returns
        -------
        X : ndarray, shape (n, d)
        y : ndarray, shape (n,)
        """
        return self.data.sample(n, rng)


def isotropic_model(delta, d, activation):
    """The model :class:`IsotropicGaussians` describes, as a :class:`MeanFieldModel`.

    MeanFieldModel(GaussianMixture.isotropic(delta, d), TwoLayerNetwork(activation, train=("w",)))
    with a ≡ 1, b ≡ 0; its exact quantities come from the radial code.

    Parameters
    ----------
    delta : float
        Δ, in (0, 1).
    d : int
        Input dimension, ≥ 1.
    activation : Activation
        σ; a bounded piecewise-linear σ or a tanh delegates to the exact radial code.

    Returns
    -------
    MeanFieldModel

    Examples
    --------
    >>> from meanfield import ramp
    >>> model = isotropic_model(0.8, 40, ramp())
    >>> model.train
    ('w',)
    """
    return MeanFieldModel(GaussianMixture.isotropic(delta, d), TwoLayerNetwork(activation, train=("w",)))


__all__ = ["MeanFieldModel", "isotropic_model"]
