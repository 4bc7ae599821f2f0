"""Deterministic N-particle flow on the exact population risk, and its Langevin version.

    dθ_i/dt = −2ξ(t) [∇_θ Ψ(θ_i; ρ̂_t)/α + λ θ_i],   ρ̂_t = (1/N) Σ_j δ_{θ_j(t)}

(gradient descent on R_N(θ)/α² + (λ/N) Σ_i ‖θ_i‖², time scaled by N/2; α the model's output
scale, 1 unless set; only the trained coordinates of θ move), and with β given the
mean-field Langevin system

    dθ_i = −2ξ [∇Ψ(θ_i; ρ̂_t)/α + λ θ_i] dt + √(4ξ/β) dB_i

(the noise convention of noisy SGD).  No data sampling: this isolates the
particle-count error of SGD from its step-size error.

Noiseless: ``method="dopri5"`` (the default), the embedded Dormand–Prince 5(4) pair of
:mod:`solvers._adaptive` (FSAL, PI step control, six drift evaluations per accepted step),
steps accepted when the max-norm error estimate is below ``rtol``·(1 + max|θ|); or
``method="rk4"``, classical RK4 with a fixed ``dt`` or (``dt=None``) step doubling: one
step of 2h against two of h, error estimate ‖Δ‖_∞/15, the same acceptance test (twelve
evaluations per accepted step). ``benchmarks/flow_speed.py`` measures the error of both
against a tight reference per drift evaluation.  Langevin: Euler-Maruyama with fixed ``dt``.
The Lyapunov function E = R_N/α² + (λ/N)Σ‖θ_i‖² of the noiseless flow is checked
after every step when ``check_energy`` is set: an increase beyond
``energy_tol``·(1 + |E|) raises, so an unstable step is never silent; a stable but inaccurate
fixed step is caught by the step-doubling check of :mod:`solvers._step_check` (``accuracy_tol``).
"""
from __future__ import annotations

import sys

import numpy as np
from ._progress import tqdm
from meanfield._compile_notice import announces_compilation

from ._adaptive import DormandPrince
from ._origin import OriginEvents
from .result import ParticleResult
from meanfield._validation import (check_accuracy_tol, check_int, check_noise, check_positive, check_probes,
                                   check_real, check_record, check_times, xi_function)
from ._interrupt import deferred_interrupt
from ._step_check import ACCURACY_TOL, EULER_EVERY, RK4_EVERY, StepDoublingCheck
from .sgd import DIVERGENCE_THRESHOLD, DivergenceError, snapshot

DEFAULT_DT_LANGEVIN = 1e-3


def _kinked_at_origin(model):
    """True if the model's σ has a kink at 0 (σ'(0−) ≠ σ'(0+)); False if it cannot tell."""
    act = getattr(model, "activation", None)
    if act is None or not hasattr(act, "derivative"):
        return False
    tiny = np.finfo(float).tiny
    return bool(np.asarray(act.derivative(np.array([-tiny]))) != np.asarray(act.derivative(np.array([0.0]))))


def _energy(model, params, X, lam):
    """R_N/α² + (λ/N) Σ_i ‖θ_i‖² over the trained coordinates X (N, D): the flow's Lyapunov function."""
    alpha = float(getattr(model, "output_scale", 1.0))
    return model.population_risk(params) / alpha**2 + lam * float(np.mean(np.sum(X * X, axis=1)))


@announces_compilation
def run_particle_flow(model, init, times, xi=None, beta=None, lam=0.0, method=None, dt=None, seed=0,
                      record=("radii", "risk"), progress=None, rtol=1e-7, check_energy=None,
                      energy_tol=1e-10, origin=None, probes=None, accuracy_tol=ACCURACY_TOL):
    """Integrate the particle flow from ``init`` and record snapshots at ``times``.

    Parameters
    ----------
    model : MeanFieldModel or IsotropicGaussians
        A model of the solver interface with an exact functional (``potential_gradient``,
        ``population_risk``: :class:`meanfield.MeanFieldModel` on Gaussian data or on a finite
        data set, or :class:`meanfield.IsotropicGaussians`). Only the trained coordinates move.
    init : Params or ndarray, shape (N, d)
        θ₀ as :class:`meanfield.Params`, or an (N, d) array W₀ (a ≡ 1, b ≡ 0); not modified.
    times : array_like of float
        Non-decreasing snapshot times ≥ 0 (steps land on them exactly).
    xi : callable or float, optional
        None (ξ ≡ 1), a positive number, or a callable ξ(t) ≥ 0.
    beta : float, optional
        None (deterministic) or the inverse temperature β > 0 (Langevin).
    lam : float
        ℓ2 regularisation λ ≥ 0.
    method : {"dopri5", "rk4", "euler"}, optional
        Noiseless: "dopri5" (adaptive Dormand–Prince 5(4), the default when ``dt`` is
        None) or "rk4" (the default with a ``dt``); "euler" (Euler-Maruyama, the default and
        the only choice with ``beta``).
    dt : float, optional
        Time step > 0; None means adaptive steps (dopri5, or step doubling for rk4) and
        DEFAULT_DT_LANGEVIN for Euler-Maruyama; dopri5 takes no ``dt``.
    seed : int
        Non-negative seed of the Brownian increments (Langevin only).
    record : tuple of str
        Subset of ("radii", "risk", "weights", "params", "kernel", "output", "movement"), as
        for :func:`~solvers.run_sgd` (risk is the exact R_N; "kernel", "output" on ``probes``).
    progress : bool, optional
        tqdm bar over simulated time; None = only if stderr is a terminal.
    rtol : float
        Error tolerance of the adaptive steps, in [1e-13, 0.1] (max-norm, relative to 1 + max|θ|).
    check_energy : bool, optional
        Evaluate E = R_N/α² + (λ/N)Σ‖θ‖² after every noiseless step and raise RuntimeError
        if it increases by more than ``energy_tol``·(1 + |E|); None (the default): on for a
        fixed ``dt`` (RK4 has no error estimate then, and a too-large step would otherwise
        return a wrong state silently), off for the adaptive methods; True with ``beta`` raises.
    energy_tol : float
        Relative energy increase tolerated by ``check_energy``, finite and ≥ 0.
    origin : bool, optional
        dopri5 only: treat w = 0 as an event (:mod:`solvers._origin`): a particle whose
        ‖w‖ falls below √rtol·(1 + max|θ₀|) is put at the origin and frozen while its radial
        velocity at 0+ points inward, released when it points outward; steps are cut at the
        predicted arrivals instead of shrinking for everyone. None (default): on when σ has a
        kink at 0 (σ'(0−) ≠ σ'(0+)), where the velocity is discontinuous at w = 0, and only w
        is trained (b ≡ 0, so that w = 0 is the kink).
    probes : ndarray, shape (P, d), optional
        Inputs for the "kernel" and "output" records.
    accuracy_tol : float or None, optional
        Fixed steps only (RK4 with ``dt``, Euler-Maruyama): every 25th RK4 step (40th Euler
        step, drift only) is repeated as two steps of dt/2; the local errors so estimated,
        summed over the run (Euler-Maruyama: over the last unit of time), must stay below
        accuracy_tol·(1 + max|θ|), else :class:`solvers.AccuracyError`. Costs ~8% more drift
        evaluations; None skips the check. The estimate is returned as ``error_estimate``.

    Returns
    -------
    ParticleResult
        dynamics "flow" (``eps`` is the last step); ``status`` "finished" or "interrupted"
        (Ctrl-C, noticed between drift evaluations, returns the state reached).

    Raises
    ------
    DivergenceError
        If some |θ| exceeds DIVERGENCE_THRESHOLD or becomes non-finite (``.step``: the step
        after which it did).
    RuntimeError
        With ``check_energy``, if the energy increases.
    solvers.AccuracyError
        (A RuntimeError) if a fixed step's estimated error exceeds ``accuracy_tol``.
    ValueError
        On an invalid argument (the message names it).

    Examples
    --------
    >>> from meanfield import IsotropicGaussians, ramp
    >>> from solvers import init_gaussian
    >>> model = IsotropicGaussians(delta=0.8, d=10, activation=ramp())
    >>> res = run_particle_flow(model, init_gaussian(50, 10, 0.8, seed=0), times=[0.0, 0.5], progress=False)
    >>> res.status, bool(res.risk[1] < res.risk[0])
    ('finished', True)
    """
    times = check_times(times)
    seed = check_int(seed, "seed", 0)
    record = check_record(record)
    if not hasattr(model, "potential_gradient"):
        raise ValueError(f"model: expected a MeanFieldModel or IsotropicGaussians, got {type(model).__name__}")
    params0 = model.as_params(init, "init")
    probes = check_probes(model, record, probes)
    train = model.train
    W = params0.flat(train)  # the state: the trained coordinates (N, D)
    alpha = float(getattr(model, "output_scale", 1.0))

    def as_params(X):
        return params0.with_flat(train, X)
    xi_of = xi_function(xi)
    beta, lam = check_noise(beta, lam)
    energy_tol = check_positive(energy_tol, "energy_tol", strict=False)
    if check_energy and beta is not None:
        raise ValueError("check_energy: the Langevin flow (beta given) has no decreasing energy to check; "
                         "leave check_energy unset (its fixed steps are checked by accuracy_tol)")
    if method is None:
        method = "euler" if beta is not None else ("dopri5" if dt is None else "rk4")
    if method not in ("dopri5", "rk4", "euler"):
        raise ValueError(f"method: must be 'dopri5', 'rk4' or 'euler', got {method!r}")
    if beta is not None and method != "euler":
        raise ValueError("method: the Langevin flow is integrated by Euler-Maruyama; use method='euler'")
    if method == "dopri5" and dt is not None:
        raise ValueError("dt: method 'dopri5' chooses its own steps; pass dt=None or method='rk4'")
    if dt is not None:
        dt = check_real(dt, "dt")
        if dt <= 0:
            raise ValueError(f"dt: must be positive, got {dt!r}")
    elif method == "euler":
        dt = DEFAULT_DT_LANGEVIN
    rtol = check_real(rtol, "rtol")
    if not 1e-13 <= rtol <= 0.1:  # below 1e-13 the steps shrink to rounding and never end
        raise ValueError(f"rtol: must lie in [1e-13, 0.1], got {rtol!r}")
    accuracy_tol = check_accuracy_tol(accuracy_tol)
    if progress is None:
        progress = sys.stderr.isatty()
    rng = np.random.default_rng(np.random.SeedSequence(seed))

    def velocity(X, t):
        with deferred_interrupt():  # a Ctrl-C waits for the compiled drift to return
            drift = model.potential_gradient(as_params(X)).flat(train)
        return -2.0 * xi_of(t) * (drift / alpha + lam * X)

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
    w_only = tuple(train) == ("w",) and not np.any(params0.b)
    if origin is None:
        origin = method == "dopri5" and w_only and _kinked_at_origin(model)
    elif origin and (method != "dopri5" or not w_only):
        raise ValueError("origin: the origin events need method='dopri5' and a w-only network with b ≡ 0")
    events = None
    if origin:  # an arrival time error of radius/|v_r|, spin-limited steps ~ radius/|v_t| just before
        events = OriginEvents(velocity, W.shape[0], np.sqrt(rtol) * (1.0 + float(np.max(np.abs(W)))))
    stepper = None
    if method == "dopri5":
        stepper = DormandPrince(velocity if events is None else events.velocity, rtol, atol=rtol)
    accuracy = None
    if method == "euler":  # the drift's Euler step, doubled every 40 steps (3 drifts per 40)
        accuracy = StepDoublingCheck(lambda X, s, h: X + h * velocity(X, s), 1, accuracy_tol, EULER_EVERY,
                                     "flow (Euler-Maruyama)", dt=dt, horizon=1.0)
    elif dt is not None:   # two RK4 half steps every 25 steps (8 drifts per 100)
        accuracy = StepDoublingCheck(rk4, 4, accuracy_tol, RK4_EVERY, "flow (RK4)", dt=dt)
    if check_energy is None:
        check_energy = method == "rk4" and dt is not None
    energy = _energy(model, as_params(W), W, lam) if check_energy and beta is None else None
    snapshots = []
    interrupted = False
    bar = tqdm(total=float(times[-1]), disable=not progress, unit="t", desc="flow",
               bar_format="{l_bar}{bar}| {n:.3g}/{total:.3g}")
    try:
        for target in times:
            while t < target - 1e-12 * max(1.0, target):
                step = min(h, target - t)
                if stepper is not None:
                    t_max = target
                    if events is not None:
                        k1 = stepper.first_stage(W, t)
                        if events.release():
                            stepper.reset()
                            k1 = stepper.first_stage(W, t)
                        if stepper.h is not None:
                            limit = events.step_limit(W, k1)
                            if limit < stepper.h:  # cut the step at the earliest arrival at 0
                                t_max = min(target, t + max(limit, 1e-9 * stepper.h))
                    W_new, t_new = stepper.step(W, t, t_max)
                    step, h = t_new - t, stepper.h
                    if events is not None and events.capture(W_new):
                        stepper.reset()
                elif method == "euler":
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
                if accuracy is not None:  # after the divergence and energy checks (they say more)
                    accuracy.after(W, t, step, None if method == "euler" else W_new)
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
                          dynamics="flow", risk_kind=getattr(model, "risk_kind", "population"),
                          error_estimate=None if accuracy is None or accuracy_tol is None else accuracy.estimate)
