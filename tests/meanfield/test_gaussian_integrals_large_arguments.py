"""Exact Gaussian integrals of bounded σ stay exact at large arguments (issue 16, class 3).

The closed forms of h_k(a), E σ(aG)² and K(a, b, c) = E σ(aX)σ(bY) for piecewise-linear σ
cancel catastrophically at large a (error ~1e-16 a²: K(1e10, 1e10, 0.9) came out as −9e4 and
E σ(1e15 G)² as −9e15 although |σ| ≤ 7.5). Ground truth here: (i) the same closed forms
evaluated by mpmath with 50 digits (and E(X − h)₊(Y − k)₊ by 1-D mpmath quadrature), and
(ii) the limit a → ∞: σ(aX) → σ_∞(X) = σ_L + Δ 1{X > 0} (all knots at a finite distance),
so E σ_∞(X)σ_∞(Y) = σ_L² + σ_L Δ + Δ² (1/4 + arcsin(c)/(2π)) (arcsine law).
"""
import math

import numpy as np
import pytest

from meanfield import IsotropicGaussians, nonmonotone, pair_kernel, ramp

mp = pytest.importorskip("mpmath")
mp.mp.dps = 50

ACTS = {"ramp": ramp(), "nonmonotone": nonmonotone()}
LARGE = [1e3, 1e6, 1e10, 1e15]


def _pieces(act):
    """(y0, knots, slope changes) as mpmath numbers: σ = y0 + Σ c_i (t − t_i)₊."""
    return (mp.mpf(act.offset), [mp.mpf(float(t)) for t in act.knots], [mp.mpf(float(c)) for c in act.coefs])


def _q(n, x):
    """φ(x) He_n(x)/√n! in mpmath."""
    return mp.npdf(x) * mp.hermite(n, x / mp.sqrt(2)) * 2 ** (-mp.mpf(n) / 2) / mp.sqrt(mp.factorial(n))


def _hermite_ref(act, a, kmax):
    """h_k(a) by the closed form of piecewise_linear._pl_hermite_table at 50 digits."""
    y0, ts, cs = _pieces(act)
    a = mp.mpf(a)
    out = []
    for k in range(kmax + 1):
        total = y0 if k == 0 else mp.mpf(0)
        for t, c in zip(ts, cs):
            tau = t / a
            if k == 0:
                total += c * (a * mp.npdf(tau) - t * mp.ncdf(-tau))
            elif k == 1:
                total += a * c * mp.ncdf(-tau)
            else:
                total += a * c * _q(k - 2, tau) / mp.sqrt(k * (k - 1))
        out.append(float(total))
    return np.array(out)


def _hermite_derivative_ref(act, a, kmax):
    """h_k'(a) = Σ_i c_i [q_{k−2}(τ_i)/√(k(k−1)) + τ_i q_{k−1}(τ_i)/√k] (h_0' = Σ c_i q_0, h_1' = Σ c_i (Φ(−τ) + τ q_0))."""
    _, ts, cs = _pieces(act)
    a = mp.mpf(a)
    out = []
    for k in range(kmax + 1):
        total = mp.mpf(0)
        for t, c in zip(ts, cs):
            tau = t / a
            if k == 0:
                total += c * _q(0, tau)
            elif k == 1:
                total += c * (mp.ncdf(-tau) + tau * _q(0, tau))
            else:
                total += c * (_q(k - 2, tau) / mp.sqrt(k * (k - 1)) + tau * _q(k - 1, tau) / mp.sqrt(k))
        out.append(float(total))
    return np.array(out)


def _relu_pair_ref(h, k, c):
    """E(X − h)₊(Y − k)₊ = ∫_h^∞ φ(x) (x − h) [m Φ(m/s) + s φ(m/s)] dx, m = c x − k, s = √(1 − c²)."""
    s = mp.sqrt(1 - c * c)
    f = lambda x: mp.npdf(x) * (x - h) * ((c * x - k) * mp.ncdf((c * x - k) / s) + s * mp.npdf((c * x - k) / s))
    return mp.quad(f, [h, h + 1, h + 4, h + 10, mp.inf])


def _pair_ref(act, a, b, c):
    """K(a, b, c) = y0² + y0 (m(a) + m(b)) + a b Σ_ij c_i c_j E(X − t_i/a)₊(Y − t_j/b)₊ at 50 digits."""
    y0, ts, cs = _pieces(act)
    a, b, c = mp.mpf(a), mp.mpf(b), mp.mpf(c)
    mean = lambda s: sum(ci * (s * mp.npdf(t / s) - t * mp.ncdf(-t / s)) for t, ci in zip(ts, cs))
    cross = sum(ci * cj * _relu_pair_ref(ti / a, tj / b, c) for ti, ci in zip(ts, cs) for tj, cj in zip(ts, cs))
    return float(y0 * y0 + y0 * (mean(a) + mean(b)) + a * b * cross)


def _second_moment_ref(act, a):
    """E σ(aG)² with E(G − h)₊(G − k)₊ = (1 + hk)Φ(−k) − hφ(k) (k = max), at 50 digits."""
    y0, ts, cs = _pieces(act)
    a = mp.mpf(a)
    total = y0 * y0
    for ti, ci in zip(ts, cs):
        h = ti / a
        total += 2 * y0 * ci * a * (mp.npdf(h) - h * mp.ncdf(-h))
        for tj, cj in zip(ts, cs):
            lo, hi = sorted((h, tj / a))
            total += ci * cj * a * a * ((1 + lo * hi) * mp.ncdf(-hi) - lo * mp.npdf(hi))
    return float(total)


def _limit(act, c):
    """lim_{a,b→∞} K(a, b, c) by the arcsine law (σ_∞ = σ_L + Δ 1{x > 0})."""
    low, delta = float(act.values[0]), float(act.values[-1] - act.values[0])
    return low * low + low * delta + delta**2 * (0.25 + math.asin(c) / (2 * math.pi))


@pytest.mark.parametrize("name", ACTS)
@pytest.mark.parametrize("a", LARGE + [40.0, 200.0])
def test_hermite_coefficients_large_a(name, a):
    act = ACTS[name]
    np.testing.assert_allclose(act.hermite(np.array([a]), 6)[0], _hermite_ref(act, a, 6), rtol=0, atol=1e-13)
    ref = _hermite_derivative_ref(act, a, 6)
    got = act.hermite(np.array([a]), 6, derivative=True)[0]
    np.testing.assert_allclose(got, ref, rtol=1e-11, atol=1e-15 / a)


@pytest.mark.parametrize("name", ACTS)
def test_second_moment_large_a(name):
    act = ACTS[name]
    a = np.array(LARGE + [40.0, 200.0, 1e5, 1e300])
    got = act.gaussian_second_moment(a)
    ref = [_second_moment_ref(act, x) for x in a[:-1]]
    np.testing.assert_allclose(got[:-1], ref, rtol=1e-13)
    # a → ∞: σ_∞(G)² has mean (σ_L² + σ_R²)/2
    assert got[-1] == pytest.approx(0.5 * (act.values[0] ** 2 + act.values[-1] ** 2), rel=1e-15)


@pytest.mark.parametrize("name", ACTS)
@pytest.mark.parametrize("a, b, c", [(1e3, 1e3, 0.75), (1e3, 1e6, -0.9), (1e6, 1e10, 0.999), (1e10, 1e10, 1 - 1e-9),
                                     (1e15, 1e3, -1 + 1e-9), (1e15, 1e15, 0.6), (1e3, 1e3, 1 - 1e-9),
                                     (1e6, 1e6, -1 + 1e-13)])
def test_pair_kernel_large_a_against_mpmath(name, a, b, c):
    act = ACTS[name]
    ref = _pair_ref(act, a, b, c)
    assert float(pair_kernel(act, a, b, c)) == pytest.approx(ref, abs=1e-12)


@pytest.mark.parametrize("name", ACTS)
@pytest.mark.parametrize("c", [-1.0, -1 + 1e-12, -0.9, -0.3, 0.0, 0.4, 0.9, 1 - 1e-12, 1.0])
def test_pair_kernel_arcsine_limit(name, c):
    """At a, b ≥ 3e14 the kernel equals its a → ∞ limit up to O(1/a), for every c."""
    act = ACTS[name]
    for a, b in [(1e15, 1e15), (1e15, 3e14), (1e300, 1e300)]:
        assert float(pair_kernel(act, a, b, c)) == pytest.approx(_limit(act, c), abs=1e-12)
    assert abs(float(pair_kernel(act, 1e6, 1e10, c)) - _limit(act, c)) < 1e-4


@pytest.mark.parametrize("name", ACTS)
def test_pair_kernel_diagonal_is_second_moment(name):
    act = ACTS[name]
    a = np.array([0.5, 3.0, 40.0, 1e3, 1e6, 1e10, 1e15])
    np.testing.assert_allclose(pair_kernel(act, a, a, 1.0), act.gaussian_second_moment(a), rtol=1e-13)


def test_pair_kernel_bounded_everywhere():
    """|K| ≤ sup σ² for every (a, b, c), including the probe of the issue."""
    act = ramp()
    a = np.geomspace(1e-3, 1e300, 40)
    for c in (-1.0, -0.999999, -0.6, 0.6, 0.9, 0.99999999, 1.0):
        k = pair_kernel(act, a[:, None], a[None, :], c)
        assert np.all(np.abs(k) <= 56.25 * (1 + 1e-14))
    assert float(pair_kernel(act, 1e10, 1e10, 0.9)) == pytest.approx(_limit(act, 0.9), abs=1e-8)  # O(1/a)


def test_population_risk_and_u_at_huge_radii():
    """R_N at radius R: the a → ∞ limit r# + (1/N²) Σ_ij K_∞(c_ij) (v → 0: m(s r) → (σ_L + σ_R)/2 for
    both scales), up to O(1/R); u(r, r') bounded by sup σ² and continuous in r as r → ∞."""
    act = ramp()
    model = IsotropicGaussians(0.5, 40, act)
    rng = np.random.default_rng(3)
    W0 = rng.standard_normal((6, 40))
    W0 /= np.linalg.norm(W0, axis=1, keepdims=True)
    cos = np.clip(W0 @ W0.T, -1, 1)
    limit = model.r_sharp + np.mean([[_limit(act, c) for c in row] for row in cos])
    for R in (1e9, 1e12, 1e15, 1e100):
        assert model.population_risk(R * W0) == pytest.approx(limit, abs=1e-7)
    assert model.population_risk(1e6 * W0) == pytest.approx(limit, abs=1e-3)
    u_far = model.u(np.array([1e300, 1e15, 1e10]), 1.0)
    assert np.all(np.abs(u_far) <= 56.25)
    np.testing.assert_allclose(u_far, u_far[1], atol=1e-9)
    assert float(model.u(1e300, 1e300)) == pytest.approx(_limit(act, 0.0), abs=1e-9)  # E arcsin(c) = 0


def _limit_dc(act, c):
    """lim ∂_c K = Δ²/(2π√(1 − c²)) (derivative of the arcsine law)."""
    delta = float(act.values[-1] - act.values[0])
    return delta**2 / (2 * math.pi * math.sqrt(1 - c * c))


@pytest.mark.parametrize("name", ACTS)
@pytest.mark.parametrize("c", [-0.999999, -0.9, -0.2, 0.55, 0.9, 0.99, 0.99999999])
def test_pair_kernel_gradient_large_a(name, c):
    """∂_c K → Δ²/(2π√(1 − c²)); ∂_a K against central differences of K (itself checked against
    mpmath above), and a² ∂_a K settling to a constant (K = K_∞ + O(1/a))."""
    from meanfield import pair_kernel_gradient
    act = ACTS[name]
    for a, b in [(1e10, 1e10), (1e15, 1e12), (1e300, 1e300)]:
        da, dc = pair_kernel_gradient(act, a, b, c)
        assert float(dc) == pytest.approx(_limit_dc(act, c), rel=1e-9)
        assert abs(float(da)) <= 100.0 / a  # |∂_a K| ≤ sup|σ| · sup|σ'| E|X| 1{X ∈ B}/… = O(1/a)
    for a, b in [(1e3, 1e3), (1e6, 2e3), (3e4, 1e8)]:
        da, _ = pair_kernel_gradient(act, a, b, c)
        step = 1e-3 * a
        k = [float(pair_kernel(act, a + j * step, b, c)) for j in (-2, -1, 1, 2)]
        fd = (k[0] - 8 * k[1] + 8 * k[2] - k[3]) / (12 * step)
        assert float(da) == pytest.approx(fd, rel=1e-5, abs=1e-13 / step)
    scaled = [a * a * float(pair_kernel_gradient(act, a, a, c)[0]) for a in (1e10, 1e15)]
    assert scaled[1] == pytest.approx(scaled[0], rel=1e-4)


@pytest.mark.parametrize("s, m", [(1e3, 0.7), (1e6, -2e5), (1e10, 3e9), (1e15, -1.0)])
def test_gaussian_mean_with_means_large_scale(s, m):
    """E σ(m + sG) = y0 + Σ_i c_i s E(G − (t_i − m)/s)₊ (closed form at 50 digits)."""
    from meanfield.gaussian_integrals import gaussian_mean
    for act in ACTS.values():
        y0, ts, cs = _pieces(act)
        sm, mm = mp.mpf(s), mp.mpf(m)
        ref = y0 + sum(c * sm * (mp.npdf((t - mm) / sm) - (t - mm) / sm * mp.ncdf(-(t - mm) / sm)) for t, c in zip(ts, cs))
        assert float(gaussian_mean(act, s, m)[0]) == pytest.approx(float(ref), abs=1e-13)


@pytest.mark.parametrize("s1, m1, s2, m2, c", [(1e6, 3e5, 1e3, -700.0, 0.8), (1e15, 1.0, 1e10, 2e9, -0.95),
                                               (1e10, -4e9, 1e10, 1e9, 1 - 1e-9)])
def test_gaussian_pair_with_means_large_scale(s1, m1, s2, m2, c):
    """G = y0² + y0 (M₁ + M₂ − 2y0) + s₁ s₂ Σ_ij c_i c_j E(X − h_i)₊(Y − k_j)₊, h_i = (t_i − m₁)/s₁, at 50 digits."""
    from meanfield.gaussian_integrals import gaussian_pair
    act = nonmonotone()
    y0, ts, cs = _pieces(act)
    c_ = mp.mpf(c)
    mean = lambda s, m: sum(ci * s * (mp.npdf((t - m) / s) - (t - m) / s * mp.ncdf(-(t - m) / s)) for t, ci in zip(ts, cs))
    S1, M1, S2, M2 = (mp.mpf(x) for x in (s1, m1, s2, m2))
    cross = sum(ci * cj * _relu_pair_ref((ti - M1) / S1, (tj - M2) / S2, c_)
                for ti, ci in zip(ts, cs) for tj, cj in zip(ts, cs))
    ref = y0 * y0 + y0 * (mean(S1, M1) + mean(S2, M2)) + S1 * S2 * cross
    assert float(gaussian_pair(act, s1, m1, s2, m2, c)[0]) == pytest.approx(float(ref), abs=1e-12)
