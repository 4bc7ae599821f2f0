"""The step-doubling accuracy check of the fixed-step integrators (RK4 flow, Euler-Maruyama, radial and
reduced Lagrangian): its estimate against the true error (closed form, or a tight reference), and the
stable-but-wrong steps it refuses."""
import numpy as np
import pytest

from meanfield import AnisotropicGaussians, IsotropicGaussians, ramp
from solvers import (AccuracyError, init_gaussian, run_particle_flow, solve_radial_lagrangian,
                     solve_reduced_lagrangian)
from solvers._step_check import StepDoublingCheck


def _rk4_rotation(y, t, h):
    """One RK4 step of the harmonic oscillator q' = p, p' = −q (y of shape (2, n))."""
    def f(z):
        return np.array([z[1], -z[0]])
    k1 = f(y)
    k2 = f(y + 0.5 * h * k1)
    k3 = f(y + 0.5 * h * k2)
    k4 = f(y + h * k3)
    return y + (h / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4)


def _euler_rotation(y, t, h):
    return y + h * np.array([y[1], -y[0]])


@pytest.mark.parametrize("advance, order, h", [(_rk4_rotation, 4, 0.2), (_rk4_rotation, 4, 0.05),
                                               (_euler_rotation, 1, 0.01), (_euler_rotation, 1, 1e-3)])
def test_estimate_matches_the_closed_form_error_of_the_oscillator(advance, order, h):
    """q' = p, p' = −q to T = 5 from (cos φ, −sin φ): the exact solution is (cos(t + φ), −sin(t + φ));
    the summed step-doubling estimate (one check in 20 steps) is within a factor 1.5 of the true
    max-norm error (the error grows linearly: the sum of local errors is the global error)."""
    phi = np.linspace(0.0, 1.0, 7)
    y = np.array([np.cos(phi), -np.sin(phi)])
    check = StepDoublingCheck(advance, order, 1.0, 20, "oscillator")
    t, T = 0.0, 5.0
    while t < T - 1e-12:
        step = min(h, T - t)
        new = advance(y, t, step)
        check.after(y, t, step, new)
        y, t = new, t + step
    true = np.max(np.abs(y - np.array([np.cos(T + phi), -np.sin(T + phi)])))
    assert 1 / 1.5 < check.estimate / true < 1.5, (check.estimate, true)


def test_flow_rk4_estimate_agrees_with_a_tight_reference():
    """Reference run (ramp, Δ = 0.8, d = 40), N = 60 to t = 1: the RK4 flow's error_estimate against
    its true max-norm error w.r.t. dopri5 at rtol = 1e-10, within a factor 3 (measured at N = 200,
    t = 10: ratios 0.89 (dt = 0.1), 0.99 (dt = 0.05))."""
    model = IsotropicGaussians(0.8, 40, ramp())
    W0 = init_gaussian(60, 40, 0.8, seed=0)
    ref = run_particle_flow(model, W0, [1.0], rtol=1e-10, record=("weights",), progress=False).weights[-1]
    for dt in (0.25, 0.1):
        res = run_particle_flow(model, W0, [1.0], method="rk4", dt=dt, record=("weights",), progress=False,
                                accuracy_tol=1.0)
        true = np.max(np.abs(res.weights[-1] - ref))
        assert 1 / 3 < res.error_estimate / true < 3, (dt, res.error_estimate, true)


def test_flow_with_a_stable_but_inaccurate_step_raises():
    """dt = 0.5 on the reference run is stable (the energy decreases) but wrong: the risk at t = 10
    differs from an accurate run's (dt = 0.05, estimate ≈ 1e-3) by more than 0.1. Now it raises,
    naming dt and the estimate; the accurate run passes."""
    model = IsotropicGaussians(0.8, 40, ramp())
    W0 = init_gaussian(100, 40, 0.8, seed=0)
    times = [0, 1, 2, 5, 10]
    good = run_particle_flow(model, W0, times, method="rk4", dt=0.05, progress=False)
    assert good.status == "finished" and good.error_estimate < 1e-2
    with pytest.raises(AccuracyError, match=r"dt = 0\.5 is too large.*accuracy_tol"):
        run_particle_flow(model, W0, times, method="rk4", dt=0.5, progress=False)
    bad = run_particle_flow(model, W0, times, method="rk4", dt=0.5, progress=False, accuracy_tol=None)
    assert bad.error_estimate is None
    assert abs(bad.risk[-1] - good.risk[-1]) > 0.1


def test_euler_maruyama_drift_estimate_and_large_steps():
    """With β = 1e12 the Brownian increments are negligible (~1e-7) and Euler-Maruyama is Euler's method
    for the flow: its estimate (over the last unit of time) against dopri5 to t = 1 within a factor 3.
    A large step (dt = 0.5, β = 30) raises; the default dt passes."""
    model = IsotropicGaussians(0.8, 40, ramp())
    W0 = init_gaussian(60, 40, 0.8, seed=0)
    ref = run_particle_flow(model, W0, [1.0], rtol=1e-10, record=("weights",), progress=False).weights[-1]
    for dt in (0.02, 0.01):
        res = run_particle_flow(model, W0, [1.0], beta=1e12, dt=dt, record=("weights",), progress=False,
                                accuracy_tol=1.0)
        true = np.max(np.abs(res.weights[-1] - ref))
        assert 1 / 3 < res.error_estimate / true < 3, (dt, res.error_estimate, true)
    with pytest.raises(AccuracyError, match=r"Euler-Maruyama.*dt = 0\.5"):
        run_particle_flow(model, W0, [0, 1, 2, 5, 10], beta=30.0, dt=0.5, progress=False)
    ok = run_particle_flow(model, W0, [0.5], beta=30.0, progress=False)  # default dt = 1e-3
    assert ok.status == "finished" and ok.error_estimate < 1e-3


def test_radial_lagrangian_estimate_and_large_steps():
    """dt = 5 (measured mean radius at t = 10: 3.72 against 3.45) raises; dt = 0.1: the estimate against
    the true max-norm error w.r.t. dt = 0.01 within a factor 3 (measured 1.09 at n = 2000)."""
    model = IsotropicGaussians(0.8, 40, ramp())
    with pytest.raises(AccuracyError, match=r"solve_radial_lagrangian: the fixed step dt = 5 "):
        solve_radial_lagrangian(model, n=500, dt=5.0, progress=False)
    ref = solve_radial_lagrangian(model, n=500, dt=0.01, progress=False)
    assert ref.error_estimate < 1e-4  # measured 7e-6, against 5e-2 at dt = 0.1
    res = solve_radial_lagrangian(model, n=500, dt=0.1, progress=False, accuracy_tol=1.0)
    true = np.max(np.abs(res.radii[-1] - ref.radii[-1]))
    assert 1 / 3 < res.error_estimate / true < 3, (res.error_estimate, true)


def test_reduced_lagrangian_estimate_and_large_steps():
    """(a, b, r₁, r₂) particles to t = 2: the estimate at dt = 0.2 against the true error w.r.t.
    dt = 0.01, within a factor 3; dt = 1 raises."""
    model = AnisotropicGaussians(0.8, 12, 4, ramp(), kmax=8)
    X0 = model.init(300, 0.8, seed=0)
    ref = solve_reduced_lagrangian(model, X0, [0, 1, 2], dt=0.01, progress=False)
    res = solve_reduced_lagrangian(model, X0, [0, 1, 2], dt=0.2, progress=False, accuracy_tol=1.0)
    true = np.max(np.abs(res.points[-1] - ref.points[-1]))
    assert 1 / 3 < res.error_estimate / true < 3, (res.error_estimate, true)
    with pytest.raises(AccuracyError, match="solve_reduced_lagrangian"):
        solve_reduced_lagrangian(model, X0, [0, 1, 2], dt=1.0, progress=False)


@pytest.mark.parametrize("value", [0.0, -1.0, 2.0, float("nan"), "tight", True])
def test_accuracy_tol_is_checked(value):
    model = IsotropicGaussians(0.8, 10, ramp())
    with pytest.raises(ValueError, match="^accuracy_tol:"):
        run_particle_flow(model, init_gaussian(5, 10, 0.8, seed=0), [0.1], dt=0.05, method="rk4",
                          accuracy_tol=value)
    with pytest.raises(ValueError, match="^accuracy_tol:"):
        solve_radial_lagrangian(model, n=10, times=[0.1], accuracy_tol=value)
