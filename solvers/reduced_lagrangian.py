"""Reduced Lagrangian (particle) solver of the anisotropic Gaussians dynamics on (a, b, r₁, r₂).

ρ̄_t ≈ Σ_m w_m δ_{X_m(t)}, X_m = (a, b, r₁, r₂)_m, with

    dX_m/dt = −2ξ(t) ∇ψ(X_m; ρ̄_t)        (untrained coordinates stay fixed),

ψ from :class:`meanfield.AnisotropicGaussians`: the kernel is low rank (features indexed by
(k, j)), so one field evaluation costs O(M · K²), not O(M²), and M = 1e5 particles are
practical. Classical RK4 with a fixed step (its error estimated by step doubling, see
:mod:`solvers._step_check`); the radii live on r ≥ 0: every stage evaluates
the field at (r₁, r₂) ← max(·, 0) and every step projects, so a particle on an axis stays
while its velocity points inward (ψ is even in r₁ and r₂: on the axes ∂ψ = 0 anyway).

Each particle is the reduced image of an O(s0)×O(d−s0)-invariant cloud of neurons, so this
solves the distributional dynamics of the full network exactly when ρ̄_0 is the image of the
initial law (iid draws of it by default: the sampling error is that of M draws).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from meanfield import AnisotropicGaussians

from meanfield._validation import check_times, check_real, xi_function
from ._step_check import ACCURACY_TOL, RK4_EVERY, StepDoublingCheck, check_accuracy_tol
from ._time_stepping import march


@dataclass
class ReducedLagrangianSolution:
    """Snapshots of the reduced particles.

    times : (S,) snapshot times reached; points : (S, M, 4) columns (a, b, r₁, r₂);
    weights : (M,) particle weights (sum 1); risk : (S,) R(ρ̄_t); steps : RK4 steps taken;
    status : "finished", "interrupted" (Ctrl-C) or "failed" (non-finite state);
    message : why; wall_time : seconds; error_estimate : the step-doubling estimate of the
    global error (max-norm, see ``accuracy_tol``), None if not checked.
    """

    times: np.ndarray
    points: np.ndarray
    weights: np.ndarray
    risk: np.ndarray
    steps: int
    status: str = "finished"
    message: str = ""
    wall_time: float = field(default=0.0)
    error_estimate: float | None = None

    def mean(self, k):
        """Mean (a, b, r₁, r₂) of snapshot k."""
        return self.weights @ self.points[k]


def solve_reduced_lagrangian(model, init, times, dt=1e-2, xi=None, weights=None, progress=None,
                             accuracy_tol=ACCURACY_TOL):
    """Move the reduced particles ``init`` (M, 4) by RK4 with step ``dt`` and record them at ``times``.

    Parameters
    ----------
    model : :class:`meanfield.AnisotropicGaussians`.
    init : (M, 4) reduced points (a, b, r₁, r₂), e.g. ``model.init(M, kappa, seed)`` or
        ``model.reduce(params)``; not modified.
    times : non-decreasing snapshot times ≥ 0.
    dt : RK4 step (the last step before a snapshot is shortened to land on it).
    xi : step-size schedule ξ (None → 1, a number, or a callable ξ(t)).
    weights : (M,) non-negative particle weights (uniform by default).
    accuracy_tol : every 25th step is repeated as two steps of dt/2 (step doubling, ~8% more
        work) and the summed local errors (max-norm) must stay below accuracy_tol·(1 + max|X|);
        None skips the check.

    Returns
    -------
    ReducedLagrangianSolution
        ``status`` "finished", "failed" (non-finite state) or "interrupted" (Ctrl-C, noticed
        between steps: the snapshots reached, the last one the state at the interruption).

    Raises
    ------
    solvers.AccuracyError
        (a RuntimeError) if the estimated error exceeds ``accuracy_tol``: reduce ``dt``.
    """
    if not isinstance(model, AnisotropicGaussians):
        raise ValueError(f"model: expected an AnisotropicGaussians, got {type(model).__name__}")
    x = model.check_points(init, "init").copy()
    times = check_times(times)
    dt = check_real(dt, "dt")
    if dt <= 0:
        raise ValueError(f"dt: must be positive, got {dt!r}")
    xi_of = xi_function(xi)
    w = model.check_weights(weights, x.shape[0])
    accuracy_tol = check_accuracy_tol(accuracy_tol)

    def vel(y, s):
        y = y.copy()
        np.maximum(y[:, 2:], 0.0, out=y[:, 2:])
        return model.velocity(y, w, xi_of(s))

    def rk4(y, s, h):
        k1 = vel(y, s)
        k2 = vel(y + 0.5 * h * k1, s + 0.5 * h)
        k3 = vel(y + 0.5 * h * k2, s + 0.5 * h)
        k4 = vel(y + h * k3, s + h)
        y = y + (h / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4)
        np.maximum(y[:, 2:], 0.0, out=y[:, 2:])
        return y

    check = StepDoublingCheck(rk4, 4, accuracy_tol, RK4_EVERY, "solve_reduced_lagrangian", dt=dt)

    def step(y, s, t_left):
        h = min(dt, t_left)
        new = rk4(y, s, h)
        if np.all(np.isfinite(new)):
            check.after(y, s, h, new)
        return new, h

    start = time.perf_counter()
    run = march(x, times, step, lambda y, s: (y.copy(), model.risk(y, w)), progress=progress,
                desc=f"reduced particles (M={x.shape[0]})", what=f"particle state (step dt = {dt} too large?)",
                failures=(FloatingPointError,), snap_tol=1e-12, step_name="RK4 steps")
    points = np.array([s[0] for s in run.snapshots]) if run.snapshots else np.zeros((0,) + x.shape)
    return ReducedLagrangianSolution(run.reached, points, w, np.array([s[1] for s in run.snapshots]), run.steps,
                                     run.status, run.message, time.perf_counter() - start,
                                     None if accuracy_tol is None else check.estimate)
