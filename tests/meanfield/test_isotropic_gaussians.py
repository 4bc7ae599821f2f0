"""Model layer against independent truth: Monte Carlo, quadrature, closed forms."""
import math

import numpy as np
import pytest
from scipy import integrate, special, stats

from meanfield import (IsotropicGaussians, PiecewiseLinear, Tanh, nonmonotone, pair_kernel, pair_kernel_gradient,
                       ramp, sphere_moments)
from meanfield._kernels.gaussian import bvn_upper
from meanfield._kernels.pair_direct import C_SERIES, pl_pair_closed_form
from meanfield._kernels.ramp_pairs import relu_pair

from _pairwise import add_special_pairs, pairwise_risk

ACTIVATIONS = {
    "ramp": ramp(),
    "nonmonotone": nonmonotone(),
    "tanh": Tanh(amplitude=3.0, slope=2.0, center=0.3, shift=0.5),
}


def _unit_vectors(rng, n, d):
    g = rng.standard_normal((n, d))
    return g / np.linalg.norm(g, axis=1, keepdims=True)


def _mean_se(x):
    return x.mean(), x.std(ddof=1) / math.sqrt(x.size)


# --------------------------------------------------------------- Monte Carlo
@pytest.mark.parametrize("d", [2, 5, 40])
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_v_u_psi_against_monte_carlo(name, d):
    """v, u, ψ: fresh data x and fresh uniform directions for w, w' in every sample."""
    act = ACTIVATIONS[name]
    model = IsotropicGaussians(0.8, d, act)
    rng = np.random.default_rng(1000 + d)
    n, chunk = 1_000_000, 250_000
    r, rp = 1.3, 2.1
    radii = np.array([0.4, 1.7, 3.2])
    wts = np.array([0.5, 0.3, 0.2])
    est = {"v": [], "u": [], "psi": []}
    for _ in range(n // chunk):
        X, y = model.sample(chunk, rng)
        z = act(np.einsum("ij,ij->i", X, _unit_vectors(rng, chunk, d)) * r)
        zp = act(np.einsum("ij,ij->i", X, _unit_vectors(rng, chunk, d)) * rp)
        est["v"].append(-y * z)
        est["u"].append(z * zp)
        inter = sum(w * act(np.einsum("ij,ij->i", X, _unit_vectors(rng, chunk, d)) * q) for w, q in zip(wts, radii))
        est["psi"].append(-y * z + z * inter)
    exact = {"v": model.v(r), "u": model.u(r, rp), "psi": model.psi(r, radii, wts)}
    for key, samples in est.items():
        mean, se = _mean_se(np.concatenate(samples))
        assert abs(mean - exact[key]) < 4 * se, (key, mean, exact[key], se)


@pytest.mark.parametrize("d", [2, 5, 40])
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_population_risk_against_monte_carlo(name, d):
    act = ACTIVATIONS[name]
    model = IsotropicGaussians(0.8, d, act)
    rng = np.random.default_rng(7 + d)
    W = rng.standard_normal((7, d)) * 1.6 / math.sqrt(d)
    W[1] = 0.6 * W[0] + 1e-3 * rng.standard_normal(d)  # cosine ≈ 1: closed-form branch
    W[2] = -W[3]  # cosine −1
    W[4] = 0.0  # a neuron at the origin
    losses = []
    for _ in range(4):
        X, y = model.sample(250_000, rng)
        losses.append((y - act(X @ W.T).mean(axis=1)) ** 2)
    mean, se = _mean_se(np.concatenate(losses))
    assert abs(model.population_risk(W) - mean) < 4 * se


@pytest.mark.parametrize("n, d", [(300, 7), (530, 40)])
def test_population_risk_equals_the_pairwise_sum(n, d):
    """The blocked R_N (row blocks, j chunks from the block start, threads from 256 particles)
    equals 1 + (2/N) Σ v + (1/N²) Σ_ij ½ Σ_s K with K from pair_kernel pair by pair."""
    model = IsotropicGaussians(0.8, d, nonmonotone())
    rng = np.random.default_rng(d)
    W = add_special_pairs(rng.standard_normal((n, d)) * 1.5 / math.sqrt(d))
    expected = pairwise_risk(model, W)
    assert model.population_risk(W) == pytest.approx(expected, rel=1e-12)


# ------------------------------------------------------------ closed forms
@pytest.mark.parametrize("d", [2, 3, 5, 40])
def test_sphere_moments_against_integration(d):
    """μ_k(d) = ∫c^k (1−c²)^{(d−3)/2} dc / ∫(1−c²)^{(d−3)/2} dc."""
    alpha = (d - 3) / 2
    norm = integrate.quad(lambda c: 1.0, -1, 1, weight="alg", wvar=(alpha, alpha))[0]
    mu = sphere_moments(d, 12)
    for k in range(13):
        ref = integrate.quad(lambda c: c**k, -1, 1, weight="alg", wvar=(alpha, alpha))[0] / norm
        assert mu[k] == pytest.approx(ref, abs=1e-12)
    # direct Monte Carlo over the sphere for the second moment: E c² = 1/d
    assert mu[2] == pytest.approx(1.0 / d, rel=1e-14)


def _hermite_by_quadrature(act, a, k, derivative=False):
    he = special.hermitenorm(k)
    kinks = getattr(act, "knots", None)
    if kinks is None:
        kinks = [act.center]  # tanh: the sharp transition sits at g = center/a
    pts = sorted(set(np.clip(np.asarray(kinks) / a, -30, 30))) if a > 0 else None
    if derivative:
        f = lambda g: act.derivative(a * g) * g * he(g) * stats.norm.pdf(g)  # noqa: E731
    else:
        f = lambda g: act(a * g) * he(g) * stats.norm.pdf(g)  # noqa: E731
    val = integrate.quad(f, -30, 30, points=pts, limit=400, epsabs=1e-13, epsrel=1e-13)[0]
    return val / math.sqrt(math.factorial(k))


@pytest.mark.filterwarnings("ignore::scipy.integrate.IntegrationWarning")
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_hermite_coefficients_against_quadrature(name):
    act = ACTIVATIONS[name]
    a = np.array([0.05, 0.7, 1.9, 6.0])
    h = act.hermite(a, 9)
    dh = act.hermite(a, 9, derivative=True)
    h_table, dh_table = act.hermite_table(a, 9)  # k-major, one pass for both (the pair kernels' layout)
    for i, ai in enumerate(a):
        for k in range(10):
            ref, dref = _hermite_by_quadrature(act, ai, k), _hermite_by_quadrature(act, ai, k, True)
            assert h[i, k] == pytest.approx(ref, abs=1e-9)
            assert dh[i, k] == pytest.approx(dref, abs=1e-9)
            assert h_table[k, i] == pytest.approx(ref, abs=1e-9)
            assert dh_table[k, i] == pytest.approx(dref, abs=1e-9)
    # high orders: dh_k/da equals the central difference of h_k (the derivative recurrence
    # against the value recurrence), and the table is the k-major copy of hermite
    # (tanh: up to slope·a = 40, the range of its quadrature; beyond it raises, see below)
    a = np.array([0.3, 3.6, 20.0 if isinstance(act, Tanh) else 50.0])
    step = 1e-5
    h_table, dh_table = act.hermite_table(a, 47)
    h_up, _ = act.hermite_table(a + step, 47)
    h_down, _ = act.hermite_table(a - step, 47)
    np.testing.assert_allclose(dh_table, (h_up - h_down) / (2 * step), rtol=0, atol=1e-7)
    np.testing.assert_array_equal(h_table, act.hermite(a, 47).T)
    assert h_table.flags.c_contiguous and dh_table.flags.c_contiguous
    if isinstance(act, Tanh):
        with pytest.raises(ValueError, match="slope·a"):  # beyond the rule's range: no silent ~1e-10..1e-6 error
            act.hermite(np.array([1.0, 60.0 / act.slope]), 5)
    if isinstance(act, Tanh):  # steep points (slope·a up to 40) take a finer rule: as a 4096-panel one
        fine = Tanh(act.amplitude, act.slope, act.center, act.shift, panels=4096)
        a = np.array([1.0, 12.0, 20.0]) / act.slope
        for coarse, exact in zip(act.hermite_table(a, 255, second_moment=True),
                                 fine.hermite_table(a, 255, second_moment=True)):
            np.testing.assert_allclose(coarse, exact, rtol=0, atol=1e-13 * act.amplitude * act.slope)


def test_right_limit_at_zero_for_a_kink_at_zero():
    """The kink rule (docs/theory.rst, "The boundary r = 0 for kinked activations"): ∂_a h_k(0+) = [σ'(0+) E(G He_k 1{G>0}) + σ'(0−) E(G He_k 1{G<0})]/√k!."""
    act = nonmonotone()  # σ'(0−) = 0, σ'(0+) = −3
    dh0 = act.hermite(np.array([0.0]), 8, derivative=True)[0]
    for k in range(9):
        he = special.hermitenorm(k)
        upper = integrate.quad(lambda g: g * he(g) * stats.norm.pdf(g), 0, 40)[0]
        assert dh0[k] == pytest.approx(-3.0 * upper / math.sqrt(math.factorial(k)), abs=1e-12)
    # and it is the limit of nearby values, not σ'(0)·δ_{k1}
    dh_small = act.hermite(np.array([1e-7]), 8, derivative=True)[0]
    np.testing.assert_allclose(dh0, dh_small, atol=1e-6)
    model = IsotropicGaussians(0.8, 40, act)
    h = 1e-7
    assert model.dv(0.0) == pytest.approx((model.v(h) - model.v(0.0)) / h, rel=1e-5)
    assert model.dv(0.0) != 0.0
    assert np.all(np.isfinite(model.dpsi(np.array([0.0, 1e-300]), np.array([0.0]))))


def test_collapsed_network_risk():
    """δ0: ŷ ≡ σ(0), so R = R# + σ(0)² = 7.25 for the non-monotone σ."""
    model = IsotropicGaussians(0.8, 40, nonmonotone())
    assert model.radial_risk([0.0]) == pytest.approx(7.25, abs=1e-12)
    assert model.population_risk(np.zeros((5, 40))) == pytest.approx(7.25, abs=1e-12)


def test_bivariate_orthant_against_quadrature():
    rng = np.random.default_rng(3)
    for _ in range(40):
        h, k = rng.normal(size=2) * 1.5
        rho = rng.uniform(-1, 1) if rng.random() < 0.6 else math.copysign(1 - 10 ** rng.uniform(-9, -2), rng.normal())
        s = math.sqrt(1 - rho * rho)
        ref = integrate.quad(lambda x: stats.norm.pdf(x) * stats.norm.sf((k - rho * x) / s), h, np.inf,
                             epsabs=1e-14, epsrel=1e-13, limit=400)[0]
        assert bvn_upper(h, k, rho) == pytest.approx(ref, abs=1e-14)
        # E[(X−h)₊(Y−k)₊] = ∫_{x>h} (x−h) φ(x) E[(Y−k)₊ | X=x] dx, Y|X=x ~ N(ρx, s²)
        inner = lambda x: (rho * x - k) * stats.norm.cdf((rho * x - k) / s) + s * stats.norm.pdf((rho * x - k) / s)  # noqa: E731
        ref2 = integrate.quad(lambda x: (x - h) * stats.norm.pdf(x) * inner(x), h, np.inf,
                              epsabs=1e-14, epsrel=1e-13, limit=400)[0]
        assert relu_pair(h, k, rho) == pytest.approx(ref2, abs=1e-12)
    # |ρ| = 1 are limits of the general formula
    assert relu_pair(0.3, -0.4, 1.0) == pytest.approx(relu_pair(0.3, -0.4, 1 - 1e-12), abs=1e-9)
    assert relu_pair(0.3, -0.9, -1.0) == pytest.approx(relu_pair(0.3, -0.9, -1 + 1e-12), abs=1e-9)


@pytest.mark.parametrize("name", ["ramp", "nonmonotone"])
def test_pair_kernel_series_meets_closed_form(name):
    act = ACTIVATIONS[name]
    kind, p = act.kernel_spec()
    a = np.array([0.0, 0.3, 1.7, 4.0, 9.0])
    b = np.array([2.2, 0.0, 0.9, 6.0, 9.0])
    for c in (C_SERIES, -C_SERIES, 0.2):
        series = pair_kernel(act, a, b, np.full(a.size, c))
        closed = np.array([pl_pair_closed_form(p, x, y, c) for x, y in zip(a, b)])
        np.testing.assert_allclose(series, closed, rtol=1e-12, atol=1e-11)


def _nested_legendre(act, a, b, c):
    """(K, ∂_aK, ∂_cK) by nested composite Gauss-Legendre (256 panels × 8 nodes on [−12, 12];
    for |c| = 1, one rule of 2048 panels) of E_X[σ(aX) E_Z σ(b(cX + √(1−c²)Z))] and Price's
    ab E[σ'(aX)σ'(bY)]."""
    panels = 2048 if abs(c) == 1.0 else 256
    g, w = np.polynomial.legendre.leggauss(8)
    edges = np.linspace(-12.0, 12.0, panels + 1)
    x = ((edges[1:] + edges[:-1])[:, None] / 2 + np.diff(edges)[:, None] / 2 * g).ravel()
    wx = (np.diff(edges)[:, None] / 2 * w).ravel() * stats.norm.pdf(x)
    if abs(c) == 1.0:
        inner, inner_d = act(b * c * x), act.derivative(b * c * x)
    else:
        y = c * x[:, None] + math.sqrt(1.0 - c * c) * x[None, :]
        inner, inner_d = act(b * y) @ wx, act.derivative(b * y) @ wx
    return (wx @ (act(a * x) * inner), wx @ (act.derivative(a * x) * x * inner),
            a * b * (wx @ (act.derivative(a * x) * inner_d)))


@pytest.mark.parametrize("act", [ACTIVATIONS["tanh"], Tanh(amplitude=1.0, slope=5.0, center=-0.5, shift=0.2)])
def test_smooth_pair_quadrature_against_nested_legendre_and_the_series(act):
    """|c| > ½ for smooth σ: the rotated trapezoidal rule (node spacing from the strip of
    analyticity) against a 2048² nested Gauss-Legendre rule, including c = ±1 and a = 0,
    and against the 256-term Mehler series at |c| = 0.6 (tail ≤ 0.6^256)."""
    scale = (abs(act.shift) + abs(act.amplitude)) ** 2
    for a, b in ((0.0, 1.2), (0.7, 1.9), (2.0, 4.5)):
        for c in (-1.0, -0.97, 0.6, 0.9, 0.999, 1.0):
            value = pair_kernel(act, a, b, c)
            da, dc = pair_kernel_gradient(act, a, b, c)
            ref = _nested_legendre(act, a, b, c)
            # measured ≤ 2e-14 relative (slope 5); spacing for an e^{−25} aliasing error: 6e-13
            np.testing.assert_allclose([value, da, dc / max(a * b * act.slope**2, 1.0)],
                                       [ref[0], ref[1], ref[2] / max(a * b * act.slope**2, 1.0)],
                                       rtol=0, atol=1e-13 * scale)
        fine = Tanh(act.amplitude, act.slope, act.center, act.shift, panels=2048)  # h_k of steep σ(b·)
        ha, hb = fine.hermite(np.array([a]), 255)[0], fine.hermite(np.array([b]), 255)[0]
        for c in (0.6, -0.6):
            assert pair_kernel(act, a, b, c) == pytest.approx(np.sum(c ** np.arange(256) * ha * hb),
                                                              abs=1e-13 * scale)


def test_second_moment_is_the_diagonal_kernel():
    for act in ACTIVATIONS.values():
        for a in (0.0, 0.8, 5.0):
            ref = integrate.quad(lambda g: act(a * g) ** 2 * stats.norm.pdf(g), -40, 40,
                                 points=[0.0], limit=400, epsabs=1e-12)[0]
            assert act.gaussian_second_moment(np.array([a]))[0] == pytest.approx(ref, rel=1e-9)
            assert act.hermite_table(np.array([a]), 3, second_moment=True)[2][0] == pytest.approx(ref, rel=1e-9)


# ------------------------------------------------------------- consistency
@pytest.mark.parametrize("d", [2, 40])
def test_u_symmetric_and_psi_consistent_with_risk(d):
    model = IsotropicGaussians(0.8, d, ramp())
    rng = np.random.default_rng(0)
    r = rng.uniform(0, 5, 6)
    U = model.u(r[:, None], r[None, :])
    np.testing.assert_allclose(U, U.T, rtol=0, atol=1e-12)
    w = rng.random(6)
    w /= w.sum()
    risk = model.radial_risk(r, w)
    assert risk == pytest.approx(1 + w @ model.v(r) + w @ model.psi(r, r, w), abs=1e-12)
    assert risk == pytest.approx(1 + 2 * w @ model.v(r) + w @ U @ w, abs=1e-10)


def test_features_meet_their_error_bound():
    """Mehler features at d=40 against the exact angular average of the pair kernel."""
    model = IsotropicGaussians(0.8, 40, nonmonotone())
    r = np.array([0.0, 0.3, 1.0, 2.5, 6.0])
    feats = model.kernel_features(r)
    assert feats.error_bound <= model.tol
    series = np.einsum("k,ki,kj->ij", feats.weights, feats.values, feats.values)
    small_d = IsotropicGaussians(0.8, 40, nonmonotone(), tol=1e-300)  # forces angular quadrature
    exact = small_d.u(r[:, None], r[None, :])
    scale = sum(np.sqrt(np.outer(nonmonotone().gaussian_second_moment(s * r),
                                 nonmonotone().gaussian_second_moment(s * r))) for s in model.scales)
    assert np.all(np.abs(series - exact) <= 2e-10 * scale + 1e-13)
    # derivative rows are ∂_r of the value rows
    h = 1e-6
    plus, minus = model.kernel_features(r + h), model.kernel_features(r[1:] - h)
    np.testing.assert_allclose((plus.values[:, 1:] - minus.values) / (2 * h), feats.derivatives[:, 1:],
                               atol=1e-6)
    with pytest.raises(ValueError, match="Mehler series"):
        IsotropicGaussians(0.8, 2, ramp()).kernel_features(r)


def test_large_d_limit_is_the_k0_term():
    act = ramp()
    lim = IsotropicGaussians(0.8, 40, act, large_d_limit=True)
    r, rp = np.array([0.5, 2.0, 4.0]), np.array([1.0, 3.0, 0.2])
    m = act.gaussian_mean
    ref = 0.5 * sum(m(s * r) * m(s * rp) for s in lim.scales)
    np.testing.assert_allclose(lim.u(r, rp), ref, rtol=1e-13)
    huge = IsotropicGaussians(0.8, 10**7, act)
    np.testing.assert_allclose(huge.u(r, rp), ref, rtol=1e-5)


# ---------------------------------------------------------------- errors
def test_bad_input_raises_clear_errors():
    act = ramp()
    with pytest.raises(ValueError, match="delta"):
        IsotropicGaussians(1.2, 10, act)
    with pytest.raises(ValueError, match="delta"):
        IsotropicGaussians(0.0, 10, act)
    with pytest.raises(ValueError, match="^d:"):
        IsotropicGaussians(0.5, 0, act)
    with pytest.raises(ValueError, match="knots"):
        PiecewiseLinear([1.0, 0.5], [0.0, 1.0])
    with pytest.raises(ValueError, match="values"):
        PiecewiseLinear([0.0, 1.0], [0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="slope"):
        Tanh(slope=-1)
    model = IsotropicGaussians(0.5, 4, act)
    with pytest.raises(ValueError, match="^r:"):
        model.v(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="^r:"):
        model.v(-1.0)
    with pytest.raises(ValueError, match="^W:"):
        model.population_risk(np.ones((3, 5)))
    with pytest.raises(ValueError, match="^W:"):
        model.population_risk(np.full((3, 4), np.inf))
    with pytest.raises(ValueError, match="^radii:"):
        model.radial_risk([])
    with pytest.raises(ValueError, match="^weights:"):
        model.psi(1.0, [1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="^n:"):
        model.sample(0)


def test_sample_statistics():
    model = IsotropicGaussians(0.8, 3, ramp())
    X, y = model.sample(200_000, np.random.default_rng(5))
    assert abs(y.mean()) < 4 / math.sqrt(y.size)
    var_pos = X[y > 0].var()
    var_neg = X[y < 0].var()
    assert var_pos == pytest.approx(1.8**2, rel=0.01)
    assert var_neg == pytest.approx(0.2**2, rel=0.01)
    X2, y2 = model.sample(10, 42)
    X3, y3 = model.sample(10, 42)
    np.testing.assert_array_equal(X2, X3)


def test_pair_kernel_of_unbounded_piecewise_linear_sigma_at_strong_correlation():
    """relu and leaky relu (linear tails) fell through to the smooth rule for |c| > ½:
    pair_kernel(relu, 1, 1, 0.6) was 0.0. Reference: the arc-cosine kernel
    E relu(aX) relu(bY) = ab [√(1 − c²) + (π − arccos c) c]/(2π), its derivatives in closed form,
    and for leaky relu σ = relu(t) − s relu(−t) the expansion in the four relu terms."""
    from meanfield import leaky_relu, pair_kernel, pair_kernel_gradient, relu

    def arccos_kernel(c):
        return (np.sqrt(1 - c * c) + (np.pi - np.arccos(c)) * c) / (2 * np.pi)

    def arccos_kernel_dc(c):
        return (np.pi - np.arccos(c)) / (2 * np.pi)

    a, b = 1.3, 0.7
    c = np.array([-0.99, -0.8, -0.6, 0.0, 0.3, 0.6, 0.8, 0.99, 1.0])
    np.testing.assert_allclose(pair_kernel(relu(), a, b, c), a * b * arccos_kernel(c), rtol=1e-12, atol=1e-15)
    da, dc = pair_kernel_gradient(relu(), a, b, c)
    np.testing.assert_allclose(da, b * arccos_kernel(c), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(dc, a * b * arccos_kernel_dc(c), rtol=1e-12, atol=1e-15)
    # leaky relu σ(t) = relu(t) − s relu(−t): E σ(aX)σ(bY) = ab [k(c) + s² k(c) − 2 s k(−c)]
    slope = 0.1
    kernel = arccos_kernel(c) * (1 + slope**2) - 2 * slope * arccos_kernel(-c)
    np.testing.assert_allclose(pair_kernel(leaky_relu(slope), a, b, c), a * b * kernel, rtol=1e-12, atol=1e-15)
