"""Piecewise-linear activations σ = y₀ + l t + Σ_q c_q (t − t_q)₊ and their Gaussian integrals.

For a standard normal G and a ≥ 0, h_k(a) = E[σ(aG) He_k(G)]/√k! (probabilists' Hermite He_k)
and dh_k/da have closed forms (Stein's identity E[f(G)He_k(G)] = E[f'(G)He_{k−1}(G)] reduces
them to φ, Φ and Hermite polynomials). At a = 0 every quantity is the right limit a → 0+
(never σ'(0) times something): this matters for activations with a kink at 0.
"""
from __future__ import annotations

import math

import numpy as np

from .._kernels.activation import KIND_PIECEWISE_LINEAR, KIND_PIECEWISE_LINEAR_TAILS
from .._kernels.pl_hermite import _pl_hermite_table, _pl_second_moment
from .._validation import as_finite_array, check_int, check_magnitude, check_real
from .base import Activation

# |τ| beyond this is numerically infinite for φ, Φ (φ(40) underflows to 0).
_TAU_CLIP = 40.0
#: Largest |knot|, |value| and |slope| a PiecewiseLinear accepts: the closed forms multiply two
#: of them (and a Gaussian scale), which stays finite in double precision below this.
MAX_MAGNITUDE = 1e100


class PiecewiseLinear(Activation):
    """σ linear between ``knots`` with the given ``values``; outside them linear with
    ``left_slope`` and ``right_slope`` (0 by default: constant, bounded σ).

    Written as σ(t) = y₀ + l t + Σ_i c_i (t − t_i)₊ with l the left slope and c_i the
    slope changes at the knots. Bounded σ (both tail slopes 0) is kind
    ``KIND_PIECEWISE_LINEAR``; otherwise ``KIND_PIECEWISE_LINEAR_TAILS`` (ReLU, leaky ReLU),
    which the exact isotropic radial model does not take (its Mehler bounds need
    bounded σ) but :class:`~meanfield.MeanFieldModel` does.

    Parameters
    ----------
    knots : array_like, shape (Q,)
        Strictly increasing t_1 < … < t_Q; Q ≥ 2 for bounded σ, Q ≥ 1 with a tail slope.
    values : array_like, shape (Q,)
        σ(t_i) at the knots.
    left_slope, right_slope : float
        Slopes of σ below t_1 and above t_Q.

    Attributes
    ----------
    coefs : ndarray, shape (Q,)
        The slope changes c_i.
    offset : float
        y₀ = σ(t_1) − l t_1.
    bounded : bool
        Both tail slopes are 0.

    Raises
    ------
    ValueError
        If ``knots`` has too few entries or is not strictly increasing, ``values`` has
        another shape, an entry is NaN or infinite, or a knot, value or slope (tails, or
        between knots) exceeds 1e100 in absolute value.

    Examples
    --------
    >>> sigma = PiecewiseLinear([0.0, 1.0], [0.0, 1.0])   # clip(t, 0, 1)
    >>> sigma([-1.0, 0.25, 3.0]).tolist(), sigma.coefs.tolist(), sigma.bounded
    ([0.0, 0.25, 1.0], [1.0, -1.0], True)
    >>> round(float(sigma.gaussian_mean(0.0)), 12)        # a → 0+: σ(0)
    0.0
    """

    name = "piecewise_linear"

    def __init__(self, knots, values, left_slope=0.0, right_slope=0.0):
        knots = as_finite_array(knots, "knots", ndim=1)
        values = as_finite_array(values, "values", ndim=1)
        left = check_real(left_slope, "left_slope")
        right = check_real(right_slope, "right_slope")
        bounded = left == 0.0 and right == 0.0
        if knots.size < (2 if bounded else 1):
            raise ValueError(f"knots: need at least {2 if bounded else 1} knot(s), got {knots.size}")
        if values.shape != knots.shape:
            raise ValueError(f"values: expected {knots.size} values (one per knot), got {values.size}")
        if np.any(np.diff(knots) <= 0):
            raise ValueError("knots: must be strictly increasing")
        for name, arr in (("knots", knots), ("values", values)):
            check_magnitude(arr, name, MAX_MAGNITUDE, "products of the Gaussian integrals overflow beyond")
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            slopes = np.diff(values) / np.diff(knots)
        for name, slope in (("left_slope", left), ("right_slope", right)):
            if abs(slope) > MAX_MAGNITUDE:
                raise ValueError(f"{name}: must lie in [-{MAX_MAGNITUDE:g}, {MAX_MAGNITUDE:g}], got {slope!r}")
        if not np.all(np.abs(slopes) <= MAX_MAGNITUDE):
            raise ValueError(f"values: slopes (v[i+1] - v[i])/(t[i+1] - t[i]) must lie in [-{MAX_MAGNITUDE:g}, "
                             f"{MAX_MAGNITUDE:g}] (knots too close or values too far apart), got "
                             f"{float(np.max(np.abs(slopes)))!r}")
        self.knots, self.values = knots, values
        self.left_slope, self.right_slope = left, right
        self.bounded = bounded
        self._segment_slopes = np.concatenate([[left], slopes, [right]])  # below t_1, …, above t_Q
        self.coefs = np.diff(self._segment_slopes)
        self.offset = float(values[0] - left * knots[0])  # σ(t) = offset + l t + Σ c_i (t − t_i)₊
        pairs = np.column_stack([knots, self.coefs]).ravel()
        if bounded:
            self._kind, self._params = KIND_PIECEWISE_LINEAR, np.concatenate([[self.offset], pairs])
        else:
            self._kind, self._params = KIND_PIECEWISE_LINEAR_TAILS, np.concatenate([[self.offset, left], pairs])

    def __repr__(self):
        tails = "" if self.bounded else f", left_slope={self.left_slope}, right_slope={self.right_slope}"
        return f"PiecewiseLinear(knots={self.knots.tolist()}, values={self.values.tolist()}{tails})"

    def __call__(self, t):
        # segment by segment, σ(t) = σ(t_q) + slope (t − t_q) from the last knot t_q ≤ t (from t_1 below
        # it): no two terms of size |t| cancel, whatever |t| (issue 31)
        t = np.asarray(t, dtype=float)
        right = np.searchsorted(self.knots, t, side="right")  # knots ≤ t: the segment's slope index
        anchor = np.maximum(right - 1, 0)
        return self.values[anchor] + self._segment_slopes[right] * (t - self.knots[anchor])

    def derivative(self, t):
        t = np.asarray(t, dtype=float)
        return self.left_slope + (self.coefs * (t[..., None] >= self.knots)).sum(-1)

    def kernel_spec(self):
        return self._kind, self._params

    def sup_norm(self):
        return float(np.max(np.abs(self.values))) if self.bounded else math.inf

    def _taus(self, a):
        """τ_i = t_i/a, clipped to ±40, with the a → 0+ limit at a = 0."""
        a = as_finite_array(a, "a", nonnegative=True)
        t = self.knots
        with np.errstate(divide="ignore", invalid="ignore"):
            tau = t / a[..., None]
        tau = np.where(a[..., None] == 0.0, np.sign(t) * _TAU_CLIP, tau)
        return a, np.clip(tau, -_TAU_CLIP, _TAU_CLIP)

    def hermite(self, a, kmax, derivative=False):
        a = as_finite_array(a, "a", nonnegative=True)
        kmax = check_int(kmax, "kmax", minimum=0)
        (table,) = self._hermite_tables(a.reshape(-1), kmax, not derivative, derivative)
        return np.ascontiguousarray(table.T).reshape(a.shape + (kmax + 1,))

    def hermite_table(self, a, kmax, second_moment=False, derivatives=True):
        a = as_finite_array(a, "a", nonnegative=True, ndim=1)
        kmax = check_int(kmax, "kmax", minimum=0)
        tables = self._hermite_tables(a, kmax, True, derivatives)
        tables = tables if derivatives else tables + (None,)
        return tables + (self.gaussian_second_moment(a),) if second_moment else tables

    def _hermite_tables(self, a, kmax, values, derivatives):
        """The requested k-major tables (h_k(a_m), then h_k'(a_m)) for 1-D a, one recurrence pass;
        the linear tail l t adds l a to h_1 and l to h_1'."""
        from scipy.special import ndtr  # deferred: import time (see tests/test_import_time.py)

        a, tau = self._taus(a)
        tau_t = np.ascontiguousarray(tau.T)
        out = [np.empty((kmax + 1, a.size)) if wanted else None for wanted in (values, derivatives)]
        _pl_hermite_table(a, tau_t, ndtr(-tau_t), self.offset, self.knots, self.coefs, *out)  # ndtr(−τ) = Φ(−τ)
        if kmax >= 1 and self.left_slope != 0.0:
            if out[0] is not None:
                out[0][1] += self.left_slope * a
            if out[1] is not None:
                out[1][1] += self.left_slope
        return tuple(x for x in out if x is not None)

    def gaussian_second_moment(self, a):
        a = as_finite_array(a, "a", nonnegative=True)
        if self._kind == KIND_PIECEWISE_LINEAR_TAILS:  # linear tails: E σ(aG)² grows like a² (bounded σ: exact)
            a = check_magnitude(a, "a")
        out = np.empty(a.size)
        _pl_second_moment(self._kind, self._params, np.ascontiguousarray(a, dtype=float).ravel(), out)
        return out.reshape(a.shape)


def relu():
    """σ(t) = max(t, 0).

    Returns
    -------
    PiecewiseLinear

    Examples
    --------
    >>> relu()([-1.0, 2.0]).tolist(), float(relu().derivative(0.0))   # σ'(0+) = 1, the right limit
    ([0.0, 2.0], 1.0)
    """
    return PiecewiseLinear([0.0], [0.0], right_slope=1.0)


def leaky_relu(negative_slope=0.01):
    """σ(t) = t for t ≥ 0, ``negative_slope`` · t below.

    Parameters
    ----------
    negative_slope : float

    Returns
    -------
    PiecewiseLinear

    Examples
    --------
    >>> leaky_relu(0.1)([-2.0, 3.0]).tolist()
    [-0.2, 3.0]
    """
    return PiecewiseLinear([0.0], [0.0], left_slope=negative_slope, right_slope=1.0)


def hard_tanh():
    """σ(t) = clip(t, −1, 1).

    Returns
    -------
    PiecewiseLinear

    Examples
    --------
    >>> hard_tanh()([-5.0, 0.5, 5.0]).tolist()
    [-1.0, 0.5, 1.0]
    """
    return PiecewiseLinear([-1.0, 1.0], [-1.0, 1.0])


def ramp():
    """The reference ramp of the isotropic Gaussians example: −2.5 for t ≤ 0.5, 7.5 for t ≥ 1.5.

    Returns
    -------
    PiecewiseLinear

    Examples
    --------
    >>> ramp()([0.0, 1.0, 2.0]).tolist()
    [-2.5, 2.5, 7.5]
    """
    return PiecewiseLinear([0.5, 1.5], [-2.5, 7.5])


def nonmonotone():
    """The non-monotone variant: knots (0, −2.5), (0.5, −4), (1.5, 7.5), with a kink at 0.

    Returns
    -------
    PiecewiseLinear

    Examples
    --------
    >>> float(nonmonotone().derivative(0.0)), float(nonmonotone().derivative(-1.0))   # σ'(0+), σ'(0−)
    (-3.0, 0.0)
    """
    return PiecewiseLinear([0.0, 0.5, 1.5], [-2.5, -4.0, 7.5])
