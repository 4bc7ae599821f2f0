"""The (r₁, r₂) finite-volume solver of the w-only anisotropic model.

Ground truth: conservation (mass to 1e-12), positivity, the gradient-flow energy law, the
observed order against a 4× finer grid, the exact stationarity of the discrete Gibbs state
(a fixed point found independently by iteration), the radial solver at s0 = d (the same scheme
on the same cells), and the reduced Lagrangian particles (W2 falling with the grid).
"""
import numpy as np
import pytest

from meanfield import AnisotropicGaussians, IsotropicGaussians, ramp, w2_particles
from solvers import solve_radial_pde
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


def test_no_noise_coordinates_is_the_radial_solver():
    d = 10
    model = AnisotropicGaussians(0.8, d, d, ramp(), train=("w",), kmax=160)
    times = [0, 0.5, 1.0]
    sol = solve_anisotropic_pde(model, kappa=0.8, times=times, cells=200, r_max=4.0, cfl=0.4, progress=False)
    rad = solve_radial_pde(IsotropicGaussians(0.8, d, ramp()), init="gaussian", kappa=0.8, times=times,
                           cells=200, r_max=4.0, cfl=0.4, progress=False)
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
    sol = solve_anisotropic_pde(_model(), kappa=0.8, times=[0, 1.0], cells=10, r_max=(1.0, 1.0), progress=False)
    assert sol.status == "failed" and "r_max" in sol.message
