"""The general fused SGD kernel against a NumPy replay of the update, for every
(data law × trained set × activation), and the data laws it draws from."""
import math

import numpy as np
import pytest

from meanfield import (ArrayData, GaussianMixture, IsotropicGaussians, MeanFieldModel, TeacherStudent,
                       TwoLayerNetwork, erf, isotropic_model, leaky_relu, nonmonotone, ramp, relu, sigmoid)
from solvers import run_sgd
from _sgd_replay import replay
from solvers._data_streams import initial_order
from solvers._general_sgd_kernels import draw_general_step
from solvers._sgd_kernels import activation_and_slope, initial_noise_states, initial_rng_state
from solvers._sgd_streams import initial_data_normals

D = 6
N = 11


def _laws():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, D))
    y = np.sign(X[:, 0]) + 0.1 * rng.standard_normal(50)
    return {
        "anisotropic": GaussianMixture.anisotropic(delta=0.5, d=D, s0=2),
        "mixture3": GaussianMixture([0.2, 0.5, 0.3], [1.0, -0.5, 2.0], rng.standard_normal((3, D)),
                                    0.5 + rng.random((3, D))),
        "teacher": TeacherStudent(rng.standard_normal((3, D)) / math.sqrt(D), erf(), a=[1.0, -2.0, 0.5],
                                  b=[0.1, 0.0, -0.3], noise_std=0.2),
        "arrays": ArrayData(X, y),
        "epochs": ArrayData(X[:7], y[:7], epochs=True),
    }


LAWS = _laws()
ACTIVATIONS = {"relu": relu(), "leaky": leaky_relu(0.1), "nonmonotone": nonmonotone(), "sigmoid": sigmoid(),
               "erf": erf()}
TRAINS = [("w",), ("a",), ("a", "w", "b"), ("w", "b")]


def initial(model, seed=5):
    theta = model.init(N, kappa=3.0, seed=seed, a=0.7, a_std=0.8, b_std=0.5)
    theta.W[0] = 0.0  # σ'(b+) at w = 0
    theta.b[1] = 0.0  # a kink of relu at z = 0 when w = 0 too
    theta.W[1] = 0.0
    return theta


@pytest.mark.parametrize("law", list(LAWS))
@pytest.mark.parametrize("act", list(ACTIVATIONS))
def test_one_step_every_law_and_activation(law, act):
    model = MeanFieldModel(LAWS[law], TwoLayerNetwork(ACTIVATIONS[act], train=("a", "w", "b")))
    theta = initial(model)
    for batch, lam, beta in [(1, 0.0, None), (3, 0.4, 4.0)]:
        res = run_sgd(model, theta, 0.01, [0.01], seed=3, batch=batch, xi=1.7, lam=lam, beta=beta,
                      record=("params",), progress=False)
        expected = replay(model, theta, 0.01, lambda t: 1.7, 1, 3, batch, lam, beta)
        got = res.params[-1]
        for field in ("a", "W", "b"):
            np.testing.assert_allclose(getattr(got, field), getattr(expected, field), rtol=0, atol=1e-11)


@pytest.mark.parametrize("train", TRAINS)
@pytest.mark.parametrize("batch, lam, beta", [(1, 0.0, None), (1, 0.2, None), (2, 0.1, 3.0), (1, 0.0, 5.0)])
def test_forty_steps_every_trained_set(train, batch, lam, beta):
    """40 steps with a time-varying ξ(t) (s_k = ε ξ(kε): a shift to ξ((k+1)ε) fails this)."""
    for law in ("anisotropic", "epochs"):
        model = MeanFieldModel(LAWS[law], TwoLayerNetwork(relu(), train=train))
        theta = initial(model, seed=7)
        xi = lambda t: 1.0 + 30.0 * t  # noqa: E731
        eps, n_steps = 0.01, 40
        res = run_sgd(model, theta, eps, [n_steps * eps], seed=4, batch=batch, xi=xi, lam=lam, beta=beta,
                      record=("params",), progress=False)
        expected = replay(model, theta, eps, xi, n_steps, 4, batch, lam, beta)
        for field in ("a", "W", "b"):
            np.testing.assert_allclose(getattr(res.params[-1], field), getattr(expected, field), rtol=1e-12,
                                       atol=1e-10)  # rtol: |b| reaches 7e5 in the noisiest case


def test_general_kernel_is_block_and_snapshot_invariant():
    model = MeanFieldModel(LAWS["epochs"], TwoLayerNetwork(relu(), train=("a", "w", "b")))
    theta = initial(model)
    kw = dict(eps=1e-3, seed=5, beta=50.0, record=("params",), progress=False)
    once = run_sgd(model, theta, times=[0.6], **kw).params[-1]
    many = run_sgd(model, theta, times=np.append(np.arange(0, 600, 7), 600) * 1e-3, **kw).params[-1]
    assert np.array_equal(once.W, many.W) and np.array_equal(once.a, many.a) and np.array_equal(once.b, many.b)
    other = run_sgd(model, theta, times=[0.6], **{**kw, "seed": 6}).params[-1]
    assert not np.allclose(once.W, other.W)


def test_isotropic_model_equals_isotropic_gaussians_bitwise():
    """MeanFieldModel(isotropic mixture, w-only) runs the same kernel as IsotropicGaussians."""
    W0 = np.random.default_rng(1).standard_normal((30, 8)) * 0.3
    kw = dict(eps=1e-3, times=[0.05, 0.1], seed=2, record=("weights", "risk"), progress=False)
    old = run_sgd(IsotropicGaussians(0.8, 8, ramp()), W0, **kw)
    new = run_sgd(isotropic_model(0.8, 8, ramp()), W0, **kw)
    assert np.array_equal(old.weights, new.weights) and np.array_equal(old.risk, new.risk)


def test_vectorised_activation_terms():
    for act in ACTIVATIONS.values():
        kind, p = act.kernel_spec()
        ts = np.concatenate([np.linspace(-3, 3, 601), [0.0, -0.0, 0.5, 1.5, np.nextafter(0.0, -1)]])
        values, slopes = np.empty_like(ts), np.empty_like(ts)
        activation_and_slope(kind, p, ts, values, slopes)
        np.testing.assert_allclose(values, act(ts), rtol=1e-14, atol=1e-14)
        np.testing.assert_allclose(slopes, act.derivative(ts), rtol=1e-14, atol=1e-14)
    relu_slopes = np.empty(1)
    activation_and_slope(*relu().kernel_spec(), np.zeros(1), np.empty(1), relu_slopes)
    assert relu_slopes[0] == 1.0  # σ'(0+), the right derivative


def _draws(law, n):
    model = MeanFieldModel(law, TwoLayerNetwork(relu()))
    data = model.sgd_spec().data
    data_tuple = (data.kind, data.rows, data.scales, data.values, data.extra, data.params, data.act_kind,
                  data.act_params)
    state, order = initial_rng_state(9), initial_order(data)
    noise_states, normals = initial_noise_states(state, 1), initial_data_normals(state)
    xs, ys = [], []
    for _ in range(n):
        y, x, *_ = draw_general_step(state, normals, noise_states, data_tuple, order, 1, law.d, 1, False, False, True,
                                     False)
        xs.append(x[0])
        ys.append(y[0])
    return np.array(xs), np.array(ys)


def test_mixture_draws_have_the_law():
    law = LAWS["mixture3"]
    n = 20000
    X, y = _draws(law, n)
    for k, label in enumerate(law.labels):
        rows = X[y == label]
        p = law.weights[k]
        assert abs(rows.shape[0] / n - p) < 4 * math.sqrt(p * (1 - p) / n)
        z = (rows - law.means[k]) / law.stds[k]
        assert np.all(np.abs(z.mean(axis=0)) < 4 / math.sqrt(rows.shape[0]))
        assert np.all(np.abs(z.var(axis=0) - 1) < 4 * math.sqrt(2 / rows.shape[0]))


def test_teacher_draws_have_the_law():
    law = LAWS["teacher"]
    X, y = _draws(law, 20000)
    residual = y - law.teacher_output(X)
    assert abs(residual.std() - 0.2) < 4 * 0.2 / math.sqrt(2 * 20000)
    assert abs(residual.mean()) < 4 * 0.2 / math.sqrt(20000)


def test_array_draws_uniform_and_epochs_are_permutations():
    law = LAWS["arrays"]
    X, y = _draws(law, 25000)
    rows = np.array([np.flatnonzero((law.X == x).all(axis=1))[0] for x in X[:5000]])
    counts = np.bincount(rows, minlength=50)
    expected = 5000 / 50
    chi2 = np.sum((counts - expected) ** 2 / expected)
    assert chi2 < 49 + 4 * math.sqrt(2 * 49)
    law = LAWS["epochs"]
    X, _ = _draws(law, 7 * 30)
    rows = np.array([np.flatnonzero((law.X == x).all(axis=1))[0] for x in X]).reshape(30, 7)
    assert all(sorted(r) == list(range(7)) for r in rows)  # each epoch visits every row once
    assert len({tuple(r) for r in rows}) > 20  # in fresh random orders


def test_array_data_risk_is_empirical_on_held_out():
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((40, 4)), rng.standard_normal(40)
    Xt, yt = rng.standard_normal((25, 4)), rng.standard_normal(25)
    model = MeanFieldModel(ArrayData(X, y, X_test=Xt, y_test=yt), TwoLayerNetwork(relu(), train=("a", "w")))
    theta = model.init(9, seed=1)
    res = run_sgd(model, theta, 1e-2, [0.0, 0.2], seed=0, record=("params", "risk"), progress=False)
    assert res.risk_kind == "empirical"
    for params, risk in zip(res.params, res.risk):
        yhat = np.maximum(Xt @ params.W.T + params.b, 0) @ params.a / 9
        assert risk == pytest.approx(np.mean((yt - yhat) ** 2), rel=1e-13)
    # the exact functional of a finite data set is that of its training rows (full-batch)
    yhat = np.maximum(X @ theta.W.T + theta.b, 0) @ theta.a / 9
    assert model.population_risk(theta) == pytest.approx(np.mean((y - yhat) ** 2), rel=1e-13)
