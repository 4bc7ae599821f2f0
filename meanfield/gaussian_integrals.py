"""Gaussian integrals of activations with a mean: the building blocks of every exact
population quantity of a network σ*(x; θ) = a σ(⟨w, x⟩ + b) on Gaussian inputs.

Under an input law N(μ, Σ) the pre-activations u = ⟨w, x⟩ + b, v = ⟨w', x⟩ + b' are
jointly normal with means m₁ = ⟨w, μ⟩ + b, m₂, variances A₁ = wᵀΣw, A₂ and covariance
C = wᵀΣw'. With s_i = √A_i and c = C/(s₁s₂):

    M(m, A)              = E σ(m + s G),                 ∂_m M = E σ'(u),   ∂_A M = ½ E σ''(u)
    G(m₁, m₂, A₁, A₂, C) = E σ₁(u) σ₂(v),                ∂_{m₁}G = E σ₁'(u)σ₂(v),
    ∂_{A₁}G = ½ E σ₁''(u)σ₂(v),  ∂_C G = E σ₁'(u)σ₂'(v)   (Price's theorem / heat equation).

So ∇_w E σ₁(u)σ₂(v) = μ ∂_{m₁}G + 2Σw ∂_{A₁}G + Σw' ∂_C G (see :mod:`meanfield.mean_field_model`).

Evaluation:
* piecewise-linear σ (σ = y₀ + l t + Σ_q c_q (t − t_q)₊, any tail slopes): closed forms in
  φ, Φ and the bivariate normal orthant moments with thresholds h_q = (t_q − m)/s
  (σ'' is Σ_q c_q δ(t − t_q), so ∂_A G = ½ Σ_q c_q p_u(t_q) E[σ₂(v) | u = t_q]);
* erf σ = κ + ν Φ(γ(t − t₀)): E Φ(γ(u − t₀))Φ(γ(v − t₀')) is a bivariate normal probability
  Φ₂(h₁, h₂; ρ), h_i = γ_i(m_i − t₀_i)/√(1 + γ_i²A_i), ρ = γ₁γ₂C/√((1+γ₁²A₁)(1+γ₂²A₂));
* other smooth σ (tanh, sigmoid; mixed tanh/erf pairs): the trapezoidal rule in the rotated
  coordinates X = αU + βV, Y = αU − βV with the node spacing set by the strip of analyticity
  (as :func:`meanfield._kernels.pair_direct.smooth_pair_sums`), ~1e-15 relative.
A degenerate variance (s < 1e-100: w = 0) makes u the constant m, with σ'(m+) (right limit)
and ∂_A terms 0. A piecewise-linear σ paired with a smooth one raises: no exact rule is
implemented for that pair.
"""
from __future__ import annotations

import numpy as np

from ._kernels.activation import KIND_PIECEWISE_LINEAR_TAILS
from ._kernels.gauss_moments import gauss_mean_many, gauss_pair_many
from ._validation import MAX_MAGNITUDE, as_finite_array, check_instance, check_magnitude
from .activations import Activation


def _check_activation(activation, name):
    return check_instance(activation, Activation, name).kernel_spec()


def gaussian_mean(activation, scale, mean):
    """(M, ∂_m M, ∂_A M) for M = E σ(mean + scale·G), broadcasting; scale ≥ 0, A = scale².

    Closed forms for piecewise-linear and erf σ, the trapezoidal rule for other smooth σ
    (module docstring); at scale < 1e-100, M = σ(m), ∂_m M = σ'(m+), ∂_A M = 0.

    Parameters
    ----------
    activation : Activation
        σ.
    scale : array_like
        Standard deviations s ≥ 0, finite.
    mean : array_like
        Means m, finite; broadcast against ``scale``.

    Returns
    -------
    M, dM_dm, dM_dA : ndarray
        Each of the broadcast shape of ``scale`` and ``mean``.

    Raises
    ------
    ValueError
        If ``activation`` is not an :class:`Activation`, ``scale`` has a negative, NaN or
        infinite entry, ``mean`` a NaN or infinite one, or the shapes do not broadcast.

    Examples
    --------
    >>> from meanfield import relu
    >>> [round(float(x), 6) for x in gaussian_mean(relu(), 1.0, 0.0)]   # φ(0), Φ(0), φ(0)/2
    [0.398942, 0.5, 0.199471]
    """
    kind, p = _check_activation(activation, "activation")
    s = as_finite_array(scale, "scale", nonnegative=True)
    m = as_finite_array(mean, "mean")
    s, m = np.broadcast_arrays(s, m)
    out = np.empty((3, s.size))
    gauss_mean_many(kind, p, np.ascontiguousarray(m, float).ravel(), np.ascontiguousarray(s, float).ravel(), out)
    return tuple(row.reshape(s.shape) for row in out)


def gaussian_pair(activation, scale1, mean1, scale2, mean2, corr, activation2=None):
    """(G, ∂_{m₁}G, ∂_{m₂}G, ∂_{A₁}G, ∂_{A₂}G, ∂_C G) for G = E σ₁(m₁ + s₁X) σ₂(m₂ + s₂Y),
    corr(X, Y) = ``corr``, broadcasting; σ₂ = ``activation2`` or σ₁; A_i = s_i², C = c s₁ s₂.

    Parameters
    ----------
    activation : Activation
        σ₁.
    scale1, scale2 : array_like
        Standard deviations s₁, s₂ ≥ 0, finite.
    mean1, mean2 : array_like
        Means m₁, m₂, finite.
    corr : array_like
        Correlations c in [−1, 1].
    activation2 : Activation or None
        σ₂ (default σ₁).

    Returns
    -------
    G, dG_dm1, dG_dm2, dG_dA1, dG_dA2, dG_dC : ndarray
        Each of the broadcast shape of the five arrays.

    Raises
    ------
    ValueError
        If an activation is not an :class:`Activation`, a scale is negative, an entry is NaN
        or infinite, a correlation lies outside [−1, 1], the shapes do not broadcast, one
        σ is piecewise linear and the other smooth (no exact rule for that pair), or a σ is
        piecewise linear and a scale or mean exceeds 1e150 in magnitude (G would overflow).

    Examples
    --------
    >>> from meanfield import erf, relu
    >>> round(float(gaussian_pair(erf(), 1.0, 0.0, 1.0, 0.0, 0.5)[0]), 6)   # (2/π) arcsin(c/2)
    0.160861
    >>> [round(float(g), 6) for g in gaussian_pair(relu(), 1.0, 0.0, 1.0, 0.0, [0.0, 1.0])[0]]   # 1/(2π), ½
    [0.159155, 0.5]
    """
    k1, p1 = _check_activation(activation, "activation")
    k2, p2 = _check_activation(activation if activation2 is None else activation2, "activation2")
    # σ with linear tails: the integrals grow like s₁s₂ and overflow beyond MAX_MAGNITUDE (bounded σ: exact)
    limit = MAX_MAGNITUDE if KIND_PIECEWISE_LINEAR_TAILS in (k1, k2) else np.inf
    s1, s2, m1, m2 = (check_magnitude(as_finite_array(x, name, nonnegative=name.startswith("scale")), name, limit)
                      for name, x in (("scale1", scale1), ("scale2", scale2), ("mean1", mean1), ("mean2", mean2)))
    c = as_finite_array(corr, "corr")
    if np.any(np.abs(c) > 1.0):
        raise ValueError("corr: correlations must lie in [-1, 1]")
    arrays = np.broadcast_arrays(m1, s1, m2, s2, c)
    flat = [np.ascontiguousarray(x, dtype=float).ravel() for x in arrays]
    out = np.empty((6, flat[0].size))
    gauss_pair_many(k1, p1, k2, p2, *flat, out)
    return tuple(row.reshape(arrays[0].shape) for row in out)
