"""The order-parameter ODE against the package's own exact ∇Ψ, the particle flow, and Monte Carlo
of one online-SGD step (its η² term)."""
import math

import numpy as np
import pytest

from meanfield import (GaussianMixture, MeanFieldModel, OrderParameters, Params, Tanh, TeacherStudent, TwoLayerNetwork, erf,
                       init_from_overlaps, order_parameters, relu, risk_from_overlaps, sgd_noise_overlaps)
from solvers import OrderParameterError, run_particle_flow, solve_order_parameters
from solvers.order_parameters import overlap_velocity

ACTS = {"erf": erf(), "relu": relu(), "tanh": Tanh(amplitude=1.2, slope=0.9, center=0.1)}


def _model(act, d=9, train=("a", "w", "b"), noise=0.2, scale=1.0, m=2, seed=5):
    rng = np.random.default_rng(seed)
    law = TeacherStudent(rng.standard_normal((m, d)) / math.sqrt(d), ACTS[act], a=[1.0, -0.7, 1.5][:m],
                         b=[0.1, -0.2, 0.0][:m], noise_std=noise)
    return MeanFieldModel(law, TwoLayerNetwork(ACTS[act], train=train, scale=scale))


@pytest.mark.parametrize("act", list(ACTS))
def test_velocity_is_the_projected_exact_flow(act):
    """dQ = ẆWᵀ + WẆᵀ, dR = ẆW*ᵀ with Ẇ = −2ξ(∇Ψ/α + λW) from MeanFieldModel.potential_gradient."""
    model = _model(act, scale=1.3)
    theta = model.init(3, kappa=1.0, seed=7, a_std=0.5, b_std=0.3)
    xi, lam = 0.7, 0.05
    grad = model.potential_gradient(theta)
    Wdot = -2 * xi * (grad.W / 1.3 + lam * theta.W)
    dQ, dR, da, db = overlap_velocity(order_parameters(theta, model), model.activation, model.data.activation, 1.3,
                                      model.train, xi, lam)
    np.testing.assert_allclose(dQ, Wdot @ theta.W.T + theta.W @ Wdot.T, rtol=0, atol=1e-10)
    np.testing.assert_allclose(dR, Wdot @ model.data.W.T, rtol=0, atol=1e-10)
    np.testing.assert_allclose(da, -2 * xi * (grad.a / 1.3 + lam * theta.a), rtol=0, atol=1e-10)
    np.testing.assert_allclose(db, -2 * xi * (grad.b / 1.3 + lam * theta.b), rtol=0, atol=1e-10)


@pytest.mark.parametrize("act,train", [("erf", ("w",)), ("relu", ("a", "w", "b"))])
def test_ode_follows_the_particle_flow(act, train):
    model = _model(act, d=50, train=train, noise=0.1)
    theta = model.init(3, kappa=0.8, seed=1, a_std=0.3 if "a" in train else 0.0, b_std=0.2)
    times = [0.0, 0.5, 2.0]
    ode = solve_order_parameters(model, theta, times, xi=0.8, lam=0.01, rtol=1e-12, atol=1e-14, progress=False)
    flow = run_particle_flow(model, theta, times, xi=0.8, lam=0.01, rtol=1e-12, record=("params", "risk"),
                             progress=False)
    assert ode.status == "finished" and ode.success
    for s, p in enumerate(flow.params):
        op = order_parameters(p, model)
        np.testing.assert_allclose(ode.Q[s], op.Q, rtol=0, atol=1e-8)
        np.testing.assert_allclose(ode.R[s], op.R, rtol=0, atol=1e-8)
        np.testing.assert_allclose(ode.a[s], p.a, rtol=0, atol=1e-8)
        np.testing.assert_allclose(ode.b[s], p.b, rtol=0, atol=1e-8)
        assert ode.risk[s] == pytest.approx(flow.risk[s], abs=1e-8)
    assert np.abs(ode.Q[-1] - ode.Q[0]).max() > 1e-2          # the overlaps did move
    assert ode.risk[-1] < ode.risk[0]


def test_ode_accepts_overlaps_and_refuses():
    model = _model("erf", d=12, train=("w",), noise=0.0)
    theta = init_from_overlaps(model, 0.3 * np.eye(3), 0.05 * np.ones((3, 2)), b0=np.zeros(3))
    op = order_parameters(theta, model)
    a = solve_order_parameters(model, op, [0.0, 1.0], progress=False)
    b = solve_order_parameters(model, theta, [0.0, 1.0], progress=False)
    np.testing.assert_array_equal(a.Q, b.Q)
    assert a.at(1).Q.shape == (3, 3) and a.eps is None
    with pytest.raises(ValueError, match="init: its teacher"):
        solve_order_parameters(model, OrderParameters(Q=op.Q, R=op.R, T=2 * op.T, a=op.a, b=op.b,
                                                      a_teacher=op.a_teacher, b_teacher=op.b_teacher), [1.0])
    with pytest.raises(ValueError, match="eps"):
        solve_order_parameters(model, theta, [1.0], eps=-1.0)
    with pytest.raises(ValueError, match="'w' in train"):
        solve_order_parameters(_model("erf", train=("a",)), theta, [1.0])
    with pytest.raises(ValueError, match="TeacherStudent"):
        solve_order_parameters(MeanFieldModel(GaussianMixture.isotropic(0.5, 12), TwoLayerNetwork(erf())), theta,
                               [1.0])


def test_ode_failure_carries_the_partial_result():
    model = _model("erf", d=12, train=("w",), noise=0.0)
    theta = init_from_overlaps(model, 0.3 * np.eye(3), 0.05 * np.ones((3, 2)))
    with pytest.raises(OrderParameterError) as info:   # ξ(t) = 1e300 beyond t = 1: the state overflows
        solve_order_parameters(model, theta, [0.0, 1.0, 2.0], xi=lambda t: 1.0 if t <= 1.0 else 1e300,
                               progress=False)
    res = info.value.result
    assert res.status == "failed" and res.times.tolist() == [0.0, 1.0] and res.Q.shape == (2, 3, 3)
