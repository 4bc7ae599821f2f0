"""Wasserstein distances between particle laws and PDE densities.

Radial (1-D) distances between an empirical law of radii and a
piecewise-constant density are computed *exactly* from the quantile
functions,

    W_p^p = ∫_0^1 |Q_emp(q) - Q_grid(q)|^p dq,      p = 1, 2,

where Q_emp is piecewise constant (jumps at the cumulative weights) and
Q_grid is piecewise linear (mass is uniform inside each cell).  On every
interval of the merged breakpoints the integrand is |c - (α + β q)|^p,
integrated in closed form.  (For p = 1 this equals ∫ |F_emp - F_grid| dr.)

Empirical-vs-empirical distances use POT (``ot``).  POT conventions, read
from ``ot/lp/solver_1d.py`` and ``ot/lp/_network_simplex.py``:
``ot.wasserstein_1d(..., p)`` returns W_p**p (weights must sum to 1),
``ot.emd2(a, b, ot.dist(xs, xt))`` returns the squared-euclidean cost W2²,
``ot.sliced_wasserstein_distance(..., p=2)`` returns SW2 itself.
All public functions here return the distance itself (not a power).

Every distance is computed in a scaled form: positions are divided by a common power of two
s ≥ max |x| / 2 (exact, no rounding), the distance of the scaled laws is computed, and multiplied
back, W_p(s x, s y) = s W_p(x, y). So the squares never overflow (or underflow) and the results
are finite and right for every finite input (e.g. W2(δ_{1e200}, δ_{−1e200}) = 2e200; inf only when the
distance itself exceeds the float maximum ~1.8e308).
"""
import math
from dataclasses import dataclass

import numpy as np

from ._validation import as_finite_array, check_int

__all__ = [
    "W2Result",
    "w1_empirical_1d",
    "w1_radial",
    "w2_empirical_1d",
    "w2_marginals",
    "w2_particles",
    "w2_radial",
]


# ----------------------------------------------------------------------------
# validation helpers
# ----------------------------------------------------------------------------
def _finite_array(x, name, ndim):
    """``x`` as a non-empty finite real float array with ``ndim`` dimensions."""
    return as_finite_array(x, name, ndim=ndim, nonempty=True)


def _normalised_weights(w, n, name):
    """Weights of length ``n`` (uniform if None), non-negative, summing to 1."""
    if w is None:
        return np.full(n, 1.0 / n)
    w = _finite_array(w, name, 1)
    if w.shape[0] != n:
        raise ValueError(f"{name} has length {w.shape[0]}, expected {n}")
    if np.any(w < 0):
        raise ValueError(f"{name} must be non-negative")
    total = w.sum()
    if total <= 0:
        raise ValueError(f"{name} must have a positive sum")
    return w / total


def _weighted_sample_1d(x, w, name, wname):
    """Validated 1-D sample sorted by value, with normalised weights."""
    x = _finite_array(x, name, 1)
    w = _normalised_weights(w, x.shape[0], wname)
    order = np.argsort(x, kind="stable")
    return x[order], w[order]


def _common_scale(*arrays):
    """s = 2^k with max |entry| ∈ [s/2, 2s) (1 if every entry is 0): x/s is exact and lies in
    [−2, 2], so W_p(x, y) = s W_p(x/s, y/s) forms no overflowing (or underflowing) square."""
    largest = max(float(np.max(np.abs(a))) for a in arrays)
    return 1.0 if largest == 0.0 else math.ldexp(1.0, math.frexp(largest)[1] - 1)


def _grid_density(density, edges, index):
    """(edges, normalised cell masses) of a piecewise-constant density.

    ``density`` is an object with ``.edges`` and ``.density`` or an array of
    cell densities (per unit length) with ``edges`` given; 2-D density arrays
    are snapshots, one row per time, selected by ``index``.
    """
    if hasattr(density, "edges") and hasattr(density, "density"):
        if edges is not None:
            raise ValueError("edges must be None when density carries its own edges")
        edges, values = density.edges, density.density
    else:
        if edges is None:
            raise ValueError("edges is required when density is an array")
        values = density
    edges = _finite_array(edges, "edges", 1)
    if edges.shape[0] < 2 or np.any(np.diff(edges) <= 0):
        raise ValueError("edges must have >= 2 strictly increasing entries")
    values = as_finite_array(values, "density", finite=False)  # the snapshot used is checked below
    if values.ndim == 2:
        if index is None:
            raise ValueError("index is required for a 2-D array of density snapshots")
        values = values[check_int(index, "index", minimum=0, maximum=values.shape[0] - 1)]
    elif index is not None:
        raise ValueError("index is only allowed for 2-D density snapshots")
    values = _finite_array(values, "density", 1)
    if values.shape[0] != edges.shape[0] - 1:
        raise ValueError(
            f"density has {values.shape[0]} cells, edges imply {edges.shape[0] - 1}"
        )
    if np.any(values < 0):
        raise ValueError("density must be non-negative")
    mass = values * np.diff(edges)
    total = mass.sum()
    if not total > 0:
        raise ValueError("density must have positive total mass")
    return edges, mass / total


# ----------------------------------------------------------------------------
# exact 1-D quantile integrals (empirical vs piecewise-constant density)
# ----------------------------------------------------------------------------
def _quantile_gaps(radii, density, edges, weights, index):
    """dq, f0, f1 on the merged q-intervals with f = (Q_emp - Q_grid)/s (linear there), and the
    common scale s of the sample and the edges (:func:`_common_scale`)."""
    x, w = _weighted_sample_1d(radii, weights, "radii", "weights")
    edges, mass = _grid_density(density, edges, index)
    scale = _common_scale(x, edges)
    x, edges = x / scale, edges / scale
    cum = np.concatenate(([0.0], np.cumsum(mass)))
    cum /= cum[-1]  # monotone and ending at exactly 1
    # cells whose mass does not move the cumulative sum (empty, or below its
    # round-off) are jumped over by Q_grid; the rest have G[j+1] > G[j] exactly
    keep = np.diff(cum) > 0
    left, width = edges[:-1][keep], np.diff(edges)[keep]
    G = np.concatenate((cum[:-1][keep], [1.0]))
    m = np.diff(G)
    W = np.cumsum(w)
    W[-1] = 1.0
    q = np.unique(np.concatenate((G, W)))
    q0, q1 = q[:-1], q[1:]
    mid = 0.5 * (q0 + q1)
    j = np.clip(np.searchsorted(G, mid, side="right") - 1, 0, m.size - 1)
    i = np.clip(np.searchsorted(W, mid, side="left"), 0, x.size - 1)
    # Q_grid(q) = left_j + width_j (q - G_j)/m_j, m_j = G_{j+1} - G_j > 0; the fraction is
    # formed first: it lies in [0, 1] even when m_j is subnormal (width/m_j would overflow)
    f0 = x[i] - (left[j] + width[j] * ((q0 - G[j]) / m[j]))
    f1 = x[i] - (left[j] + width[j] * ((q1 - G[j]) / m[j]))
    if not (np.all(np.isfinite(f0)) and np.all(np.isfinite(f1))):
        raise FloatingPointError("radial Wasserstein distance: non-finite quantile difference")
    return q1 - q0, f0, f1, scale


def w2_radial(radii, density, edges=None, weights=None, index=None):
    """Exact W2 between a weighted 1-D sample and a piecewise-constant density.

    W2² = ∫_0^1 (Q_emp(q) - Q_grid(q))² dq; on each merged q-interval of
    length Δ with linear integrand f from f0 to f1: Δ (f0² + f0 f1 + f1²)/3.

    Parameters
    ----------
    radii : array_like, shape (n,)
        Finite sample values (e.g. the particle radii ‖w_i‖), n ≥ 1.
    density : RadialPDESolution or array_like
        An object with ``.edges`` and ``.density`` (e.g. :class:`solvers.RadialPDESolution`),
        or the per-unit-length cell values, shape (M,) or (S, M) for S snapshots, with ``edges``.
        Non-negative with positive total mass; normalised to mass 1.
    edges : array_like, shape (M + 1,), optional
        Strictly increasing cell edges; required with an array ``density``, None with an object.
    weights : array_like, shape (n,), optional
        Non-negative sample weights with a positive sum (normalised); None = uniform.
    index : int, optional
        Snapshot row of a 2-D ``density`` (0 ≤ index < S); required for 2-D, None for 1-D.

    Returns
    -------
    float
        W2 itself (not its square), ≥ 0.

    Raises
    ------
    ValueError
        On a non-finite or empty sample, weights of the wrong length, negative or with zero sum,
        non-increasing edges, a density of the wrong length, negative or of zero mass, or
        ``edges``/``index`` given when not allowed (or missing when required).
    FloatingPointError
        If a quantile difference overflows.

    Examples
    --------
    A point mass at the centre of the uniform law on [0, 1]: W2 = (1/12)^{1/2}.

    >>> import numpy as np
    >>> edges = np.linspace(0.0, 1.0, 11)
    >>> round(w2_radial([0.5], np.ones(10), edges), 6), round(float(np.sqrt(1 / 12)), 6)
    (0.288675, 0.288675)
    """
    dq, f0, f1, scale = _quantile_gaps(radii, density, edges, weights, index)
    w2sq = np.sum(dq * (f0 * f0 + f0 * f1 + f1 * f1)) / 3.0
    return float(np.sqrt(max(w2sq, 0.0)) * scale)


def w1_radial(radii, density, edges=None, weights=None, index=None):
    """Exact W1 = ∫ |F_emp - F_grid| dr = ∫_0^1 |Q_emp(q) - Q_grid(q)| dq.

    Linear f from f0 to f1 over Δ: Δ |f0 + f1|/2 without a sign change,
    Δ (f0² + f1²) / (2 (|f0| + |f1|)) with one.  Arguments as in `w2_radial`.

    Parameters
    ----------
    radii : array_like, shape (n,)
        Finite sample values (e.g. the particle radii ‖w_i‖), n ≥ 1.
    density : RadialPDESolution or array_like
        An object with ``.edges`` and ``.density`` (e.g. :class:`solvers.RadialPDESolution`),
        or the per-unit-length cell values, shape (M,) or (S, M) for S snapshots, with ``edges``.
        Non-negative with positive total mass; normalised to mass 1.
    edges : array_like, shape (M + 1,), optional
        Strictly increasing cell edges; required with an array ``density``, None with an object.
    weights : array_like, shape (n,), optional
        Non-negative sample weights with a positive sum (normalised); None = uniform.
    index : int, optional
        Snapshot row of a 2-D ``density`` (0 ≤ index < S); required for 2-D, None for 1-D.

    Returns
    -------
    float
        W1, ≥ 0.

    Raises
    ------
    ValueError
        On a non-finite or empty sample, weights of the wrong length, negative or with zero sum,
        non-increasing edges, a density of the wrong length, negative or of zero mass, or
        ``edges``/``index`` given when not allowed (or missing when required).
    FloatingPointError
        If a quantile difference overflows.

    Examples
    --------
    A point mass at the centre of the uniform law on [0, 1]: W1 = E|U − ½| = 1/4.

    >>> import numpy as np
    >>> round(w1_radial([0.5], np.ones(10), np.linspace(0.0, 1.0, 11)), 6)
    0.25
    """
    dq, f0, f1, scale = _quantile_gaps(radii, density, edges, weights, index)
    a0, a1 = np.abs(f0), np.abs(f1)
    same = f0 * f1 >= 0
    denom = np.where(same, 1.0, a0 + a1)          # > 0 whenever signs differ
    piece = np.where(same, 0.5 * (a0 + a1), 0.5 * (f0 * f0 + f1 * f1) / denom)
    return float(np.sum(dq * piece) * scale)


# ----------------------------------------------------------------------------
# empirical vs empirical (POT)
# ----------------------------------------------------------------------------
def _wasserstein_1d_pot(x, y, x_weights, y_weights, p):
    import ot  # POT on first use: its backend imports torch and jax when installed (seconds)

    x, xw = _weighted_sample_1d(x, x_weights, "x", "x_weights")
    y, yw = _weighted_sample_1d(y, y_weights, "y", "y_weights")
    scale = _common_scale(x, y)
    cost = float(ot.wasserstein_1d(x / scale, y / scale, xw, yw, p=p))   # = (W_p / s) ** p
    return max(cost, 0.0) ** (1.0 / p) * scale


def w2_empirical_1d(x, y, x_weights=None, y_weights=None):
    """W2 between two weighted 1-D empirical laws, via ``ot.wasserstein_1d``.

    W2² = ∫_0^1 (Q_x(q) - Q_y(q))² dq (POT returns W2², we take the root).

    Parameters
    ----------
    x : array_like, shape (n,)
        Finite sample, n ≥ 1.
    y : array_like, shape (m,)
        Finite sample, m ≥ 1.
    x_weights : array_like, shape (n,), optional
        Non-negative weights of ``x`` with a positive sum (normalised); None = uniform.
    y_weights : array_like, shape (m,), optional
        Weights of ``y``, as ``x_weights``.

    Returns
    -------
    float
        W2 itself (not its square).

    Raises
    ------
    ValueError
        On an empty or non-finite sample, or invalid weights (wrong length, negative, zero sum).

    Examples
    --------
    A translation by c moves every quantile by c: W2 = |c|.

    >>> round(w2_empirical_1d([0.0, 1.0, 5.0], [2.0, 3.0, 7.0]), 6)
    2.0
    """
    return _wasserstein_1d_pot(x, y, x_weights, y_weights, p=2)


def w1_empirical_1d(x, y, x_weights=None, y_weights=None):
    """W1 = ∫_0^1 |Q_x(q) - Q_y(q)| dq between weighted 1-D empirical laws (POT).

    Parameters
    ----------
    x : array_like, shape (n,)
        Finite sample, n ≥ 1.
    y : array_like, shape (m,)
        Finite sample, m ≥ 1.
    x_weights : array_like, shape (n,), optional
        Non-negative weights of ``x`` with a positive sum (normalised); None = uniform.
    y_weights : array_like, shape (m,), optional
        Weights of ``y``, as ``x_weights``.

    Returns
    -------
    float
        W1.

    Raises
    ------
    ValueError
        On an empty or non-finite sample, or invalid weights (wrong length, negative, zero sum).

    Examples
    --------
    Half the mass moves by 1: W1 = 1/2 (and W2 = (1/2)^{1/2}).

    >>> round(w1_empirical_1d([0.0, 1.0], [0.0, 2.0]), 6), round(w2_empirical_1d([0.0, 1.0], [0.0, 2.0]), 6)
    (0.5, 0.707107)
    """
    return _wasserstein_1d_pot(x, y, x_weights, y_weights, p=1)


# ----------------------------------------------------------------------------
# D-dimensional particle clouds
# ----------------------------------------------------------------------------
@dataclass(frozen=True)
class W2Result:
    """A W2-type distance with the method that produced it.

    ``float(result)`` gives ``distance``.

    Parameters
    ----------
    distance : float
        The distance itself (not its square).
    method : {"exact", "sliced"}
        "exact": the true W2 from the network-simplex LP; "sliced": Monte-Carlo sliced W2,
        SW2 = (E_θ W2²(θ#μ, θ#ν))^{1/2} ≤ W2, a different, smaller quantity, not an
        approximation of W2.
    n_projections : int or None
        Number of random directions for "sliced"; None for "exact".

    Examples
    --------
    >>> r = W2Result(0.5, "exact")
    >>> float(r), r.method, r.n_projections
    (0.5, 'exact', None)
    """

    distance: float
    method: str
    n_projections: int | None = None

    def __float__(self):
        return float(self.distance)


def w2_particles(W_a, W_b, weights_a=None, weights_b=None, method="auto",
                 max_exact=3000, n_projections=500, seed=0):
    """W2 between particle clouds W_a (n_a, D) and W_b (n_b, D).

    "exact": W2² = min_γ Σ γ_ij |a_i - b_j|² = ``ot.emd2(a, b, ot.dist(W_a, W_b))``.
    "sliced": SW2 = ``ot.sliced_wasserstein_distance(..., p=2)``, a lower bound of W2, not W2.

    Parameters
    ----------
    W_a : array_like, shape (n_a, D)
        Finite particle positions, n_a ≥ 1.
    W_b : array_like, shape (n_b, D)
        Finite particle positions, same D.
    weights_a : array_like, shape (n_a,), optional
        Non-negative weights with a positive sum (normalised); None = uniform.
    weights_b : array_like, shape (n_b,), optional
        As ``weights_a``.
    method : {"auto", "exact", "sliced"}
        "auto": exact if max(n_a, n_b) ≤ ``max_exact``, else sliced.
    max_exact : int
        ≥ 0; the largest cloud size "auto" solves exactly.
    n_projections : int
        ≥ 1; random directions of the sliced estimate.
    seed : int
        Seeds a private ``RandomState(seed)`` drawing the directions (sliced only).

    Returns
    -------
    W2Result
        The distance and the method actually used (``float(result)`` is the distance).

    Raises
    ------
    ValueError
        On non-finite or empty clouds, different dimensions D, invalid weights, ``max_exact`` < 0,
        ``n_projections`` < 1 or an unknown ``method``.
    RuntimeError
        If the exact LP (``ot.emd2``) does not converge.

    Examples
    --------
    A rigid translation by a vector v: W2 = |v| (exact).

    >>> r = w2_particles([[0.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [1.0, 1.0]])
    >>> r.method, round(r.distance, 6)
    ('exact', 1.0)
    """
    import ot  # POT on first use: its backend imports torch and jax when installed (seconds)

    A = _finite_array(W_a, "W_a", 2)
    B = _finite_array(W_b, "W_b", 2)
    if A.shape[1] != B.shape[1]:
        raise ValueError(f"W_a and W_b dimensions differ: {A.shape[1]} vs {B.shape[1]}")
    a = _normalised_weights(weights_a, A.shape[0], "weights_a")
    b = _normalised_weights(weights_b, B.shape[0], "weights_b")
    max_exact = check_int(max_exact, "max_exact", minimum=0)
    scale = _common_scale(A, B)
    A, B = A / scale, B / scale
    if method == "auto":
        method = "exact" if max(A.shape[0], B.shape[0]) <= max_exact else "sliced"
    if method == "exact":
        cost, log = ot.emd2(a, b, ot.dist(A, B), numItermax=1_000_000, log=True)
        if log["result_code"] != 1:
            raise RuntimeError(f"ot.emd2 did not converge: {log['warning']}")
        return W2Result(float(np.sqrt(max(float(cost), 0.0)) * scale), "exact", None)
    if method == "sliced":
        n_projections = check_int(n_projections, "n_projections", minimum=1)
        sw = ot.sliced_wasserstein_distance(
            A, B, a, b, n_projections=n_projections, p=2,
            seed=np.random.RandomState(seed))
        return W2Result(float(sw) * scale, "sliced", n_projections)
    raise ValueError(f"method must be 'auto', 'exact' or 'sliced', got {method!r}")


def w2_marginals(X, Y, x_weights=None, y_weights=None):
    """W2 of each coordinate's marginal, shape (D,): the 1-D quantile formula
    W2² = ∫_0^1 (Q_X(q) − Q_Y(q))² dq per column (``ot.wasserstein_1d``).

    A lower bound of the joint W2 (any coupling of X, Y couples each marginal):
    W2(X, Y)² ≥ Σ_i W2(X_i, Y_i)², which checks :func:`w2_particles`.

    Parameters
    ----------
    X : array_like, shape (n, D)
        Finite sample, n ≥ 1.
    Y : array_like, shape (m, D)
        Finite sample, same D.
    x_weights : array_like, shape (n,), optional
        Non-negative row weights of ``X`` with a positive sum; None = uniform.
    y_weights : array_like, shape (m,), optional
        As ``x_weights``, for ``Y``.

    Returns
    -------
    ndarray, shape (D,)
        W2 of each coordinate's marginal.

    Raises
    ------
    ValueError
        On non-finite or empty samples, different dimensions D, or invalid weights.

    Examples
    --------
    >>> w2_marginals([[0.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [1.0, 1.0]])
    array([0., 1.])
    """
    A = _finite_array(X, "X", 2)
    B = _finite_array(Y, "Y", 2)
    if A.shape[1] != B.shape[1]:
        raise ValueError(f"X and Y dimensions differ: {A.shape[1]} vs {B.shape[1]}")
    return np.array([w2_empirical_1d(A[:, i], B[:, i], x_weights, y_weights) for i in range(A.shape[1])])
