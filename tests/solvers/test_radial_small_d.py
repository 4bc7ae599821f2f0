"""The radial solvers at small d (2, 3), where the Mehler series cannot reach tol: the dense
kernel table against direct angular quadrature, the PDE against the Lagrangian solver, the
particle flow and the Gibbs state, and the d = 1 refusal."""
import math

import numpy as np
import pytest
from scipy import stats

from meanfield import IsotropicGaussians, nonmonotone, pair_kernel, pair_kernel_gradient, ramp
from meanfield.kernel_features import KernelMatrix
from meanfield.radial_table import _theta_density
from meanfield.wasserstein import w2_radial
from solvers import init_gaussian
from solvers.gibbs import gibbs_fixed_point
from solvers.particle_flow import run_particle_flow
from solvers.radial_lagrangian import solve_radial_lagrangian
from solvers.radial_pde import solve_radial_pde, w2_grids


def _direct(model, r, rp):
    """u(r, r') and ∂_r u(r, r') = ½ Σ_s E_θ [K, s ∂_aK](s r, s r', cos θ) by a composite 40-point
    Gauss–Legendre rule in θ on panels refined geometrically (to 1e-6) toward θ = 0 and π, with
    the closed-form pair kernel at every node: the exact average, no series, no split."""
    g, w = np.polynomial.legendre.leggauss(40)
    inner = np.geomspace(1e-6, 0.5, 30)
    edges = np.concatenate(([0.0], inner, np.linspace(0.5, math.pi - 0.5, 30)[1:-1], (math.pi - inner)[::-1],
                            [math.pi]))
    lo, hi = edges[:-1, None], edges[1:, None]
    theta = (0.5 * (lo + hi) + 0.5 * (hi - lo) * g).ravel()
    weight = (0.5 * (hi - lo) * w).ravel() * _theta_density(theta, model.d)
    value = deriv = 0.0
    for s in model.scales:
        value += 0.5 * pair_kernel(model.activation, s * r, s * rp, np.cos(theta)) @ weight
        da, _ = pair_kernel_gradient(model.activation, np.full(theta.size, s * r), s * rp, np.cos(theta))
        deriv += 0.5 * s * da @ weight
    return value, deriv


@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("act, delta", [(nonmonotone(), 0.5), (ramp(), 0.8)])
def test_dense_kernel_equals_direct_angular_quadrature(d, act, delta):
    """u and ∂_r u from the split rule (series for |c| ≤ ¾, ∫∂²_cK Q for |c| > ¾) against the
    direct quadrature, at r = 0 (right limit), tiny r, a near-diagonal pair and large r
    (measured ≤ 3e-12)."""
    model = IsotropicGaussians(delta, d, act)
    r = np.array([0.0, 1e-3, 0.2, 0.7, 0.7005, 1.3, 3.0, 6.0])
    with pytest.raises(ValueError, match="allow_inexact=True"):  # the series cannot serve these d
        model.kernel_features(r)
    U, D = model.dense_kernel(r, r, values=True, derivatives=True)
    np.testing.assert_allclose(U, U.T, rtol=0, atol=1e-14)
    for i in range(r.size):
        for j in range(r.size):
            value, deriv = _direct(model, r[i], r[j])
            assert abs(U[i, j] - value) < 1e-10, (i, j)
            assert abs(D[i, j] - deriv) < 1e-9, (i, j)
    grid_kernel = model.radial_kernel(r)
    assert isinstance(grid_kernel, KernelMatrix)
    np.testing.assert_allclose(grid_kernel.values, U, rtol=0, atol=1e-14)  # (built symmetric)
    # dpsi and psi use the dense kernel too: ∂_rψ against the difference quotient of ψ
    radii, h = np.array([0.3, 0.9, 1.7]), 1e-5
    x = np.array([0.4, 1.1, 2.0])
    fd = (model.psi(x + h, radii) - model.psi(x - h, radii)) / (2 * h)
    np.testing.assert_allclose(model.dpsi(x, radii), fd, rtol=0, atol=1e-7)


def test_grown_grid_reuses_the_table():
    """A grown grid (the automatic domain adds cells of the same width) extends the table of
    the grid it replaces: the same values as a table built from scratch; and a PDE run whose
    domain grows (radii in [0.5, 1]: r_max = 3 at first) keeps its mass."""
    from solvers.radial_pde import _Grid
    model = IsotropicGaussians(0.8, 2, ramp())
    small = _Grid(model, 60, 3.0)
    grown = _Grid(model, 75, 75 * small.dr, previous=small)
    np.testing.assert_allclose(grown.feats.values, model.dense_kernel(grown.r, grown.r)[0], rtol=0, atol=1e-14)
    sol = solve_radial_pde(model, init=np.linspace(0.5, 1.0, 50), times=[0, 4], cells=60)
    assert sol.r.size > 60 and abs(sol.mass[-1].sum() - 1.0) < 1e-12


@pytest.mark.parametrize("d", [2, 3])
def test_pde_matches_the_lagrangian_solver(d):
    """FV (400 cells) against quantile particles (n = 1000, RK4 dt = 0.02, the interpolated dense
    table): mean radius within 1e-3 and W2 < 0.01 at t = 1, 2; mass conserved, energy decays."""
    model = IsotropicGaussians(0.8, d, ramp())
    sol = solve_radial_pde(model, times=[0, 1, 2], cells=400, record_energy=True)
    lag = solve_radial_lagrangian(model, times=[0, 1, 2], n=1000, dt=0.02)
    assert np.all(np.abs(sol.mass.sum(axis=1) - 1.0) < 1e-12) and sol.min_mass >= 0.0
    e = sol.energy_trace[:, 1]
    assert np.all(np.diff(e) <= 1e-14 * np.abs(e[:-1]))
    for k in (1, 2):
        assert abs(sol.mean_radius(k) - lag.mean_radius(k)) < 1e-3
        assert w2_radial(lag.radii[k], sol, index=k) < 1e-2  # measured ≤ 6.3e-3 ≈ Δr/4


def _stratified(n, d, kappa, seed):
    """n particles of w ~ N(0, κ²/d I_d) with little sampling error: radii at the quantiles
    (i − ½)/n of κ/√d χ_d in random order, directions equally spaced on the circle (d = 2) or
    on a Fibonacci sphere (d = 3)."""
    rng = np.random.default_rng(seed)
    r = stats.chi(d, scale=kappa / math.sqrt(d)).ppf((np.arange(n) + 0.5) / n)
    rng.shuffle(r)
    if d == 2:
        theta = 2 * math.pi * (np.arange(n) + rng.random()) / n
        unit = np.stack([np.cos(theta), np.sin(theta)], axis=1)
    else:
        i = np.arange(n) + 0.5
        z = 1 - 2 * i / n
        phi = math.pi * (1 + math.sqrt(5)) * i
        unit = np.stack([np.sqrt(1 - z * z) * np.cos(phi), np.sqrt(1 - z * z) * np.sin(phi), z], axis=1)
    return r[:, None] * unit


def test_flow_follows_the_pde_at_d3():
    """The R^3 particle flow (exact pairwise drift, no radial kernel) from 100 stratified
    particles against the PDE: mean radius within 0.01 at t = 1 (measured 2e-3, and 1e-3
    with a second seed; the N = 4000 iid comparison is the slow test below)."""
    model = IsotropicGaussians(0.8, 3, ramp())
    sol = solve_radial_pde(model, times=[0, 1], cells=400)
    flow = run_particle_flow(model, _stratified(100, 3, 0.8, 0), times=[0, 1], rtol=1e-6)
    assert abs(flow.radii[1].mean() - sol.mean_radius(1)) < 0.01


@pytest.mark.slow
@pytest.mark.parametrize("d", [2, 3])
def test_flow_follows_the_pde_n4000(d):
    """N = 4000 iid particles: mean radius within 0.01 of the PDE at t = 1, 2 (the issue's
    tolerance). Measured at d = 2: differences −0.0009 and −0.0026, with std(r)/√N = 0.010 and
    0.013; the flow took 29 min on 2 cores (60 dopri5 steps). d = 3 took 21 min."""
    model = IsotropicGaussians(0.8, d, ramp())
    sol = solve_radial_pde(model, times=[0, 1, 2], cells=800)
    flow = run_particle_flow(model, init_gaussian(4000, d, 0.8, seed=0), times=[0, 1, 2], rtol=1e-6)
    for k in (1, 2):
        assert abs(flow.radii[k].mean() - sol.mean_radius(k)) < 0.01


@pytest.mark.parametrize("d", [2, 3])
def test_noisy_pde_converges_to_gibbs(d):
    """Noisy FV at long times equals the self-consistent Gibbs state on the same grid."""
    model = IsotropicGaussians(0.8, d, ramp())
    beta, lam = 20.0, 1.0
    gibbs = gibbs_fixed_point(model, beta, lam, cells=200, r_max=6.0)
    sol = solve_radial_pde(model, times=[0, 4, 8], cells=200, r_max=6.0, beta=beta, lam=lam, record_energy=True)
    e = sol.energy_trace[:, 1]
    assert np.all(np.diff(e) <= 1e-13 * np.abs(e[:-1]))
    assert w2_grids(gibbs.edges, gibbs.mass, sol.edges, sol.mass[-1]) < 1e-3
    assert abs(sol.free_energy[-1] - gibbs.free_energy) < 1e-9
    assert gibbs.residual < 1e-10


def test_d1_is_refused_with_the_reason():
    model = IsotropicGaussians(0.8, 1, ramp())
    for call in (lambda: solve_radial_pde(model, times=[0, 1], cells=50),
                 lambda: gibbs_fixed_point(model, 10.0, 1.0, cells=50),
                 lambda: solve_radial_lagrangian(model, times=[0, 1], n=10),
                 lambda: model.dense_kernel([1.0], [1.0])):
        with pytest.raises(ValueError, match="sign"):
            call()
