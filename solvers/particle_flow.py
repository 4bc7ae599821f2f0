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

import time

import numpy as np
from meanfield._compile_notice import announces_compilation

from meanfield import TeacherStudent
from meanfield._validation import (check_accuracy_tol, check_int, check_model, check_overlaps_recordable, check_rtol,
                                   check_positive, check_probes, check_real, check_record, check_times)
from meanfield.interface import OutputModel, ParticleModel

from ._divergence import DIVERGENCE_THRESHOLD, DivergenceError
from ._dynamics import Dynamics
from ._flow_steppers import RK4, Dopri5, EulerMaruyama, RK4Doubling, rk4_step
from ._origin import OriginEvents
from ._recorders import Recording
from ._result import SolverError
from ._step_check import ACCURACY_TOL, EULER_EVERY, RK4_EVERY, AccuracyError, StepDoublingCheck
from ._time_stepping import march
from .result import ParticleResult

DEFAULT_DT_LANGEVIN = 1e-3
#: Spawn key of the Brownian increments' stream: a child of SeedSequence(seed), so a flow run with the
#: seed of its initial weights (``init_gaussian(..., seed)``, ``model.init(..., seed=seed)``: numpy's
#: default_rng(seed)) does not repeat their normals as its first increment.
NOISE_SPAWN_KEY = 1


class EnergyIncreaseError(SolverError):
    """With ``check_energy``: the flow's Lyapunov function increased (a too-large fixed step);
    a :class:`~solvers.SolverError` (so a RuntimeError) carrying the partial result."""


def _kinked_at_origin(activation):
    """True if σ has a kink at 0 (σ'(0−) ≠ σ'(0+))."""
    tiny = np.finfo(float).tiny
    return bool(np.asarray(activation.derivative(np.array([-tiny]))) != np.asarray(activation.derivative(np.array([0.0]))))


def _energy(model, params, X, lam):
    """R_N/α² + (λ/N) Σ_i ‖θ_i‖² over the trained coordinates X (N, D): the flow's Lyapunov function."""
    return model.population_risk(params) / model.output_scale**2 + lam * float(np.mean(np.sum(X * X, axis=1)))


def _check_method(method, beta, dt):
    """The scheme: "dopri5", "rk4" or "euler" (Euler-Maruyama), checked against β and dt."""
    if method is None:
        method = "euler" if beta is not None else ("dopri5" if dt is None else "rk4")
    if method not in ("dopri5", "rk4", "euler"):
        raise ValueError(f"method: must be 'dopri5', 'rk4' or 'euler', got {method!r}")
    if beta is not None and method != "euler":
        raise ValueError("method: the Langevin flow is integrated by Euler-Maruyama; use method='euler'")
    if method == "euler" and beta is None:
        raise ValueError("method: 'euler' is Euler-Maruyama for the Langevin flow and needs beta > 0; "
                         "for the noiseless flow use method='rk4' (with dt) or 'dopri5'")
    if method == "dopri5" and dt is not None:
        raise ValueError("dt: method 'dopri5' chooses its own steps; pass dt=None or method='rk4'")
    if dt is not None:
        dt = check_real(dt, "dt")
        if dt <= 0:
            raise ValueError(f"dt: must be positive, got {dt!r}")
    elif method == "euler":
        dt = DEFAULT_DT_LANGEVIN
    return method, dt


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
        None (ξ ≡ 1), a positive number, or a callable ξ(t) ≥ 0 (parsed by :class:`~solvers.Dynamics`).
    beta : float, optional
        None (deterministic) or the inverse temperature β > 0 (Langevin).
    lam : float
        ℓ2 regularisation λ ≥ 0.
    method : {"dopri5", "rk4", "euler"}, optional
        Noiseless: "dopri5" (adaptive Dormand–Prince 5(4), the default when ``dt`` is
        None) or "rk4" (the default with a ``dt``); "euler" (Euler-Maruyama, the default and
        the only choice with ``beta``, which it needs: without ``beta`` it raises ValueError).
    dt : float, optional
        Time step > 0; None means adaptive steps (dopri5, or step doubling for rk4) and
        DEFAULT_DT_LANGEVIN for Euler-Maruyama; dopri5 takes no ``dt``.
    seed : int
        Non-negative seed of the Brownian increments (Langevin only): they come from the child
        ``SeedSequence(seed, spawn_key=(1,))``, independent of the initial weights drawn with the
        same seed.
    record : tuple of str
        Subset of ("radii", "risk", "weights", "params", "kernel", "output", "movement", "overlaps"),
        as for :func:`~solvers.run_sgd` (risk is the exact R_N; "kernel", "output" on ``probes``;
        "overlaps" into ``Q``, ``R``, ``T``, ``a``, ``b`` on teacher–student data).
    progress : bool, optional
        tqdm bar over simulated time; None = only if stderr is a terminal.
    rtol : float
        Error tolerance of the adaptive steps, in [1e-13, 0.1] (max-norm, relative to 1 + max|θ|).
    check_energy : bool, optional
        Evaluate E = R_N/α² + (λ/N)Σ‖θ‖² after every noiseless step and raise
        EnergyIncreaseError (a SolverError, so a RuntimeError) if it increases by more than ``energy_tol``·(1 + |E|); None (the default): on for a
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
        (Ctrl-C, noticed between steps, returns the state reached as the last snapshot; a
        second Ctrl-C while that snapshot is taken is ignored, a third aborts).

    Raises
    ------
    DivergenceError
        If some |θ| exceeds DIVERGENCE_THRESHOLD or becomes non-finite (``.step``: the step
        after which it did).
    EnergyIncreaseError
        (A SolverError) with ``check_energy``, if the energy increases.
    solvers.AccuracyError
        If a fixed step's estimated error exceeds ``accuracy_tol``.
    ValueError
        On an invalid argument (the message names it), a model that is not a
        :class:`meanfield.interface.ParticleModel`, or method "euler" without ``beta``.

    Every error raised after the run started carries its partial result (the snapshots before
    the failure, ``status`` "failed") in ``.result``.

    Examples
    --------
    >>> from meanfield import IsotropicGaussians, ramp
    >>> from solvers import init_gaussian
    >>> model = IsotropicGaussians(delta=0.8, d=10, activation=ramp())
    >>> res = run_particle_flow(model, init_gaussian(50, 10, 0.8, seed=0), times=[0.0, 0.5], progress=False)
    >>> res.status, bool(res.risk[1] < res.risk[0])
    ('finished', True)
    """
    wall_start = time.perf_counter()
    times = check_times(times)
    seed = check_int(seed, "seed", 0)
    record = check_record(record)
    check_model(model, ParticleModel)
    check_overlaps_recordable(model, record, TeacherStudent)
    params0 = model.as_params(init, "init")
    probes = check_probes(model, record, probes, OutputModel)
    train = model.train
    W = params0.flat(train)  # the state: the trained coordinates (N, D)
    alpha = float(model.output_scale)
    dynamics = Dynamics(xi, beta, lam)
    beta, lam = dynamics.beta, dynamics.lam
    energy_tol = check_positive(energy_tol, "energy_tol", strict=False)
    if check_energy and beta is not None:
        raise ValueError("check_energy: the Langevin flow (beta given) has no decreasing energy to check; "
                         "leave check_energy unset (its fixed steps are checked by accuracy_tol)")
    method, dt = _check_method(method, beta, dt)
    rtol = check_rtol(rtol)  # below 1e-13 the steps shrink to rounding and never end
    accuracy_tol = check_accuracy_tol(accuracy_tol)
    w_only = tuple(train) == ("w",) and not np.any(params0.b)
    if origin is None:
        origin = method == "dopri5" and w_only and _kinked_at_origin(model.activation)
    elif origin and (method != "dopri5" or not w_only):
        raise ValueError("origin: the origin events need method='dopri5' and a w-only network with b ≡ 0")

    def as_params(X):
        return params0.with_flat(train, X)

    def velocity(X, t):  # −2ξ(t)(∇Ψ/α + λθ)
        drift = model.potential_gradient(as_params(X)).flat(train)
        return -2.0 * dynamics.xi_at(t) * (drift / alpha + lam * X)

    if method == "dopri5":  # origin events: an arrival time error of radius/|v_r|
        events = OriginEvents(velocity, W.shape[0], np.sqrt(rtol) * (1.0 + float(np.max(np.abs(W))))) if origin else None
        stepper = Dopri5(velocity, rtol, events)
    elif method == "euler":
        noise = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(NOISE_SPAWN_KEY,)))
        stepper = EulerMaruyama(velocity, dt, beta, dynamics.xi_at, noise)
    else:
        stepper = RK4(velocity, dt) if dt is not None else RK4Doubling(velocity, rtol)
    accuracy = None
    if method == "euler":  # the drift's Euler step, doubled every 40 steps (3 drifts per 40)
        accuracy = StepDoublingCheck(lambda X, s, h: X + h * velocity(X, s), 1, accuracy_tol, EULER_EVERY,
                                     "flow (Euler-Maruyama)", dt=dt, horizon=1.0)
    elif dt is not None:   # two RK4 half steps every 25 steps (8 drifts per 100)
        accuracy = StepDoublingCheck(lambda X, s, h: rk4_step(velocity, X, s, h), 4, accuracy_tol, RK4_EVERY,
                                     "flow (RK4)", dt=dt)
    if check_energy is None:
        check_energy = method == "rk4" and dt is not None
    energy = [_energy(model, as_params(W), W, lam)] if check_energy and beta is None else None
    steps = [0]

    def step(X, t, t_left):
        X_new, h = stepper.step(X, t, t_left)
        if not np.all(np.isfinite(X_new)) or np.max(np.abs(X_new)) > DIVERGENCE_THRESHOLD:
            raise DivergenceError(steps[0] + 1, t + h)
        if energy is not None:
            new_energy = _energy(model, as_params(X_new), X_new, lam)
            if new_energy > energy[0] + energy_tol * (1.0 + abs(energy[0])):
                raise EnergyIncreaseError(
                    f"flow: the energy R_N/α² + (λ/N)Σ|θ|² increased by {new_energy - energy[0]:.3e} at "
                    f"t = {t + h:.6g} (step {h:.3g}); reduce dt or rtol")
            energy[0] = new_energy
        if accuracy is not None:  # after the divergence and energy checks (they say more)
            accuracy.after(X, t, h, None if method == "euler" else X_new)
        steps[0] += 1
        return X_new, h

    recording = Recording(model, record, probes, params0)
    run = march(W, times, step, lambda X, t: recording.take(as_params(X)), progress=progress, desc="flow",
                failures=(DivergenceError, EnergyIncreaseError, AccuracyError), snap_tol=1e-12,
                check_finite=False)
    result = ParticleResult(times=run.reached, **recording.fields(run.snapshots), steps=steps[0],
                            eps=stepper.h if stepper.h is not None else 1e-2, seed=seed, dynamics="flow",
                            risk_kind=model.risk_kind, status=run.status,
                            message=run.message if run.error is not None else "",
                            error_estimate=None if accuracy is None or accuracy_tol is None else accuracy.estimate,
                            stats={"steps": steps[0], "wall_time": time.perf_counter() - wall_start})
    if run.error is not None:  # the partial result travels with the error (status "failed")
        run.error.result = result
        raise run.error
    return result
