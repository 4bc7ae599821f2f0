"""The exact population gradient and the deterministic / Langevin particle flow."""
import math

import numpy as np
import pytest

from meanfield import IsotropicGaussians, Tanh, nonmonotone, ramp
from meanfield._kernels.mehler import GRADIENT_SERIES_TOL, _pair_series_terms
from meanfield.wasserstein import w2_radial
from solvers.gibbs import gibbs_fixed_point
from solvers.initialization import init_gaussian
from solvers.particle_flow import run_particle_flow
from solvers.radial_pde import solve_radial_pde
from solvers.sgd import run_sgd

from _pairwise import add_special_pairs, pairwise_gradient, pairwise_risk

ACTIVATIONS = {
    "ramp": ramp(),
    "nonmonotone": nonmonotone(),
    "tanh": Tanh(amplitude=3.0, slope=2.0, center=0.3, shift=0.5),
}


def _particles(d, rng):
    """Five particles with a near-parallel pair (cos ≈ 0.999), an antiparallel one."""
    W = rng.standard_normal((5, d)) * 1.5 / math.sqrt(d)
    other = rng.standard_normal(d)
    other -= (other @ W[0]) / (W[0] @ W[0]) * W[0]
    W[1] = 0.8 * (W[0] + 0.0447 * other / np.linalg.norm(other) * np.linalg.norm(W[0]))
    W[3] = -0.7 * W[2]
    return W


@pytest.mark.parametrize("d", [2, 5, 40])
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_gradient_is_half_n_times_risk_gradient(name, d):
    """∇Ψ(θ_i; ρ̂) = (N/2) ∂R_N/∂θ_i by central finite differences of the exact R_N."""
    model = IsotropicGaussians(0.8, d, ACTIVATIONS[name])
    W = _particles(d, np.random.default_rng(d))
    u = W / np.linalg.norm(W, axis=1, keepdims=True)
    assert u[0] @ u[1] == pytest.approx(0.999, abs=5e-4)
    grad = model.potential_gradient(W)
    h = 1e-6
    fd = np.zeros_like(W)
    for i in range(W.shape[0]):
        for k in range(d):
            Wp, Wm = W.copy(), W.copy()
            Wp[i, k] += h
            Wm[i, k] -= h
            fd[i, k] = (model.population_risk(Wp) - model.population_risk(Wm)) / (2 * h) * W.shape[0] / 2
    assert np.max(np.abs(grad - fd)) <= 1e-6 * np.max(np.abs(fd))


@pytest.mark.parametrize("d", [2, 40])
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_gradient_is_the_mean_sgd_direction(name, d):
    """∇Ψ(θ_i; ρ̂) = E[(ŷ(x) − y) σ'(⟨θ_i, x⟩+) x]: Monte Carlo over 1e6 samples, including a
    particle at 0 (where the right derivative σ'(0+) defines the drift)."""
    act = ACTIVATIONS[name]
    model = IsotropicGaussians(0.8, d, act)
    rng = np.random.default_rng(100 + d)
    W = _particles(d, rng)
    W[4] = 0.0
    grad = model.potential_gradient(W)
    directions = np.stack([W[0] / np.linalg.norm(W[0]), rng.standard_normal(d) / math.sqrt(d)])
    samples = []
    for _ in range(4):
        X, y = model.sample(250_000, rng)
        Z = X @ W.T
        resid = act(Z).mean(axis=1) - y
        proj = X @ directions.T  # (n, 2)
        samples.append((resid[:, None, None] * act.derivative(Z)[:, :, None] * proj[:, None, :]))
    samples = np.concatenate(samples)  # (n, N, 2)
    mean = samples.mean(axis=0)
    se = samples.std(axis=0, ddof=1) / math.sqrt(samples.shape[0])
    exact = grad @ directions.T
    assert np.all(np.abs(mean - exact) < 4.5 * se + 1e-12), (mean, exact, se)


@pytest.mark.parametrize("n, d, name", [(300, 7, "nonmonotone"), (530, 40, "nonmonotone"), (260, 40, "tanh")])
def test_blocked_gradient_equals_the_pairwise_formula(n, d, name):
    """The blocked kernel (row blocks, j chunks, threads from 256 particles, Horner per chunk,
    per-pair tails above C_SPLIT at d = 40; for tanh the long series of |c| > ½) equals the
    formula evaluated pair by pair with pair_kernel_gradient, with a particle at 0, a
    near-duplicate pair and N, d not multiples of the block sizes; R_N likewise."""
    model = IsotropicGaussians(0.8, d, ACTIVATIONS[name])
    W = add_special_pairs(init_gaussian(n, d, 1.5, seed=d))
    expected = pairwise_gradient(model, W)
    # measured 3e-15 (tanh 2e-14); dropping the per-pair series tails of C_SPLIT < |c| ≤ ½
    # gives 1e-11 at d = 40
    np.testing.assert_allclose(model.potential_gradient(W), expected, rtol=0, atol=1e-12 * np.abs(expected).max())
    if name == "tanh":  # (the piecewise-linear R_N: tests/meanfield/test_isotropic_gaussians.py)
        assert model.population_risk(W) == pytest.approx(pairwise_risk(model, W), rel=1e-14, abs=0)


def _tanh_particles():
    """14 particles at d = 3 (half the pairs have |c| > ½), a particle at 0, a near-duplicate pair, and a long
    (r = 3.2) particle nearly antiparallel (c ≈ −0.97) to a short one (r = 0.6), whose h_k
    decay slowly and fast: the short one's T_K falls below the rounding of E σ² − Σ h_k²,
    and the pair's series is only right if its tail is not taken as 0."""
    W = add_special_pairs(init_gaussian(14, 3, 1.5, seed=3))
    W[10] = [0.6, 0.0, 0.0]
    W[9] = 3.2 * np.array([-0.97, 0.2431, 0.0])
    return W


def test_tanh_gradient_and_risk_use_the_long_series_where_its_bound_allows():
    """Smooth σ: pairs with |c| > ½ take the Mehler series with as many terms as their
    Parseval bound needs (else the quadrature); the drift and R_N equal the
    pair-by-pair evaluation, which uses the quadrature for every such pair."""
    model = IsotropicGaussians(0.8, 3, Tanh(amplitude=2.0, slope=1.0, center=0.3, shift=0.5))
    W = _tanh_particles()
    r = np.linalg.norm(W, axis=1)
    unit = np.divide(W, r[:, None], out=np.zeros_like(W), where=r[:, None] > 0)
    _, _, tails, _, _ = model._finite._tables(r, np.ascontiguousarray(unit.T), derivatives=True)
    cos = unit @ unit.T
    terms = [_pair_series_terms(abs(cos[i, j]), i, j, tails, GRADIENT_SERIES_TOL, True)
             for i in range(r.size) for j in range(r.size) if i != j and abs(cos[i, j]) > 0.5]
    assert sum(t > 0 for t in terms) >= 40 and 0 in terms  # both paths are taken
    expected = pairwise_gradient(model, W)
    # measured 3e-12 (drift), 1e-15 (R_N); with tails by subtraction only (no TAIL_FLOOR),
    # R_N errs by 7e-13 (and the drift by 6e-10 with 256-term tables)
    np.testing.assert_allclose(model.potential_gradient(W), expected, rtol=0, atol=3e-11 * np.abs(expected).max())
    assert model.population_risk(W) == pytest.approx(pairwise_risk(model, W), rel=1e-13, abs=0)


def test_flow_energy_decreases_and_matches_a_fixed_step_run():
    model = IsotropicGaussians(0.8, 40, ramp())
    W0 = init_gaussian(200, 40, 0.8, seed=3)
    adaptive = run_particle_flow(model, W0, times=[0, 0.25, 0.5], check_energy=True, rtol=1e-8)
    fixed = run_particle_flow(model, W0, times=[0, 0.25, 0.5], dt=0.0125, check_energy=True)
    assert np.all(np.diff(adaptive.risk) < 0)
    np.testing.assert_allclose(adaptive.radii, fixed.radii, atol=1e-6)
    assert adaptive.dynamics == "flow" and adaptive.risk[0] == pytest.approx(model.population_risk(W0))


def test_flow_follows_the_radial_pde_within_sampling_error():
    """Radii of the flow from iid initial particles (N = 4000) vs the FV solution: W2 at
    t = 0.5 on the scale of the iid-sample error W2(N draws from ρ̄_t, ρ̄_t), over seeds."""
    model = IsotropicGaussians(0.8, 40, ramp())
    n, t = 4000, 0.5
    pde = solve_radial_pde(model, times=[0, t], cells=800)
    rng = np.random.default_rng(0)
    flow_err, iid_err = [], []
    for seed in range(3):
        res = run_particle_flow(model, init_gaussian(n, 40, 0.8, seed=seed), times=[0, t], dt=0.05)
        flow_err.append(w2_radial(res.radii[1], pde, index=1))
        iid_err.append(w2_radial(pde.quantile_radii(1, 200_000)[rng.integers(0, 200_000, n)], pde, index=1))
    assert np.mean(flow_err) < 3.0 * np.mean(iid_err)
    assert np.mean(flow_err) > 0.2 * np.mean(iid_err)  # a finite-N flow is not the limit itself


def test_sgd_approaches_the_flow_like_sqrt_eps():
    """Same initial particles: the rms particle distance SGD–flow at t = 0.2 shrinks like √ε."""
    model = IsotropicGaussians(0.8, 40, ramp())
    W0 = init_gaussian(200, 40, 0.8, seed=4)
    flow = run_particle_flow(model, W0, times=[0.2], dt=0.02, record=("weights",))
    dist = []
    for eps in (1e-3, 1e-4):
        runs = [run_sgd(model, W0, eps, [0.2], seed=s, record=("weights",)).weights[-1] for s in range(2)]
        dist.append(np.mean([math.sqrt(np.mean(np.sum((w - flow.weights[-1]) ** 2, axis=1))) for w in runs]))
    ratio = dist[0] / dist[1]
    assert 2.0 < ratio < 5.0, (dist, ratio)  # √10 ≈ 3.16


def test_langevin_flow_reaches_the_gibbs_state():
    """Noisy flow, λ = 1, β = 10: long-run pooled radii vs the self-consistent Gibbs law."""
    model = IsotropicGaussians(0.8, 40, ramp())
    beta, lam = 10.0, 1.0
    gibbs = gibbs_fixed_point(model, beta, lam, cells=600, r_max=6.0)
    res = run_particle_flow(model, init_gaussian(150, 40, 2.0, seed=1), times=np.linspace(3.0, 6.0, 7),
                            beta=beta, lam=lam, dt=5e-3, seed=2)
    pooled = res.radii.ravel()
    mean_gibbs = gibbs.mass @ gibbs.r
    assert abs(pooled.mean() - mean_gibbs) < 0.03
    assert w2_radial(pooled, gibbs.density, edges=gibbs.edges) < 0.05

def test_langevin_noise_is_independent_of_initial_weights_with_the_same_seed():
    """init_gaussian(seed) and the flow's Brownian increments both start from SeedSequence(seed):
    the increments must come from another stream. With the same stream the first increment was
    proportional to W0 (every radius jumped by the same factor). Two flows from the same W0 with
    seeds s and s' differ only by their increments: the difference's correlation with W0 is
    N(0, 1/(N d)) when independent (1/√2 when the seed-s increment repeats W0's normals)."""
    model = IsotropicGaussians(0.8, 40, ramp())
    W0 = init_gaussian(100, 40, 0.5, seed=3)
    ends = [run_particle_flow(model, W0, times=[1e-3], beta=100.0, dt=1e-3, seed=s, record=("weights",),
                              progress=False).weights[-1] for s in (3, 4)]
    corr = np.corrcoef((ends[0] - ends[1]).ravel(), W0.ravel())[0, 1]
    assert abs(corr) < 6 / math.sqrt(W0.size), corr


@pytest.mark.parametrize("kwargs, name", [
    (dict(times=[1.0, 0.5]), "times"),
    (dict(times=[1.0], beta=-1.0), "beta"),
    (dict(times=[1.0], lam=-0.1), "lam"),
    (dict(times=[1.0], dt=0.0), "dt"),
    (dict(times=[1.0], method="heun"), "method"),
    (dict(times=[1.0], beta=1.0, method="rk4"), "method"),
    (dict(times=[1.0], method="euler", dt=0.01), "method"),  # was a TypeError (None as β)
    (dict(times=[1.0], record=("radius",)), "record"),
])
def test_invalid_arguments(kwargs, name):
    model = IsotropicGaussians(0.8, 4, ramp())
    with pytest.raises(ValueError, match=f"^{name}:"):
        run_particle_flow(model, np.ones((3, 4)), **kwargs)
    with pytest.raises(ValueError, match="^init:"):
        run_particle_flow(model, np.ones((3, 5)), times=[1.0])


def test_settings_that_would_be_wrong_or_endless_are_refused():
    """A fixed dt far too large (unstable) returned a wrong risk silently (now the energy check, on by
    default for a fixed step, raises); rtol = 0 or 1e-300 never ended; ξ < 0 ran backwards."""
    model = IsotropicGaussians(0.8, 10, ramp())
    W0 = init_gaussian(40, 10, 0.8, seed=0)
    with pytest.raises(RuntimeError, match="energy"):
        run_particle_flow(model, W0, times=[20.0], method="rk4", dt=10.0, progress=False)
    for rtol in (0.0, 1e-300, 1.0):
        with pytest.raises(ValueError, match="rtol"):
            run_particle_flow(model, W0, times=[1.0], rtol=rtol, progress=False)
    with pytest.raises(ValueError, match="xi"):
        run_particle_flow(model, W0, times=[0.5], xi=lambda t: -1.0, progress=False)
    with pytest.raises(ValueError, match="cfl"):
        solve_radial_pde(model, kappa=0.8, times=[0.1], cells=50, cfl=1e-12)
    ok = run_particle_flow(model, W0, times=[0.5], method="rk4", dt=0.05, progress=False)
    assert ok.status == "finished"  # a sensible fixed step passes the default energy check


def test_a_model_outside_the_protocol_is_refused():
    class NoDrift:
        d, train, output_scale = 4, ("w",), 1.0
    with pytest.raises(ValueError, match="^model:.*ParticleModel"):
        run_particle_flow(NoDrift(), np.ones((3, 4)), times=[1.0])
    with pytest.raises(ValueError, match="^model:.*ParticleModel"):
        run_sgd(NoDrift(), np.ones((3, 4)), 1e-3, times=[1.0])


def test_every_record_key_has_one_recorder():
    from meanfield._validation import RECORD_KEYS
    from solvers._recorders import RECORDERS
    assert tuple(RECORDERS) == RECORD_KEYS
