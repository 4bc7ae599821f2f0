"""Output scale α, centring, the tangent kernel and the linearised (NTK) model."""

import numpy as np
import pytest

from _sgd_replay import replay
from meanfield import ArrayData, GaussianMixture, MeanFieldModel, TwoLayerNetwork, erf, relu
from solvers import run_particle_flow, run_sgd, solve_linearized

D = 5


def _arrays(n=30, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, D))
    return X, np.sign(X[:, 0] * X[:, 1])


def lazy_model(alpha, n_neurons=40, act=None, train=("a", "w", "b")):
    X, y = _arrays()
    base = MeanFieldModel(ArrayData(X, y), TwoLayerNetwork(act or erf(), train=train, scale=alpha))
    theta0 = base.init(n_neurons, kappa=1.0, seed=1, a_std=1.0, b_std=0.5)
    return base.centered(theta0), theta0, X


def test_scale_one_is_the_plain_network_bitwise():
    law = GaussianMixture.anisotropic(0.5, D, 2)
    plain = MeanFieldModel(law, TwoLayerNetwork(relu(), train=("a", "w", "b")))
    one = MeanFieldModel(law, TwoLayerNetwork(relu(), train=("a", "w", "b"), scale=1.0))
    theta = plain.init(20, seed=3, a_std=0.5)
    kw = dict(eps=1e-3, times=[0.05], seed=1, record=("params", "risk"), progress=False)
    r1, r2 = run_sgd(plain, theta, **kw), run_sgd(one, theta, **kw)
    assert np.array_equal(r1.params[-1].W, r2.params[-1].W) and np.array_equal(r1.risk, r2.risk)


@pytest.mark.parametrize("alpha, centred", [(3.0, False), (0.4, True), (25.0, True)])
def test_sgd_with_scale_and_centring_matches_numpy(alpha, centred):
    law = GaussianMixture.anisotropic(0.5, D, 2)
    model = MeanFieldModel(law, TwoLayerNetwork(relu(), train=("a", "w", "b"), scale=alpha))
    theta = model.init(9, kappa=2.0, seed=2, a_std=0.5, b_std=0.5)
    if centred:
        model = model.centered(theta)
        theta = theta.copy()
        theta.W += 0.1  # start away from the centring point
    for batch, beta in [(1, None), (2, 4.0)]:
        res = run_sgd(model, theta, 0.01, [0.2], seed=3, batch=batch, beta=beta, lam=0.1, record=("params",),
                      progress=False)
        expected = replay(model, theta, 0.01, lambda t: 1.0, 20, 3, batch, 0.1, beta)
        for f in ("a", "W", "b"):
            np.testing.assert_allclose(getattr(res.params[-1], f), getattr(expected, f), rtol=0, atol=1e-10)


def test_centred_network_starts_at_zero():
    model, theta0, X = lazy_model(50.0)
    res = run_sgd(model, theta0, 1e-3, [0.0, 0.01], seed=0, record=("output",), probes=X, progress=False)
    assert np.max(np.abs(res.output[0])) == 0.0
    assert np.max(np.abs(res.output[1])) > 0.0


def test_exact_risk_and_gradient_with_scale_and_centring():
    """R_N with α and centring against Monte Carlo; ∇Ψ = (N/2α) ∂R_N/∂θ by finite differences."""
    law = GaussianMixture.anisotropic(0.5, D, 2)
    model = MeanFieldModel(law, TwoLayerNetwork(relu(), train=("a", "w", "b"), scale=2.5))
    theta0 = model.init(6, kappa=0.9, seed=4, a_std=0.5, b_std=0.3)
    model = model.centered(theta0)
    theta = model.init(6, kappa=0.9, seed=5, a_std=0.5, b_std=0.3)
    X, y = model.sample(1_000_000, rng=np.random.default_rng(1))
    loss = (y - model.output(theta, X)) ** 2
    assert abs(model.population_risk(theta) - loss.mean()) < 4 * loss.std() / 1000
    grad, h = model.potential_gradient(theta), 1e-5
    for field, index in [("a", 1), ("b", 2), ("W", (3, 1))]:
        up, down = theta.copy(), theta.copy()
        getattr(up, field)[index] += h
        getattr(down, field)[index] -= h
        fd = (model.population_risk(up) - model.population_risk(down)) / (2 * h) * theta.n / (2 * 2.5)
        assert getattr(grad, field)[index] == pytest.approx(fd, abs=1e-7 * (1 + abs(fd)))


def test_tangent_kernel_equals_its_definition():
    """K(x, x') = (1/N) Σ_i ⟨∇_θσ*(x; θ_i), ∇_θσ*(x'; θ_i)⟩ with the per-neuron gradients taken by
    central finite differences of σ*(x; θ_i) = a_i σ(⟨w_i, x⟩ + b_i)."""
    model, theta, X = lazy_model(1.0, n_neurons=7)
    X = X[:4]
    act, h = model.activation, 1e-6
    grads = np.zeros((4, theta.n, D + 2))
    for i in range(theta.n):
        def neuron(a, w, b):
            return a * act(X @ w + b)
        base = (theta.a[i], theta.W[i].copy(), theta.b[i])
        grads[:, i, 0] = (neuron(base[0] + h, base[1], base[2]) - neuron(base[0] - h, base[1], base[2])) / (2 * h)
        for k in range(D):
            e = np.zeros(D)
            e[k] = h
            grads[:, i, 1 + k] = (neuron(base[0], base[1] + e, base[2]) - neuron(base[0], base[1] - e, base[2])) / (2 * h)
        grads[:, i, -1] = (neuron(base[0], base[1], base[2] + h) - neuron(base[0], base[1], base[2] - h)) / (2 * h)
    expected = np.einsum("pid,qid->pq", grads, grads) / theta.n
    np.testing.assert_allclose(model.tangent_kernel(theta, X), expected, rtol=1e-7, atol=1e-9)


def test_large_scale_follows_the_linearised_model_like_one_over_alpha():
    alphas = np.array([16.0, 32.0, 64.0, 160.0])
    gaps, changes = [], []
    for alpha in alphas:
        model, theta0, X = lazy_model(alpha)
        res = run_particle_flow(model, theta0, times=[0.0, 0.5], record=("output", "kernel"), probes=X,
                                rtol=1e-8, check_energy=True, progress=False)
        lin = solve_linearized(model, theta0, [0.0, 0.5])
        np.testing.assert_allclose(lin.train_output[0], 0.0, atol=1e-12)  # f(θ⁰) = 0, up to V Vᵀ rounding
        gaps.append(np.max(np.abs(res.output[-1] - lin.train_output[-1])))
        changes.append(res.kernel_change[-1])
    slope = np.polyfit(np.log(alphas), np.log(gaps), 1)[0]
    assert abs(slope + 1.0) < 0.2, slope
    assert np.all(np.diff(changes) < 0), changes  # the kernel moves less at larger α


def test_linearised_model_solves_the_kernel_flow():
    """The closed form against a fine explicit integration of ∂_t f = (2/n) K₀ (y − f)."""
    model, theta0, X = lazy_model(5.0)
    y = model.data.y
    lin = solve_linearized(model, theta0, [0.0, 0.3], probes=X[:3], xi=1.5)
    K = model.tangent_kernel(theta0, X)
    f = model.output(theta0, X)
    dt = 1e-4
    for _ in range(int(round(0.3 / dt))):
        k1 = (2 / X.shape[0]) * 1.5 * K @ (y - f)
        k2 = (2 / X.shape[0]) * 1.5 * K @ (y - f - dt * k1)
        f = f + 0.5 * dt * (k1 + k2)
    np.testing.assert_allclose(lin.train_output[-1], f, atol=1e-7)
    np.testing.assert_allclose(lin.output[-1], lin.train_output[-1][:3], atol=1e-12)  # probes = rows


@pytest.mark.parametrize("alpha", [0.5, 1.0, 10.0])
def test_flow_energy_never_increases_for_every_scale(alpha):
    law = GaussianMixture.anisotropic(0.5, D, 2)
    model = MeanFieldModel(law, TwoLayerNetwork(erf(), train=("a", "w", "b"), scale=alpha))
    theta = model.init(8, kappa=1.0, seed=6, a_std=0.5)
    res = run_particle_flow(model, theta, times=np.linspace(0, 0.5, 6), record=("risk", "movement"),
                            check_energy=True, progress=False)
    assert np.all(np.diff(res.risk) <= 1e-10 * (1 + np.abs(res.risk[:-1])))
    assert res.movement[0] == 0.0 and res.movement[-1] > 0.0
