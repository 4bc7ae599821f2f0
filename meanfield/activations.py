"""Activations σ and their Gaussian (Hermite) coefficients.

For a standard normal G and a ≥ 0 the radial model needs

    h_k(a) = E[σ(aG) He_k(G)] / √k!        (probabilists' Hermite He_k)

and dh_k/da; h_0(a) = m(a) = E σ(aG).  For piecewise-linear σ these have
closed forms (Stein's identity E[f(G)He_k(G)] = E[f'(G)He_{k-1}(G)] reduces
them to φ, Φ and Hermite polynomials); for smooth σ they are computed by a
composite Gauss-Legendre rule in G.

Derivatives of σ are *right limits* σ'(t+) everywhere, including the kinks.
At a = 0 every quantity is the right limit a → 0+ (never σ'(0) times
something): this matters for activations with a kink at 0.

Every activation also exposes ``kernel_spec()`` = (kind, params), the plain
arrays that Numba kernels use to evaluate σ and σ' (see :func:`act_value`).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit
from scipy.special import ndtr

from ._gaussian import bvn_upper
from ._validation import as_finite_array

#: Activation kinds of the Numba kernels; ``params`` layouts:
#: bounded piecewise linear [y₀, t₁, c₁, …, t_Q, c_Q] (σ = y₀ + Σ_q c_q (t − t_q)₊, Σ_q c_q = 0);
#: tanh and erf [amplitude, slope, center, shift];
#: piecewise linear with linear tails [y₀, l, t₁, c₁, …] (σ = y₀ + l t + Σ_q c_q (t − t_q)₊).
KIND_PIECEWISE_LINEAR = 0
KIND_TANH = 1
KIND_ERF = 2
KIND_PIECEWISE_LINEAR_TAILS = 3
_SQRT_HALF = math.sqrt(0.5)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)

# |τ| beyond this is numerically infinite for φ, Φ (φ(40) underflows to 0).
_TAU_CLIP = 40.0
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
# Tanh: points per chunk of sampled tanh (chunk × nodes doubles: 4 MB at 2048 nodes).
_TANH_CHUNK = 256
# Tanh: a rule of P panels gives h_k to ~1e-14 while slope·a ≤ P/25 (measured against
# 8× finer rules, k ≤ 255); steeper points take up to 2^_MAX_LEVEL times the panels.
_PANELS_PER_STEEPNESS = 25.0
_MAX_LEVEL = 2


@njit(cache=True, inline="always")
def _pl_start(kind):
    """Index of the first knot in the params of a piecewise-linear kind (after y₀, or y₀ and l)."""
    return 1 if kind == KIND_PIECEWISE_LINEAR else 2


@njit(cache=True)
def act_value(kind, p, t):
    """σ(t) for the activation encoded by (kind, p); an unknown kind raises."""
    if kind == KIND_PIECEWISE_LINEAR or kind == KIND_PIECEWISE_LINEAR_TAILS:
        start = _pl_start(kind)
        out = p[0] + (p[1] * t if start == 2 else 0.0)
        for i in range(start, p.shape[0], 2):
            if t > p[i]:
                out += p[i + 1] * (t - p[i])
        return out
    if kind == KIND_TANH:
        return p[3] + p[0] * math.tanh(p[1] * (t - p[2]))
    if kind == KIND_ERF:
        return p[3] + p[0] * math.erf(_SQRT_HALF * p[1] * (t - p[2]))
    raise ValueError("activation kind: unknown")


@njit(cache=True)
def act_value_deriv(kind, p, t):
    """(σ(t), σ'(t+)) as :func:`act_value`, :func:`act_deriv` (one tanh for tanh)."""
    if kind == KIND_TANH:
        th = math.tanh(p[1] * (t - p[2]))
        return p[3] + p[0] * th, p[0] * p[1] * (1.0 - th * th)
    return act_value(kind, p, t), act_deriv(kind, p, t)


@njit(cache=True)
def act_strip(kind, p):
    """Half-width of the strip |Im t| < width where the smooth σ is analytic (tanh(slope
    (t − center)) has its poles at Im t = ±π/(2 slope)); inf for piecewise-linear σ.
    erf is entire but grows like exp(slope² (Im t)²/2): 2/slope bounds that growth by e²."""
    if kind == KIND_PIECEWISE_LINEAR or kind == KIND_PIECEWISE_LINEAR_TAILS:
        return math.inf
    if kind == KIND_TANH:
        return 0.5 * math.pi / p[1]
    if kind == KIND_ERF:
        return 2.0 / p[1]
    raise ValueError("activation kind: unknown")


@njit(cache=True)
def act_deriv(kind, p, t):
    """σ'(t+) (right limit at kinks) for the activation encoded by (kind, p)."""
    if kind == KIND_PIECEWISE_LINEAR or kind == KIND_PIECEWISE_LINEAR_TAILS:
        start = _pl_start(kind)
        out = p[1] if start == 2 else 0.0
        for i in range(start, p.shape[0], 2):
            if t >= p[i]:
                out += p[i + 1]
        return out
    if kind == KIND_TANH:
        th = math.tanh(p[1] * (t - p[2]))
        return p[0] * p[1] * (1.0 - th * th)
    if kind == KIND_ERF:
        x = p[1] * (t - p[2])
        return p[0] * p[1] * _SQRT_2_OVER_PI * math.exp(-0.5 * x * x)
    raise ValueError("activation kind: unknown")


@njit(cache=True)
def act_deriv2(kind, p, t):
    """σ''(t) of a smooth activation (tanh, erf); piecewise-linear kinds raise (σ'' is a sum of deltas)."""
    if kind == KIND_TANH:
        th = math.tanh(p[1] * (t - p[2]))
        return -2.0 * p[0] * p[1] * p[1] * th * (1.0 - th * th)
    if kind == KIND_ERF:
        x = p[1] * (t - p[2])
        return -p[0] * p[1] * p[1] * _SQRT_2_OVER_PI * x * math.exp(-0.5 * x * x)
    raise ValueError("act_deriv2: needs a smooth activation kind")


@njit(cache=True)
def _pl_hermite_table(a, tau_t, upper_t, offset, knots, coefs, values, derivs):
    """values[k, m] = h_k(a_m), derivs[k, m] = h_k'(a_m) for σ = offset + Σ_i c_i (t − t_i)₊,
    k = 0..K−1 (either output may be None: Numba compiles it out), with tau_t[i, m] = t_i/a_m, upper_t = Φ(−tau_t) and the points m in the
    inner loops (vectorised). With q_n(τ) = φ(τ)He_n(τ)/√n! (stable three-term recurrence):
        h_0 = offset + Σ_i c_i (a q_0(τ_i) − t_i Φ(−τ_i)),  h_1 = a Σ_i c_i Φ(−τ_i),
        h_k = a Σ_i c_i q_{k−2}(τ_i) / √(k(k−1))                             (k ≥ 2),
        h_0' = Σ_i c_i q_0(τ_i),  h_1' = Σ_i c_i (Φ(−τ_i) + τ_i q_0(τ_i)),
        h_k' = Σ_i c_i [q_{k−2}(τ_i)/√(k(k−1)) + τ_i q_{k−1}(τ_i)/√k]        (k ≥ 2)."""
    n_k, n_m = (values if values is not None else derivs).shape
    q_prev = np.empty(n_m)  # q_{k−2}(τ_i) per point
    q = np.empty(n_m)  # q_{k−1}(τ_i)
    for k in range(n_k):
        for m in range(n_m):
            if values is not None:
                values[k, m] = offset if k == 0 else 0.0
            if derivs is not None:
                derivs[k, m] = 0.0
    for i in range(knots.shape[0]):
        c, knot = coefs[i], knots[i]
        t, up = tau_t[i], upper_t[i]
        for m in range(n_m):
            q_prev[m] = _INV_SQRT_2PI * math.exp(-0.5 * t[m] * t[m])
            q[m] = t[m] * q_prev[m]
            if values is not None:
                values[0, m] += c * (a[m] * q_prev[m] - knot * up[m])
                if n_k > 1:
                    values[1, m] += a[m] * c * up[m]
            if derivs is not None:
                derivs[0, m] += c * q_prev[m]
                if n_k > 1:
                    derivs[1, m] += c * (up[m] + t[m] * q_prev[m])
        for k in range(2, n_k):
            inv_pair = 1.0 / math.sqrt(k * (k - 1))
            inv_root = 1.0 / math.sqrt(k)
            root_prev = math.sqrt(k - 1)
            for m in range(n_m):
                qp, qq = q_prev[m], q[m]
                if values is not None:
                    values[k, m] += a[m] * c * qp * inv_pair
                if derivs is not None:
                    derivs[k, m] += c * (qp * inv_pair + t[m] * qq * inv_root)
                q_prev[m] = qq
                q[m] = (t[m] * qq - root_prev * qp) * inv_root


@njit(cache=True)
def _pl_second_moment(kind, p, a, out):
    """out[m] = E σ(a_m G)² for σ = y₀ + l t + Σ_q c_q (t − t_q)₊, with h_q = t_q/a:
        σ(aG) = y₀ + l a G + a Σ_q c_q (G − h_q)₊,   E(G − h)₊ = φ(h) − hΦ(−h),
        E G(G − h)₊ = Φ(−h),   E(G − h)₊(G − k)₊ = (1 + hk)Φ(−k) − hφ(k)   (k = max(h, k));
    at a = 0, σ(0)²."""
    start = 1 if kind == KIND_PIECEWISE_LINEAR else 2
    left = 0.0 if kind == KIND_PIECEWISE_LINEAR else p[1]
    for m in range(a.shape[0]):
        s = a[m]
        if s < 1e-100:
            v = act_value(kind, p, 0.0)
            out[m] = v * v
            continue
        total = p[0] * p[0] + left * left * s * s
        for q in range(start, p.shape[0], 2):
            h, c = p[q] / s, p[q + 1]
            ramp = _INV_SQRT_2PI * math.exp(-0.5 * h * h) - h * 0.5 * math.erfc(h * _SQRT_HALF)
            total += 2.0 * c * s * (p[0] * ramp + left * s * 0.5 * math.erfc(h * _SQRT_HALF))
            for r in range(start, p.shape[0], 2):
                k = p[r] / s
                lo, hi = min(h, k), max(h, k)
                both = (1.0 + lo * hi) * 0.5 * math.erfc(hi * _SQRT_HALF) - lo * _INV_SQRT_2PI * math.exp(-0.5 * hi * hi)
                total += c * p[r + 1] * s * s * both
        out[m] = total


class Activation:
    """Base class: a bounded activation σ with Gaussian coefficients."""

    name = "activation"

    def __call__(self, t):  # pragma: no cover - abstract
        """σ(t), vectorised."""
        raise NotImplementedError

    def derivative(self, t):  # pragma: no cover - abstract
        """σ'(t+): the right derivative (equal to σ' away from kinks)."""
        raise NotImplementedError

    def kernel_spec(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def sup_norm(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def hermite(self, a, kmax, derivative=False):  # pragma: no cover - abstract
        """h_k(a) (or dh_k/da) for k = 0..kmax, shape a.shape + (kmax+1,)."""
        raise NotImplementedError

    def hermite_table(self, a, kmax, second_moment=False, derivatives=True):
        """(h, dh) with h[k, m] = h_k(a_m), dh[k, m] = dh_k/da(a_m), k = 0..kmax, for 1-D ``a``
        (k-major, C-contiguous: the layout of the pair kernels; dh None unless ``derivatives``);
        with ``second_moment``, (h, dh, E σ(a_m G)²), from the same samples where σ is sampled."""
        a = as_finite_array(a, "a", nonnegative=True, ndim=1)
        tables = (np.ascontiguousarray(self.hermite(a, kmax).T),
                  np.ascontiguousarray(self.hermite(a, kmax, derivative=True).T) if derivatives else None)
        return tables + (self.gaussian_second_moment(a),) if second_moment else tables

    def gaussian_mean(self, a):
        """m(a) = E σ(aG)."""
        return self.hermite(a, 0)[..., 0]

    def gaussian_mean_derivative(self, a):
        """m'(a) = E[σ'(aG) G]."""
        return self.hermite(a, 0, derivative=True)[..., 0]

    def gaussian_second_moment(self, a):
        """E σ(aG)² (for a ≥ 0)."""
        raise NotImplementedError  # pragma: no cover - abstract


class PiecewiseLinear(Activation):
    """σ linear between ``knots`` with the given ``values``; outside them linear with
    ``left_slope`` and ``right_slope`` (0 by default: constant, bounded σ).

    Written as σ(t) = y₀ + l t + Σ_i c_i (t − t_i)₊ with l the left slope and c_i the
    slope changes at the knots. Bounded σ (both tail slopes 0) is kind
    ``KIND_PIECEWISE_LINEAR``; otherwise ``KIND_PIECEWISE_LINEAR_TAILS`` (ReLU, leaky ReLU),
    which the exact isotropic radial model does not take (its Mehler bounds need
    bounded σ) but :class:`~meanfield.MeanFieldModel` does.
    """

    name = "piecewise_linear"

    def __init__(self, knots, values, left_slope=0.0, right_slope=0.0):
        knots = as_finite_array(knots, "knots", ndim=1)
        values = as_finite_array(values, "values", ndim=1)
        left = _finite_scalar(left_slope, "left_slope")
        right = _finite_scalar(right_slope, "right_slope")
        bounded = left == 0.0 and right == 0.0
        if knots.size < (2 if bounded else 1):
            raise ValueError(f"knots: need at least {2 if bounded else 1} knot(s), got {knots.size}")
        if values.shape != knots.shape:
            raise ValueError(f"values: expected {knots.size} values (one per knot), got {values.size}")
        if np.any(np.diff(knots) <= 0):
            raise ValueError("knots: must be strictly increasing")
        slopes = np.diff(values) / np.diff(knots)
        if not np.all(np.isfinite(slopes)) or np.max(np.abs(values)) > 1e150:
            raise ValueError("values: slopes between knots overflow (values above 1e150 or knots too close)")
        self.knots, self.values = knots, values
        self.left_slope, self.right_slope = left, right
        self.bounded = bounded
        self.coefs = np.diff(np.concatenate([[left], slopes, [right]]))
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
        t = np.asarray(t, dtype=float)
        return (self.offset + self.left_slope * t
                + (self.coefs * np.maximum(t[..., None] - self.knots, 0.0)).sum(-1))

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
        (table,) = self._hermite_tables(a.reshape(-1), kmax, not derivative, derivative)
        return np.ascontiguousarray(table.T).reshape(a.shape + (kmax + 1,))

    def hermite_table(self, a, kmax, second_moment=False, derivatives=True):
        a = as_finite_array(a, "a", nonnegative=True, ndim=1)
        tables = self._hermite_tables(a, kmax, True, derivatives)
        tables = tables if derivatives else tables + (None,)
        return tables + (self.gaussian_second_moment(a),) if second_moment else tables

    def _hermite_tables(self, a, kmax, values, derivatives):
        """The requested k-major tables (h_k(a_m), then h_k'(a_m)) for 1-D a, one recurrence pass;
        the linear tail l t adds l a to h_1 and l to h_1'."""
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
        out = np.empty(a.size)
        _pl_second_moment(self._kind, self._params, np.ascontiguousarray(a, dtype=float).ravel(), out)
        return out.reshape(a.shape)


def relu():
    """σ(t) = max(t, 0)."""
    return PiecewiseLinear([0.0], [0.0], right_slope=1.0)


def leaky_relu(negative_slope=0.01):
    """σ(t) = t for t ≥ 0, ``negative_slope`` · t below."""
    return PiecewiseLinear([0.0], [0.0], left_slope=negative_slope, right_slope=1.0)


def hard_tanh():
    """σ(t) = clip(t, −1, 1)."""
    return PiecewiseLinear([-1.0, 1.0], [-1.0, 1.0])


def _finite_scalar(value, name):
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: must be a real number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name}: must be finite, got {value!r}")
    return v


def ramp():
    """The reference ramp: −2.5 for t ≤ 0.5, 7.5 for t ≥ 1.5."""
    return PiecewiseLinear([0.5, 1.5], [-2.5, 7.5])


def nonmonotone():
    """The non-monotone variant: knots (0, −2.5), (0.5, −4), (1.5, 7.5)."""
    return PiecewiseLinear([0.0, 0.5, 1.5], [-2.5, -4.0, 7.5])


def _gauss_legendre_composite(lo, hi, panels, order):
    x, w = np.polynomial.legendre.leggauss(order)
    edges = np.linspace(lo, hi, panels + 1)
    half = 0.5 * np.diff(edges)
    mid = 0.5 * (edges[1:] + edges[:-1])
    nodes = (mid[:, None] + half[:, None] * x[None, :]).ravel()
    weights = (half[:, None] * w[None, :]).ravel()
    return nodes, weights


class Tanh(Activation):
    """σ(t) = shift + amplitude · tanh(slope · (t − center)).

    Gaussian coefficients by a composite Gauss-Legendre rule on G ∈ [−12, 12]
    (the truncated tail has mass below 1e-32): ``panels`` × 8 nodes, accurate to
    ~1e-14 while slope·a ≤ panels/25 (the poles of tanh(slope·a·G) approach the real
    axis). Steeper points take a rule with 2 or 4 times the panels (to slope·a ≤
    4·panels/25 ≈ 41 by default); beyond, the error grows (~1e-10 at 1.5 times that).
    """

    name = "tanh"

    def __init__(self, amplitude=1.0, slope=1.0, center=0.0, shift=0.0, panels=256):
        params = []
        for name, value in (("amplitude", amplitude), ("slope", slope), ("center", center), ("shift", shift)):
            value = float(value)
            if not math.isfinite(value):
                raise ValueError(f"{name}: must be finite, got {value}")
            params.append(value)
        if params[1] <= 0:
            raise ValueError(f"slope: must be positive, got {slope}")
        self.amplitude, self.slope, self.center, self.shift = params
        self._params = np.array(params)
        self.panels = int(panels)
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
        h, dh, _ = self._tables(a, kmax, values=not derivative, derivatives=derivative)
        return (dh if derivative else h).T.reshape(a.shape + (kmax + 1,))

    def hermite_table(self, a, kmax, second_moment=False, derivatives=True):
        a = as_finite_array(a, "a", nonnegative=True, ndim=1)
        h, dh, m2 = self._tables(a, kmax, values=True, derivatives=derivatives, second=second_moment)
        return (h, dh, m2) if second_moment else (h, dh)

    def gaussian_second_moment(self, a):
        a = as_finite_array(a, "a", nonnegative=True)
        return self._tables(a, 0, second=True)[2].reshape(a.shape)


def sigmoid():
    """σ(t) = 1/(1 + e^{−t}) = ½ + ½ tanh(t/2), as a :class:`Tanh` (same Gaussian machinery)."""
    return Tanh(amplitude=0.5, slope=0.5, center=0.0, shift=0.5)


class Erf(Activation):
    """σ(t) = shift + amplitude · erf(slope · (t − center)/√2); the default erf(t/√2) = 2Φ(t) − 1
    is the Saad–Solla committee-machine activation, whose Gaussian pair integrals are
    bivariate normal probabilities (closed forms in :mod:`meanfield.gaussian_integrals`).

    Hermite coefficients (``hermite``) by a composite Gauss–Legendre rule on G ∈ [−12, 12]
    with ``panels`` × 8 nodes (σ is entire: ~1e-14 while slope·a ≤ panels/4).
    """

    name = "erf"

    def __init__(self, amplitude=1.0, slope=1.0, center=0.0, shift=0.0, panels=64):
        params = [_finite_scalar(v, n) for n, v in
                  (("amplitude", amplitude), ("slope", slope), ("center", center), ("shift", shift))]
        if params[1] <= 0:
            raise ValueError(f"slope: must be positive, got {slope}")
        if isinstance(panels, bool) or not isinstance(panels, (int, np.integer)) or panels < 1:
            raise ValueError(f"panels: must be an integer >= 1, got {panels!r}")
        self.amplitude, self.slope, self.center, self.shift = params
        self._params = np.array(params)
        nodes, weights = _gauss_legendre_composite(-12.0, 12.0, int(panels), 8)
        self._nodes, self._weights = nodes, weights * _INV_SQRT_2PI * np.exp(-0.5 * nodes**2)

    def __repr__(self):
        return f"Erf(amplitude={self.amplitude}, slope={self.slope}, center={self.center}, shift={self.shift})"

    def kernel_spec(self):
        return KIND_ERF, self._params

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
        p_k = He_k/√k!, by the node rule."""
        a = as_finite_array(a, "a", nonnegative=True)
        x, w = self._nodes, self._weights
        basis = Tanh._node_hermite(x, kmax) * w[:, None]  # (nodes, kmax+1)
        t = a.reshape(-1, 1) * x
        sampled = self.derivative(t) * x if derivative else self(t)
        return (sampled @ basis).reshape(a.shape + (kmax + 1,))

    def gaussian_second_moment(self, a):
        """E σ(aG)² = κ² + 2κν Φ(h) + ν² P(Z₁ ≤ h, Z₂ ≤ h), σ = κ + ν Φ(γ(t − t₀)),
        h = −γt₀/√(1 + γ²a²), corr(Z₁, Z₂) = γ²a²/(1 + γ²a²)."""
        a = as_finite_array(a, "a", nonnegative=True)
        kappa, nu, gamma = self.shift - self.amplitude, 2.0 * self.amplitude, self.slope
        q2 = 1.0 + gamma**2 * a**2
        h = -gamma * self.center / np.sqrt(q2)
        rho = gamma**2 * a**2 / q2
        both = np.vectorize(bvn_upper)(-h, -h, rho)
        return kappa**2 + 2 * kappa * nu * ndtr(h) + nu**2 * both


def erf():
    """σ(t) = erf(t/√2) (:class:`Erf` with its defaults)."""
    return Erf()
