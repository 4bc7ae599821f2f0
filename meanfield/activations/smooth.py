"""Smooth activations: tanh (and the sigmoid, a tanh), erf; Gaussian coefficients by quadrature."""
from __future__ import annotations

import math

import numpy as np

from .._validation import as_finite_array, check_int, check_real
from .._kernels.activation import KIND_ERF, KIND_TANH, _SQRT_2_OVER_PI, _SQRT_HALF
from .._kernels.gauss_moments import gauss_mean_many, gauss_pair_many
from .base import Activation

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
# Tanh: points per chunk of sampled tanh (chunk × nodes doubles: 4 MB at 2048 nodes).
_TANH_CHUNK = 256
# Tanh: a rule of P panels gives h_k to ~1e-14 while slope·a ≤ P/25 (measured against
# 8× finer rules, k ≤ 255); steeper points take up to 2^_MAX_LEVEL times the panels.
_PANELS_PER_STEEPNESS = 25.0
_MAX_LEVEL = 2
#: Most quadrature panels accepted (8 nodes each; 2^16 panels are 4 MB of nodes per level).
MAX_PANELS = 2**16

def _gauss_legendre_composite(lo, hi, panels, order):
    x, w = np.polynomial.legendre.leggauss(order)
    edges = np.linspace(lo, hi, panels + 1)
    half = 0.5 * np.diff(edges)
    mid = 0.5 * (edges[1:] + edges[:-1])
    nodes = (mid[:, None] + half[:, None] * x[None, :]).ravel()
    weights = (half[:, None] * w[None, :]).ravel()
    return nodes, weights


class _SmoothActivation(Activation):
    """A smooth activation whose one-variable Gaussian moments E σ(aG), E σ'(aG)G and E σ(aG)²
    are exact at every scale (the Hermite quadratures lose accuracy at steep scales and raise
    beyond :meth:`hermite_steepness`): computed by :mod:`meanfield.gaussian_integrals` (erf
    closed forms; tanh by the step-plus-remainder rule of :mod:`meanfield._kernels.wide_smooth` once
    slope·a ≥ 4)."""

    def gaussian_mean(self, a):
        """m(a) = E σ(aG), exact for every a ≥ 0.

        Parameters
        ----------
        a : array_like
            Non-negative, finite scales (any shape).

        Returns
        -------
        ndarray
            m(a), the shape of ``a``.

        Examples
        --------
        >>> from meanfield import sigmoid
        >>> float(sigmoid().gaussian_mean(1e12))   # σ − ½ is odd, at any scale
        0.5
        """
        a = as_finite_array(a, "a", nonnegative=True)
        return self._mean_parts(a)[0]

    def gaussian_mean_derivative(self, a):
        """m'(a) = E[σ'(aG) G] = 2a ∂_A E σ(m + √A G) at m = 0 (Gaussian integration by parts).

        Parameters
        ----------
        a : array_like
            Non-negative, finite scales (any shape).

        Returns
        -------
        ndarray
            m'(a), the shape of ``a``.

        Examples
        --------
        σ(t) = tanh(t − 1) has m(a) = E tanh(aG − 1); at a = 0, m'(0) = 0 (E G = 0):

        >>> from meanfield import Tanh
        >>> float(Tanh(center=1.0).gaussian_mean_derivative(0.0))
        0.0
        """
        a = as_finite_array(a, "a", nonnegative=True)
        return 2.0 * a * self._mean_parts(a)[2]

    def gaussian_second_moment(self, a):
        """E σ(aG)² = E σ(aX)σ(aY) at corr(X, Y) = 1, exact for every a ≥ 0.

        Parameters
        ----------
        a : array_like
            Non-negative, finite scales (any shape).

        Returns
        -------
        ndarray
            E σ(aG)², the shape of ``a``.

        Examples
        --------
        For erf(t/√2), E σ(aG)² = (2/π) arcsin(a²/(1 + a²)): 1/3 at a = 1.

        >>> from meanfield import erf
        >>> round(float(erf().gaussian_second_moment(1.0)), 12)
        0.333333333333
        """
        a = as_finite_array(a, "a", nonnegative=True)
        flat = np.ascontiguousarray(a, dtype=float).ravel()
        zero = np.zeros_like(flat)
        out = np.empty((6, flat.size))
        gauss_pair_many(*self.kernel_spec(), *self.kernel_spec(), zero, flat, zero, flat, np.ones_like(flat), out)
        return out[0].reshape(a.shape)

    def _mean_parts(self, a):
        """(M, ∂_m M, ∂_A M) at m = 0, s = a (checked a ≥ 0): rows of shape ``a.shape``
        (:func:`meanfield.gaussian_integrals.gaussian_mean` without the checks)."""
        flat = np.ascontiguousarray(a, dtype=float).ravel()
        out = np.empty((3, flat.size))
        gauss_mean_many(*self.kernel_spec(), np.zeros_like(flat), flat, out)
        return out.reshape((3,) + a.shape)


def _check_steepness(a, limit, panels):
    """Raise when some slope·a exceeds the accurate range of a Hermite quadrature."""
    steep = float(np.max(a, initial=0.0))
    if steep > limit:
        raise ValueError(f"a: slope·a = {steep:.3g} exceeds {limit:.3g}, the range where the Hermite "
                         f"coefficients of this activation are accurate to ~1e-14 (panels={panels}); "
                         "use more panels, or gaussian_mean / gaussian_pair / pair_kernel (exact at every scale)")


class Tanh(_SmoothActivation):
    """σ(t) = shift + amplitude · tanh(slope · (t − center)).

    Gaussian coefficients by a composite Gauss-Legendre rule on G ∈ [−12, 12]
    (the truncated tail has mass below 1e-32): ``panels`` × 8 nodes, accurate to
    ~1e-14 while slope·a ≤ panels/25 (the poles of tanh(slope·a·G) approach the real
    axis). Steeper points take a rule with 2 or 4 times the panels (to slope·a ≤
    4·panels/25 ≈ 41 by default); beyond, the error grows (~1e-10 at 1.5 times that).

    Parameters
    ----------
    amplitude, center, shift : float
        Finite.
    slope : float
        Positive, finite.
    panels : int
        Panels of the base rule, in [1, 2**16].

    Raises
    ------
    ValueError
        If a parameter is not a finite real number, ``slope`` ≤ 0, or ``panels`` is not an
        integer in [1, 2**16].

    Examples
    --------
    >>> sigma = Tanh()
    >>> round(float(sigma(1.0)), 6), sigma.sup_norm()
    (0.761594, 1.0)
    >>> h = sigma.hermite(1.0, 120)                         # Parseval: Σ_k h_k² = E σ(aG)²
    >>> bool(abs((h**2).sum() - sigma.gaussian_second_moment(1.0)) < 1e-12)
    True
    """

    name = "tanh"

    def __init__(self, amplitude=1.0, slope=1.0, center=0.0, shift=0.0, panels=256):
        params = [check_real(v, n) for n, v in
                  (("amplitude", amplitude), ("slope", slope), ("center", center), ("shift", shift))]
        if params[1] <= 0:
            raise ValueError(f"slope: must be positive, got {slope}")
        self.amplitude, self.slope, self.center, self.shift = params
        self._params = np.array(params)
        self.panels = check_int(panels, "panels", minimum=1, maximum=MAX_PANELS)
        self._rules = {}  # refinement level → (nodes, weights with φ)

    def __repr__(self):
        return (f"Tanh(amplitude={self.amplitude}, slope={self.slope}, "
                f"center={self.center}, shift={self.shift})")

    def kernel_spec(self):
        return KIND_TANH, self._params

    def sup_norm(self):
        return abs(self.shift) + abs(self.amplitude)

    def __call__(self, t):
        return self._sigma(np.asarray(t, dtype=float))

    def derivative(self, t):
        return self._dsigma(np.asarray(t, dtype=float))

    def _sigma(self, t):
        return self.shift + self.amplitude * np.tanh(self.slope * (t - self.center))

    def _dsigma(self, t):
        th = np.tanh(self.slope * (t - self.center))  # 1 − tanh²: no cosh overflow for large |t|
        return self.amplitude * self.slope * (1.0 - th * th)

    def hermite_steepness(self):
        """Largest slope·a where the Hermite coefficients are accurate to ~1e-14 (beyond, they raise).

        Returns
        -------
        float
            panels · 2^levels / 25 (41 with the default panels).

        Examples
        --------
        >>> round(Tanh().hermite_steepness(), 2)
        40.96
        """
        return self.panels * 2**_MAX_LEVEL / _PANELS_PER_STEEPNESS

    def _rule(self, level):
        """Nodes and weights (with φ) of the composite rule of panels · 2^level panels."""
        if level not in self._rules:
            nodes, w = _gauss_legendre_composite(-12.0, 12.0, self.panels * 2**level, 8)
            self._rules[level] = nodes, w * _INV_SQRT_2PI * np.exp(-0.5 * nodes**2)
        return self._rules[level]

    def _levels(self, a):
        """Per point the refinement level with slope·a ≤ panels · 2^level / 25 (≤ _MAX_LEVEL)."""
        need = _PANELS_PER_STEEPNESS * self.slope * a / self.panels
        return np.clip(np.ceil(np.log2(np.maximum(need, 1.0))), 0, _MAX_LEVEL).astype(int)

    @staticmethod
    def _node_hermite(g, kmax):
        """p[n, k] = He_k(g_n)/√k! (orthonormal, stable recurrence), k = 0..kmax."""
        p = np.empty((g.size, kmax + 1))
        p[:, 0] = 1.0
        if kmax >= 1:
            p[:, 1] = g
        for n in range(1, kmax):
            p[:, n + 1] = (g * p[:, n] - math.sqrt(n) * p[:, n - 1]) / math.sqrt(n + 1)
        return p

    def _tables(self, a, kmax, values=False, derivatives=False, second=False):
        """(h, dh, m2): k-major (kmax+1, a.size) tables of h_k(a), h_k'(a) and E σ(aG)²
        (None where not asked), by the node rule in chunks of _TANH_CHUNK points.

        With th = tanh(slope (a x_n − center)), weights w_n and orthonormal p_k = He_k/√k!,
        only th and th² are sampled and contracted (BLAS) with w_n p_k(x_n):
            h_k = shift E_k + amplitude Σ_n w_n p_k th,   E_k = Σ_n w_n p_k (= δ_k0),
            h_k' = E[σ'(aG) G p_k(G)] = amplitude · slope (√(k+1) D_{k+1} + √k D_{k−1}),
            D_k = Σ_n w_n p_k (1 − th²)   (x p_k = √(k+1) p_{k+1} + √k p_{k−1}),
            E σ(aG)² = shift² E_0 + 2 shift amplitude Σ_n w_n th + amplitude² Σ_n w_n th².
        """
        a = a.ravel()
        _check_steepness(self.slope * a, self.hermite_steepness(), self.panels)
        h = np.empty((kmax + 1, a.size)) if values else None
        dh = np.empty((kmax + 1, a.size)) if derivatives else None
        m2 = np.empty(a.size) if second else None
        levels = self._levels(a)
        for level in np.unique(levels):
            points = np.flatnonzero(levels == level)
            nodes, weights = self._rule(level)
            basis = self._node_hermite(nodes, kmax + 1) * weights[:, None]  # (nodes, kmax+2)
            buffer = np.empty((min(points.size, _TANH_CHUNK), nodes.size))  # reused: no page faults
            exact = basis.sum(axis=0)
            for start in range(0, points.size, _TANH_CHUNK):
                chunk = points[start:start + _TANH_CHUNK]
                if chunk[-1] - chunk[0] + 1 == chunk.size:  # contiguous (one level): a slice, no scatter
                    chunk = slice(chunk[0], chunk[-1] + 1)
                th = buffer[:len(a[chunk])]
                np.multiply.outer(self.slope * a[chunk], nodes, out=th)
                th -= self.slope * self.center
                np.tanh(th, out=th)
                self._contract(basis, exact, th, kmax, chunk, h, dh, m2)
        return h, dh, m2

    def _contract(self, basis, exact, th, kmax, chunk, h, dh, m2):
        """The sums of :meth:`_tables` for the points ``chunk`` from th = tanh(slope (a x_n − center)),
        exact = Σ_n w_n p_k."""
        linear = basis.T @ th.T  # (kmax+2, chunk): Σ_n w_n p_k th
        if h is not None:
            h[:, chunk] = self.shift * exact[:kmax + 1, None] + self.amplitude * linear[:kmax + 1]
        if dh is not None or m2 is not None:
            np.multiply(th, th, out=th)
            square = (basis.T if dh is not None else basis[:, :1].T) @ th.T  # Σ_n w_n p_k th²
        if dh is not None:
            ks = np.arange(kmax + 1)
            flat = exact[:, None] - square  # D_k
            part = np.sqrt(ks + 1.0)[:, None] * flat[1:]
            part[1:] += np.sqrt(ks[1:])[:, None] * flat[:kmax]
            dh[:, chunk] = self.amplitude * self.slope * part
        if m2 is not None:
            m2[chunk] = (self.shift**2 * exact[0] + 2.0 * self.shift * self.amplitude * linear[0]
                         + self.amplitude**2 * square[0])

    def hermite(self, a, kmax, derivative=False):
        a = as_finite_array(a, "a", nonnegative=True)
        kmax = check_int(kmax, "kmax", minimum=0)
        h, dh, _ = self._tables(a, kmax, values=not derivative, derivatives=derivative)
        return (dh if derivative else h).T.reshape(a.shape + (kmax + 1,))

    def hermite_table(self, a, kmax, second_moment=False, derivatives=True):
        a = as_finite_array(a, "a", nonnegative=True, ndim=1)
        kmax = check_int(kmax, "kmax", minimum=0)
        h, dh, m2 = self._tables(a, kmax, values=True, derivatives=derivatives, second=second_moment)
        return (h, dh, m2) if second_moment else (h, dh)


def sigmoid():
    """σ(t) = 1/(1 + e^{−t}) = ½ + ½ tanh(t/2), as a :class:`Tanh` (same Gaussian machinery).

    Returns
    -------
    Tanh

    Examples
    --------
    >>> round(float(sigmoid()(0.0)), 12), round(float(sigmoid()(2.0)), 6)
    (0.5, 0.880797)
    """
    return Tanh(amplitude=0.5, slope=0.5, center=0.0, shift=0.5)


class Erf(_SmoothActivation):
    """σ(t) = shift + amplitude · erf(slope · (t − center)/√2); the default erf(t/√2) = 2Φ(t) − 1
    is the Saad–Solla committee-machine activation, whose Gaussian pair integrals are
    bivariate normal probabilities (closed forms in :mod:`meanfield.gaussian_integrals`).

    Hermite coefficients (``hermite``) by a composite Gauss–Legendre rule on G ∈ [−12, 12]
    with ``panels`` × 8 nodes (σ is entire: ~1e-14 while slope·a ≤ panels/4).

    Parameters
    ----------
    amplitude, center, shift : float
        Finite.
    slope : float
        Positive, finite.
    panels : int
        Panels of the rule, in [1, 2**16].

    Raises
    ------
    ValueError
        If a parameter is not a finite real number, ``slope`` ≤ 0, or ``panels`` is not an
        integer in [1, 2**16].

    Examples
    --------
    >>> sigma = Erf()
    >>> round(float(sigma.gaussian_second_moment(1.0)), 12)   # (2/π) arcsin(a²/(1 + a²)) = 1/3
    0.333333333333
    """

    name = "erf"

    def __init__(self, amplitude=1.0, slope=1.0, center=0.0, shift=0.0, panels=64):
        params = [check_real(v, n) for n, v in
                  (("amplitude", amplitude), ("slope", slope), ("center", center), ("shift", shift))]
        if params[1] <= 0:
            raise ValueError(f"slope: must be positive, got {slope}")
        panels = check_int(panels, "panels", minimum=1, maximum=MAX_PANELS)
        self.amplitude, self.slope, self.center, self.shift = params
        self._params = np.array(params)
        self.panels = panels
        nodes, weights = _gauss_legendre_composite(-12.0, 12.0, int(panels), 8)
        self._nodes, self._weights = nodes, weights * _INV_SQRT_2PI * np.exp(-0.5 * nodes**2)

    def __repr__(self):
        return f"Erf(amplitude={self.amplitude}, slope={self.slope}, center={self.center}, shift={self.shift})"

    def kernel_spec(self):
        return KIND_ERF, self._params

    def hermite_steepness(self):
        """Largest slope·a where the Hermite coefficients are accurate to ~1e-14 (beyond, they raise).

        Returns
        -------
        float
            panels / 4 (16 with the default panels).

        Examples
        --------
        >>> Erf().hermite_steepness()
        16.0
        """
        return self.panels / 4.0

    def sup_norm(self):
        return abs(self.shift) + abs(self.amplitude)

    def __call__(self, t):
        from scipy.special import erf as _erf
        t = np.asarray(t, dtype=float)
        return self.shift + self.amplitude * _erf(_SQRT_HALF * self.slope * (t - self.center))

    def derivative(self, t):
        x = self.slope * (np.asarray(t, dtype=float) - self.center)
        return self.amplitude * self.slope * _SQRT_2_OVER_PI * np.exp(-0.5 * x * x)

    def hermite(self, a, kmax, derivative=False):
        """h_k(a) = Σ_n w_n σ(a x_n) p_k(x_n) (or h_k'(a) = Σ_n w_n σ'(a x_n) x_n p_k(x_n)),
        p_k = He_k/√k!, by the node rule.

        Parameters
        ----------
        a : array_like
            Non-negative, finite scales (any shape).
        kmax : int
            Highest index k, ≥ 0.
        derivative : bool, optional
            Return dh_k/da instead of h_k.

        Returns
        -------
        ndarray, shape (..., kmax + 1)
            ``out[..., k]`` = h_k(a) (or dh_k/da); the leading axes are those of ``a``.

        Examples
        --------
        >>> round(float(Erf().hermite(1.0, 1)[1]), 6)   # h_1(a) = a E σ'(aG) = 2a/√(2π(1 + a²))
        0.56419
        """
        a = as_finite_array(a, "a", nonnegative=True)
        kmax = check_int(kmax, "kmax", minimum=0)
        _check_steepness(self.slope * a, self.hermite_steepness(), self.panels)
        x, w = self._nodes, self._weights
        basis = Tanh._node_hermite(x, kmax) * w[:, None]  # (nodes, kmax+1)
        t = a.reshape(-1, 1) * x
        sampled = self.derivative(t) * x if derivative else self(t)
        return (sampled @ basis).reshape(a.shape + (kmax + 1,))


def erf():
    """σ(t) = erf(t/√2) = 2Φ(t) − 1 (:class:`Erf` with its defaults).

    Returns
    -------
    Erf

    Examples
    --------
    >>> round(float(erf()(1.0)), 6)   # 2Φ(1) − 1
    0.682689
    """
    return Erf()
