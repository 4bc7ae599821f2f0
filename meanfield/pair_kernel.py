"""The pair kernel K(a, b, c) = E[σ(aX) σ(bY)], X, Y standard normal, corr(X, Y) = c.

For w, w' ∈ R^d and x ~ N(0, s² I_d), ⟨w,x⟩ = s‖w‖X and ⟨w',x⟩ = s‖w'‖Y with
c = cos∠(w, w'), so E_x[σ(⟨w,x⟩)σ(⟨w',x⟩)] = K(s‖w‖, s‖w'‖, c).

Evaluation (every c ∈ [−1, 1], a, b ≥ 0):
* |c| ≤ C_SERIES: Mehler's series K = Σ_k c^k h_k(a) h_k(b), truncated after
  K_SERIES terms; by Cauchy-Schwarz and Bessel's inequality the tail is at most
  |c|^K √(E σ(aG)² E σ(bG)²) ≤ 0.5^48 ≈ 3.6e-15 relative.
* otherwise, piecewise-linear σ: closed form in φ, Φ and the bivariate normal
  orthant probability (σ = y₀ + Σ c_i (t − t_i)₊, so K is a sum of
  E[(X−h)₊(Y−k)₊]); smooth σ: the trapezoidal rule in the rotated coordinates
  X = αU + βV, Y = αU − βV (α = √((1+c)/2), β = √((1−c)/2), U, V independent), with
  the node spacing in each set by the strip where the integrand is analytic
  (:func:`meanfield._kernels.pair_direct.smooth_pair_sums`): near c = ±1 the integrand hardly depends on one of
  U, V, which then takes few nodes.
"""
from __future__ import annotations

import numpy as np

from ._kernels.activation import KIND_PIECEWISE_LINEAR, KIND_PIECEWISE_LINEAR_TAILS
from ._kernels.pair_direct import K_SERIES, _pair_gradient_many, _pair_kernel_many
from ._validation import as_finite_array, check_instance
from .activations import Activation
from .gaussian_integrals import gaussian_pair


def _series_points(activation, kind, p, a, b):
    """Where Mehler's series may be used: everywhere for piecewise-linear σ; for smooth σ where
    slope · max(a, b) is within the Hermite quadratures' accurate range (they raise beyond), the rest
    taking the direct rule. Returns (mask, a, b) with the scales outside the mask set to 0
    (their coefficients are not used)."""
    if kind == KIND_PIECEWISE_LINEAR:
        return np.ones(a.shape, bool), a, b
    ok = p[1] * np.maximum(a, b) < activation.hermite_steepness()  # smooth σ: Tanh or Erf
    return ok, np.where(ok, a, 0.0), np.where(ok, b, 0.0)


def _pair_arguments(a, b, c):
    """Validated, broadcast, flattened (a, b, c) and their common shape."""
    a = as_finite_array(a, "a", nonnegative=True)
    b = as_finite_array(b, "b", nonnegative=True)
    c = as_finite_array(c, "c")
    if np.any(np.abs(c) > 1.0):
        raise ValueError("c: correlations must lie in [-1, 1]")
    a, b, c = np.broadcast_arrays(a, b, c)
    flat = (np.ascontiguousarray(x, dtype=float).ravel() for x in (a, b, c))
    return (*flat, a.shape)


def pair_kernel(activation, a, b, c):
    """K(a, b, c) = E[σ(aX)σ(bY)] with corr(X, Y) = c, broadcasting a, b ≥ 0, c ∈ [−1, 1].

    Mehler's series Σ_k c^k h_k(a) h_k(b) (48 terms) for |c| ≤ 1/2; otherwise the closed form
    (piecewise-linear σ) or the trapezoidal rule in rotated coordinates (smooth σ).

    Parameters
    ----------
    activation : Activation
        The activation σ.
    a, b : array_like of float
        Scales, finite and ≥ 0 (for the model, a = s‖w‖, b = s‖w'‖).
    c : array_like of float
        Correlations in [−1, 1] (the cosine of the angle between w and w').

    Returns
    -------
    ndarray
        K, with the broadcast shape of ``a``, ``b``, ``c`` (0-d for scalars).

    Raises
    ------
    ValueError
        If ``activation`` is not an :class:`Activation`, ``a`` or ``b`` is negative or
        non-finite, ``c`` is non-finite or outside [−1, 1], or the shapes do not broadcast.

    Examples
    --------
    For σ(t) = erf(t/√2), K = (2/π) arcsin(abc / ((1 + a²)(1 + b²))^{1/2}) (arcsine law):

    >>> import numpy as np
    >>> from meanfield import erf
    >>> k = pair_kernel(erf(), 1.0, 2.0, 0.8)
    >>> round(float(k), 6), round(float(2 / np.pi * np.arcsin(1.6 / np.sqrt(10))), 6)
    (0.337727, 0.337727)
    """
    check_instance(activation, Activation, "activation")
    a, b, c, shape = _pair_arguments(a, b, c)
    kind, p = activation.kernel_spec()
    if kind == KIND_PIECEWISE_LINEAR_TAILS:
        return _unbounded_pair(activation, a, b, c)[0].reshape(shape)
    series, a_s, b_s = _series_points(activation, kind, p, a, b)
    ha = activation.hermite(a_s, K_SERIES - 1)
    hb = activation.hermite(b_s, K_SERIES - 1)
    return _pair_kernel_many(kind, p, a, b, c, ha, hb, series).reshape(shape)


def _unbounded_pair(activation, a, b, c):
    """(K, ∂_a K, ∂_c K) for σ with linear tails (relu, leaky relu: no convergent Mehler tail
    bound, no ramp layout) from the closed form G(m₁ = m₂ = 0, A₁ = a², A₂ = b², C = abc) of
    :func:`meanfield.gaussian_integrals.gaussian_pair`: ∂_a K = 2a ∂_{A₁}G + bc ∂_C G,
    ∂_c K = ab ∂_C G."""
    value, _, _, d_a1, _, d_c = gaussian_pair(activation, a, 0.0, b, 0.0, c)
    return value, 2.0 * a * d_a1 + b * c * d_c, a * b * d_c


def pair_kernel_gradient(activation, a, b, c):
    """(∂K/∂a, ∂K/∂c) of K(a, b, c) = E[σ(aX)σ(bY)] (right limits at a = 0), broadcasting.

    ∂_a K = E[σ'(aX) X σ(bY)], ∂_c K = ab E[σ'(aX)σ'(bY)] (Price's theorem); the series
    Σ_k c^k h_k'(a) h_k(b), Σ_k k c^{k−1} h_k(a) h_k(b) for |c| ≤ 1/2, else as in :func:`pair_kernel`.

    Parameters
    ----------
    activation : Activation
        The activation σ.
    a, b : array_like of float
        Scales, finite and ≥ 0.
    c : array_like of float
        Correlations in [−1, 1].

    Returns
    -------
    dK_da : ndarray
        ∂K/∂a, with the broadcast shape of ``a``, ``b``, ``c``.
    dK_dc : ndarray
        ∂K/∂c, same shape.

    Raises
    ------
    ValueError
        If ``activation`` is not an :class:`Activation`, ``a`` or ``b`` is negative or
        non-finite, ``c`` is non-finite or outside [−1, 1], or the shapes do not broadcast.

    Examples
    --------
    For σ(t) = erf(t/√2), ∂_c K = (2/π) q / (1 − q²c²)^{1/2} with q = ab / ((1 + a²)(1 + b²))^{1/2}:

    >>> import numpy as np
    >>> from meanfield import erf
    >>> da, dc = pair_kernel_gradient(erf(), 1.0, 2.0, 0.8)
    >>> q = 2.0 / np.sqrt(10.0)
    >>> round(float(dc), 6), round(float(2 / np.pi * q / np.sqrt(1 - (0.8 * q) ** 2)), 6)
    (0.466792, 0.466792)
    """
    check_instance(activation, Activation, "activation")
    a, b, c, shape = _pair_arguments(a, b, c)
    kind, p = activation.kernel_spec()
    if kind == KIND_PIECEWISE_LINEAR_TAILS:
        _, da, dc = _unbounded_pair(activation, a, b, c)
        return da.reshape(shape), dc.reshape(shape)
    series, a_s, b_s = _series_points(activation, kind, p, a, b)
    da, dc = _pair_gradient_many(kind, p, a, b, c, activation.hermite(a_s, K_SERIES - 1),
                                 activation.hermite(a_s, K_SERIES - 1, derivative=True),
                                 activation.hermite(b_s, K_SERIES - 1), series)
    return da.reshape(shape), dc.reshape(shape)

