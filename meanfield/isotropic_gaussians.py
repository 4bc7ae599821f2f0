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
import warnings
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from ._validation import as_finite_array, check_positive
from .activations import Activation
from .pair_kernel import (_QW, _QX, _TINY, C_SERIES, K_SERIES, pair_direct, pair_gradient_direct,
                          pair_kernel, pair_series)
from .sphere import angle_quadrature, sphere_moments

#: Relative tolerance of the truncated Mehler series (see ``kernel_features``).
DEFAULT_TOL = 1e-10
#: Largest number of Hermite terms a truncation may use.
MAX_TERMS = 256
#: Particle count from which the O(N²) kernels use threads (below, thread start-up dominates).
PARALLEL_MIN = 256
#: Gauss-Legendre nodes in the angle for the exact angular average (converged to ~1e-14).
ANGLE_NODES = 128


@dataclass(frozen=True)
class KernelFeatures:
    """Low-rank form of the radial kernel on points r_1..r_M:

        u(r_i, r_j) ≈ Σ_j' weights[j'] values[j', i] values[j', j],
        ∂_r u(r_i, r_j) ≈ Σ_j' weights[j'] derivatives[j', i] values[j', j],

    with |error| ≤ error_bound · √(E σ(s r_i G)² E σ(s r_j G)²) summed over s.
    Rows are (scale s, even k < terms): values = h_k(s r), derivatives = s h_k'(s r),
    weights = ½ μ_k(d).
    """

    values: np.ndarray
    derivatives: np.ndarray
    weights: np.ndarray
    terms: int
    error_bound: float

    def project(self, masses):
        """Moments ⟨h_k(s·), ρ̄⟩ = Σ_i masses_i values[:, i]."""
        return self.values @ masses

    def potential(self, masses):
        """∫u(r_i, r')ρ̄(dr') at the feature points, for ρ̄ = Σ masses_i δ_{r_i}."""
        return (self.weights * self.project(masses)) @ self.values

    def potential_derivative(self, masses):
        """∂_r ∫u(r, r')ρ̄(dr') at the feature points."""
        return (self.weights * self.project(masses)) @ self.derivatives


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
    delta : float in (0, 1)
    d : int ≥ 1, the input dimension
    activation : an :class:`~meanfield.activations.Activation`
    large_d_limit : bool
        Use the d → ∞ kernel (only the k = 0 Mehler term, u = ½Σ_s m(sr)m(sr')).
        ``sample`` and ``population_risk`` still use the finite ``d``.
    tol : float
        Relative tolerance of the truncated Mehler series.
    """

    def __init__(self, delta, d, activation, large_d_limit=False, tol=DEFAULT_TOL):
        delta = check_positive(delta, "delta")
        if not delta < 1:
            raise ValueError(f"delta: must lie in (0, 1), got {delta}")
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
            raise ValueError(f"d: must be an integer >= 1, got {d!r}")
        if not isinstance(activation, Activation):
            raise ValueError(f"activation: expected an Activation, got {type(activation).__name__}")
        self.delta = delta
        self.d = int(d)
        self.activation = activation
        self.large_d_limit = bool(large_d_limit)
        self.tol = check_positive(tol, "tol")
        self.scales = np.array([1.0 + delta, 1.0 - delta])
        self.r_sharp = 1.0  # R# = E y²
        self._mu = sphere_moments(np.inf if self.large_d_limit else self.d, MAX_TERMS)

    def __repr__(self):
        return (f"IsotropicGaussians(delta={self.delta}, d={self.d}, activation={self.activation!r}"
                + (", large_d_limit=True)" if self.large_d_limit else ")"))

    # ------------------------------------------------------------------ data
    def sample(self, n, rng=None):
        """n iid pairs (X, y): X of shape (n, d), labels y ∈ {±1} of shape (n,)."""
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
        """v(r) = −½ [m((1+Δ)r) − m((1−Δ)r)]."""
        r = self._radii(r)
        m = self.activation.gaussian_mean
        return -0.5 * (m(self.scales[0] * r) - m(self.scales[1] * r))

    def dv(self, r):
        """v'(r) = −½ [(1+Δ) m'((1+Δ)r) − (1−Δ) m'((1−Δ)r)] (right limit at r = 0)."""
        r = self._radii(r)
        dm = self.activation.gaussian_mean_derivative
        s0, s1 = self.scales
        return -0.5 * (s0 * dm(s0 * r) - s1 * dm(s1 * r))

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
        """
        r = self._radii(r, "r").ravel()
        feats = self._features(r, allow_inexact)
        if feats is None:
            raise ValueError(
                f"the Mehler series cannot reach tol={self.tol:g} within {MAX_TERMS} terms at d={self.d}; "
                "pass allow_inexact=True (which reports the achieved error bound) or use u()/psi(), which "
                "fall back to the exact angular quadrature")
        return feats

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
        otherwise the angular average of the exact pair kernel (Gauss-Legendre in θ)."""
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
        """ψ(r; ρ̄) = v(r) + Σ_i w_i u(r, r_i) for ρ̄ = Σ_i w_i δ_{r_i} (weights sum to 1)."""
        r = self._radii(r, "r")
        radii = self._radii(radii, "radii").ravel()
        if radii.size == 0:
            raise ValueError("radii: empty")
        w = _normalised_weights(weights, radii.size)
        return self.v(r) + self._potential(r.ravel(), radii, w).reshape(r.shape)

    def dpsi(self, r, radii, weights=None):
        """∂_r ψ(r; ρ̄) (right limit at r = 0), via the Mehler features."""
        r = self._radii(r, "r")
        radii = self._radii(radii, "radii").ravel()
        w = _normalised_weights(weights, radii.size)
        feats = self.kernel_features(np.concatenate([r.ravel(), radii]))
        m = r.size
        coef = feats.weights * (feats.values[:, m:] @ w)
        return self.dv(r) + (coef @ feats.derivatives[:, :m]).reshape(r.shape)

    def _potential(self, r, radii, w):
        """Σ_i w_i u(r, r_i) for 1-D r: O((M+n)K) by features when the series is valid."""
        feats = self._features(np.concatenate([r, radii]))
        if feats is None:
            return self._u_angular(r[:, None], radii[None, :]) @ w
        m = r.size
        return (feats.weights * (feats.values[:, m:] @ w)) @ feats.values[:, :m]

    def radial_risk(self, radii, weights=None):
        """R(ρ̄) = 1 + 2∫v dρ̄ + ∫∫u dρ̄ dρ̄ for ρ̄ = Σ_i w_i δ_{r_i}."""
        radii = self._radii(radii, "radii").ravel()
        if radii.size == 0:
            raise ValueError("radii: empty")
        w = _normalised_weights(weights, radii.size)
        return float(self.r_sharp + 2.0 * w @ self.v(radii) + w @ self._potential(radii, radii, w))

    # ---------------------------------------------------------- finite network
    def population_risk(self, W):
        """Exact R_N(θ) = 1 + (2/N) Σ_i V(w_i) + (1/N²) Σ_ij U(w_i, w_j) of the network
        ŷ(x) = (1/N) Σ_i σ(⟨w_i, x⟩), W of shape (N, d). No Monte Carlo: U(w, w') =
        ½ Σ_s K(s‖w‖, s‖w'‖, cos∠(w, w')) with K from :func:`pair_kernel`.
        """
        W = as_finite_array(W, "W", ndim=2)
        if W.shape[1] != self.d:
            raise ValueError(f"W: expected shape (N, {self.d}), got {W.shape}")
        if W.shape[0] == 0:
            raise ValueError("W: no particles")
        r = np.linalg.norm(W, axis=1)
        unit = np.divide(W, r[:, None], out=np.zeros_like(W), where=r[:, None] > 0)
        gram = unit @ unit.T
        np.clip(gram, -1.0, 1.0, out=gram)  # in place: N×N is the memory peak
        kind, p = self.activation.kernel_spec()
        total = 0.0
        for s in self.scales:
            a = s * r
            h = self.activation.hermite(a, K_SERIES - 1)
            diag = self.activation.gaussian_second_moment(a)
            total += 0.5 * _pair_sum(kind, p, a, gram, h, diag, _QX, _QW)
        n = W.shape[0]
        return float(self.r_sharp + 2.0 * self.v(r).mean() + total / n**2)

    def potential_gradient(self, W):
        """∇_θ Ψ(θ_i; ρ̂) for every particle, ρ̂ = (1/N) Σ_j δ_{θ_j}, W of shape (N, d).

        ∇Ψ(w_i) = v'(r_i) ŵ_i + (1/N) Σ_j ½ Σ_s [s ∂_aK ŵ_i + (∂_cK / r_i)(ŵ_j − c_ij ŵ_i)],
        K evaluated at (s r_i, s r_j, c_ij), c_ij = ŵ_i·ŵ_j (Mehler series for |c| ≤ ½,
        closed form or quadrature otherwise; the j = i term has c = 1 and no angular part).
        This equals (N/2) ∂R_N/∂θ_i. At w_i = 0, where Ψ is not differentiable for a σ
        kinked at 0, the gradient is defined as the population average of the SGD
        direction with σ'(0+): E_x[σ'(0+)(ŷ(x) − y) x] = σ'(0+) (1/N) Σ_j ½ Σ_s s h_1(s r_j) ŵ_j.
        """
        W = as_finite_array(W, "W", ndim=2)
        if W.shape[1] != self.d or W.shape[0] == 0:
            raise ValueError(f"W: expected shape (N, {self.d}) with N >= 1, got {W.shape}")
        r = np.linalg.norm(W, axis=1)
        zero = r < _TINY
        unit = np.divide(W, r[:, None], out=np.zeros_like(W), where=~zero[:, None])
        gram = unit @ unit.T
        np.clip(gram, -1.0, 1.0, out=gram)  # in place: N×N is the memory peak
        kind, p = self.activation.kernel_spec()
        h_t = np.ascontiguousarray(np.stack([self.activation.hermite(s * r, K_SERIES - 1).T for s in self.scales]))
        dh = np.stack([self.activation.hermite(s * r, K_SERIES - 1, derivative=True) for s in self.scales])
        dsigma0 = float(self.activation.derivative(0.0))
        radial, mixing = _gradient_coefficients(kind, p, self.scales, r, zero, gram, h_t, dh, dsigma0, _QX, _QW)
        n = W.shape[0]
        radial = radial / n + np.where(zero, 0.0, self.dv(r))
        return radial[:, None] * unit + (mixing / n) @ unit


@njit(cache=True)
def _pair_sum_row(i, kind, p, a, gram, h, diag, qx, qw):
    """diag_i + 2 Σ_{j>i} K(a_i, a_j, gram_ij)."""
    acc = diag[i]
    for j in range(i + 1, a.shape[0]):
        c = gram[i, j]
        if abs(c) <= C_SERIES:
            acc += 2.0 * pair_series(h[i], h[j], c)
        else:
            acc += 2.0 * pair_direct(kind, p, a[i], a[j], c, qx, qw)
    return acc


@njit(cache=True)
def _pair_sum_serial(kind, p, a, gram, h, diag, qx, qw):
    total = 0.0
    for i in range(a.shape[0]):
        total += _pair_sum_row(i, kind, p, a, gram, h, diag, qx, qw)
    return total


@njit(cache=True, parallel=True)
def _pair_sum_parallel(kind, p, a, gram, h, diag, qx, qw):
    rows = np.zeros(a.shape[0])
    for i in prange(a.shape[0]):
        rows[i] = _pair_sum_row(i, kind, p, a, gram, h, diag, qx, qw)
    return rows.sum()


def _pair_sum(kind, p, a, gram, h, diag, qx, qw):
    """Σ_ij K(a_i, a_j, gram_ij) with K(a_i, a_i, 1) = diag_i (threads only when N is large)."""
    kernel = _pair_sum_parallel if a.shape[0] >= PARALLEL_MIN else _pair_sum_serial
    return kernel(kind, p, a, gram, h, diag, qx, qw)


@njit(cache=True)
def _gradient_row(i, kind, p, scales, r, zero, gram, h_t, dh, dsigma0, qx, qw, mixing_row):
    """Row i of the coefficients of ∇Ψ(w_i) = radial_i ŵ_i + Σ_j mixing_ij ŵ_j (before the 1/N).

    h_t[s, k, j] = h_k(s r_j) (k-major so the Horner loops over j vectorise), dh[s, j, k] = h_k'(s r_j).
    Row i uses the series for |c_ij| ≤ C_SERIES with as many terms as its largest such
    |c| needs for a relative error below 1e-13, and the direct evaluation otherwise.
    Writes mixing_row and returns radial_i.
    """
    n = r.shape[0]
    n_terms = h_t.shape[1]
    if zero[i]:
        for j in range(n):
            acc = 0.0
            for si in range(scales.shape[0]):
                acc += 0.5 * scales[si] * dsigma0 * h_t[si, 1, j]
            mixing_row[j] = acc
        return 0.0
    c_row = gram[i]
    c_max = 0.0
    for j in range(n):
        if j != i and abs(c_row[j]) <= C_SERIES:
            c_max = max(c_max, abs(c_row[j]))
    terms = 2
    while terms < n_terms and terms * c_max ** (terms - 1) > 1e-13:
        terms += 1
    da = np.empty(n)
    dc = np.empty(n)
    acc_r = 0.0
    for si in range(scales.shape[0]):
        s = scales[si]
        # Horner in c: da_j = Σ_k c^k h_k'(a_i) h_k(b_j), dc_j = Σ_k k c^(k-1) h_k(a_i) h_k(b_j)
        for j in range(n):
            da[j] = dh[si, i, terms - 1] * h_t[si, terms - 1, j]
            dc[j] = (terms - 1) * h_t[si, terms - 1, i] * h_t[si, terms - 1, j]
        for k in range(terms - 2, -1, -1):
            ak = dh[si, i, k]
            bk = k * h_t[si, k, i]
            for j in range(n):
                c = c_row[j]
                da[j] = da[j] * c + ak * h_t[si, k, j]
                if k >= 1:
                    dc[j] = dc[j] * c + bk * h_t[si, k, j]
        for j in range(n):
            c = c_row[j]
            if j == i:
                dai, dci = pair_gradient_direct(kind, p, s * r[i], s * r[i], 1.0, qx, qw)
                acc_r += 0.5 * s * dai
                continue
            daj, dcj = da[j], dc[j]
            if abs(c) > C_SERIES:
                daj, dcj = pair_gradient_direct(kind, p, s * r[i], s * r[j], c, qx, qw)
            acc_r += 0.5 * (s * daj - c * dcj / r[i])
            mixing_row[j] += 0.5 * dcj / r[i]
    return acc_r


@njit(cache=True)
def _gradient_serial(kind, p, scales, r, zero, gram, h_t, dh, dsigma0, qx, qw):
    n = r.shape[0]
    radial = np.zeros(n)
    mixing = np.zeros((n, n))
    for i in range(n):
        radial[i] = _gradient_row(i, kind, p, scales, r, zero, gram, h_t, dh, dsigma0, qx, qw, mixing[i])
    return radial, mixing


@njit(cache=True, parallel=True)
def _gradient_parallel(kind, p, scales, r, zero, gram, h_t, dh, dsigma0, qx, qw):
    n = r.shape[0]
    radial = np.zeros(n)
    mixing = np.zeros((n, n))
    for i in prange(n):
        radial[i] = _gradient_row(i, kind, p, scales, r, zero, gram, h_t, dh, dsigma0, qx, qw, mixing[i])
    return radial, mixing


def _gradient_coefficients(kind, p, scales, r, zero, gram, h_t, dh, dsigma0, qx, qw):
    kernel = _gradient_parallel if r.shape[0] >= PARALLEL_MIN else _gradient_serial
    return kernel(kind, p, scales, r, zero, gram, h_t, dh, dsigma0, qx, qw)
