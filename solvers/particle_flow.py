"""Deterministic N-particle flow on the exact population risk, and its Langevin version.

    dθ_i/dt = −2ξ(t) [∇_θ Ψ(θ_i; ρ̂_t)/α + λ θ_i],   ρ̂_t = (1/N) Σ_j δ_{θ_j(t)}

(gradient descent on R_N(θ)/α² + (λ/N) Σ_i ‖θ_i‖², time scaled by N/2; α the model's output
scale, 1 unless set), and with β given the mean-field Langevin system

    dθ_i = −2ξ [∇Ψ(θ_i; ρ̂_t)/α + λ θ_i] dt + √(4ξ/β) dB_i

(the noise convention of noisy SGD).  No data sampling: this isolates the
particle-count error of SGD from its step-size error.

Noiseless: classical RK4, with a fixed ``dt`` or (``dt=None``) step doubling:
one step of 2h against two of h, error estimate ‖Δ‖_∞/15, steps accepted when
it is below ``rtol``·(1 + max|θ|).  Langevin: Euler-Maruyama with fixed ``dt``.
The Lyapunov function E = R_N/α² + (λ/N)Σ‖θ_i‖² of the noiseless flow is checked
after every step when ``check_energy`` is set: an increase beyond
``energy_tol``·(1 + |E|) raises, so a too-large step is never silent.
"""
from __future__ import annotations

import sys

import numpy as np
from tqdm.auto import tqdm

from .result import ParticleResult
from ._checks import check_int, check_noise, check_probes, check_record, check_times, finite_float, xi_function
from .sgd import DIVERGENCE_THRESHOLD, DivergenceError, snapshot

DEFAULT_DT_LANGEVIN = 1e-3


def _energy(model, params, X, lam):
    """R_N/α² + (λ/N) Σ_i ‖θ_i‖² over the trained coordinates X (N, D): the flow's Lyapunov function."""
    alpha = float(getattr(model, "output_scale", 1.0))
    return model.population_risk(params) / alpha**2 + lam * float(np.mean(np.sum(X * X, axis=1)))


def run_particle_flow(model, init, times, xi=None, beta=None, lam=0.0, method=None, dt=None, seed=0,
                      record=("radii", "risk"), progress=None, rtol=1e-7, check_energy=False,
                      energy_tol=1e-10, probes=None):
    """Integrate the particle flow from ``init`` and record snapshots at ``times``.

    Parameters
    ----------
    model : a model of the solver interface with an exact functional (``potential_gradient``,
        ``population_risk``: :class:`meanfield.MeanFieldModel` on Gaussian data, or
        :class:`meanfield.IsotropicGaussians`). Only the trained coordinates move.
    init : θ₀ as :class:`meanfield.Params`, or an (N, d) array W₀ (a ≡ 1, b ≡ 0); not modified.
    times : non-decreasing snapshot times ≥ 0 (steps land on them exactly).
    xi : None (ξ ≡ 1), a positive number, or a callable ξ(t).
    beta : None (deterministic) or the inverse temperature β > 0 (Langevin).
    lam : ℓ2 regularisation λ ≥ 0.
    method : "rk4" (noiseless; the default then) or "euler" (Euler-Maruyama,
        the default and the only choice with ``beta``).
    dt : time step; None means adaptive step doubling for RK4 and
        DEFAULT_DT_LANGEVIN for Euler-Maruyama.
    seed : seed of the Brownian increments (Langevin only).
    record : subset of ("radii", "risk", "weights", "params", "kernel", "output", "movement"), as
        for :func:`~solvers.run_sgd` (risk is the exact R_N; "kernel", "output" on ``probes``).
    progress : tqdm bar over simulated time; None = only if stderr is a terminal.
    rtol : error tolerance of the adaptive RK4 step.
    probes : (P, d) inputs for the "kernel" and "output" records.
    check_energy : evaluate E = R_N/α² + (λ/N)Σ‖θ‖² after every noiseless step and
        raise RuntimeError if it increases by more than ``energy_tol``·(1 + |E|).

    Returns a :class:`ParticleResult` with dynamics "flow" (``eps`` is the last dt).
    """
    times = check_times(times)
    seed = check_int(seed, "seed", 0)
    record = check_record(record)
    if not hasattr(model, "potential_gradient"):
        raise ValueError(f"model: expected a MeanFieldModel or IsotropicGaussians, got {type(model).__name__}")
    params0 = model.as_params(init, "init")
    probes = check_probes(model, record, probes)
    train = model.train
    W = params0.flat(train)  # the state: trained coordinates (N, D)

    def as_params(X):
        return params0.with_flat(train, X)
    xi_of = xi_function(xi)
    beta, lam = check_noise(beta, lam)
    if method is None:
        method = "rk4" if beta is None else "euler"
    if method not in ("rk4", "euler"):
        raise ValueError(f"method: must be 'rk4' or 'euler', got {method!r}")
    if beta is not None and method != "euler":
        raise ValueError("method: the Langevin flow is integrated by Euler-Maruyama; use method='euler'")
    if dt is not None:
        dt = finite_float(dt, "dt")
        if dt <= 0:
            raise ValueError(f"dt: must be positive, got {dt!r}")
    elif method == "euler":
        dt = DEFAULT_DT_LANGEVIN
    rtol = finite_float(rtol, "rtol")
    if progress is None:
        progress = sys.stderr.isatty()
    rng = np.random.default_rng(np.random.SeedSequence(seed))

    alpha = float(getattr(model, "output_scale", 1.0))

    def velocity(X, t):
        return -2.0 * xi_of(t) * (model.potential_gradient(as_params(X)).flat(train) / alpha + lam * X)

    def rk4(X, t, h):
        k1 = velocity(X, t)
        k2 = velocity(X + 0.5 * h * k1, t + 0.5 * h)
        k3 = velocity(X + 0.5 * h * k2, t + 0.5 * h)
        k4 = velocity(X + h * k3, t + h)
        return X + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)

    def diverged(X):
        return not np.all(np.isfinite(X)) or np.max(np.abs(X)) > DIVERGENCE_THRESHOLD

    t = 0.0
    steps = 0
    h = dt if dt is not None else 1e-2
    energy = _energy(model, as_params(W), W, lam) if check_energy and beta is None else None
    snapshots = []
    interrupted = False
    bar = tqdm(total=float(times[-1]), disable=not progress, unit="t", desc="flow",
               bar_format="{l_bar}{bar}| {n:.3g}/{total:.3g}")
    try:
        for target in times:
            while t < target - 1e-12 * max(1.0, target):
                step = min(h, target - t)
                if method == "euler":
                    noise = rng.standard_normal(W.shape) * np.sqrt(4.0 * xi_of(t) * step / beta)
                    W_new = W + step * velocity(W, t) + noise
                elif dt is not None:
                    W_new = rk4(W, t, step)
                else:
                    full = rk4(W, t, step)
                    half = rk4(rk4(W, t, 0.5 * step), t + 0.5 * step, 0.5 * step)
                    err = np.max(np.abs(half - full)) / 15.0
                    tol = rtol * (1.0 + np.max(np.abs(half)))
                    factor = 0.9 * (tol / max(err, 1e-300)) ** 0.2
                    if err > tol:
                        h = step * max(0.2, factor)
                        continue
                    W_new = half + (half - full) / 15.0  # Richardson extrapolation
                    h = step * min(2.0, max(0.2, factor)) if step == h else h
                if diverged(W_new):
                    raise DivergenceError(steps + 1, t + step)
                if energy is not None:
                    new_energy = _energy(model, as_params(W_new), W_new, lam)
                    if new_energy > energy + energy_tol * (1.0 + abs(energy)):
                        raise RuntimeError(
                            f"flow: the energy R_N/α² + (λ/N)Σ|θ|² increased by {new_energy - energy:.3e} at "
                            f"t = {t + step:.6g} (step {step:.3g}); reduce dt or rtol")
                    energy = new_energy
                W = W_new
                t += step
                steps += 1
                bar.update(step)
            t = float(target)
            snapshots.append(snapshot(model, as_params(W), t, record, probes=probes, initial=params0))
    except KeyboardInterrupt:
        interrupted = True
        snapshots.append(snapshot(model, as_params(W), t, record, probes=probes, initial=params0))
    finally:
        bar.close()

    def collect(name):
        if name not in record or not snapshots:
            return None
        values = [snap[name] for snap in snapshots]
        return values if name == "params" else np.stack(values)

    return ParticleResult(times=np.array([snap["step"] for snap in snapshots], dtype=float),
                          radii=collect("radii"), risk=collect("risk"), weights=collect("weights"),
                          params=collect("params"), kernel=collect("kernel"), output=collect("output"),
                          movement=collect("movement"), steps=steps, interrupted=interrupted, eps=h, seed=seed,
                          dynamics="flow")
