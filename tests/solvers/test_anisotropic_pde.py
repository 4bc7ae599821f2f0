"""The (r₁, r₂) finite-volume solver of the w-only anisotropic model.

Ground truth: conservation (mass to 1e-12), positivity, the gradient-flow energy law, the
observed order against a 4× finer grid, the exact stationarity of the discrete Gibbs state
(a fixed point found independently by iteration), the radial solver at s0 = d (the same scheme
on the same cells), and the reduced Lagrangian particles (W2 falling with the grid).
"""
import numpy as np
import pytest

from scipy.integrate import quad
from scipy.special import roots_legendre

from meanfield import AnisotropicGaussians, IsotropicGaussians, ramp, w2_particles
from solvers import DomainError, solve_radial_pde
from solvers.anisotropic_pde import AnisotropicGrid, solve_anisotropic_pde
from solvers.reduced_lagrangian import solve_reduced_lagrangian

R = (2.5, 2.5)


def _model(kmax=20):
    return AnisotropicGaussians(0.8, 12, 4, ramp(), train=("w",), kmax=kmax)


def _bump_centres(n, sub=8):
    """Smooth compactly supported density (1 − |r − (1, 1)|²/0.64)₊⁴: sub-cell centres and values."""
    e = np.linspace(0, R[0], n * sub + 1)
    c = 0.5 * (e[1:] + e[:-1])
    X, Y = np.meshgrid(c, c, indexing="ij")
    return X, Y, np.maximum(1 - ((X - 1.0) ** 2 + (Y - 1.0) ** 2) / 0.64, 0) ** 4


def _bump(n, sub=8):
    return _bump_centres(n, sub)[2].reshape(n, sub, n, sub).sum(axis=(1, 3))


def _restrict(m, f):
    n1, n2 = m.shape
    return m.reshape(n1 // f, f, n2 // f, f).sum(axis=(1, 3))


def test_noiseless_mass_positivity_energy():
    sol = solve_anisotropic_pde(_model(), kappa=0.8, times=[0, 0.1, 0.3], cells=(40, 36), r_max=(2.5, 2.2),
                                record_energy=True, progress=False)
    assert sol.status == "finished", sol.message
    assert np.abs(sol.mass.sum(axis=(1, 2)) - 1).max() < 1e-12
    assert sol.min_mass >= 0.0
    assert np.all(np.diff(sol.energy_trace[:, 1]) <= 1e-12)
    # the signal radius grows at the start (ramp σ, Δ = 0.8)
    assert sol.mean(2)[0] > 1.5 * sol.mean(0)[0]


def test_second_order_against_4x_finer_grid():
    model = _model()
    sols = {n: solve_anisotropic_pde(model, times=[0, 0.1], cells=n, r_max=R, init=_bump(n), progress=False)
            for n in (24, 48, 96, 192)}
    errs = [np.abs(sols[n].mass[-1] - _restrict(sols[4 * n].mass[-1], 4)).sum() for n in (24, 48)]
    order = np.log2(errs[0] / errs[1])
    assert order >= 1.8, (errs, order)


def test_discrete_gibbs_state_is_stationary():
    model = _model(kmax=10)
    beta, lam = 5.0, 2.0
    grid = AnisotropicGrid(model, (30, 30), (4.0, 4.0))
    m = grid.initial_masses(0.8)
    for _ in range(500):  # damped fixed-point iteration m = Gibbs(ψ[m])
        new = 0.5 * m + 0.5 * grid.gibbs(m, beta, lam)
        if np.abs(new - m).max() < 1e-15:
            break
        m = new
    assert np.abs(grid.gibbs(m, beta, lam) - m).max() < 1e-13
    sol = solve_anisotropic_pde(model, times=[0, 0.05, 0.2], cells=(30, 30), r_max=(4.0, 4.0), init=m,
                                beta=beta, lam=lam, progress=False)
    assert sol.status == "finished", sol.message
    assert np.abs(sol.mass[-1] - m).max() < 1e-12
    # from another state the noisy scheme decreases the free energy and stays positive
    sol = solve_anisotropic_pde(model, kappa=0.8, times=[0, 0.1, 0.5], cells=(30, 30), r_max=(4.0, 4.0),
                                beta=beta, lam=lam, record_energy=True, progress=False)
    assert np.all(np.diff(sol.energy_trace[:, 1]) <= 1e-12) and sol.min_mass >= 0
    assert np.abs(sol.mass.sum(axis=(1, 2)) - 1).max() < 1e-12


@pytest.mark.parametrize("lam", [0.0, 1.0])
def test_no_noise_coordinates_is_the_radial_solver(lam):
    """Also with λ in the noiseless dynamics (both solvers ignored it; the radial one is checked
    against the particle flow with λ in test_radial_pde)."""
    d = 10
    model = AnisotropicGaussians(0.8, d, d, ramp(), train=("w",), kmax=160)
    times = [0, 0.5, 1.0]
    sol = solve_anisotropic_pde(model, kappa=0.8, times=times, cells=200, r_max=4.0, cfl=0.4, lam=lam,
                                progress=False)
    rad = solve_radial_pde(IsotropicGaussians(0.8, d, ramp()), init="gaussian", kappa=0.8, times=times,
                           cells=200, r_max=4.0, cfl=0.4, lam=lam, progress=False)
    assert sol.steps == rad.steps
    # same scheme and cells; ψ differs only by the two Mehler truncations (~1e-10)
    assert np.abs(sol.mass[:, :, 0] - rad.mass).max() < 1e-9
    np.testing.assert_allclose(sol.risk, rad.risk, rtol=1e-9)


def test_grid_agrees_with_reduced_particles():
    """Particles at the 96² sub-cell centres of the same smooth initial law, moved by RK4:
    W2 to the grid solution falls as the grid is refined."""
    model = _model()
    X, Y, dens = _bump_centres(12, sub=8)
    keep = dens.ravel() > 0
    pts = np.column_stack([np.ones(keep.sum()), np.zeros(keep.sum()), X.ravel()[keep], Y.ravel()[keep]])
    lag = solve_reduced_lagrangian(model, pts, times=[0, 0.3], dt=0.01, weights=dens.ravel()[keep])
    w2 = []
    for n in (12, 24, 48):
        sol = solve_anisotropic_pde(model, times=[0, 0.3], cells=n, r_max=R, init=_bump(n), progress=False)
        cells, mass = sol.points(1, tol=1e-14)
        w2.append(float(w2_particles(cells, lag.points[1][:, 2:], mass, lag.weights, method="exact")))
    assert w2[2] < 0.6 * w2[1] < 0.36 * w2[0], w2
    # cell-centre quantisation alone costs ≈ Δr·√(2/12) ≈ 0.41 Δr
    assert w2[2] < 0.5 * R[0] / 48, w2


def test_grid_rejects_bad_input():
    with pytest.raises(ValueError, match="train"):
        AnisotropicGrid(AnisotropicGaussians(0.5, 10, 3, ramp()), 10, 2.0)
    with pytest.raises(ValueError, match="cfl"):
        solve_anisotropic_pde(_model(), cfl=0.7)
    with pytest.raises(ValueError, match="init"):
        solve_anisotropic_pde(_model(), cells=10, r_max=2.0, init=np.ones((3, 3)))


def test_mass_at_the_outer_cells_raises_with_the_snapshots_before():
    """Diffusion (β = 1) drives mass to the edge of [0, 2.2]²: DomainError (a RuntimeError)
    carrying the partial result, status "failed", the snapshot at t = 0 kept (mass 1)."""
    with pytest.raises(DomainError, match="outer cells.*r_max") as exc:
        solve_anisotropic_pde(_model(), kappa=0.8, times=[0, 0.2, 5.0], cells=10, r_max=(2.2, 2.2), beta=1.0,
                              progress=False)
    res = exc.value.result
    assert isinstance(exc.value, RuntimeError) and res.status == "failed" and not res.success
    assert res.times.tolist() == [0.0] and res.mass.shape == (1, 10, 10) and res.stats["steps"] >= 1
    assert res.mass[0].sum() == pytest.approx(1.0, abs=1e-12) and res.message.startswith("failed: mass")


@pytest.mark.parametrize("kwargs, name", [
    (dict(times=[0], r_max=0.5), "r_max"),            # 86% of the initial mass outside: was "finished"
    (dict(times=[0], r_max=(2.5, 1.0)), "r_max"),     # cut in r₂ only
    (dict(outer_tol=float("nan")), "outer_tol"),      # switched the edge check off
    (dict(outer_tol=-1.0), "outer_tol"),              # was "mass 0.00e+00 reached the outer cells"
    (dict(outer_tol=0.5), "outer_tol"),
    (dict(cfl=1e-300), "cfl"),                        # never returned
    (dict(cfl=0.0), "cfl"),
])
def test_refuses_what_it_cannot_solve(kwargs, name):
    """Issue 31: each of these ran (or never returned) before; now a ValueError naming the argument."""
    with pytest.raises(ValueError, match=f"^{name}:"):
        solve_anisotropic_pde(_model(kmax=4), **{"cells": 10, **kwargs, "progress": False})


def test_cell_jacobian_is_the_integral_of_the_two_sphere_factors():
    """The noisy scheme's cell weights exp(log_jac)·Δr₁Δr₂ against adaptive quadrature of
    ∫∫_cell r₁^{s0−1} r₂^{d−s0−1} (r₂^{d−s0} in its place fails this)."""
    model = _model(kmax=4)
    s0, d = model.s0, model.d
    grid = AnisotropicGrid(model, (20, 16), (2.5, 2.2))
    for i, j in [(0, 0), (0, 7), (3, 0), (11, 15), (19, 4)]:
        e1, e2 = grid.edges1[i:i + 2], grid.edges2[j:j + 2]
        exact = (quad(lambda r: r ** (s0 - 1), *e1, epsabs=0, epsrel=1e-13)[0]
                 * quad(lambda r: r ** (d - s0 - 1), *e2, epsabs=0, epsrel=1e-13)[0])
        assert np.exp(grid.log_jac[i, j]) * grid.dr1 * grid.dr2 == pytest.approx(exact, rel=1e-11)


def test_noisy_long_time_state_is_the_gibbs_law_by_quadrature():
    """The noisy solver's state at t = 4 (converged: it moves by ~2e-8 from t = 2) against the
    Gibbs law ρ ∝ r₁^{s0−1} r₂^{d−s0−1} exp(−β(ψ + λ|r|²/2)) integrated over each cell by 6×6
    Gauss–Legendre, ψ(r; ρ_t) from the model at the quadrature nodes (not the grid's midpoint ψ).
    Measured total variation 0.0095 on 24² cells (the scheme's O(Δr²) midpoint error); with
    r₂^{d−s0} in the cell weights it is 0.097."""
    model = _model(kmax=10)
    beta, lam, n = 5.0, 2.0, 24
    sol = solve_anisotropic_pde(model, times=[0, 2, 4], cells=n, r_max=3.0, beta=beta, lam=lam, progress=False)
    m = sol.mass[-1]
    assert np.abs(m - sol.mass[-2]).sum() < 1e-6
    centres = np.array([[1.0, 0.0, a, b] for a in sol.r1 for b in sol.r2])
    nodes, wts = roots_legendre(6)
    gibbs = np.zeros((n, n))
    for i in range(n):
        lo1, hi1 = sol.edges1[i:i + 2]
        x1, w1 = lo1 + (nodes + 1) / 2 * (hi1 - lo1), wts / 2 * (hi1 - lo1)
        for j in range(n):
            lo2, hi2 = sol.edges2[j:j + 2]
            x2, w2 = lo2 + (nodes + 1) / 2 * (hi2 - lo2), wts / 2 * (hi2 - lo2)
            A, B = np.meshgrid(x1, x2, indexing="ij")
            Y = np.column_stack([np.ones(A.size), np.zeros(A.size), A.ravel(), B.ravel()])
            psi = model.psi(Y, centres, m.ravel()).reshape(A.shape)
            density = A ** (model.s0 - 1) * B ** (model.d - model.s0 - 1) * np.exp(-beta * (psi + 0.5 * lam * (A**2 + B**2)))
            gibbs[i, j] = np.sum(np.outer(w1, w2) * density)
    gibbs /= gibbs.sum()
    assert 0.5 * np.abs(gibbs - m).sum() < 0.03
