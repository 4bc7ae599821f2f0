"""Exact population quantities of MeanFieldModel against independent truth: Monte Carlo
(1e6 samples, 4 standard errors), finite differences of R_N, the isotropic radial model,
and the bivariate-normal closed forms against quadrature."""
import math

import numpy as np
import pytest

from meanfield import (ArrayData, Erf, GaussianMixture, IsotropicGaussians, MeanFieldModel, Params, Tanh,
                       TeacherStudent, TwoLayerNetwork, erf, gaussian_mean, gaussian_pair, leaky_relu, nonmonotone,
                       ramp, relu, sigmoid)
from meanfield._kernels.gauss_moments import _smooth_pair
from solvers import run_particle_flow, run_sgd

D = 7
ACTIVATIONS = {"relu": relu(), "erf": erf(), "tanh": Tanh(amplitude=1.5, slope=0.8, center=0.2), "ramp": ramp(),
               "leaky": leaky_relu(0.2)}


def _laws():
    rng = np.random.default_rng(1)
    return {
        "anisotropic": GaussianMixture.anisotropic(delta=0.5, d=D, s0=3),
        "mixture3": GaussianMixture([0.3, 0.3, 0.4], [1.0, -1.0, 0.5], 0.4 * rng.standard_normal((3, D)),
                                    0.6 + 0.5 * rng.random((3, D))),
        "teacher": TeacherStudent(rng.standard_normal((3, D)) / math.sqrt(D), relu(), a=[1.0, -0.5, 2.0],
                                  b=[0.1, 0.0, -0.2], noise_std=0.3),
    }


LAWS = _laws()


def model_and_theta(law, act, n=6, seed=2):
    data = LAWS[law]
    if law == "teacher" and act in ("erf", "tanh"):  # the teacher's σ must pair with the student's exactly
        data = TeacherStudent(data.W, ACTIVATIONS[act], a=data.a, b=data.b, noise_std=data.noise_std)
    model = MeanFieldModel(data, TwoLayerNetwork(ACTIVATIONS[act], train=("a", "w", "b")))
    return model, model.init(n, kappa=0.9, seed=seed, a_std=0.5, b_std=0.3)


@pytest.mark.parametrize("law", list(LAWS))
@pytest.mark.parametrize("act", list(ACTIVATIONS))
def test_population_risk_against_monte_carlo(law, act):
    model, theta = model_and_theta(law, act)
    X, y = model.sample(1_000_000, rng=np.random.default_rng(hash((law, act)) % 2**32))
    loss = (y - model.output(theta, X)) ** 2
    mc, se = loss.mean(), loss.std() / 1000.0
    assert abs(model.population_risk(theta) - mc) < 4 * se
    # the pieces: V, U and R# assemble R_N
    assembled = model.r_sharp + 2 * model.V(theta).mean() + model.U(theta).mean()
    assert model.population_risk(theta) == pytest.approx(assembled, abs=1e-12)
    if law != "teacher":
        assert model.r_sharp == pytest.approx(np.mean(y**2), abs=4 * np.std(y**2) / 1000)


@pytest.mark.parametrize("law", list(LAWS))
@pytest.mark.parametrize("act", list(ACTIVATIONS))
def test_potential_gradient_against_finite_differences(law, act):
    """∇Ψ(θ_i; ρ̂) = (N/2) ∂R_N/∂θ_i in every coordinate (central differences, h = 1e-5)."""
    model, theta = model_and_theta(law, act)
    grad = model.potential_gradient(theta)
    n, h = theta.n, 1e-5
    for i, field, col in [(1, "a", None), (2, "b", None), (3, "W", 0), (4, "W", 5)]:
        up, down = theta.copy(), theta.copy()
        target_up, target_down = getattr(up, field), getattr(down, field)
        index = i if col is None else (i, col)
        target_up[index] += h
        target_down[index] -= h
        fd = (model.population_risk(up) - model.population_risk(down)) / (2 * h) * n / 2
        exact = getattr(grad, field)[index]
        assert exact == pytest.approx(fd, abs=1e-7 * (1 + abs(fd)))


def test_monte_carlo_gradient_of_the_sgd_direction():
    """∇_θΨ(θ_i) = E[(ŷ(x) − y) ∇_θσ*(x; θ_i)] (a population average of the SGD direction)."""
    model, theta = model_and_theta("anisotropic", "relu", n=5)
    X, y = model.sample(1_000_000, rng=np.random.default_rng(7))
    z = X @ theta.W.T + theta.b
    residual = model.output(theta, X) - y
    grad = model.potential_gradient(theta)
    for i in range(5):
        slope = (z[:, i] >= 0) * theta.a[i]
        terms = {"a": residual * np.maximum(z[:, i], 0), "b": residual * slope}
        for name, sample in terms.items():
            assert abs(getattr(grad, name)[i] - sample.mean()) < 4 * sample.std() / 1000
        sample = (residual * slope)[:, None] * X
        se = sample.std(axis=0) / 1000
        assert np.all(np.abs(grad.W[i] - sample.mean(axis=0)) < 4 * se)


def test_isotropic_delegation_equals_the_generic_pair_sums():
    """The isotropic mixture with the w-only network: the radial model's Mehler kernels and
    the generic bivariate-normal pair pass agree (two methods)."""
    W = np.random.default_rng(4).standard_normal((40, 9)) * 0.5
    fast = MeanFieldModel(GaussianMixture.isotropic(0.8, 9), TwoLayerNetwork(ramp()))
    law = GaussianMixture.isotropic(0.8, 9)
    law.isotropic_delta = None  # the same law, without the radial fast path
    generic = MeanFieldModel(law, TwoLayerNetwork(ramp()))
    theta = fast.as_params(W)
    assert fast.population_risk(theta) == pytest.approx(generic.population_risk(theta), abs=1e-11)
    np.testing.assert_allclose(fast.potential_gradient(theta).W, generic.potential_gradient(theta).W,
                               rtol=0, atol=1e-9)
    assert fast.population_risk(theta) == pytest.approx(IsotropicGaussians(0.8, 9, ramp()).population_risk(W),
                                                        abs=1e-14)


@pytest.mark.parametrize("act", [relu(), leaky_relu(0.1), nonmonotone(), erf()])
def test_no_nan_at_kinks_and_zero(act):
    """w = 0 with b on a kink, a = 0: finite values; the drift takes σ'(b+)."""
    model = MeanFieldModel(LAWS["anisotropic"], TwoLayerNetwork(act, train=("a", "w", "b")))
    theta = model.init(5, seed=1)
    theta.W[0] = 0.0
    theta.b[0] = 0.0
    theta.a[1] = 0.0
    theta.W[2] = 0.0
    theta.b[2] = 0.5
    assert np.isfinite(model.population_risk(theta))
    grad = model.potential_gradient(theta)
    assert all(np.all(np.isfinite(getattr(grad, f))) for f in ("a", "W", "b"))
    # at w = 0: ∂_b Ψ = a E[σ'(b+)(ŷ − y)] = a σ'(b+) (E ŷ − E y)
    X, y = model.sample(400_000, rng=np.random.default_rng(0))
    expected = theta.a[0] * act.derivative(0.0) * np.mean(model.output(theta, X) - y)
    assert grad.b[0] == pytest.approx(expected, abs=4e-3 * (1 + abs(expected)))


def test_bivariate_closed_forms_against_quadrature_and_each_other():
    """Erf pairs: the bivariate-normal closed form equals the trapezoidal rule; piecewise-linear:
    E σ(u)² at c = 1 equals the one-dimensional integral E σ(m + sG)²."""
    e1, e2 = Erf(0.7, 1.3, 0.2, 0.1), erf()
    k1, p1 = e1.kernel_spec()
    k2, p2 = e2.kernel_spec()
    for args in [(0.3, 1.2, -0.4, 0.7, 0.6), (1.0, 0.1, 2.0, 3.0, -0.99), (0.0, 0.0, 0.0, 1.0, 0.3)]:
        closed = np.array(gaussian_pair(e1, args[1], args[0], args[3], args[2], args[4], e2))
        np.testing.assert_allclose(closed.ravel(), _smooth_pair(k1, p1, k2, p2, *args), rtol=0, atol=1e-14)
    x, w = np.polynomial.hermite_e.hermegauss(200)
    w = w / w.sum()
    for act in (relu(), nonmonotone(), leaky_relu(0.3)):
        for m, s in [(0.3, 1.1), (-2.0, 0.4), (5.0, 2.0)]:
            fine = np.linspace(-12, 12, 2_000_001)
            dens = np.exp(-fine**2 / 2) / math.sqrt(2 * math.pi)
            truth = np.trapezoid(act(m + s * fine) ** 2 * dens, fine)
            assert gaussian_pair(act, s, m, s, m, 1.0)[0] == pytest.approx(truth, rel=1e-8)
            mean_truth = np.trapezoid(act(m + s * fine) * dens, fine)
            assert gaussian_mean(act, s, m)[0] == pytest.approx(mean_truth, rel=1e-8, abs=1e-12)


@pytest.mark.parametrize("law, act, train", [("anisotropic", "relu", ("a", "w", "b")),
                                             ("teacher", "relu", ("w",)),
                                             ("mixture3", "erf", ("a", "w")),
                                             ("anisotropic", "tanh", ("w", "b"))])
def test_flow_energy_never_increases(law, act, train):
    model, theta = model_and_theta(law, act, n=8)
    model = MeanFieldModel(model.data, TwoLayerNetwork(ACTIVATIONS[act], train=train))
    res = run_particle_flow(model, theta, times=np.linspace(0, 0.5, 6), record=("risk", "params"),
                            check_energy=True, progress=False)
    assert res.status == "finished"
    assert np.all(np.diff(res.risk) <= 1e-10 * (1 + np.abs(res.risk[:-1])))
    assert res.risk[-1] < res.risk[0]
    frozen = [f for f in ("a", "W", "b") if f.lower() not in train]
    for f in frozen:
        assert np.array_equal(getattr(res.params[-1], f), getattr(theta, f))


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="train"):
        TwoLayerNetwork(relu(), train=("a", "v"))
    with pytest.raises(ValueError, match="s0"):
        GaussianMixture.anisotropic(0.5, 10, 11)
    with pytest.raises(ValueError, match="stds"):
        GaussianMixture([1.0], [1.0], np.zeros((1, 3)), np.zeros((1, 3)))
    with pytest.raises(ValueError, match="y"):
        ArrayData(np.zeros((4, 2)), np.zeros(3))
    with pytest.raises(ValueError, match="W"):
        Params(np.ones(2), np.zeros((3, 2)), np.zeros(2))
    with pytest.raises(ValueError, match="activation"):
        IsotropicGaussians(0.5, 4, relu())
    mixed = MeanFieldModel(TeacherStudent(np.eye(2), relu()), TwoLayerNetwork(sigmoid()))
    with pytest.raises(ValueError, match="no exact rule"):
        mixed.population_risk(mixed.init(3, seed=0))


def test_model_without_a_risk_rule_says_so_and_sgd_refuses_to_record_it():
    """risk_kind is None without an exact rule (it said "population" while every risk call
    raised); run_sgd refuses "risk" in record before it starts, and trains without it."""
    mixed = MeanFieldModel(TeacherStudent(np.eye(2), relu()), TwoLayerNetwork(sigmoid()))
    assert not mixed.exact and mixed.risk_kind is None
    theta0 = mixed.init(5, seed=0)
    with pytest.raises(ValueError, match="record: .*no exact risk"):
        run_sgd(mixed, theta0, eps=1e-2, times=[0, 0.1], seed=0)
    res = run_sgd(mixed, theta0, eps=1e-2, times=[0, 0.1], seed=0, record=("params",))
    assert res.risk_kind is None and res.risk is None and res.steps == 10
    assert not np.array_equal(res.params[-1].W, theta0.W)  # it trained


def test_teacher_r_sharp_is_computed_on_first_use(monkeypatch):
    """Building a teacher–student model sums no pairs (on a cold cache that compiles a kernel a run may
    not need); R# = E y² on first use: the erf closed form noise² + (1/M²) Σ_st a*_s a*_t
    (2/π) arcsin(T_st / √((1 + T_ss)(1 + T_tt))), g = erf(·/√2)."""
    import meanfield.mean_field_model as mfm
    rng = np.random.default_rng(5)
    W = rng.standard_normal((3, D)) / math.sqrt(D)
    a, noise = np.array([1.0, -0.5, 2.0]), 0.3
    law = TeacherStudent(W, erf(), a=a, noise_std=noise)
    calls = []
    pair_rows = mfm.pair_rows
    monkeypatch.setattr(mfm, "pair_rows", lambda *args: calls.append(args) or pair_rows(*args))
    model = MeanFieldModel(law, TwoLayerNetwork(erf()))
    assert calls == []
    T = W @ W.T
    g = 2 / math.pi * np.arcsin(T / np.sqrt(np.outer(1 + np.diag(T), 1 + np.diag(T))))
    assert model.r_sharp == pytest.approx(noise**2 + a @ g @ a / 9, rel=1e-13)
    assert len(calls) == 1 and model.r_sharp == model.r_sharp and len(calls) == 1   # computed once
