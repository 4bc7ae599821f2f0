"""Tests of meanfield.wasserstein against independent closed forms and brute force."""
from types import SimpleNamespace

import numpy as np
import ot
import pytest
from scipy import integrate, stats

from meanfield.wasserstein import (
    W2Result,
    w1_empirical_1d,
    w1_radial,
    w2_empirical_1d,
    w2_marginals,
    w2_particles,
    w2_radial,
)


# ---------------------------------------------------------------- brute force
def _emp_quantile(x, w):
    """Q(q) = smallest x_(i) with cumulative weight >= q (left-continuous)."""
    order = np.argsort(x)
    xs, cw = np.asarray(x, float)[order], np.cumsum(np.asarray(w, float)[order])
    cw /= cw[-1]
    return lambda q: xs[min(np.searchsorted(cw, q), len(xs) - 1)], cw


def _grid_quantile(density, edges):
    """Inverse of the piecewise-linear CDF (all cells must have positive mass)."""
    mass = np.asarray(density) * np.diff(edges)
    cdf = np.concatenate(([0.0], np.cumsum(mass))) / mass.sum()
    return lambda q: np.interp(q, cdf, edges), cdf


def _quad_distance(qa, qb, breaks, p):
    """(∫_0^1 |qa - qb|^p dq)^(1/p) by adaptive quadrature split at breakpoints."""
    pts = np.unique(np.clip(breaks, 0.0, 1.0))
    pts = pts[(pts > 0) & (pts < 1)]
    val, _ = integrate.quad(lambda q: abs(qa(q) - qb(q)) ** p, 0.0, 1.0,
                            points=pts, limit=10 * len(pts) + 50,
                            epsabs=1e-15, epsrel=1e-13)
    return val ** (1.0 / p)


# ---------------------------------------------------------------- w2_radial
@pytest.mark.parametrize("n", [1, 7, 40])
@pytest.mark.parametrize("edges", [np.linspace(0, 1, 6),
                                   np.array([0.0, 0.05, 0.3, 0.31, 0.8, 1.0])])
def test_midpoint_samples_vs_uniform(n, edges):
    x = (np.arange(1, n + 1) - 0.5) / n
    dens = np.full(edges.size - 1, 2.5)        # unnormalised on purpose
    w2 = w2_radial(x, dens, edges)
    assert isinstance(w2, float)
    assert w2 ** 2 == pytest.approx(1.0 / (12 * n ** 2), rel=1e-12)
    assert w1_radial(x, dens, edges) == pytest.approx(1.0 / (4 * n), rel=1e-12)


@pytest.mark.parametrize("c", [0.3, 1.1, 2.9, -1.0, 5.0])
def test_point_mass_vs_uniform(c):
    a, b = 0.5, 2.5
    edges = np.array([a, 0.7, 1.9, 2.0, b])
    dens = np.full(4, 0.37)
    mid = 0.5 * (a + b)
    w2_exact = np.sqrt((c - mid) ** 2 + (b - a) ** 2 / 12)
    if a <= c <= b:
        w1_exact = ((c - a) ** 2 + (b - c) ** 2) / (2 * (b - a))
    else:
        w1_exact = abs(c - mid)
    assert w2_radial([c], dens, edges) == pytest.approx(w2_exact, rel=1e-12)
    assert w1_radial([c], dens, edges) == pytest.approx(w1_exact, rel=1e-12)


def test_empty_cell_gap():
    # uniform on [0,1] ∪ [2,3] vs δ_1.5: W2² = ∫_0^1 (u-1.5)² du = 13/12, W1 = 1
    edges, dens = np.array([0.0, 1.0, 2.0, 3.0]), np.array([1.0, 0.0, 1.0])
    assert w2_radial([1.5], dens, edges) ** 2 == pytest.approx(13 / 12, rel=1e-12)
    assert w1_radial([1.5], dens, edges) == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_two_cell_vs_weighted_points_brute_force(seed):
    rng = np.random.default_rng(seed)
    edges, dens = np.array([0.0, 0.3, 1.0]), np.array([2.0, 0.5])
    x = rng.uniform(-0.2, 1.3, 9)
    w = rng.uniform(0.1, 1.0, 9)
    qe, cw = _emp_quantile(x, w)
    qg, cdf = _grid_quantile(dens, edges)
    breaks = np.concatenate((cw, cdf))
    for p, fn in [(2, w2_radial), (1, w1_radial)]:
        ref = _quad_distance(qe, qg, breaks, p)
        assert fn(x, dens, edges, weights=w) == pytest.approx(ref, rel=1e-9, abs=1e-14)


def test_random_grid_vs_brute_force():
    rng = np.random.default_rng(5)
    edges = np.cumsum(np.concatenate(([0.2], rng.uniform(0.05, 0.4, 12))))
    dens = rng.uniform(0.1, 3.0, 12)
    x = rng.normal(1.5, 1.0, 30)
    qe, cw = _emp_quantile(x, np.ones(30))
    qg, cdf = _grid_quantile(dens, edges)
    ref = _quad_distance(qe, qg, np.concatenate((cw, cdf)), 2)
    assert w2_radial(x, dens, edges) == pytest.approx(ref, rel=1e-9)


def test_weights_equal_duplicates():
    edges, dens = np.linspace(0, 2, 5), np.array([1.0, 3.0, 0.5, 2.0])
    x = np.array([0.1, 0.9, 1.7])
    dup = w2_radial(np.array([0.1, 0.9, 0.9, 1.7, 1.7, 1.7]), dens, edges)
    assert w2_radial(x, dens, edges, weights=[1, 2, 3]) == pytest.approx(dup, rel=1e-13)


def test_gaussian_shift():
    m, m2, s = 1.0, 1.3, 0.5
    edges = np.linspace(m - 8 * s, m + 8 * s, 4001)
    dens = np.diff(stats.norm.cdf(edges, m, s)) / np.diff(edges)
    n = 20000
    x = stats.norm.ppf((np.arange(1, n + 1) - 0.5) / n, m2, s)
    assert w2_radial(x, dens, edges) == pytest.approx(abs(m - m2), abs=1e-4)
    assert w1_radial(x, dens, edges) == pytest.approx(abs(m - m2), abs=1e-4)


def test_density_object_and_snapshots():
    edges = np.linspace(0, 1, 4)
    snaps = np.array([[1.0, 1.0, 1.0], [0.0, 3.0, 0.0]])
    obj = SimpleNamespace(edges=edges, density=snaps)
    x = [0.5]
    # snapshot 0: uniform [0,1] -> W2² = 1/12; snapshot 1: uniform [1/3,2/3] -> 1/108
    assert w2_radial(x, obj, index=0) ** 2 == pytest.approx(1 / 12, rel=1e-12)
    assert w2_radial(x, obj, index=1) ** 2 == pytest.approx(1 / 108, rel=1e-12)
    assert w2_radial(x, snaps, edges, index=1) ** 2 == pytest.approx(1 / 108, rel=1e-12)
    one = SimpleNamespace(edges=edges, density=snaps[1])
    assert w1_radial(x, one) == pytest.approx(1 / 12, rel=1e-12)
    with pytest.raises(ValueError, match="index"):
        w2_radial(x, obj)
    with pytest.raises(ValueError, match="index"):
        w2_radial(x, obj, index=5)
    with pytest.raises(ValueError, match="index"):
        w2_radial(x, one, index=0)
    with pytest.raises(ValueError, match="edges"):
        w2_radial(x, one, edges=edges)


# ---------------------------------------------------------------- POT 1-D
def test_empirical_1d_sort_and_match():
    rng = np.random.default_rng(1)
    x, y = rng.normal(0, 1, 57), rng.normal(0.4, 2, 57)
    d = np.sort(x) - np.sort(y)
    w2 = w2_empirical_1d(x, y)
    assert isinstance(w2, float)
    assert w2 == pytest.approx(np.sqrt(np.mean(d ** 2)), rel=1e-12)
    assert w1_empirical_1d(x, y) == pytest.approx(np.mean(np.abs(d)), rel=1e-12)


def test_empirical_1d_weighted():
    # hand example: 0.25 δ0 + 0.75 δ1 vs δ0 -> W2² = 0.75, W1 = 0.75
    assert w2_empirical_1d([0.0, 1.0], [0.0], x_weights=[1, 3]) ** 2 == pytest.approx(0.75)
    assert w1_empirical_1d([0.0, 1.0], [0.0], x_weights=[1, 3]) == pytest.approx(0.75)
    rng = np.random.default_rng(2)
    x, y = rng.uniform(0, 3, 11), rng.uniform(1, 2, 8)
    wx, wy = rng.uniform(0.1, 1, 11), rng.uniform(0.1, 1, 8)
    qx, cx = _emp_quantile(x, wx)
    qy, cy = _emp_quantile(y, wy)
    breaks = np.concatenate((cx, cy))
    a, b = wx / wx.sum(), wy / wy.sum()
    for p, fn in [(2, w2_empirical_1d), (1, w1_empirical_1d)]:
        got = fn(x, y, x_weights=wx, y_weights=wy)
        assert got == pytest.approx(_quad_distance(qx, qy, breaks, p), rel=1e-9)
        lp = ot.emd2(a, b, np.abs(x[:, None] - y[None, :]) ** p, numItermax=10 ** 6)
        assert got == pytest.approx(float(lp) ** (1 / p), rel=1e-9)


# ---------------------------------------------------------------- particles
def test_particles_translation_exact():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(120, 3))
    shift = np.array([0.3, -0.2, 0.5])
    B = (A + shift)[rng.permutation(120)]
    res = w2_particles(A, B, method="exact")
    assert res.method == "exact" and res.n_projections is None
    assert float(res) == pytest.approx(np.linalg.norm(shift), rel=1e-10)


def test_particles_hand_examples_and_permutation():
    A = np.array([[0.0, 0.0], [1.0, 0.0]])
    B = np.array([[3.0, 0.0], [0.0, 1.0]])
    # matchings cost (9+2)/2 and (1+4)/2: W2² = 2.5
    assert float(w2_particles(A, B)) == pytest.approx(np.sqrt(2.5), rel=1e-12)
    # one point vs a weighted cloud: the only coupling, W2² = Σ b_j |a - y_j|²
    wb = np.array([1.0, 3.0])
    ref = np.sqrt(np.sum(wb / wb.sum() * np.sum((B - A[0]) ** 2, axis=1)))
    assert float(w2_particles(A[:1], B, weights_b=wb)) == pytest.approx(ref, rel=1e-12)
    rng = np.random.default_rng(4)
    C, D = rng.normal(size=(30, 4)), rng.normal(1, 1, size=(25, 4))
    wc = rng.uniform(0.1, 1, 30)
    base = float(w2_particles(C, D, weights_a=wc))
    pc, pd = rng.permutation(30), rng.permutation(25)
    perm = float(w2_particles(D[pd], C[pc], weights_b=wc[pc]))
    assert perm == pytest.approx(base, rel=1e-10)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sliced_below_exact(seed):
    rng = np.random.default_rng(seed)
    A, B = rng.normal(size=(80, 5)), rng.standard_t(3, size=(60, 5))
    ex = w2_particles(A, B, method="exact")
    sl = w2_particles(A, B, method="sliced", n_projections=200, seed=seed)
    assert sl.method == "sliced" and sl.n_projections == 200
    assert 0 < sl.distance <= ex.distance * (1 + 1e-12)


def test_sliced_translation_monte_carlo():
    # Per direction θ ~ U(S^{D-1}): W2²(θ#μ, θ#(μ+b)) = (θ·b)², E = |b|²/D,
    # Var = |b|⁴ Var(θ_1²) = |b|⁴ 2(D-1)/(D²(D+2))  (θ_1² ~ Beta(1/2,(D-1)/2)).
    rng = np.random.default_rng(6)
    D, K = 3, 2000
    A = rng.normal(size=(200, D))
    shift = np.array([0.3, -0.2, 0.5])
    b2 = shift @ shift
    sigma = b2 * np.sqrt(2 * (D - 1) / (D ** 2 * (D + 2)) / K)
    res = w2_particles(A, A + shift, method="sliced", n_projections=K, seed=11)
    assert abs(res.distance ** 2 - b2 / D) <= 5 * sigma
    # same seed -> same projections -> same value; the global RNG is untouched
    state = np.random.get_state()[1].copy()
    again = w2_particles(A, A + shift, method="sliced", n_projections=K, seed=11)
    assert again.distance == res.distance
    other = w2_particles(A, A + shift, method="sliced", n_projections=K, seed=12)
    assert other.distance != res.distance
    assert np.array_equal(np.random.get_state()[1], state)


def test_auto_method_choice():
    rng = np.random.default_rng(7)
    A, B = rng.normal(size=(40, 2)), rng.normal(size=(50, 2))
    assert w2_particles(A, B).method == "exact"
    r = w2_particles(A, B, max_exact=45, n_projections=64)
    assert r.method == "sliced" and r.n_projections == 64
    assert isinstance(r, W2Result)
    with pytest.raises(AttributeError):
        r.distance = 0.0                     # frozen


# ---------------------------------------------------------------- errors
E, D1 = np.linspace(0, 1, 3), np.ones(2)
P = np.zeros((3, 2))


@pytest.mark.parametrize("call, match", [
    (lambda: w2_radial([], D1, E), "radii"),
    (lambda: w2_radial([np.nan], D1, E), "radii"),
    (lambda: w2_radial([[0.1]], D1, E), "radii"),
    (lambda: w1_radial([0.1, np.inf], D1, E), "radii"),
    (lambda: w2_radial([0.1, 0.2], D1, E, weights=[1.0]), "weights"),
    (lambda: w2_radial([0.1, 0.2], D1, E, weights=[1.0, -0.5]), "weights"),
    (lambda: w2_radial([0.1, 0.2], D1, E, weights=[0.0, 0.0]), "weights"),
    (lambda: w2_radial([0.1, 0.2], D1, E, weights=[np.nan, 1.0]), "weights"),
    (lambda: w2_radial([0.1], D1), "edges"),
    (lambda: w2_radial([0.1], D1, [0.0, 1.0, 1.0]), "edges"),
    (lambda: w2_radial([0.1], D1, [0.0, 2.0, 1.0]), "edges"),
    (lambda: w2_radial([0.1], [1.0], [0.0]), "edges"),
    (lambda: w2_radial([0.1], [1.0, -1.0], E), "density"),
    (lambda: w2_radial([0.1], [1.0, 1.0, 1.0], E), "density"),
    (lambda: w2_radial([0.1], [0.0, 0.0], E), "density"),
    (lambda: w2_radial([0.1], [np.nan, 1.0], E), "density"),
    (lambda: w2_empirical_1d([], [1.0]), "x"),
    (lambda: w2_empirical_1d([1.0], [np.nan]), "y"),
    (lambda: w1_empirical_1d([1.0], [2.0], y_weights=[-1.0]), "y_weights"),
    (lambda: w2_empirical_1d([1.0, 2.0], [2.0], x_weights=[1.0]), "x_weights"),
    (lambda: w2_particles(np.zeros((0, 2)), P), "W_a"),
    (lambda: w2_particles(P, np.zeros(3)), "W_b"),
    (lambda: w2_particles(P, np.full((3, 2), np.inf)), "W_b"),
    (lambda: w2_particles(P, np.zeros((3, 3))), "dimension"),
    (lambda: w2_particles(P, P, weights_a=[1.0, 1.0]), "weights_a"),
    (lambda: w2_particles(P, P, weights_b=[1.0, -1.0, 1.0]), "weights_b"),
    (lambda: w2_particles(P, P, weights_b=[0.0, 0.0, 0.0]), "weights_b"),
    (lambda: w2_particles(P, P, method="bogus"), "method"),
    (lambda: w2_particles(P, P, method="sliced", n_projections=0), "n_projections"),
])
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_w2_radial_with_cells_below_cumulative_round_off():
    """Tail cells of mass 1e-200 (as a PDE tail produces), after a cumulative sum that
    rounds below 1, change nothing."""
    body = np.full(10, 1.0)  # ten unit-mass cells: Σ 0.1 rounds to 0.9999999999999999
    edges = np.arange(13.0)
    dens = np.concatenate([body, [1e-200, 1e-190]])
    pts = np.arange(10) + 0.5  # midpoints: W2² = 1/12, W1 = 1/4 exactly
    assert w2_radial(pts, dens, edges=edges) == pytest.approx(np.sqrt(1.0 / 12.0), rel=1e-12)
    assert w1_radial(pts, dens, edges=edges) == pytest.approx(0.25, rel=1e-12)


def test_w2_radial_with_subnormal_head_cells():
    """Head cells of subnormal mass (a PDE density near r = 0 underflowing): the cumulative
    sum moves by ~1e-310 there, so the quantile slope width/mass would overflow; the
    distance must stay finite and equal the one without those cells."""
    edges = np.arange(13.0)
    dens = np.concatenate([[3e-310, 5e-311], np.full(10, 1.0)])
    pts = np.arange(10) + 2.5  # midpoints of the ten unit cells
    assert w2_radial(pts, dens, edges=edges) == pytest.approx(np.sqrt(1.0 / 12.0), rel=1e-12)
    assert w1_radial(pts, dens, edges=edges) == pytest.approx(0.25, rel=1e-12)


# ------------------------------------------------- huge inputs (scaled form, W_p(cx, cy) = c W_p(x, y))
def _sorted_quantile_w2(x, y):
    """W2 of two equal-size uniform samples by the sorted-quantile formula, in Python floats
    scaled by hand: (Σ (x_(i) − y_(i))² / n)^{1/2} with x, y divided by their largest |entry|."""
    scale = max(abs(v) for v in list(x) + list(y))
    gaps = [(a / scale - b / scale) ** 2 for a, b in zip(sorted(x), sorted(y))]
    return (sum(gaps) / len(gaps)) ** 0.5 * scale


@pytest.mark.parametrize("c", [1e200, 1e-200, 1e300])
def test_w2_empirical_1d_at_huge_and_tiny_scales(c):
    """W2(δ_c, δ_−c) = 2c, and the sorted-quantile formula at c = 1e±200 (the squares overflowed:
    w2_empirical_1d([1e200], [-1e200]) was NaN)."""
    assert w2_empirical_1d([c], [-c]) == pytest.approx(2 * c, rel=1e-15)
    assert w1_empirical_1d([c], [-c]) == pytest.approx(2 * c, rel=1e-15)
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal(7) * c, rng.standard_normal(7) * c + c
    assert w2_empirical_1d(x, y) == pytest.approx(_sorted_quantile_w2(x, y), rel=1e-13)


def test_distances_are_scale_invariant_at_1e200():
    """W(cx, cy) = c W(x, y) at c = 1e200 vs c = 1 for every distance of the module (each was inf
    or NaN at c = 1e200)."""
    c = 1e200
    rng = np.random.default_rng(2)
    A, B = rng.standard_normal((40, 3)), rng.standard_normal((50, 3)) + 0.5
    for method in ("exact", "sliced"):
        big = w2_particles(A * c, B * c, method=method).distance
        assert np.isfinite(big) and big == pytest.approx(c * w2_particles(A, B, method=method).distance, rel=1e-12)
    np.testing.assert_allclose(w2_marginals(A * c, B * c), c * w2_marginals(A, B), rtol=1e-13)
    edges, density = np.linspace(0.0, 2.0, 9), np.arange(1.0, 9.0)
    radii = np.abs(A[:, 0])
    for f in (w2_radial, w1_radial):
        assert f(radii * c, density, edges * c) == pytest.approx(c * f(radii, density, edges), rel=1e-13)


def test_w2_radial_at_1e200_closed_form():
    """δ_c against the uniform law on [0, c]: W2 = c/√3, W1 = c/2."""
    c = 1e200
    assert w2_radial([c], np.ones(10), np.linspace(0.0, c, 11)) == pytest.approx(c / 3**0.5, rel=1e-14)
    assert w1_radial([c], np.ones(10), np.linspace(0.0, c, 11)) == pytest.approx(c / 2, rel=1e-14)
