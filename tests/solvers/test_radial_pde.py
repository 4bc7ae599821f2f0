"""Finite-volume radial PDE: conservation, positivity, energy decay, second-order
convergence, agreement with the Lagrangian (quantile-particle) solver, Gibbs state."""
import numpy as np
import pytest

from meanfield import IsotropicGaussians, nonmonotone, ramp
from meanfield.wasserstein import w2_radial
from solvers import ConvergenceError, DomainError
from solvers.gibbs import gibbs_fixed_point
from solvers.radial_lagrangian import solve_radial_lagrangian
from solvers.radial_pde import solve_radial_pde, w2_grids


@pytest.fixture(scope="module")
def model():
    return IsotropicGaussians(delta=0.8, d=40, activation=ramp())


@pytest.fixture(scope="module")
def lagrangian(model):
    """Reference: 8000 quantile particles, RK4 dt = 0.02 (time error ~1e-7), t ≤ 2."""
    return solve_radial_lagrangian(model, times=[0, 1, 2], n=8000, dt=0.02)


@pytest.fixture(scope="module")
def reference_fv(model):
    return solve_radial_pde(model, times=[0, 1, 2], cells=1000, record_energy=True)


def w2_vs_particles(radii, sol, k):
    """Exact W2 between the particle radii and FV snapshot k."""
    return w2_radial(radii, sol, index=k)


def test_mass_positivity_energy(reference_fv):
    sol = reference_fv
    assert np.all(np.abs(sol.mass.sum(axis=1) - 1.0) < 1e-12)
    assert sol.min_mass >= 0.0 and np.all(sol.density >= 0.0)
    e = sol.energy_trace[:, 1]
    assert np.all(np.diff(e) <= 1e-14 * np.abs(e[:-1]))
    assert e[-1] < e[0] - 0.1


def test_risk_matches_model(model, reference_fv, lagrangian):
    sol = reference_fv
    for k in range(len(sol.times)):
        exact = model.radial_risk(sol.r, sol.mass[k])
        assert abs(sol.risk[k] - exact) < 1e-9
        assert abs(sol.risk[k] - model.radial_risk(lagrangian.radii[k])) < 1e-4
    assert abs(sol.risk[0] - 1.70) < 0.01


def test_reference_numbers(reference_fv):
    assert abs(reference_fv.mean_radius(1) - 1.42) < 0.01


def test_fv_matches_lagrangian_t2(reference_fv, lagrangian):
    for k in (1, 2):
        assert w2_vs_particles(lagrangian.radii[k], reference_fv, k) < 1.2e-3


def test_grid_convergence_second_order(model):
    """Three-grid order p = log2(W2(ρ_250, ρ_500) / W2(ρ_500, ρ_1000)) at t = 1, 2."""
    sols = [solve_radial_pde(model, times=[1, 2], cells=c, r_max=4.0) for c in (250, 500, 1000)]
    for k in range(2):
        d1 = w2_grids(sols[0].edges, sols[0].mass[k], sols[1].edges, sols[1].mass[k])
        d2 = w2_grids(sols[1].edges, sols[1].mass[k], sols[2].edges, sols[2].mass[k])
        assert np.log2(d1 / d2) >= 1.8


def test_noisy_converges_to_gibbs(model):
    beta, lam = 20.0, 1.0
    gibbs = gibbs_fixed_point(model, beta, lam, cells=400, r_max=6.0)
    sol = solve_radial_pde(model, times=[0, 2, 6], cells=400, r_max=6.0, beta=beta, lam=lam,
                           record_energy=True)
    assert np.all(np.abs(sol.mass.sum(axis=1) - 1.0) < 1e-12) and sol.min_mass >= 0.0
    e = sol.energy_trace[:, 1]
    assert np.all(np.diff(e) <= 1e-13 * np.abs(e[:-1]))
    assert w2_grids(gibbs.edges, gibbs.mass, sol.edges, sol.mass[-1]) < 1e-3
    assert abs(sol.free_energy[-1] - gibbs.free_energy) < 1e-9
    # the fixed point is self-consistent: m ∝ ∫r^{d−1} exp(−β(ψ + λr²/2))
    assert gibbs.residual < 1e-10


def test_atom_at_origin_is_kept(model):
    """Non-monotone σ, small κ: ∂_rψ(0+; δ0) ≈ 3.95 > 0, the bulk collapses onto r = 0
    and stays in the first cell (a far tail of mass ~4e-7 escapes outward); the risk
    tends to R# + σ(0)² = 7.25 up to O(Δr) (the atom sits at the first cell centre)."""
    m = IsotropicGaussians(delta=0.8, d=40, activation=nonmonotone())
    sol = solve_radial_pde(m, kappa=0.1, times=[0, 0.5, 1], cells=100)
    assert np.all(np.isfinite(sol.mass)) and sol.min_mass >= 0.0
    assert np.all(np.abs(sol.mass.sum(axis=1) - 1.0) < 1e-12)
    assert sol.mass[1, 0] > 0.999 and sol.mass[2, 0] >= sol.mass[1, 0] - 1e-12
    assert abs(sol.risk[-1] - 7.25) < 4 * 3.95 * sol.r[0]


def test_init_variants(model):
    rng = np.random.default_rng(0)
    radii = 0.8 / np.sqrt(40) * np.sqrt(rng.chisquare(40, 4000))
    a = solve_radial_pde(model, init=radii, times=[0, 0.5], cells=200, r_max=4.0)
    f = lambda r: r**39 * np.exp(-40 * r**2 / (2 * 0.64))
    b = solve_radial_pde(model, init=f, times=[0, 0.5], cells=200, r_max=4.0)
    c = solve_radial_pde(model, times=[0, 0.5], cells=200, r_max=4.0)
    assert w2_grids(b.edges, b.mass[0], c.edges, c.mass[0]) < 1e-6
    assert w2_grids(a.edges, a.mass[1], c.edges, c.mass[1]) < 0.03
    assert abs(b.mean_radius(1) - c.mean_radius(1)) < 1e-6


def test_outer_boundary_refuses_to_lose_mass(model):
    """DomainError (a SolverError, so still a RuntimeError) carrying the snapshots before."""
    with pytest.raises(DomainError, match="outer cell.*r_max") as exc:
        solve_radial_pde(model, times=[0, 0.5, 3], cells=100, r_max=2.0)
    res = exc.value.result
    assert isinstance(exc.value, RuntimeError) and res.status == "failed"
    assert res.times.tolist() == [0.0, 0.5] and res.mass.shape == (2, 100) and res.stats["steps"] > 1
    np.testing.assert_allclose(res.mass.sum(axis=1), 1.0, atol=1e-12)


@pytest.mark.parametrize("kwargs, name", [
    (dict(r_max=1e300), "r_max"),     # was "finished" with a mean radius of 5e297 (one cell)
    (dict(r_max=400.0), "r_max"),     # Δr = 4 > half the extent of the initial law
    (dict(r_max=1.0), "r_max"),       # cuts the initial law
    (dict(kappa="a"), "kappa"),       # was numpy's ufunc 'isfinite' TypeError
    (dict(kappa=float("inf")), "kappa"),
    (dict(cfl=1e-300), "cfl"),
])
def test_refuses_what_the_grid_cannot_resolve(model, kwargs, name):
    """Issue 31: a ValueError naming the argument, before any step."""
    with pytest.raises(ValueError, match=f"^{name}:"):
        solve_radial_pde(model, **{"times": [0, 0.1], "cells": 100, **kwargs})


@pytest.mark.parametrize("kwargs", [dict(cells=5), dict(beta=0.0), dict(beta=-1.0), dict(lam=-1.0),
                                    dict(times=[0, 2, 1]), dict(times=[-1, 1]), dict(init="uniform"),
                                    dict(kappa=-1.0), dict(limiter="superbee")])
def test_bad_input(model, kwargs):
    with pytest.raises(ValueError):
        solve_radial_pde(model, **kwargs)


@pytest.mark.slow
def test_fv_matches_lagrangian_t5(model):
    """2000 cells on [0, 4.9] (the t = 5 support ends at r ≈ 4.67; a fixed r_max raises
    if mass > 1e-12 reaches the last cell): W2 ≈ 1.9e-3, including the ~3e-4
    quantisation floor of the 8000-particle reference."""
    lag = solve_radial_lagrangian(model, times=[5], n=8000, dt=0.02)
    sol = solve_radial_pde(model, times=[5], cells=2000, r_max=4.9)
    assert sol.r.size == 2000
    assert w2_vs_particles(lag.radii[0], sol, 0) < 2e-3
    assert abs(sol.mean_radius(0) - 2.36) < 0.01


@pytest.mark.parametrize("d", [2, 3, 7, 40])
def test_cell_jacobian_is_the_integral_of_r_to_the_d_minus_1(d):
    """The noisy scheme's and the Gibbs solver's cell weights ∫_cell r^{d−1} dr (d − 2 in place
    of d − 1 fails this) against adaptive quadrature."""
    from scipy.integrate import quad

    from solvers.radial_pde import _Grid
    model = IsotropicGaussians(0.8, d, ramp())
    grid = _Grid(model, 40, 4.0)
    for j in (0, 1, 17, 39):
        lo, hi = grid.edges[j], grid.edges[j + 1]
        exact = quad(lambda r: r ** (d - 1), lo, hi, epsabs=0, epsrel=1e-13)[0]
        assert np.exp(grid.log_jac[j]) * grid.dr == pytest.approx(exact, rel=1e-11)


def test_gibbs_and_grid_helpers_refuse_bad_input():
    """Each failed silently or with an unrelated error before: max_iter=0 (UnboundLocalError),
    a Gibbs state cut by the domain (returned with its mass piled in the last cell),
    quantile_radii(k, 2.5) and negative or NaN masses (returned numbers)."""
    from solvers.radial_pde import sample_grid_density
    model = IsotropicGaussians(0.8, 6, ramp())
    with pytest.raises(ValueError, match="max_iter"):
        gibbs_fixed_point(model, 10.0, 1.0, cells=50, r_max=4.0, max_iter=0)
    with pytest.raises(ValueError, match="beta"):
        gibbs_fixed_point(model, None, 1.0, cells=50, r_max=4.0)
    with pytest.raises(DomainError, match="outer cell") as exc:  # λ = 0.01: the state reaches far beyond r = 2
        gibbs_fixed_point(model, 2.0, 0.01, cells=50, r_max=2.0)
    assert exc.value.result.status == "failed" and exc.value.result.mass.sum() == pytest.approx(1.0)
    with pytest.raises(ConvergenceError, match="no convergence in 3 iterations") as exc:
        gibbs_fixed_point(model, 10.0, 1.0, cells=50, r_max=4.0, max_iter=3)
    assert exc.value.result.status == "failed" and exc.value.result.iterations == 3
    sol = solve_radial_pde(model, kappa=0.8, times=[0.0, 0.1], cells=60)
    with pytest.raises(ValueError, match="n:"):
        sol.quantile_radii(1, 2.5)
    with pytest.raises(ValueError, match="k:"):
        sol.quantile_radii(5, 10)
    edges = np.linspace(0, 1, 4)
    for bad in ([0.5, -0.1, 0.6], [0.5, np.nan, 0.5], [0.0, 0.0, 0.0]):
        with pytest.raises(ValueError, match="mass"):
            sample_grid_density(edges, bad, 10, 0)
    with pytest.raises(ValueError, match="edges"):
        sample_grid_density(edges[:3], [0.5, 0.2, 0.3], 10, 0)


def test_noiseless_lam_follows_the_particle_flow_with_lam():
    """β = None with λ = 1: the radial PDE moves mass with −2ξ ∂_r(ψ + λr²/2), as the particle
    flow with ``lam`` does (it ignored λ: λ = 0 and λ = 1 gave the same risk). Mean radius of the
    flow (N = 1000) within 4 standard errors of the PDE's; λ = 0 far outside that."""
    from solvers import run_particle_flow
    from solvers.initialization import init_gaussian
    model = IsotropicGaussians(0.8, 40, ramp())
    flow = run_particle_flow(model, init_gaussian(1000, 40, 0.8, seed=1), times=[0, 0.5], dt=0.05, lam=1.0,
                             record=("radii",))
    radii = flow.radii[1]
    tol = 4.0 * radii.std() / np.sqrt(radii.size)
    pde = solve_radial_pde(model, times=[0, 0.5], cells=400, lam=1.0, progress=False)
    free = solve_radial_pde(model, times=[0, 0.5], cells=400, lam=0.0, progress=False)
    assert abs(pde.mean_radius(1) - radii.mean()) < tol
    assert abs(free.mean_radius(1) - radii.mean()) > 10 * tol
    assert pde.risk[1] != free.risk[1]
    # the energy it dissipates includes (λ/2)∫r²dρ̄
    np.testing.assert_allclose(pde.free_energy, 0.5 * pde.risk + 0.5 * (pde.mass @ pde.r**2), rtol=1e-12)
    assert pde.free_energy[1] < pde.free_energy[0]
