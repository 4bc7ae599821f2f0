"""The finite-N risk R_N and drift ∇Ψ of N neurons w_i ∈ R^d on the isotropic Gaussian mixture.

y = ±1 w.p. ½ with x ~ N(0, s² I_d), s = 1 ± Δ; ŷ(x) = (1/N) Σ_i σ(⟨w_i, x⟩), r_i = ‖w_i‖,
ŵ_i = w_i/r_i, c_ij = ⟨ŵ_i, ŵ_j⟩ and K(a, b, c) = E σ(aX)σ(bY) (corr c):
    R_N = 1 + (2/N) Σ_i v(r_i) + (1/N²) Σ_ij ½ Σ_s K(s r_i, s r_j, c_ij),   v(r) = −½ [m((1+Δ)r) − m((1−Δ)r)],
    ∇Ψ(w_i) = v'(r_i) ŵ_i + (1/N) Σ_j ½ Σ_s [s ∂_aK ŵ_i + (∂_cK / r_i)(ŵ_j − c_ij ŵ_i)]   (= (N/2) ∂R_N/∂w_i).
The pair sums run in one Numba pass (:mod:`meanfield._kernels.isotropic_pairs`) on Hermite tables
whose length :mod:`meanfield._series_plan` chooses. :class:`meanfield.IsotropicGaussians` and
:class:`meanfield.MeanFieldModel` (its isotropic fast path) both call :class:`IsotropicParticles`.
"""
from __future__ import annotations

import numpy as np

from ._kernels.isotropic_pairs import _closed_pair_tasks, _gradient_parallel, _gradient_serial, risk_pairs
from ._kernels.ramp_pairs import _TINY
from ._series_plan import _served_cosine, pair_tables
from ._validation import as_finite_array

#: Particle count from which the O(N²) kernels use threads (below, thread start-up dominates).
PARALLEL_MIN = 256


def radial_potential(activation, scales, r):
    """v(r) = −½ [m(s₀ r) − m(s₁ r)], m(a) = E σ(aG), scales (s₀, s₁) = (1 + Δ, 1 − Δ)."""
    m = activation.gaussian_mean
    return -0.5 * (m(scales[0] * r) - m(scales[1] * r))


def radial_slope(scales, dm):
    """v'(r) from dm[s] = m'(s r) = h_0'(s r) per scale."""
    return -0.5 * (scales[0] * dm[0] - scales[1] * dm[1])


def closed_pairs(kind, p, scales, r, unit_t, tails, c_served):
    """The closed-form pairs' share of the drift (radial (N,), angular (N, d), before the 1/N),
    once per pair i < j (:func:`_closed_pair_tasks`), the tasks summed in order."""
    radial, angular = _closed_pair_tasks(kind, p, scales, r, unit_t, tails, c_served)
    return radial.sum(axis=0), angular.sum(axis=0)


class IsotropicParticles:
    """R_N and ∇Ψ of the particles W (N, d) for σ = ``activation`` (bounded piecewise linear or
    tanh, checked by the callers) and the scales (1 + Δ, 1 − Δ); R# = 1.

    Parameters
    ----------
    scales : ndarray, shape (2,)
        (1 + Δ, 1 − Δ).
    d : int
        The input dimension.
    activation : Activation
        σ.
    drift_series : bool
        Piecewise-linear σ: the drift's pairs with |c| > ½ take the long Mehler series where its
        bound allows (:func:`meanfield._series_plan.pair_tables`).
    """

    def __init__(self, scales, d, activation, drift_series=True):
        self.scales, self.d, self.activation, self.drift_series = scales, d, activation, drift_series

    def particles(self, W):
        """Checked weights (N, d), N ≥ 1 → radii r, the mask r < _TINY (w = 0 to double
        precision: σ(s r X) = σ(0)) and the unit vectors ŵ (0 where masked)."""
        W = as_finite_array(W, "W", ndim=2)
        if W.shape[1] != self.d or W.shape[0] == 0:
            raise ValueError(f"W: expected shape (N, {self.d}) with N >= 1, got {W.shape}")
        r = np.linalg.norm(W, axis=1)
        zero = r < _TINY
        return r, zero, np.divide(W, r[:, None], out=np.zeros_like(W), where=~zero[:, None])

    def _tables(self, r, unit_t, derivatives):
        return pair_tables(self.activation, self.scales, r, unit_t, derivatives, self.drift_series)

    def population_risk(self, W):
        """R_N of the weights W (N, d) (see :meth:`meanfield.IsotropicGaussians.population_risk`)."""
        r, _, unit = self.particles(W)
        kind, p = self.activation.kernel_spec()
        unit_t = np.ascontiguousarray(unit.T)
        h_t, _, tails, diag, _ = self._tables(r, unit_t, derivatives=False)
        total = risk_pairs(kind, p, self.scales, r, unit_t, h_t, tails, diag, parallel=r.size >= PARALLEL_MIN)
        return float(1.0 + 2.0 * radial_potential(self.activation, self.scales, r).mean() + total / r.size**2)

    def potential_gradient(self, W):
        """∇Ψ(w_i; ρ̂) per row of W (N, d) (see :meth:`meanfield.IsotropicGaussians.potential_gradient`)."""
        r, zero, unit = self.particles(W)
        n = r.size
        kind, p = self.activation.kernel_spec()
        unit_t = np.ascontiguousarray(unit.T)
        h_t, dh_t, tails, _, symmetric = self._tables(r, unit_t, derivatives=True)
        dsigma0 = float(self.activation.derivative(0.0))
        kernel = _gradient_parallel if n >= PARALLEL_MIN else _gradient_serial
        h_j = np.ascontiguousarray(h_t.transpose(2, 1, 0))  # particle-major, for the per-pair series
        c_served = _served_cosine(tails)
        radial, angular = kernel(kind, p, self.scales, r, zero, unit_t, h_t, h_j, dh_t, tails, c_served, dsigma0,
                                 symmetric)
        if symmetric:  # the closed-form pairs, once per pair i < j
            closed_radial, closed_angular = closed_pairs(kind, p, self.scales, r, unit_t, tails, c_served)
            radial += closed_radial
            angular += closed_angular
        radial = radial / n + np.where(zero, 0.0, radial_slope(self.scales, dh_t[:, 0]))  # h_0' = m'
        return radial[:, None] * unit + angular / n
