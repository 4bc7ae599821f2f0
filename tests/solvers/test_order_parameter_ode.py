"""The order-parameter ODE against the package's own exact ∇Ψ, the particle flow, and Monte Carlo
of one online-SGD step (its η² term)."""
import math

import numpy as np
import pytest

from meanfield import (Erf, GaussianMixture, MeanFieldModel, OrderParameters, Params, Tanh, TeacherStudent,
                       TwoLayerNetwork, erf, init_from_overlaps, order_parameters, relu, sgd_noise_overlaps)
from meanfield import overlap_noise
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


def test_ctrl_c_returns_the_snapshots_reached():
    model = _model("erf", d=12, train=("w",), noise=0.0)
    theta = init_from_overlaps(model, 0.3 * np.eye(3), 0.05 * np.ones((3, 2)))

    def xi(t):
        if t > 1.5:
            raise KeyboardInterrupt
        return 1.0
    res = solve_order_parameters(model, theta, [0.0, 1.0, 2.0, 3.0], xi=xi, progress=False)
    full = solve_order_parameters(model, theta, [0.0, 1.0], progress=False)
    assert res.status == "interrupted" and not res.success and "interrupted" in res.message
    assert res.times.tolist() == [0.0, 1.0]
    np.testing.assert_array_equal(res.Q, full.Q)


def test_too_large_sgd_step_diverges_and_fails():
    """ReLU, K = M = 1: εd = 2 makes the η² term outgrow the flow (Q grows without bound), εd = 0.05 learns."""
    model = MeanFieldModel(TeacherStudent(np.eye(1, 30), relu()), TwoLayerNetwork(relu()))
    theta = init_from_overlaps(model, [[0.25]], [[0.1]])
    with pytest.raises(OrderParameterError, match="eps may be too large") as info:
        solve_order_parameters(model, theta, [0.0, 0.1, 30.0], eps=2.0 / 30, rtol=1e-6, progress=False)
    assert info.value.result.times.tolist() == [0.0, 0.1]
    res = solve_order_parameters(model, theta, [0.0, 1.0], eps=0.05 / 30, rtol=1e-6, progress=False)
    assert res.success and res.risk[-1] < 0.5 * res.risk[0]


# ---------------------------------------------------------------- the η² term of online SGD
def _saad_solla(C, i, j, k, l):
    """Saad & Solla (1995): E[g'(u_i) g'(u_j) g(u_k) g(u_l)] for g = erf(·/√2), u ~ N(0, C)."""
    lam4 = (1 + C[i, i]) * (1 + C[j, j]) - C[i, j] ** 2
    lam0 = (lam4 * C[k, l] - C[j, k] * C[j, l] * (1 + C[i, i]) - C[i, k] * C[i, l] * (1 + C[j, j])
            + C[i, j] * C[i, k] * C[j, l] + C[i, j] * C[i, l] * C[j, k])
    lam1 = lam4 * (1 + C[k, k]) - C[j, k] ** 2 * (1 + C[i, i]) - C[i, k] ** 2 * (1 + C[j, j]) \
        + 2 * C[i, j] * C[i, k] * C[j, k]
    lam2 = lam4 * (1 + C[l, l]) - C[j, l] ** 2 * (1 + C[i, i]) - C[i, l] ** 2 * (1 + C[j, j]) \
        + 2 * C[i, j] * C[i, l] * C[j, l]
    return 4 / math.pi**2 / math.sqrt(lam4) * math.asin(lam0 / math.sqrt(lam1 * lam2))


@pytest.mark.parametrize("quadrature", [False, True])
def test_noise_term_is_saad_sollas_closed_form_for_erf(quadrature, monkeypatch):
    """The package's closed form (σ = κ + A erf(γt/√2): scaled to g = erf(·/√2)) and its 2-D quadrature
    (the closed form disabled) against I₄, I₂ = (2/π)/√Λ₄ written out for g itself."""
    if quadrature:
        monkeypatch.setattr(overlap_noise, "_erf_form", lambda act: None)
    rng = np.random.default_rng(3)
    Wall = rng.standard_normal((5, 8)) / math.sqrt(8) * 1.3
    C = Wall @ Wall.T
    a, at, alpha, noise = np.array([1.0, -0.5, 2.0]), np.array([0.7, 1.2]), 1.7, 0.4
    op = OrderParameters(Q=C[:3, :3], R=C[:3, 3:], T=C[3:, 3:], a=a, b=np.zeros(3), a_teacher=at,
                         b_teacher=np.zeros(2))
    coef = np.concatenate([-alpha * a / 3, at / 2])
    expected = np.zeros((3, 3))
    for i in range(3):
        for j in range(3):
            four = sum(coef[k] * coef[l] * _saad_solla(C, i, j, k, l) for k in range(5) for l in range(5))
            i2 = 2 / math.pi / math.sqrt((1 + C[i, i]) * (1 + C[j, j]) - C[i, j] ** 2)
            expected[i, j] = a[i] * a[j] * (four + noise**2 * i2)
    got = sgd_noise_overlaps(op, erf(), erf(), noise=noise, scale=alpha)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-13)


def test_scaled_erf_closed_form_equals_quadrature(monkeypatch):
    """Amplitude, slope and shift (student and teacher different): the closed form's rescaling against the
    quadrature, which does not use it."""
    rng = np.random.default_rng(4)
    Wall = rng.standard_normal((4, 6)) / math.sqrt(6)
    C = Wall @ Wall.T
    op = OrderParameters(Q=C[:2, :2], R=C[:2, 2:], T=C[2:, 2:], a=[1.0, -2.0], b=np.zeros(2), a_teacher=[0.5, 1.5],
                         b_teacher=np.zeros(2))
    student, teacher = Erf(amplitude=1.5, slope=0.7, shift=0.2), Erf(amplitude=0.8, slope=1.6, shift=-0.3)
    closed = sgd_noise_overlaps(op, student, teacher, noise=0.2, scale=1.3)
    monkeypatch.setattr(overlap_noise, "_erf_form", lambda act: None)
    quad = sgd_noise_overlaps(op, student, teacher, noise=0.2, scale=1.3)
    np.testing.assert_allclose(closed, quad, rtol=1e-10, atol=1e-13)


def test_eta_squared_quadrature_follows_the_ode_rtol(monkeypatch):
    """The ReLU η² term is computed to the ODE's rtol (its quadrature order, meanfield.overlap_noise.ORDERS):
    at rtol 1e-4 the solution equals the full-order one to far below 1e-4."""
    model = MeanFieldModel(TeacherStudent(np.eye(2, 300), relu(), a=[2.0, 2.0]), TwoLayerNetwork(relu()))
    theta = init_from_overlaps(model, 0.2 * np.eye(2), [[1e-3, 5e-4], [4e-4, 1.2e-3]], a0=[2.0, 2.0])
    times, eps = [0.0, 1.0, 2.0], 0.5 / 1200
    asked = []
    order = overlap_noise._order
    monkeypatch.setattr(overlap_noise, "_order", lambda rtol: asked.append(rtol) or order(rtol))
    quick = solve_order_parameters(model, theta, times, eps=eps, rtol=1e-4, progress=False)
    assert set(asked) == {1e-4} and order(1e-4) < overlap_noise.NODES
    monkeypatch.setattr(overlap_noise, "_order", lambda rtol: overlap_noise.NODES)
    full = solve_order_parameters(model, theta, times, eps=eps, rtol=1e-4, progress=False)
    np.testing.assert_allclose(quick.risk, full.risk, rtol=1e-7)
    np.testing.assert_allclose(quick.Q, full.Q, rtol=0, atol=1e-8)
    assert quick.risk[-1] < 0.9 * quick.risk[0]


def _one_step_monte_carlo(model, theta, s, n, seed, d_eff):
    """Sample means and standard errors of ΔQ, ΔR and of the squared part c_i c_j ‖x‖² over n independent
    single-sample steps w_i += c_i x, c_i = (2s/α)(y − f(x)) a_i σ'(⟨w_i, x⟩ + b_i) (ξ = 1, λ = 0) in
    dimension d_eff. Only x's projection on the span of the student and teacher rows and ‖x‖² enter, so
    x = U g + x_⊥ with g ~ N(0, I_r) and ‖x_⊥‖² ~ χ²(d_eff − r) (exact in law)."""
    law, act, alpha = model.data, model.activation, model.output_scale
    U, _ = np.linalg.qr(np.vstack([theta.W, law.W]).T)
    r = U.shape[1]
    rng = np.random.default_rng(seed)
    g = rng.standard_normal((n, r))
    norm2 = np.sum(g * g, axis=1) + rng.chisquare(d_eff - r, n)
    z, nu = g @ (theta.W @ U).T, g @ (law.W @ U).T
    y = law.activation(nu + law.b) @ law.a / law.a.size + law.noise_std * rng.standard_normal(n)
    f = alpha * act(z + theta.b) @ theta.a / theta.n
    c = (2 * s / alpha) * (y - f)[:, None] * theta.a * act.derivative(z + theta.b)       # (n, K)
    square = c[:, :, None] * c[:, None, :] * norm2[:, None, None]
    dQ = c[:, :, None] * z[:, None, :] + z[:, :, None] * c[:, None, :] + square
    dR = c[:, :, None] * nu[:, None, :]
    return [(x.mean(axis=0), x.std(axis=0, ddof=1) / math.sqrt(n)) for x in (dQ, dR, square)]


def test_monte_carlo_step_formula_is_the_sgd_update():
    """The per-sample update of the Monte Carlo below is the package's documented SGD step (numpy_step)."""
    from _sgd_replay import numpy_step
    model = _model("relu", d=6, train=("w",), noise=0.0, scale=1.3)
    theta = model.init(2, seed=0, a_std=0.5, b_std=0.2)
    x, y, s = np.random.default_rng(0).standard_normal((1, 6)), np.array([0.3]), 0.01
    new = numpy_step(model, theta, s, y, x, (0.0, 0.0, 0.0), 0.0, None)
    z = x @ theta.W.T + theta.b
    c = (2 * s / 1.3) * (y - model.output(theta, x)) * theta.a * model.activation.derivative(z)
    np.testing.assert_allclose(new.W, theta.W + c.T @ x, rtol=0, atol=1e-15)


@pytest.mark.parametrize("act,seed", [("erf", 0), ("relu", 1)])
def test_eta_squared_term_against_monte_carlo_of_one_step(act, seed):
    """E[ΔQ]/s = dQ/dt + (4 s d/α²) E[δδ], E[ΔR]/s = dR/dt (flow velocity at ξ = 1) within 4 standard
    errors, 10⁶ steps at d = 10⁵, s = 1/d; the squared part alone likewise (its O(1/d) bias is ~1e-5
    of it, the standard errors ~1e-3)."""
    d, n = 100_000, 1_000_000
    model = _model(act, d=40, train=("w",), noise=0.3, scale=1.4, seed=seed)
    theta = model.init(2, kappa=1.0, seed=seed + 2, a_std=0.4, b_std=0.3 if act == "relu" else 0.0)
    if act == "erf":
        theta = Params(theta.a, theta.W, np.zeros(2))
    law = model.data
    if act == "erf":
        law = TeacherStudent(law.W, law.activation, a=law.a, b=np.zeros(2), noise_std=law.noise_std)
        model = MeanFieldModel(law, model.network)
    s = 1.0 / d
    op = order_parameters(theta, model)
    dQ, dR, _, _ = overlap_velocity(op, model.activation, law.activation, 1.4, ("w",), 1.0, 0.0)
    noise = sgd_noise_overlaps(op, model.activation, law.activation, law.noise_std, 1.4)
    eta2 = 4 * s * d / 1.4**2 * noise
    (mq, sq), (mr, sr), (m2, s2) = _one_step_monte_carlo(model, theta, s, n, seed, d)
    assert np.all(np.abs(mq / s - (dQ + eta2)) <= 4 * sq / s)
    assert np.all(np.abs(mr / s - dR) <= 4 * sr / s)
    assert np.all(np.abs(m2 / s - eta2) <= 4 * s2 / s)
    assert np.all(np.abs(eta2) > 20 * s2 / s)             # the η² term is resolved, not lost in the noise
