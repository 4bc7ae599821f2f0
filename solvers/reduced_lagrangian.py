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

from dataclasses import dataclass, field

import numpy as np

from meanfield._validation import check_accuracy_tol, check_model, check_positive, check_times
from meanfield.interface import ReducedModel

from ._dynamics import Dynamics
from ._outcome import conclude, run_march
from ._result import SolverResult
from ._step_check import ACCURACY_TOL, RK4_EVERY, StepDoublingCheck


@dataclass
class ReducedLagrangianSolution(SolverResult):
    """Snapshots of the reduced particles.

    Parameters
    ----------
    times : ndarray, shape (S,)
        Snapshot times reached (fewer than requested if the run stopped early).
    points : ndarray, shape (S, M, 4)
        Particles per snapshot, columns (a, b, r₁, r₂).
    weights : ndarray, shape (M,)
        Particle weights (sum 1).
    risk : ndarray, shape (S,)
        R(ρ̄_t) per snapshot.
    steps : int
        RK4 steps taken.
    wall_time : float
        Seconds (also ``stats["wall_time"]``).
    error_estimate : float or None
        The step-doubling estimate of the global error (max-norm, see ``accuracy_tol``);
        None if not checked.
    status : {"finished", "interrupted", "failed"}
        Keyword-only. "interrupted": Ctrl-C; "failed" only on a :class:`solvers.SolverError`'s
        ``result`` (the snapshots are those reached).
    message : str
        Keyword-only. A sentence saying how the run ended, and when.
    stats : dict
        Keyword-only. ``steps`` and ``wall_time``.

    Examples
    --------
    >>> import numpy as np
    >>> pts = np.array([[[1.0, 0.0, 0.2, 0.4], [1.0, 0.0, 0.6, 0.8]]])
    >>> sol = ReducedLagrangianSolution(np.array([0.0]), pts, np.array([0.5, 0.5]), np.array([1.0]), 0)
    >>> np.round(sol.mean(0), 12).tolist(), sol.status
    ([1.0, 0.0, 0.4, 0.6], 'finished')
    """

    times: np.ndarray
    points: np.ndarray
    weights: np.ndarray
    risk: np.ndarray
    steps: int
    wall_time: float = field(default=0.0)
    error_estimate: float | None = None

    def mean(self, k):
        """Mean (a, b, r₁, r₂) of snapshot k.

        Parameters
        ----------
        k : int
            Snapshot index (negative indices count from the end).

        Returns
        -------
        ndarray, shape (4,)
            Σ_m w_m X_m(t_k).
        """
        return self.weights @ self.points[k]


def solve_reduced_lagrangian(model, init, times, dt=1e-2, xi=None, weights=None, progress=None,
                             accuracy_tol=ACCURACY_TOL):
    """Move the reduced particles ``init`` (M, 4) by RK4 with step ``dt`` and record them at ``times``.

    dX_m/dt = −2ξ(t) ∇ψ(X_m; ρ̄_t), ρ̄_t = Σ_m w_m δ_{X_m(t)}; r₁, r₂ are projected onto ≥ 0.

    Parameters
    ----------
    model : ReducedModel
        The reduced model, an :class:`meanfield.AnisotropicGaussians` (its ``train`` fixes
        which columns move).
    init : array_like, shape (M, 4)
        Reduced points (a, b, r₁, r₂), e.g. ``model.init(M, kappa, seed)`` or
        ``model.reduce(params)``; not modified.
    times : array_like of float
        Non-decreasing snapshot times ≥ 0.
    dt : float
        RK4 step > 0 (the last step before a snapshot is shortened to land on it).
    xi : callable or float, optional
        Step-size schedule ξ (None → 1, a number, or a callable ξ(t) ≥ 0).
    weights : array_like, shape (M,), optional
        Non-negative particle weights with a positive sum (uniform by default).
    progress : bool, optional
        Show a tqdm progress bar (None: only if stderr is a TTY).
    accuracy_tol : float or None, optional
        Every 25th step is repeated as two steps of dt/2 (step doubling, ~8% more work) and
        the summed local errors (max-norm) must stay below accuracy_tol·(1 + max|X|); None
        skips the check.

    Returns
    -------
    ReducedLagrangianSolution
        ``status`` "finished" or "interrupted" (Ctrl-C, noticed between steps: the snapshots
        reached, the last one the state at the interruption), with a ``message`` and ``stats``.

    Raises
    ------
    ValueError
        If ``model`` lacks the :class:`meanfield.ReducedModel` methods, or ``init``, ``times``,
        ``dt``, ``xi`` or ``weights`` is invalid (the message names it).
    solvers.NonFiniteError
        (A :class:`solvers.SolverError` and a FloatingPointError) if the state becomes
        non-finite (e.g. ``dt`` too large); ``result`` holds the snapshots before (status "failed").
    solvers.AccuracyError
        (A SolverError, so a RuntimeError) if the estimated error exceeds ``accuracy_tol``:
        reduce ``dt``; ``result`` as above.

    Examples
    --------
    The w-only dynamics lowers the risk and leaves a and b fixed:

    >>> from meanfield import AnisotropicGaussians, relu
    >>> model = AnisotropicGaussians(0.5, d=20, s0=4, activation=relu(), train=("w",), kmax=10)
    >>> X0 = model.init(50, seed=0)
    >>> sol = solve_reduced_lagrangian(model, X0, times=[0, 0.5], dt=0.05, progress=False)
    >>> sol.status, bool(sol.risk[-1] < sol.risk[0]), bool((sol.points[-1][:, :2] == X0[:, :2]).all())
    ('finished', True, True)
    """
    check_model(model, ReducedModel)
    x = model.check_points(init, "init").copy()
    times = check_times(times)
    dt = check_positive(dt, "dt")
    xi_of = Dynamics(xi).xi_at
    w = model.check_weights(weights, x.shape[0])
    accuracy_tol = check_accuracy_tol(accuracy_tol)

    def vel(y, s):
        if not np.all(np.isfinite(y)):  # a diverging stage: a failure of the run, not a bad argument
            raise FloatingPointError(f"non-finite particle state at t = {s:.6g} (step dt = {dt} too large?)")
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

    run = run_march(x, times, step, lambda y, s: (y.copy(), model.risk(y, w)), progress=progress,
                    desc=f"reduced particles (M={x.shape[0]})", what=f"particle state (step dt = {dt} too large?)",
                    snap_tol=1e-12, step_name="RK4 steps")
    points = np.array([snap[0] for snap in run.snapshots]) if run.snapshots else np.zeros((0,) + x.shape)
    return conclude(ReducedLagrangianSolution(
        run.reached, points, w, np.array([snap[1] for snap in run.snapshots]), run.steps, run.stats["wall_time"],
        None if accuracy_tol is None else check.estimate, status=run.status, message=run.message, stats=run.stats),
        run.error)
