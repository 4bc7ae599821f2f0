"""The reduced anisotropic model against the full-dimensional exact functional.

Ground truth: MeanFieldModel's exact V and U (bivariate-normal closed forms) averaged over
uniform directions of w₁ ∈ R^{s0}, w₂ ∈ R^{d−s0} by Monte Carlo (within 4 standard errors);
finite differences of ψ; the Hermite coefficients by a fine trapezoid rule in G; the
truncation bound against a longer series.
"""
import math

import numpy as np
import pytest

from meanfield import AnisotropicGaussians, Tanh, erf, ramp, relu
from meanfield.shifted_hermite import shifted_hermite


def _points(rng, n, a_spread=0.3, b_spread=0.3):
    return np.column_stack([rng.normal(1.0, a_spread, n), rng.normal(0.0, b_spread, n),
                            rng.uniform(0.2, 1.5, n), rng.uniform(0.2, 1.5, n)])


@pytest.mark.parametrize("act", [relu(), ramp(), Tanh(), erf()], ids=["relu", "ramp", "tanh", "erf"])
def test_shifted_hermite_against_quadrature_and_stein(act):
    s, b = np.array([0.7, 1.3, 0.0, 2.0]), np.array([0.2, -0.4, 0.3, 0.5])
    table = shifted_hermite(act, s, b, 6)
    g = np.linspace(-12, 12, 400001)
    wg = np.exp(-g * g / 2) / math.sqrt(2 * math.pi) * (g[1] - g[0])
    basis = [np.ones_like(g), g]
    for k in range(1, 6):
        basis.append((g * basis[k] - math.sqrt(k) * basis[k - 1]) / math.sqrt(k + 1))
    ref = np.array([[np.sum(wg * act(si * g + bi) * basis[k]) for si, bi in zip(s, b)] for k in range(7)])
    assert np.abs(table.h() - ref).max() < 1e-8  # trapezoid error O(h²) at the kinks
    h = 1e-6
    for shift, deriv in (((h, 0.0), table.dh_ds()), ((0.0, h), table.dh_db())):
        hp = shifted_hermite(act, s + shift[0], b + shift[1], 6).h()
        hm = shifted_hermite(act, np.abs(s - shift[0]), b - shift[1], 6).h()
        ok = s > h
        assert np.abs((hp - hm)[:, ok] / (2 * h) - deriv[:, ok]).max() < 2e-6


@pytest.mark.parametrize("act", [relu(), ramp(), Tanh()], ids=["relu", "ramp", "tanh"])
def test_psi_gradient_matches_finite_differences(act):
    rng = np.random.default_rng(1)
    model = AnisotropicGaussians(0.5, 7, 3, act, kmax=30)
    X = _points(rng, 20)
    Y = np.vstack([X[:4], [[0.8, 0.1, 0.0, 0.7], [1.1, -0.2, 0.6, 0.0]]])  # r1 = 0 and r2 = 0 rows
    grad = model.psi_gradient(Y, X)
    h = 1e-6
    for col in range(4):
        Yp, Ym = Y.copy(), Y.copy()
        Yp[:, col] += h
        Ym[:, col] -= h
        Ym[:, 2:] = np.abs(Ym[:, 2:])  # ψ is even in r1, r2
        fd = (model.psi(Yp, X) - model.psi(Ym, X)) / (2 * h)
        assert np.abs(grad[:, col] - fd).max() < 1e-7, col
    # ψ is even in r1 and r2: no flux through the axes
    assert grad[4, 2] == 0.0 and grad[5, 3] == 0.0


@pytest.mark.parametrize("s0,d", [(3, 7), (60, 320)])
def test_reduced_potentials_against_full_model(s0, d):
    rng = np.random.default_rng(2)
    model = AnisotropicGaussians(0.5, d, s0, relu(), train=("a", "w", "b"))
    full = model.full_model()
    X = _points(rng, 4)
    # v is exact: V depends on w only through (r1, r2)
    assert np.abs(full.V(model.lift(X, seed=3)) - model.v(X)).max() < 1e-13
    # u(θ0, θ_m) = E over directions of U
    L = 8000
    lifted = model.lift(np.repeat(X, L, axis=0), seed=7)
    theta0 = model.lift(X[:1], seed=1)
    samples = full.U(theta0, lifted)[0].reshape(4, L)
    z = (model.u(X[:1], X)[0] - samples.mean(1)) / (samples.std(1) / np.sqrt(L))
    assert np.all(np.abs(z) < 4), z
    # ∂ψ/∂r1, ∂ψ/∂r2 and ∂ψ/∂b: finite differences of the full U in the same directions
    # (common random numbers), averaged over directions
    weights = np.full(4, 0.25)
    grad = model.psi_gradient(X[:1], X, weights)[0]
    w0 = theta0.W[0]
    h = 1e-5
    dirs = {2: np.r_[w0[:s0], np.zeros(d - s0)] / np.linalg.norm(w0[:s0]),
            3: np.r_[np.zeros(s0), w0[s0:]] / np.linalg.norm(w0[s0:])}
    for col, e in dirs.items():
        tp, tm = theta0.copy(), theta0.copy()
        tp.W[0] += h * e
        tm.W[0] -= h * e
        dV = (full.V(tp) - full.V(tm))[0] / (2 * h)
        dU = ((full.U(tp, lifted) - full.U(tm, lifted))[0] / (2 * h)).reshape(4, L)
        per = (weights @ dU)  # one estimate per direction draw
        est = dV + per.mean()
        assert abs(grad[col] - est) < 4 * per.std() / np.sqrt(L) + 1e-7, (col, grad[col], est)


@pytest.mark.parametrize("s0,d", [(3, 7), (60, 320)])
def test_reduced_risk_against_full_model(s0, d):
    rng = np.random.default_rng(4)
    model = AnisotropicGaussians(0.5, d, s0, relu())
    full = model.full_model()
    X = _points(rng, 6)
    L = 300
    draws = []
    for rep in range(L):
        A, B = model.lift(X, seed=2 * rep), model.lift(X, seed=2 * rep + 1)
        draws.append(full.U(A, B).mean())  # independent directions, also for the same atom
    draws = np.array(draws)
    est = 1.0 + 2.0 * full.V(model.lift(X, seed=0)).mean() + draws.mean()
    assert abs(model.risk(X) - est) < 4 * draws.std() / np.sqrt(L)


def test_truncation_bound_holds():
    rng = np.random.default_rng(5)
    X = _points(rng, 8)
    for s0, d in [(3, 7), (20, 40)]:
        reference = AnisotropicGaussians(0.5, d, s0, relu(), kmax=120).psi(X, X)
        for K in (4, 10, 20, 40):
            model = AnisotropicGaussians(0.5, d, s0, relu(), kmax=K)
            err = np.abs(model.psi(X, X) - reference)
            bound = model.truncation_bound(X, X)
            assert np.all(err <= bound * (1 + 1e-9) + 1e-14), (s0, d, K, err, bound)
    # d = 320, s0 = 60: the default K is exact to round-off
    model = AnisotropicGaussians(0.5, 320, 60, relu())
    assert model.truncation_bound(X, X).max() < 1e-14


def test_large_d_limit():
    rng = np.random.default_rng(6)
    X = _points(rng, 5)
    limit = AnisotropicGaussians.large_d(0.5, relu()).psi(X, X)
    errs = [np.abs(AnisotropicGaussians(0.5, 5 * n, n, relu()).psi(X, X) - limit).max() for n in (50, 200, 800)]
    # μ_2(n) = 1/n: the first correction is O(1/s0) at fixed s0/d
    assert errs[0] / errs[1] == pytest.approx(4.0, rel=0.15)
    assert errs[1] / errs[2] == pytest.approx(4.0, rel=0.05)


def test_untrained_coordinates_and_errors():
    model = AnisotropicGaussians(0.5, 10, 3, ramp(), train=("w",))
    X = np.array([[1.0, 0.0, 0.5, 0.4], [1.0, 0.0, 0.9, 0.2]])
    grad = model.psi_gradient(X, X)
    assert np.all(grad[:, :2] == 0.0) and np.all(np.isfinite(grad))
    with pytest.raises(ValueError, match="r1, r2"):
        model.psi(np.array([[1.0, 0.0, -0.5, 0.4]]), X)
    with pytest.raises(ValueError, match="s0"):
        AnisotropicGaussians(0.5, 10, 11, ramp())
    with pytest.raises(ValueError, match="kmax"):
        AnisotropicGaussians(0.5, 10, 3, ramp(), kmax=3)
    # w = 0: finite one-sided derivatives, never NaN
    zero = np.array([[1.0, 0.0, 0.0, 0.0]])
    assert np.all(np.isfinite(AnisotropicGaussians(0.5, 10, 3, relu()).psi_gradient(zero, X)))


def test_piecewise_table_kernel_matches_numpy_replay():
    from meanfield.shifted_hermite import _piecewise_tables, _piecewise_tables_numpy
    rng = np.random.default_rng(9)
    s = np.r_[0.0, 0.0, rng.uniform(0, 3, 50), 1e-3]
    b = np.r_[0.5, 0.0, rng.normal(0, 1, 50), 1.5]  # b on a knot at s = 0 (ramp: 0.5; relu: 0)
    for act in (relu(), ramp()):
        m1, e1 = _piecewise_tables(act, s, b, 12)
        m2, e2 = _piecewise_tables_numpy(act, s, b, 12)
        assert np.abs(m1 - m2).max() < 1e-13 and np.abs(e1 - e2).max() < 1e-13


def test_w2_of_reduced_clouds_against_quantile_formula():
    from meanfield import w2_marginals, w2_particles
    from meanfield.wasserstein import w2_empirical_1d
    rng = np.random.default_rng(10)
    X, Y = rng.normal(size=(700, 4)), rng.normal(size=(900, 4)) * [1.0, 1.2, 0.8, 1.0] + [0.3, 0, 0, 0.1]
    # 1-D: exact and sliced W2 both equal the quantile formula
    for method in ("exact", "sliced"):
        w = float(w2_particles(X[:, :1], Y[:, :1], method=method, n_projections=20))
        assert w == pytest.approx(w2_empirical_1d(X[:, 0], Y[:, 0]), rel=1e-9)
    # joint W2² ≥ Σ of marginal W2² (every coupling couples the marginals)
    marg = w2_marginals(X, Y)
    assert float(w2_particles(X, Y, method="exact")) ** 2 >= np.sum(marg**2) - 1e-12
    # a pure translation v: W2 = |v|, SW2² = |v|²/D (mean of (θ·v)² over uniform θ)
    v = np.array([0.5, -0.2, 0.1, 0.3])
    assert float(w2_particles(X, X + v, method="exact")) == pytest.approx(np.linalg.norm(v), rel=1e-9)
    sw = float(w2_particles(X, X + v, method="sliced", n_projections=20000, seed=3))
    assert sw**2 == pytest.approx(v @ v / 4, rel=0.03)
    np.testing.assert_allclose(w2_marginals(X, X + v), np.abs(v), rtol=1e-9)
