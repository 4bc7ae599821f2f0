"""SGD divergence is detected on the particle norm ‖θ_i‖ and reported at the first bad step.

Ground truth: a NumPy replay of the update from the kernels' own draws (:mod:`_sgd_replay`,
``draw_step``) run step by step, recording the first step after which some particle has
‖θ_i‖ = √(a_i² + ‖w_i‖² + b_i²) > DIVERGENCE_THRESHOLD or a non-finite entry. The runs are
forced to diverge by λ with 1 − 2λs = −1.1 (|θ| grows ×1.1 per step: ~190 steps from ‖θ_i‖ ≈ 1
to 1e8), so the first bad step lies strictly inside the kernels' 256-step check window.
"""
import math

import numpy as np
import pytest

from _sgd_replay import replay_steps
from meanfield import GaussianMixture, IsotropicGaussians, MeanFieldModel, TwoLayerNetwork, ramp, relu
from solvers import DivergenceError, run_sgd
from solvers._sgd_kernels import DIVERGENCE_CHECK_EVERY, draw_step, initial_noise_states, initial_rng_state
from solvers.sgd import DIVERGENCE_THRESHOLD

EPS = 0.01
LAM = 105.0  # 1 − 2λε = −1.1


def _bad(norms):
    return not np.all(np.isfinite(norms)) or np.max(norms) > DIVERGENCE_THRESHOLD


def _first_bad_isotropic(model, W, seed, n_steps):
    """First step k (1-based: after k updates) with max_i ‖w_i‖ > threshold, by the NumPy update
    w ← (1 − 2λs) w + 2s (y − ŷ) σ'(⟨w, x⟩+) x (batch 1, no noise), or None."""
    state = initial_rng_state(seed)
    noise_states = initial_noise_states(state, W.shape[0])
    sigma = model.activation
    with np.errstate(all="ignore"):
        for k in range(1, n_steps + 1):
            y, x, _ = draw_step(state, noise_states, model.scales, W.shape[0], W.shape[1], 1, False)
            z = x @ W.T
            residual = y - sigma(z).mean(axis=1)
            W = (1 - 2 * LAM * EPS) * W + 2 * EPS * (residual[:, None] * sigma.derivative(z)).T @ x
            if _bad(np.linalg.norm(W, axis=1)):
                return k, W
    return None, W


def _first_bad_general(model, theta, seed, n_steps):
    """As :func:`_first_bad_isotropic` for the general kernel (a, w, b), by _sgd_replay.replay_steps."""
    with np.errstate(all="ignore"):
        for k, theta in enumerate(replay_steps(model, theta, EPS, lambda t: 1.0, n_steps, seed, 1, LAM, None), 1):
            norms = np.sqrt(theta.a**2 + theta.b**2 + np.sum(theta.W**2, axis=1))
            if _bad(norms):
                return k, theta
    return None, theta


@pytest.fixture(scope="module")
def isotropic():
    return IsotropicGaussians(delta=0.8, d=40, activation=ramp())


@pytest.mark.parametrize("threads", [1, 2])
def test_isotropic_kernel_reports_first_bad_step(isotropic, threads):
    W0 = np.full((300, 40), 1.0 / math.sqrt(40.0))  # ‖w_i‖ = 1; 300 particles: two noise chunks
    W0[7] *= 1.5  # one particle ahead of the others
    truth, W = _first_bad_isotropic(isotropic, W0, 3, 400)
    assert truth is not None and truth % DIVERGENCE_CHECK_EVERY not in (0, 1)  # inside a check window
    assert np.abs(W).max() < DIVERGENCE_THRESHOLD  # the norm, not a coordinate, crosses first
    with pytest.raises(DivergenceError, match=f"step {truth} ") as info:
        run_sgd(isotropic, W0, EPS, [400 * EPS], seed=3, lam=LAM, progress=False, threads=threads)
    assert info.value.step == truth and info.value.time == pytest.approx(truth * EPS, rel=1e-15)


def test_norm_over_threshold_with_every_coordinate_under_it_raises(isotropic):
    """A run stopped a few steps after ‖w_i‖ passed 1e8, all |w_ik| < 1e8/6: the per-coordinate
    check (before the fix) let it finish and recorded a risk from a diverged state."""
    W0 = np.full((5, 40), 1.0 / math.sqrt(40.0))
    truth, W = _first_bad_isotropic(isotropic, W0, 0, 400)
    steps = truth + 3
    assert np.abs(W).max() * 1.1**3 < DIVERGENCE_THRESHOLD  # |w_ik| × ≤ 1.1 per step after `truth`
    with pytest.raises(DivergenceError) as info:
        run_sgd(isotropic, W0, EPS, [0.0, steps * EPS], seed=0, lam=LAM, progress=False)
    assert info.value.step == truth


@pytest.mark.parametrize("train", [("w",), ("a", "w", "b")])
def test_general_kernel_reports_first_bad_step(train):
    model = MeanFieldModel(GaussianMixture.anisotropic(delta=0.5, d=30, s0=2),
                           TwoLayerNetwork(relu(), train=train))
    theta = model.init(20, kappa=1.0, seed=2, a=0.5, a_std=0.1, b_std=0.1)
    truth, end = _first_bad_general(model, theta, 5, 600)
    assert truth is not None and truth % DIVERGENCE_CHECK_EVERY not in (0, 1)
    assert max(np.abs(end.W).max(), np.abs(end.a).max(), np.abs(end.b).max()) < DIVERGENCE_THRESHOLD
    with pytest.raises(DivergenceError) as info:
        run_sgd(model, theta, EPS, [600 * EPS], seed=5, lam=LAM, progress=False)
    assert info.value.step == truth


def test_non_finite_step_is_reported_exactly(isotropic):
    """An overflow to inf within one step (huge ε ξ) is the first bad step, not the next check."""
    W0 = np.full((4, 40), 1.0 / math.sqrt(40.0))
    xi = lambda t: np.where(np.asarray(t) >= 37 * EPS - 1e-12, 1e300, 1.0)  # noqa: E731
    with pytest.raises(DivergenceError) as info:
        run_sgd(isotropic, W0, EPS, [300 * EPS], seed=1, xi=xi, lam=0.1, progress=False)
    assert info.value.step == 38


def test_divergence_carries_the_partial_result(isotropic):
    """The failure policy: DivergenceError is a SolverError whose ``result`` holds the snapshots
    before the divergence (status "failed"), equal to those of a run stopped before it."""
    from solvers import SolverError
    W0 = np.full((5, 40), 1.0 / math.sqrt(40.0))
    truth, _ = _first_bad_isotropic(isotropic, W0, 0, 400)
    early = [0.0, (truth // 2) * EPS]
    with pytest.raises(DivergenceError) as info:
        run_sgd(isotropic, W0, EPS, early + [(truth + 3) * EPS], seed=0, lam=LAM, record=("weights",), progress=False)
    err = info.value
    assert isinstance(err, SolverError) and isinstance(err, FloatingPointError)
    partial = err.result
    assert partial.status == "failed" and not partial.success and "diverged" in partial.message
    reference = run_sgd(isotropic, W0, EPS, early, seed=0, lam=LAM, record=("weights",), progress=False)
    np.testing.assert_array_equal(partial.times, reference.times)
    np.testing.assert_array_equal(partial.weights, reference.weights)
