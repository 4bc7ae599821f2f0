"""A data law and a network together: the mean-field functional and what the solvers need.

For σ*(x; θ) = a σ(⟨w, x⟩ + b) and a data law (x, y):

    V(θ) = −E[y σ*(x; θ)],   U(θ, θ') = E[σ*(x; θ) σ*(x; θ')],   R# = E y²,
    R_N(θ) = R# + (2/N) Σ_i V(θ_i) + (1/N²) Σ_ij U(θ_i, θ_j),
    Ψ(θ; ρ̂) = V(θ) + (1/N) Σ_j U(θ, θ_j),   ∇_θ Ψ(θ_i; ρ̂) = (N/2) ∂R_N/∂θ_i.

Exact (no Monte Carlo) when x is Gaussian given the class (:class:`GaussianMixture`,
:class:`TeacherStudent`): every term is a Gaussian integral of
:mod:`meanfield.gaussian_integrals`. For the isotropic mixture with the w-only network and a
bounded σ, the model delegates to :class:`IsotropicGaussians` (the same numbers, its fast
blocked Mehler kernels). For :class:`ArrayData` the risk is the empirical one on the
held-out arrays.
"""
from __future__ import annotations

import numpy as np

from ._validation import as_finite_array
from ._pair_sums import mean_sums, pair_sums
from .activations import KIND_PIECEWISE_LINEAR, KIND_PIECEWISE_LINEAR_TAILS, KIND_TANH
from .data import ArrayData, DataLaw, GaussianMixture, TeacherStudent
from .gaussian_integrals import gaussian_pair
from .interface import SGDSpec
from .isotropic_gaussians import IsotropicGaussians
from .network import TwoLayerNetwork
from .params import Params


def _piecewise(activation):
    return activation.kernel_spec()[0] in (KIND_PIECEWISE_LINEAR, KIND_PIECEWISE_LINEAR_TAILS)


class MeanFieldModel:
    """The mean-field model of ``network`` trained on ``data``.

    Parameters
    ----------
    data : DataLaw (:class:`GaussianMixture`, :class:`TeacherStudent`, :class:`ArrayData`)
    network : TwoLayerNetwork

    Examples
    --------
    >>> from meanfield import GaussianMixture, TwoLayerNetwork, relu
    >>> model = MeanFieldModel(GaussianMixture.anisotropic(delta=0.5, d=8, s0=2),
    ...                        TwoLayerNetwork(relu(), train=("a", "w", "b")))
    >>> theta = model.init(20, kappa=0.8, seed=0)
    >>> round(model.population_risk(theta), 6) == round(model.population_risk(theta.copy()), 6)
    True
    """

    def __init__(self, data, network):
        if not isinstance(data, DataLaw):
            raise ValueError(f"data: expected a DataLaw (GaussianMixture, TeacherStudent, ArrayData), "
                             f"got {type(data).__name__}")
        if not isinstance(network, TwoLayerNetwork):
            raise ValueError(f"network: expected a TwoLayerNetwork, got {type(network).__name__}")
        self.data, self.network = data, network
        self.activation, self.train = network.activation, network.train
        self.d = data.d
        self._kind, self._p = self.activation.kernel_spec()
        self._classes = data.gaussian_classes()
        self.exact = self._classes is not None
        self._inexact_reason = None if self.exact else "they are not Gaussian"
        if isinstance(data, TeacherStudent) and _piecewise(data.activation) != _piecewise(self.activation):
            self.exact = False  # SGD still runs; the exact functional has no rule for this pair
            self._inexact_reason = (f"there is no exact rule for the pair of σ {self.activation!r} (student) and "
                                    f"{data.activation!r} (teacher): one is piecewise linear, the other smooth")
        self._radial = None
        if (isinstance(data, GaussianMixture) and data.isotropic_delta is not None and self.train == ("w",)
                and (self._kind == KIND_TANH or (self._kind == KIND_PIECEWISE_LINEAR))):
            self._radial = IsotropicGaussians(data.isotropic_delta, self.d, self.activation)
        if isinstance(data, TeacherStudent) and self.exact:
            teacher = self._teacher_params()
            rows = self._pair_rows(data.activation, teacher, data.activation, teacher)
            self.r_sharp = float(teacher.a @ rows) / teacher.n**2 + data.noise_std**2
        else:
            self.r_sharp = None if data.r_sharp is None else float(data.r_sharp)

    def __repr__(self):
        return f"MeanFieldModel({self.data!r}, {self.network!r})"

    @property
    def risk_kind(self):
        """"population" (exact R_N), "empirical" (mean squared error on the held-out arrays of
        :class:`ArrayData`) or None (neither is available: record no risk)."""
        if self.exact:
            return "population"
        return "empirical" if isinstance(self.data, ArrayData) else None

    # ------------------------------------------------------------------ parameters
    def init(self, n, kappa=0.8, seed=None, a=1.0, b=0.0, a_std=0.0, b_std=0.0):
        """N neurons with w_i ~ N(0, κ²/d I_d), a_i ~ N(a, a_std²), b_i ~ N(b, b_std²) (one
        numpy Generator from ``seed``, drawn in the order W, a, b)."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n: must be a positive integer, got {n!r}")
        values = {}
        for name, v, positive in (("kappa", kappa, True), ("a", a, False), ("b", b, False),
                                  ("a_std", a_std, False), ("b_std", b_std, False)):
            v = float(as_finite_array(v, name))
            if (positive and v <= 0) or (name.endswith("std") and v < 0):
                raise ValueError(f"{name}: must be {'positive' if positive else 'non-negative'}, got {v!r}")
            values[name] = v
        rng = np.random.default_rng(seed)
        W = rng.standard_normal((n, self.d)) * (values["kappa"] / np.sqrt(self.d))
        a_arr = values["a"] + values["a_std"] * rng.standard_normal(n) if values["a_std"] else np.full(n, values["a"])
        b_arr = values["b"] + values["b_std"] * rng.standard_normal(n) if values["b_std"] else np.full(n, values["b"])
        return Params(a_arr, W, b_arr)

    def as_params(self, theta, name="theta"):
        """``theta`` as Params: Params as is (checked against d) or an (N, d) array W (a ≡ 1, b ≡ 0)."""
        if isinstance(theta, Params):
            params = theta
        else:
            W = as_finite_array(theta, name, ndim=2)
            params = Params(np.ones(W.shape[0]), W, np.zeros(W.shape[0]))
        if params.d != self.d:
            raise ValueError(f"{name}: expected d = {self.d} input weights per neuron, got {params.d}")
        return params

    # ------------------------------------------------------------------ network
    def output(self, theta, X):
        """ŷ(x) = (1/N) Σ_i a_i σ(⟨w_i, x⟩ + b_i) for the rows of X."""
        X = as_finite_array(X, "X", ndim=2)
        if X.shape[1] != self.d:
            raise ValueError(f"X: expected {self.d} columns, got {X.shape[1]}")
        return self.network.output(self.as_params(theta), X)

    def empirical_risk(self, theta, X, y):
        """(1/n) Σ_m (y_m − ŷ(x_m))²."""
        y = as_finite_array(y, "y", ndim=1)
        out = self.output(theta, X)
        if y.shape != out.shape:
            raise ValueError(f"y: expected {out.size} labels (one per row of X), got {y.size}")
        return float(np.mean((y - out) ** 2))

    def risk(self, theta):
        """The risk the solvers record: exact R_N (Gaussian data) or the empirical risk on the
        held-out arrays (:class:`ArrayData`; see :attr:`risk_kind`)."""
        if isinstance(self.data, ArrayData):
            return self.empirical_risk(theta, self.data.X_test, self.data.y_test)
        return self.population_risk(theta)

    # ------------------------------------------------------------ exact functional
    def _require_exact(self, what):
        if not self.exact:
            raise ValueError(f"{what}: the population quantities of {self.data!r} are not available "
                             f"({self._inexact_reason}); use empirical_risk")

    def _teacher_params(self):
        t = self.data
        return Params(t.a, t.W, t.b)

    def _pair_rows(self, act1, theta1, act2, theta2, grad=False):
        """rows[i] = Σ_j a2_j Σ_k π_k E σ₁(u_i)σ₂(v_j) (and dm, dw; see meanfield._pair_sums)."""
        weights, _, means, stds = self._classes
        k1, p1 = act1.kernel_spec()
        k2, p2 = act2.kernel_spec()
        n, d = theta1.W.shape
        rows, dm, dw = np.empty(n), np.empty(n), np.empty((n, d) if grad else (n, 0))
        pair_sums(k1, p1, k2, p2, weights, means, stds**2, theta1.W, theta1.b, theta2.a, theta2.W, theta2.b,
                  theta1 is theta2, grad, rows, dm, dw)
        return (rows, dm, dw) if grad else rows

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
        """V(θ_i) = −E[y σ*(x; θ_i)] per neuron, shape (N,)."""
        self._require_exact("V")
        theta = self.as_params(theta)
        return -theta.a * self._v_parts(theta, grad=False)[0]

    def U(self, theta, theta2=None):
        """U(θ_i, θ'_j) = E[σ*(x; θ_i) σ*(x; θ'_j)], shape (N, N') (θ' = θ by default); for
        inspection and tests: it builds the N × N' array."""
        self._require_exact("U")
        theta = self.as_params(theta)
        theta2 = theta if theta2 is None else self.as_params(theta2, "theta2")
        weights, _, means, stds = self._classes
        out = np.zeros((theta.n, theta2.n))
        for pk, mu, s in zip(weights, means, stds):
            var = s**2
            m1, m2 = theta.W @ mu + theta.b, theta2.W @ mu + theta2.b
            s1, s2 = np.sqrt((theta.W**2) @ var), np.sqrt((theta2.W**2) @ var)
            scale = np.outer(s1, s2)
            c = np.divide((theta.W * var) @ theta2.W.T, scale, out=np.zeros_like(scale), where=scale > 0)
            if theta2 is theta:
                np.fill_diagonal(c, 1.0)  # exactly: see meanfield._pair_sums.pair_sums
            g = gaussian_pair(self.activation, s1[:, None], m1[:, None], s2[None, :], m2[None, :],
                              np.clip(c, -1.0, 1.0))[0]
            out += pk * g
        return out * np.outer(theta.a, theta2.a)

    def population_risk(self, theta):
        """Exact R_N(θ) = R# + (2/N) Σ_i V(θ_i) + (1/N²) Σ_ij U(θ_i, θ_j)."""
        self._require_exact("population_risk")
        theta = self.as_params(theta)
        if self._delegates(theta):
            return self._radial.population_risk(theta.W)
        n = theta.n
        v = -theta.a * self._v_parts(theta, grad=False)[0]
        rows = self._pair_rows(self.activation, theta, self.activation, theta)
        return float(self.r_sharp + 2.0 * v.mean() + theta.a @ rows / n**2)

    def potential_gradient(self, theta):
        """∇_θ Ψ(θ_i; ρ̂) = (N/2) ∂R_N/∂θ_i for every neuron, as Params (zeros in untrained
        coordinates). At w_i = 0 the σ' terms take the right limit σ'(b_i+)."""
        self._require_exact("potential_gradient")
        theta = self.as_params(theta)
        n = theta.n
        if self._delegates(theta):
            return Params(np.zeros(n), self._radial.potential_gradient(theta.W), np.zeros(n))
        rv, dmv, dwv = self._v_parts(theta, grad=True)
        rows, dm, dw = self._pair_rows(self.activation, theta, self.activation, theta, grad=True)
        a = theta.a
        grad_a = -rv + rows / n if "a" in self.train else np.zeros(n)
        grad_b = a * (dm / n - dmv) if "b" in self.train else np.zeros(n)
        grad_w = a[:, None] * (dw / n - dwv) if "w" in self.train else np.zeros((n, self.d))
        return Params(grad_a, grad_w, grad_b)

    # ------------------------------------------------------------------ solvers
    def sgd_spec(self):
        """The :class:`SGDSpec` of this model (what the fused SGD kernel reads)."""
        kind, p = self._kind, np.asarray(self._p, dtype=float)
        scales = None
        if self._radial is not None:
            scales = np.array(self._radial.scales)
        return SGDSpec(kind, p, "a" in self.train, "w" in self.train, "b" in self.train,
                       self.data.kernel_spec(), scales)

    def sample(self, n, rng=None):
        """n iid pairs (X, y) of the data law."""
        return self.data.sample(n, rng)


def isotropic_model(delta, d, activation):
    """MeanFieldModel(GaussianMixture.isotropic(delta, d), TwoLayerNetwork(activation, train=("w",))):
    the model :class:`IsotropicGaussians` describes, with a ≡ 1, b ≡ 0."""
    return MeanFieldModel(GaussianMixture.isotropic(delta, d), TwoLayerNetwork(activation, train=("w",)))


__all__ = ["MeanFieldModel", "isotropic_model"]
