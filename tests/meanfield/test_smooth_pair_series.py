"""The Mehler-series pair sums of smooth σ (meanfield._kernels.smooth_series via meanfield._smooth_pair_series,
issue 31) against the exact pair sums (every pair by gauss_pair: the 2-D trapezoidal / wide rules),
a second method: random networks with biases, several Gaussian classes, tanh, sigmoid and erf."""
import numpy as np
import pytest

from meanfield import Erf, GaussianMixture, MeanFieldModel, Params, Tanh, TwoLayerNetwork, erf, relu, sigmoid
from meanfield import _row_blocks as row_blocks_module
from meanfield._smooth_pair_series import pair_rows

ACTS = {"tanh": Tanh(), "sigmoid": sigmoid(), "erf": erf(), "steep erf": Erf(slope=2.0, shift=0.3)}


def _law(d=4):
    rng = np.random.default_rng(5)
    return GaussianMixture([0.3, 0.7], [1.0, -0.5], rng.standard_normal((2, d)) * 0.6,
                           0.5 + rng.random((2, d)))


def _theta(n, d, seed, kappa=1.2):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((n, d)) * kappa / np.sqrt(d)
    W[1] = W[0] * 1.0001 + 1e-5  # a near-parallel pair: |c| ≈ 1, the exact fallback
    W[2] *= 8.0  # a wide neuron (κs ≥ 4): the exact fallback
    W[3] = 0.0  # s = 0: u is the constant b
    return Params(rng.normal(0.3, 1.0, n), W, rng.normal(0.0, 1.0, n))


def _exact_rows(act1, t1, act2, t2, classes, same, grad=False):
    return pair_rows(act1, act2, classes, t1.W, t1.b, t2.a, t2.W, t2.b, same, grad=grad, series=False)


@pytest.mark.parametrize("name", list(ACTS))
def test_series_rows_match_the_exact_pair_sums(name):
    act, law = ACTS[name], _law()
    theta = _theta(14, 4, seed=1)
    classes = law.gaussian_classes()
    got = pair_rows(act, act, classes, theta.W, theta.b, theta.a, theta.W, theta.b, True, grad=True)
    for g, e in zip(got, _exact_rows(act, theta, act, theta, classes, True, grad=True)):  # rows, dm, dw
        np.testing.assert_allclose(g, e, rtol=0, atol=1e-12)


def test_mixed_pair_and_two_sets():
    """σ₁ = tanh, σ₂ = erf, two different sets of neurons (no diagonal)."""
    law = _law()
    t1, t2 = _theta(9, 4, seed=2), _theta(11, 4, seed=3)
    got = pair_rows(ACTS["tanh"], ACTS["steep erf"], law.gaussian_classes(), t1.W, t1.b, t2.a, t2.W,
                                  t2.b, False, grad=True)
    exact = _exact_rows(ACTS["tanh"], t1, ACTS["steep erf"], t2, law.gaussian_classes(), False, grad=True)
    for g, e in zip(got, exact):
        np.testing.assert_allclose(g, e, rtol=0, atol=1e-12)


def test_truncation_bound_routes_unresolved_pairs_to_the_exact_rule():
    """With K = 3 the bound |c|^4 √(T₁T₂) ≤ tol fails for most pairs: they must take the exact
    integral, so the sums still agree (a series truncated at K = 3 would err by ~1e-3)."""
    act, law = ACTS["sigmoid"], _law()
    theta = _theta(8, 4, seed=4)
    exact = _exact_rows(act, theta, act, theta, law.gaussian_classes(), True)
    got = pair_rows(act, act, law.gaussian_classes(), theta.W, theta.b, theta.a, theta.W, theta.b, True,
                                  kmax=3)
    np.testing.assert_allclose(got, exact, rtol=0, atol=1e-12)
    loose = pair_rows(act, act, law.gaussian_classes(), theta.W, theta.b, theta.a, theta.W, theta.b,
                                    True, kmax=3, tol=1.0)  # every resolved pair by the truncated series
    assert np.max(np.abs(loose - exact)) > 1e-8


@pytest.mark.parametrize("name", ["tanh", "sigmoid"])
def test_population_risk_of_smooth_networks_with_biases(name):
    """R_N = R# + (2/N) Σ V + (1/N²) Σ a_i a_j G_ij: the model's value (series) against the same
    formula from the exact pair sums, to 1e-10."""
    act, law = ACTS[name], _law()
    model = MeanFieldModel(law, TwoLayerNetwork(act, train=("a", "w", "b")))
    theta = _theta(16, 4, seed=5)
    v = model.V(theta)
    exact = law.r_sharp + 2 * v.sum() / theta.n + theta.a @ _exact_rows(act, theta, act, theta,
                                                                       law.gaussian_classes(), True) / theta.n**2
    assert model.population_risk(theta) == pytest.approx(exact, abs=1e-10, rel=0)


def test_row_blocks_and_progress_bar(monkeypatch, capsys):
    """One row per block (the Ctrl-C and progress granularity) gives the same sums; the bar goes to stderr."""
    act, law = ACTS["tanh"], _law()
    theta = _theta(6, 4, seed=6)
    args = (act, act, law.gaussian_classes(), theta.W, theta.b, theta.a, theta.W, theta.b, True)
    whole = pair_rows(*args, progress=False)
    monkeypatch.setattr(row_blocks_module, "PROGRESS_PAIRS", 1.0)
    np.testing.assert_array_equal(pair_rows(*args, progress=True), whole)
    assert "pair sums" in capsys.readouterr().err


def test_piecewise_linear_pairs_keep_the_exact_sums():
    """ReLU pairs never take the series (its coefficients decay only like k^{-3/4})."""
    law = _law()
    theta = _theta(6, 4, seed=7)
    model = MeanFieldModel(law, TwoLayerNetwork(relu(), train=("a", "w", "b")))
    np.testing.assert_array_equal(model._pair_rows(relu(), theta, relu(), theta),
                                  _exact_rows(relu(), theta, relu(), theta, law.gaussian_classes(), True))


@pytest.mark.parametrize("act", [relu(), Tanh()])
def test_exact_pair_sums_in_row_blocks(monkeypatch, capsys, act):
    """The exact pair sums (values and gradients) run over row blocks too: one row per block gives
    the same numbers (the diagonal c_ii = 1 included), with the bar on stderr."""
    law = _law()
    model = MeanFieldModel(law, TwoLayerNetwork(act, train=("a", "w", "b")))
    theta = _theta(5, 4, seed=8)
    whole = model._pair_rows(act, theta, act, theta, grad=True, same=True)
    monkeypatch.setattr(row_blocks_module, "PROGRESS_PAIRS", 1.0)
    monkeypatch.setattr(row_blocks_module.sys.stderr, "isatty", lambda: True, raising=False)
    for got, want in zip(model._pair_rows(act, theta, act, theta, grad=True, same=True), whole):
        np.testing.assert_array_equal(got, want)
    assert "pair sums" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["tanh", "sigmoid"])
def test_potential_gradient_of_smooth_networks_with_biases(name):
    """∇Ψ by the series pair sums against the same formula from the exact pair sums (grad=True)."""
    act, law = ACTS[name], _law()
    model = MeanFieldModel(law, TwoLayerNetwork(act, train=("a", "w", "b")))
    theta = _theta(10, 4, seed=9)
    got = model.potential_gradient(theta)
    rv, dmv, dwv = model._v_parts(theta, grad=True)
    rows, dm, dw = _exact_rows(act, theta, act, theta, law.gaussian_classes(), True, grad=True)
    n = theta.n
    np.testing.assert_allclose(got.a, -rv + rows / n, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.b, theta.a * (dm / n - dmv), rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.W, theta.a[:, None] * (dw / n - dwv), rtol=0, atol=1e-12)
