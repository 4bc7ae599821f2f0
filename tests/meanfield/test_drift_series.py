"""The drift of piecewise-linear σ with the long Mehler series for pairs with |c| > ½ (instead of
the closed form): pair by pair against the closed form and against 1-D mpmath integrals, the
whole drift against the closed-form route and the pair-by-pair NumPy sum, and a flow."""
import math

import numpy as np
import pytest

import meanfield._kernels.mehler as mehler
import meanfield._series_plan as plan
from meanfield import IsotropicGaussians, PiecewiseLinear, nonmonotone, pair_kernel_gradient, ramp
from meanfield._kernels.mehler import GRADIENT_SERIES_TOL, _pair_series_terms
from meanfield._kernels.pair_direct import K_SERIES, pl_pair_gradient, pl_pair_gradient_both
from meanfield._series_plan import _series_tables
from solvers import init_gaussian, run_particle_flow

from _pairwise import add_special_pairs, pairwise_gradient


def _clustered(n, d, seed):
    """n particles in R^d whose directions are a few random axes plus noise: many pairs with
    |c| ∈ (½, 1) at every d (also at d = 40), radii in [0.05, 3], one at r = 1e-4."""
    rng = np.random.default_rng(seed)
    axes = rng.standard_normal((4, d))
    axes /= np.linalg.norm(axes, axis=1)[:, None]
    unit = axes[rng.integers(0, 4, n)] * rng.choice([-1.0, 1.0], n)[:, None] \
        + rng.uniform(0.05, 0.9, n)[:, None] * rng.standard_normal((n, d)) / math.sqrt(d)
    unit /= np.linalg.norm(unit, axis=1)[:, None]
    r = rng.uniform(0.05, 3.0, n)
    r[0] = 1e-4
    return r[:, None] * unit


def _series_sums(h, dh, c, terms, i, j):
    """NumPy replay of the series per scale: (Σ_{k<K} c^k h_k'(a) h_k(b), Σ_{k<K} k c^(k−1) h_k(a) h_k(b))."""
    k = np.arange(terms)
    da = np.sum(c**k * dh[:, :terms, i] * h[:, :terms, j], axis=1)
    dc = np.sum(k[1:] * c ** (k[1:] - 1) * h[:, 1:terms, i] * h[:, 1:terms, j], axis=1)
    return da, dc


@pytest.mark.parametrize("d", [2, 5, 20, 40])
@pytest.mark.parametrize("act", [nonmonotone(), ramp()], ids=["nonmonotone", "ramp"])
def test_long_series_equals_the_closed_form_pair_by_pair(d, act):
    """Every pair with |c| > ½ the per-pair bound lets the 1024-term series serve (at least 100
    of them, some with |c| > 0.9) equals the closed form (pair_kernel_gradient) per scale within
    1e-10 √(T_1(a) T_1(b)) for ∂_cK and (2/a) 1e-10 √(T_1(a) T_1(b)) for ∂_aK, T_1 = Var σ(aG)
    (the bound promises 1e-11; ∂_aK also 1e-13 relative for rounding: its k = 0 term
    h_0'(a) h_0(b) can exceed the scale by 1e7); the pairs it refuses are the ones near |c| = 1."""
    model = IsotropicGaussians(0.5, d, act)
    W = _clustered(60, d, seed=d)
    r = np.linalg.norm(W, axis=1)
    unit = W / r[:, None]
    h, dh, tails, _ = _series_tables(act, model.scales, r, 1024, True, True)
    cos = np.clip(unit @ unit.T, -1.0, 1.0)
    pairs, sums = [], []
    for i in range(r.size):
        for j in range(r.size):
            c = cos[i, j]
            if i == j or abs(c) <= 0.5:
                continue
            terms = _pair_series_terms(abs(c), i, j, tails, GRADIENT_SERIES_TOL, True)
            if terms == 0:
                assert abs(c) > 0.9
                continue
            pairs.append((i, j))
            sums.append(_series_sums(h, dh, c, terms, i, j))
    i, j = np.array(pairs).T
    c = cos[i, j]
    da, dc = (np.array([x[q] for x in sums]) for q in (0, 1))  # (pairs, scales)
    for si, s in enumerate(model.scales):
        exact_da, exact_dc = pair_kernel_gradient(act, s * r[i], s * r[j], c)
        scale = np.sqrt(tails[i, 1, si] * tails[j, 1, si])
        # the bound's 1e-11 (× 10), plus rounding relative to the k = 0 term h_0'(a) h_0(b)
        assert np.all(np.abs(dc[:, si] - exact_dc) <= 1e-10 * scale)
        assert np.all(np.abs(da[:, si] - exact_da) <= 1e-10 * scale * 2.0 / (s * r[i]) + 1e-13 * np.abs(exact_da))
    served, largest = i.size, np.abs(c).max()
    assert served >= 100 and largest > 0.9


def _mp_gradient(mpmath, p, a, b, c):
    """(∂_aK, ∂_cK) of K(a, b, c) = E σ(aX) σ(bY) for σ = y₀ + Σ_i c_i (t − t_i)₊ by 1-D mpmath
    quadrature (30 digits), with s = √(1 − c²):
        ∂_cK = ab Σ_ij c_i c_j ∫_{t_i/a}^∞ φ(x) Φ((c x − t_j/b)/s) dx,
        ∂_aK = Σ_i c_i ∫_{t_i/a}^∞ x φ(x) E[σ(bY) | X = x] dx,
        E[σ(bY) | X = x] = y₀ + Σ_j c_j b s [φ(u_j) + u_j Φ(u_j)],  u_j = (c x − t_j/b)/s."""
    mp = mpmath.mp
    with mp.workdps(30):
        a, b, c = mp.mpf(a), mp.mpf(b), mp.mpf(c)
        s = mp.sqrt(1 - c * c)
        knots = [(mp.mpf(p[2 * i + 1]), mp.mpf(p[2 * i + 2])) for i in range((len(p) - 1) // 2)]
        phi = lambda x: mp.exp(-x * x / 2) / mp.sqrt(2 * mp.pi)  # noqa: E731
        cdf = lambda x: mp.ncdf(x)  # noqa: E731

        def given(x):
            total = mp.mpf(p[0])
            for t, w in knots:
                u = (c * x - t / b) / s
                total += w * b * s * (phi(u) + u * cdf(u))
            return total

        da = sum(w * mp.quad(lambda x: x * phi(x) * given(x), [t / a, t / a + 10, mp.inf]) for t, w in knots)
        dc = a * b * sum(wi * wj * mp.quad(lambda x: phi(x) * cdf((c * x - tj / b) / s), [ti / a, ti / a + 10, mp.inf])
                         for ti, wi in knots for tj, wj in knots)
        return float(da), float(dc)


@pytest.mark.parametrize("a, b, c", [(0.7, 1.9, 0.62), (2.4, 0.5, -0.8), (1.3, 1.1, 0.93), (0.3, 2.8, 0.75)])
def test_series_and_closed_form_against_mpmath(a, b, c):
    """The long series (its own per-pair term count) and the closed form against mpmath for the
    non-monotone σ, within 1e-10 √(T_1(a) T_1(b)) (× 2/a for ∂_aK)."""
    mpmath = pytest.importorskip("mpmath")
    act = nonmonotone()
    _, p = act.kernel_spec()
    exact_da, exact_dc = _mp_gradient(mpmath, p, a, b, c)
    closed_da, closed_dc = pair_kernel_gradient(act, a, b, c)
    h, dh, tails, _ = _series_tables(act, np.ones(1), np.array([a, b]), 1024, True, True)
    terms = _pair_series_terms(abs(c), 0, 1, tails, GRADIENT_SERIES_TOL, True)
    assert terms > K_SERIES
    da, dc = _series_sums(h, dh, c, terms, 0, 1)
    scale = math.sqrt(tails[0, 1, 0] * tails[1, 1, 0])
    for value in (closed_dc, dc[0]):
        assert abs(value - exact_dc) <= 1e-10 * scale
    for value in (closed_da, da[0]):
        assert abs(value - exact_da) <= 1e-10 * scale * 2.0 / a + 1e-13 * abs(exact_da)


@pytest.mark.parametrize("d", [2, 5, 20, 40])
def test_drift_equals_the_closed_form_route(d):
    """potential_gradient with the long series (taken: the table is longer than K_SERIES) equals
    the closed-form route and the pair-by-pair NumPy sum (pair_kernel_gradient) within 1e-10 of
    each row's size, including the particle at r = 1e-4 (whose drift, with the bound relative to
    E σ² instead of Var σ, would err by ~1e-11 E σ² / r)."""
    model = IsotropicGaussians(0.5, d, nonmonotone())
    W = _clustered(120, d, seed=10 + d)
    unit_t = np.ascontiguousarray((W / np.linalg.norm(W, axis=1)[:, None]).T)
    assert plan._long_series_plan(unit_t)[0] > K_SERIES
    series = model.potential_gradient(W)
    truth = pairwise_gradient(model, W)
    closed = IsotropicGaussians(0.5, d, nonmonotone(), drift_series=False).potential_gradient(W)
    size = np.linalg.norm(truth, axis=1)[:, None]
    assert np.all(np.abs(series - truth) <= 1e-10 * size)
    assert np.all(np.abs(closed - truth) <= 1e-10 * size)


def test_flow_unchanged_by_the_long_series():
    """The kinked case at d = 5 (30% of the pairs beyond |c| = ½), N = 60 to t = 0.2 (with
    particles reaching the origin): the same radii with the long series (1024 terms) as with
    the closed form for those pairs, to 1e-9 (measured 2e-14 at N = 80, t = 0.3)."""
    model = IsotropicGaussians(0.5, 5, nonmonotone())
    W0 = init_gaussian(60, 5, 0.4, seed=2)
    assert plan._long_series_plan(np.ascontiguousarray((W0 / np.linalg.norm(W0, axis=1)[:, None]).T))[0] > K_SERIES
    series = run_particle_flow(model, W0, times=[0, 0.1, 0.2])
    closed = run_particle_flow(IsotropicGaussians(0.5, 5, nonmonotone(), drift_series=False), W0, times=[0, 0.1, 0.2])
    assert series.status == closed.status == "finished"
    np.testing.assert_allclose(series.radii, closed.radii, rtol=0, atol=1e-9)


@pytest.mark.parametrize("act", [ramp(), nonmonotone(), PiecewiseLinear([0.0, 0.01], [0.0, 1.0])],
                         ids=["ramp", "nonmonotone", "narrow"])
def test_both_scale_derivatives_from_one_evaluation(act):
    """(∂_aK, ∂_bK, ∂_cK) from one set of orthant moments equals pl_pair_gradient at (a, b, c) and
    at (b, a, c) (∂_bK(a, b, c) = ∂_aK(b, a, c)) within 1e-11 of the three's size (measured 5e-13:
    rounding in sums whose terms cancel), over scales 1e-3..50 (narrow segments, tiny scales: the
    fallback to two calls) and c up to 1 − 1e-9 and ±1."""
    _, p = act.kernel_spec()
    rng = np.random.default_rng(5)
    cases = [(*np.exp(rng.uniform(-7.0, 4.0, 2)), c) for c in
             np.concatenate([rng.uniform(-1, 1, 300), 1 - 10 ** rng.uniform(-9, -1, 200), [1.0, -1.0]])]
    cases += [(1e-120, 2.0, 0.99), (2.0, 1e-120, -0.98)]
    for a, b, c in cases:
        da, db, dc = pl_pair_gradient_both(p, a, b, c)
        da2, dc2 = pl_pair_gradient(p, a, b, c)
        db2 = pl_pair_gradient(p, b, a, c)[0]
        size = abs(da2) + abs(db2) + abs(dc2)
        assert abs(da - da2) + abs(db - db2) + abs(dc - dc2) <= 1e-11 * size, (a, b, c)


def test_mehler_tail_four_chains_equal_the_sum():
    """The four interleaved Horner chains of _mehler_tail equal the NumPy sum of the terms
    k_lo ≤ k < k_hi (every remainder mod 4, one term, none, |c| near 1) to 1e-14 relative."""
    rng = np.random.default_rng(6)
    factors, hj = rng.standard_normal((1024, 4)), rng.standard_normal((1024, 2))
    for k_lo, k_hi, c in [(43, 1024, 0.969), (43, 1023, -0.95), (2, 7, -0.6), (10, 12, 0.7), (3, 4, 0.8),
                          (5, 5, 0.9), (44, 600, 0.93), (2, 1000, 0.5)]:
        k = np.arange(k_lo, k_hi)
        u = factors[k, 0] * hj[k, 0] + factors[k, 1] * hj[k, 1]
        v = factors[k, 2] * hj[k, 0] + factors[k, 3] * hj[k, 1]
        expected = np.sum(c ** k * u), np.sum(c ** (k - 1.0) * v)
        got = mehler._mehler_tail(k_lo, k_hi, c, hj, factors)
        for value, truth, terms in zip(got, expected, (c ** k * u, c ** (k - 1.0) * v)):
            assert abs(value - truth) <= 1e-14 * (np.abs(terms).sum() + 1e-300)


@pytest.mark.parametrize("d", [2, 3])
def test_symmetric_closed_pass_takes_every_pair_once(d, monkeypatch):
    """At d = 2 and 3 the pairs beyond the long table's reach take the closed form once per pair
    i < j for both rows: the drift equals the one pass that evaluates every ordered pair to 1e-13
    of the largest row (a pair missed or counted twice moves two rows by ~1e-3 of it), with exact
    duplicates (c = ±1), a near duplicate and a particle at 0, and both equal the NumPy pair sum.
    At d = 20 the plan keeps the one pass (too few such pairs to pay for the second)."""
    model = IsotropicGaussians(0.8, d, ramp())
    W = add_special_pairs(init_gaussian(300, d, 0.8, seed=d))  # ≥ PARALLEL_MIN: threaded kernels
    W[1] = W[0]
    W[3] = -2.0 * W[2]  # ŵ_3 = −ŵ_2 exactly
    unit_t = np.ascontiguousarray((W / np.maximum(np.linalg.norm(W, axis=1), 1e-300)[:, None]).T)
    assert plan._long_series_plan(unit_t)[1]
    symmetric = model.potential_gradient(W)
    monkeypatch.setattr(plan, "CLOSED_PAIR_COST_RATIO", np.inf)
    assert not plan._long_series_plan(unit_t)[1]
    one_pass = model.potential_gradient(W)
    largest = np.linalg.norm(one_pass, axis=1).max()
    assert np.abs(symmetric - one_pass).max() <= 1e-13 * largest
    truth = pairwise_gradient(model, W)
    assert np.abs(symmetric - truth).max() <= 1e-10 * largest
    W20 = init_gaussian(300, 20, 0.8, seed=0)
    assert not plan._long_series_plan(np.ascontiguousarray((W20 / np.linalg.norm(W20, axis=1)[:, None]).T))[1]


def test_quick_reject_agrees_with_the_bound():
    """_takes_closed_form with the table's served cosine (no bound evaluation below it) decides
    every pair as the bound at the table's end does, over |c| ∈ (½, 1)."""
    model = IsotropicGaussians(0.8, 2, ramp())
    W = init_gaussian(200, 2, 0.8, seed=1)
    r = np.linalg.norm(W, axis=1)
    _, _, tails, _ = _series_tables(model.activation, model.scales, r, 1024, True, True)
    served = plan._served_cosine(tails)
    assert 0.96 < served < 0.97
    rng = np.random.default_rng(7)
    decisions = set()
    for _ in range(20000):
        i, j = rng.integers(0, r.size, 2)
        c = 1.0 - 10 ** rng.uniform(-6, np.log10(0.5))
        fast = mehler._takes_closed_form(c, i, j, tails, served)
        assert fast == mehler._takes_closed_form(c, i, j, tails, 0.0)
        decisions.add(fast)
    assert decisions == {True, False}
