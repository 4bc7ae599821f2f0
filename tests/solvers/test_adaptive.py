"""The Dormand–Prince 5(4) stepper: its order on ODEs with closed-form solutions, tolerance
proportionality, FSAL economy, and agreement with RK4 step doubling on a particle flow."""
import math

import numpy as np
import pytest

from meanfield import IsotropicGaussians, ramp
from solvers._adaptive import DormandPrince
from solvers.initialization import init_gaussian
from solvers.particle_flow import run_particle_flow


def _exp_sin(y, t):
    """y' = y cos t, y(0) = y0: y(t) = y0 exp(sin t)."""
    return y * math.cos(t)


def test_one_step_orders():
    """From y(0) = 1 one step of size h: the fifth-order solution errs by O(h⁶) and the
    embedded estimate (fifth minus fourth order) is O(h⁵): halving h divides them by ≈ 64
    and ≈ 32."""
    errors, estimates = [], []
    for h in (0.2, 0.1, 0.05):
        stepper = DormandPrince(_exp_sin, rtol=1e10, h=h)  # every step accepted
        y0 = np.array([1.0, 2.0])
        y1, t1 = stepper.step(y0, 0.0, 10.0)
        assert t1 == pytest.approx(h, rel=1e-15)
        errors.append(np.max(np.abs(y1 - y0 * math.exp(math.sin(h)))))
        estimates.append(stepper.last_error * 1e10 * np.max(np.abs(y1)))  # ‖e‖ times its scale (atol = 0)
    order = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(np.abs(order - 6) < 0.4), order
    est_order = np.log2(np.array(estimates[:-1]) / np.array(estimates[1:]))
    assert np.all(np.abs(est_order - 5) < 0.4), est_order


def _integrate(velocity, y0, t_end, rtol):
    stepper = DormandPrince(velocity, rtol=rtol, atol=rtol)
    y, t, steps = y0, 0.0, 0
    while t < t_end:
        y, t = stepper.step(y, t, t_end)
        steps += 1
    return y, stepper, steps


def test_tolerance_proportionality_and_fsal():
    """Kepler-like oscillator y'' = −y (y = cos t, y' = −sin t) over 20 periods: the global
    error follows rtol (within a factor 30 of it over five decades), the error per evaluation
    falls like evaluations^−5 (fifth order), and each accepted step costs six evaluations
    plus six per rejection (FSAL), one more to start."""
    def rotation(y, t):
        return np.array([y[1], -y[0]])

    t_end = 40 * math.pi
    evals, errs = [], []
    for rtol in (1e-5, 1e-7, 1e-9, 1e-11):
        y, stepper, steps = _integrate(rotation, np.array([1.0, 0.0]), t_end, rtol)
        err = np.max(np.abs(y - [math.cos(t_end), -math.sin(t_end)]))
        assert err < 30 * rtol * t_end
        assert stepper.evaluations == 6 * (steps + stepper.rejected) + 2  # k1 + the starting-step probe
        evals.append(stepper.evaluations)
        errs.append(err)
    slope = np.polyfit(np.log(evals), np.log(errs), 1)[0]
    assert -6.0 < slope < -4.0, slope


def test_rejects_a_too_large_step_and_recovers():
    """A first trial step of 10 on y' = −50 (y − cos t) (stiff-ish): rejected, then the
    solution matches the closed form y = (2500 cos t + 50 sin t)/2501 + C e^{−50t} to 1e-6."""
    def relax(y, t):
        return -50.0 * (y - math.cos(t))

    stepper = DormandPrince(relax, rtol=1e-8, atol=1e-8, h=10.0)
    y, t = np.array([1.0]), 0.0
    while t < 2.0:
        y, t = stepper.step(y, t, 2.0)
    c = 1.0 - 2500 / 2501
    exact = (2500 * math.cos(2.0) + 50 * math.sin(2.0)) / 2501 + c * math.exp(-100.0)
    assert stepper.rejected >= 1
    assert abs(y[0] - exact) < 1e-6


def test_dopri5_flow_matches_step_doubling():
    """The reference model (d = 40) with 200 particles to t = 0.5: dopri5 and RK4 step
    doubling at rtol = 1e-9 agree to 1e-7 in every radius, dopri5 with fewer drift evaluations."""
    model = IsotropicGaussians(0.8, 40, ramp())
    W0 = init_gaussian(200, 40, 0.8, seed=3)

    class Counting:
        def __init__(self):
            self.calls = 0

        def __getattr__(self, name):
            return getattr(model, name)

        def potential_gradient(self, W):
            self.calls += 1
            return model.potential_gradient(W)

    a, b = Counting(), Counting()
    fast = run_particle_flow(a, W0, times=[0, 0.25, 0.5], rtol=1e-9, check_energy=True)
    slow = run_particle_flow(b, W0, times=[0, 0.25, 0.5], rtol=1e-9, method="rk4")
    np.testing.assert_allclose(fast.radii, slow.radii, rtol=0, atol=1e-7)
    assert a.calls < b.calls


def test_dopri5_takes_no_dt():
    model = IsotropicGaussians(0.8, 4, ramp())
    with pytest.raises(ValueError, match="^dt:"):
        run_particle_flow(model, np.ones((3, 4)), times=[1.0], method="dopri5", dt=0.1)
    with pytest.raises(ValueError, match="^rtol:"):
        run_particle_flow(model, np.ones((3, 4)), times=[1.0], rtol=0.0)
