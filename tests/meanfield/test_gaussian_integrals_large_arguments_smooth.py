"""Exact Gaussian integrals of smooth σ (tanh, sigmoid, erf) and of relu at large arguments (issue 16).

Before: E tanh(m + sG) took ~46·slope·s trapezoid nodes (1.6 s at s = 1e6, error 7e-12; hours at 1e10),
pairs (46·slope·s)² nodes, erf overflowed γ²s² (NaN at s > 1e154), the Hermite quadratures of tanh
were silently inaccurate beyond slope·a ≈ 41, and a neuron with ‖w‖ = 1e300 gave a finite, wrong
risk. Ground truth: 50-digit mpmath quadrature; the trapezoidal rule in the rotated coordinates
(a second method, accurate while slope·s ≲ 30); the limits s → ∞ (σ → shift + amp·sgn(t − t₀):
E sgn(u − t₀) = erf(δ/(s√2)), E sgn(X)sgn(Y) = (2/π) arcsin c, E σ'(u) → 2 amp p_u(t₀), …), exact up
to O(1/(slope·s)²); positive homogeneity of relu (U(λθ) = λ²U(θ), V(λθ) = λV(θ) for (w, b) → λ(w, b)).
"""
import math

import numpy as np
import pytest

from meanfield import (GaussianMixture, MeanFieldModel, Params, Tanh, TeacherStudent, TwoLayerNetwork, erf,
                       gaussian_mean, gaussian_pair, leaky_relu, pair_kernel, pair_kernel_gradient, relu, sigmoid)
from meanfield._kernels.gauss_moments import _smooth_pair

mp = pytest.importorskip("mpmath")
mp.mp.dps = 50

TANH = Tanh(amplitude=1.3, slope=0.7, center=0.4, shift=0.2)
SMOOTH = {"tanh": TANH, "sigmoid": sigmoid(), "erf": erf()}


def _mp_mean(act, m, s, order):
    """E σ^{(order)}(m + sG) by mpmath quadrature in t, split where σ turns."""
    amp, kap, c, sh = (mp.mpf(float(x)) for x in act.kernel_spec()[1])
    m, s = mp.mpf(m), mp.mpf(s)
    if isinstance(act, Tanh):
        f = [lambda t: sh + amp * mp.tanh(kap * (t - c)), lambda t: amp * kap * mp.sech(kap * (t - c)) ** 2,
             lambda t: -2 * amp * kap**2 * mp.tanh(kap * (t - c)) * mp.sech(kap * (t - c)) ** 2][order]
    else:
        f = [lambda t: sh + amp * mp.erf(kap * (t - c) / mp.sqrt(2)),
             lambda t: amp * kap * mp.sqrt(2 / mp.pi) * mp.exp(-(kap * (t - c)) ** 2 / 2),
             lambda t: -amp * kap**3 * (t - c) * mp.sqrt(2 / mp.pi) * mp.exp(-(kap * (t - c)) ** 2 / 2)][order]
    lo, hi = c - 60 / kap, c + 60 / kap
    pts = [lo, c - 5 / kap, c, c + 5 / kap, hi]
    total = mp.quad(lambda t: f(t) * mp.npdf((t - m) / s) / s, pts)
    if order == 0:  # σ = sh ∓ amp beyond
        total += (sh - amp) * mp.ncdf((lo - m) / s) + (sh + amp) * mp.ncdf((m - hi) / s)
    return total


@pytest.mark.parametrize("name", SMOOTH)
@pytest.mark.parametrize("s", [5.0, 20.0, 1e3, 1e6])
def test_mean_against_mpmath(name, s):
    act = SMOOTH[name]
    for m in (0.0, 0.37 * s, -2.1 * s, 3.0):
        value, dm, da = (float(x) for x in gaussian_mean(act, s, m))
        assert value == pytest.approx(float(_mp_mean(act, m, s, 0)), abs=1e-14)
        assert dm == pytest.approx(float(_mp_mean(act, m, s, 1)), rel=1e-12, abs=1e-300)
        assert da == pytest.approx(0.5 * float(_mp_mean(act, m, s, 2)), rel=1e-11, abs=1e-15 / s**2)


def _parts(act):
    amp, kap, c, sh = (float(x) for x in act.kernel_spec()[1])
    return amp, kap, c, sh


@pytest.mark.parametrize("name", SMOOTH)
@pytest.mark.parametrize("s", [1e15, 1e100, 1e200, 1e300])
def test_mean_step_limit(name, s):
    """E σ(m + sG) = shift + amp erf(δ/(s√2)), E σ'(m + sG) = 2 amp φ(δ/s)/s (δ = m − t₀) up to
    O(1/(slope s)²) relative: exact in double precision for s ≥ 1e15."""
    act = SMOOTH[name]
    amp, kap, c, sh = _parts(act)
    for ratio in (0.0, 0.3, -1.7, 5.0):
        m = ratio * s
        value, dm, _ = (float(x) for x in gaussian_mean(act, s, m))
        delta = (m - c) / s
        assert value == pytest.approx(sh + amp * math.erf(delta / math.sqrt(2)), rel=1e-14, abs=1e-15)
        assert dm == pytest.approx(2 * amp * math.exp(-delta**2 / 2) / math.sqrt(2 * math.pi) / s, rel=1e-12)
    assert float(gaussian_mean(act, 1.0, 1e300)[0]) == pytest.approx(sh + amp, abs=1e-15)
    assert float(gaussian_mean(act, 1e300, -1e308)[0]) == pytest.approx(sh - amp, abs=1e-15)


def test_pair_against_trapezoid():
    """All six outputs (G and its m-, A-, C-derivatives) against the 2-D trapezoidal rule (a second
    method) where it is accurate: slope·s in [4, 25], with c = ±1 and c = 1 − 1e-9 included."""
    rng = np.random.default_rng(0)
    k, p = TANH.kernel_spec()
    ke, pe = erf().kernel_spec()
    for trial in range(40):
        s1, s2 = rng.uniform(6, 25), rng.uniform(0.05, 25)
        m1, m2 = rng.normal() * s1 * 0.5, rng.normal() * 3
        c = [rng.uniform(-1, 1), 1.0, -1.0, 1 - 1e-9, 0.0][trial % 5]
        act2, (k2, p2) = (TANH, (k, p)) if trial % 2 else (erf(), (ke, pe))
        got = np.array([float(x) for x in gaussian_pair(TANH, s1, m1, s2, m2, c, activation2=act2)])
        ref = np.array(_smooth_pair(k, p, k2, p2, m1, s1, m2, s2, c))
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12 * max(1.0, np.abs(ref).max()))


@pytest.mark.parametrize("c", [-1.0, -0.999999, -0.6, 0.0, 0.3, 0.9, 1 - 1e-12, 1.0])
def test_pair_kernel_arcsine_limit(c):
    """K(a, b, c) → (2/π) arcsin c and ∂_c K → (2/π)/√(1 − c²) (amp = 1, shift = 0); the remainders
    r(aX) (odd, width 1/a) correct K by O(1/(m² √(1 − c²))), m = min(a, b), or O(1/m) when
    √(1 − c²) < 1/m (at c = ±1: K = ±(1 − E sech²(aX)) for a = b), and ∂_c K by O(1/(m √(1 − c²))²)."""
    root = math.sqrt((1 - c) * (1 + c))
    for act in (Tanh(), erf()):
        for a, b in [(1e8, 1e8), (1e15, 3e12), (1e300, 1e300), (1e10, 1e200)]:
            m = min(a, b)
            tol = 1e-13 + (2.0 / m if root < 1.0 / m else 10.0 / (m * m * root))
            assert float(pair_kernel(act, a, b, c)) == pytest.approx(2 / math.pi * math.asin(c), abs=tol)
            if abs(c) < 1:
                da, dc = pair_kernel_gradient(act, a, b, c)
                assert float(dc) == pytest.approx(2 / math.pi / root, rel=1e-9 + 10.0 / (m * root) / (m * root))
                assert abs(float(da)) < 1e-6 / a


def _bvn_lower(h, k, c):
    """P(X < h, Y < k) at 50 digits (1-D quadrature of φ(x) Φ((k − c x)/√(1 − c²)))."""
    h, k, c = mp.mpf(h), mp.mpf(k), mp.mpf(c)
    return mp.quad(lambda x: mp.npdf(x) * mp.ncdf((k - c * x) / mp.sqrt(1 - c * c)), [-mp.inf, min(h, 0), h])


@pytest.mark.parametrize("s1, m1, s2, m2, c", [(1e15, 3e14, 2e15, -1e15, 0.6), (1e12, -5e11, 1e15, 2e14, -0.95),
                                               (1e200, 1e199, 1e200, -3e199, 0.2)])
def test_pair_and_derivatives_step_limit(s1, m1, s2, m2, c):
    """At slope·s ≥ 1e12 the pair equals its step limit: with hx = (t₀ − m₁)/s₁, hy = (t₀ − m₂)/s₂,
    G = E(sh + amp sgn(X − hx))(sh + amp sgn(Y − hy)) (bivariate normal at 50 digits),
    ∂_{m₁}G = 2 amp φ(hx)/s₁ E[σ_∞(v) | u = t₀], ∂_C G = 4 amp² φ₂(hx, hy; c)/(s₁s₂)."""
    act = TANH
    amp, kap, t0, sh = _parts(act)
    hx, hy = (t0 - m1) / s1, (t0 - m2) / s2
    both = _bvn_lower(hx, hy, c)
    px, py = mp.ncdf(hx), mp.ncdf(hy)
    e_sgn_sgn = 1 - 2 * px - 2 * py + 4 * both
    ref = sh * sh + sh * amp * ((1 - 2 * px) + (1 - 2 * py)) + amp * amp * e_sgn_sgn
    g, gm1, gm2, ga1, ga2, gc = (float(x) for x in gaussian_pair(act, s1, m1, s2, m2, c))
    assert g == pytest.approx(float(ref), abs=1e-14)
    root = math.sqrt(1 - c * c)
    cond = sh + amp * math.erf((-hy + c * hx) / (root * math.sqrt(2)))  # E[σ_∞(v) | X = hx]
    assert gm1 == pytest.approx(2 * amp * math.exp(-hx * hx / 2) / math.sqrt(2 * math.pi) / s1 * cond, rel=1e-10)
    dens = math.exp(-(hx * hx - 2 * c * hx * hy + hy * hy) / (2 * root * root)) / (2 * math.pi * root)
    assert gc == pytest.approx(4 * amp * amp * dens / (s1 * s2), rel=1e-10)
    if s1 > 1e100:
        return
    # ∂_A against 5-point differences of G in A₁ = s₁² at fixed C (correlation c s₁/s₁')
    for j, (ga, s, other) in enumerate([(ga1, s1, s2), (ga2, s2, s1)]):
        h = 1e-3 * s * s
        vals = []
        for step in (-2, -1, 1, 2):
            sn = math.sqrt(s * s + step * h)
            args = (sn, m1, s2, m2, c * s / sn) if j == 0 else (s1, m1, sn, m2, c * s / sn)
            vals.append(float(gaussian_pair(act, *args)[0]))
        fd = (vals[0] - 8 * vals[1] + 8 * vals[2] - vals[3]) / (12 * h)  # O(h⁴)
        assert ga == pytest.approx(fd, rel=1e-7, abs=1e-13 / h)


@pytest.mark.parametrize("name", ["tanh", "erf"])
def test_population_risk_converges_and_refuses_overflow(name):
    """Tanh and erf networks have the same R → ∞ limit (sgn σ); at R ≥ 1e151 the pre-activation
    variance overflows: ValueError naming theta (before: R = 1e300 gave 0.333, a finite wrong risk)."""
    act = {"tanh": Tanh(), "erf": erf()}[name]
    law = GaussianMixture.anisotropic(0.5, d=10, s0=2)
    models = [MeanFieldModel(law, TwoLayerNetwork(a, train=("a", "w", "b"))) for a in (act, erf())]
    theta = models[0].init(6, seed=0)
    risks = []
    for R in (1e12, 1e100):
        big = Params(theta.a, theta.W * R, theta.b * R)
        risks.append([m.population_risk(big) for m in models])
        grad = models[0].potential_gradient(big)
        assert np.all(np.isfinite(grad.W)) and np.all(np.isfinite(grad.a))
    assert risks[1][0] == pytest.approx(risks[1][1], rel=1e-13)
    assert risks[0][0] == pytest.approx(risks[1][0], rel=1e-10)
    with pytest.raises(ValueError, match="theta"):
        models[0].population_risk(Params(theta.a, theta.W * 1e300, theta.b))


@pytest.mark.parametrize("law", ["anisotropic", "teacher"])
@pytest.mark.parametrize("act", [relu(), leaky_relu(0.1)])
def test_relu_homogeneity_at_huge_norms(law, act):
    """σ(λt) = λσ(t): U(λθ, λθ) = λ² U(θ, θ) and V(λθ) = λ V(θ) for (w, b) → λ(w, b), to 1e-12, up to
    λ = 1e149 (pre-activation scales up to ~1e150); beyond, ValueError (the integrals would overflow)."""
    d = 8
    rng = np.random.default_rng(1)
    data = (GaussianMixture.anisotropic(0.5, d=d, s0=3) if law == "anisotropic"
            else TeacherStudent(rng.standard_normal((3, d)) / math.sqrt(d), relu(), a=[1.0, -0.5, 2.0]))
    model = MeanFieldModel(data, TwoLayerNetwork(act, train=("a", "w", "b")))
    theta = model.init(5, seed=2, b_std=0.3)
    u0, v0 = model.U(theta), model.V(theta)
    for lam in (1e10, 1e50, 1e149):
        big = Params(theta.a, theta.W * lam, theta.b * lam)
        np.testing.assert_allclose(model.U(big) / lam**2, u0, rtol=1e-12)
        np.testing.assert_allclose(model.V(big) / lam, v0, rtol=1e-12)  # V = −a E[y σ(⟨w, x⟩ + b)]
    with pytest.raises(ValueError, match="theta"):
        model.U(Params(theta.a, theta.W * 1e160, theta.b))
