"""Lagrangian (quantile-particle) solver of the noiseless radial dynamics.

ρ̄_t ≈ (1/n) Σ_i δ_{X_i(t)} with X_i(0) = F_0^{-1}((i − ½)/n) and

    dX_i/dt = −2ξ(t) ∂_rψ(X_i; ρ̄_t),   ∂_rψ(r; ρ̄) = v'(r) + (1/n) Σ_k ∂_r u(r, X_k),

integrated by classical RK4 with a fixed step (its error estimated by step doubling, see
:mod:`solvers._step_check`). Particles live on r ≥ 0: every stage
evaluates the field at max(X, 0) and every step projects X ← max(X, 0), so a particle
at 0 stays while its velocity points inward and leaves when it points outward
(∂_rψ(0+) is the right limit). In 1-D the particles stay ordered, so they remain
quantiles of ρ̄_t: an independent check of the finite-volume solver.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from meanfield import KernelFeatures

from meanfield._validation import (check_accuracy_tol, check_int, check_model, check_positive, check_radial_model,
                                   check_times)
from meanfield.interface import RadialModel

from ._dynamics import Dynamics
from ._initial_law import InitialLaw
from ._outcome import conclude, run_march
from ._result import SolverResult
from ._step_check import ACCURACY_TOL, RK4_EVERY, StepDoublingCheck


@dataclass
class RadialLagrangianSolution(SolverResult):
    """Radii of the quantile particles at the snapshot times.

    Parameters
    ----------
    times : ndarray, shape (S,)
        Snapshot times reached.
    radii : ndarray, shape (S, n)
        Sorted particle radii (equal weights 1/n) per snapshot.
    steps : int
        Number of RK4 steps taken.
    error_estimate : float or None
        The step-doubling estimate of the global error (max-norm, see ``accuracy_tol``);
        None if not checked.
    status : {"finished", "interrupted", "failed"}
        Keyword-only. "interrupted" after a Ctrl-C: the last snapshot is the state reached, at
        the time reached; "failed" only on a :class:`solvers.SolverError`'s ``result``.
    message : str
        Keyword-only. A sentence saying how the run ended, and when.
    stats : dict
        Keyword-only. ``steps`` and ``wall_time`` (seconds).

    Examples
    --------
    >>> import numpy as np
    >>> sol = RadialLagrangianSolution(times=np.array([0.0]), radii=np.array([[1.0, 2.0, 3.0]]), steps=0)
    >>> sol.mean_radius(0)
    2.0
    """

    times: np.ndarray
    radii: np.ndarray
    steps: int
    error_estimate: float | None = None

    def mean_radius(self, k):
        """(1/n) Σ_i X_i(t_k), the mean radius of snapshot k.

        Parameters
        ----------
        k : int
            Snapshot index (negative indices count from the end).

        Returns
        -------
        float
            The mean of the particle radii.
        """
        return float(self.radii[k].mean())


def radial_velocity(model, x, xi_value=1.0):
    """−2ξ ∂_rψ(x; (1/n)Σδ_x) at the particles x ≥ 0 (O(n·J) via the Mehler features, O(n²)
    by the dense kernel where the series cannot meet the model's tol)."""
    feats = model.radial_kernel(x, derivatives=True)
    masses = np.full(x.size, 1.0 / x.size)
    return -2.0 * xi_value * (model.dv(x) + feats.potential_derivative(masses))


def _cubic_stencil(x, h, size):
    """Indices (n, 4) and weights (n, 4) of 4-point Lagrange interpolation at x on the grid
    g h, g = 0..size−1 (the stencil shifted inward at the ends; error O(h⁴))."""
    base = np.clip(np.floor(x / h).astype(np.int64) - 1, 0, size - 4)
    s = x / h - base  # in [0, 3] inside, node offsets 0, 1, 2, 3
    w = np.stack([-(s - 1) * (s - 2) * (s - 3) / 6, s * (s - 2) * (s - 3) / 2,
                  -s * (s - 1) * (s - 3) / 2, s * (s - 1) * (s - 2) / 6], axis=1)
    return base[:, None] + np.arange(4), w


class _DenseTable:
    """∂_r u(r_g, r_g') on a uniform grid of step ``h`` (:meth:`model.dense_kernel`, once),
    interpolated at the particles by 4-point Lagrange in both arguments (error O(h⁴); measured
    at d = 2, h = 5e-3: median 1e-9 in the velocity, 2.5e-6 at r ≈ 0.1, where the thresholds
    t/(s r) make the kernel steep):
    Σ_k ∂_r u(x, X_k) ≈ Σ_g L_g(x) Σ_g' D[g, g'] Σ_k L_g'(X_k). Rebuilt on a larger range
    when a particle leaves it. For small d, where the Mehler series cannot meet tol."""

    def __init__(self, model, r_hi, h=5e-3):
        self.model, self.h = model, h
        self._build(r_hi)

    def _build(self, r_hi):
        size = max(4, int(np.ceil(r_hi / self.h)) + 1)
        self.r_hi = (size - 1) * self.h
        grid = self.h * np.arange(size)
        self.D = self.model.dense_kernel(grid, grid, values=False, derivatives=True)[1]

    def velocity(self, x, xi_value):
        if x.max() > self.r_hi:
            self._build(1.5 * x.max())
        idx, w = _cubic_stencil(x, self.h, self.D.shape[0])
        mu = np.bincount(idx.ravel(), weights=w.ravel() / x.size, minlength=self.D.shape[0])
        field = self.D @ mu
        return -2.0 * xi_value * (self.model.dv(x) + np.sum(w * field[idx], axis=1))


class _FeatureTable:
    """Cubic splines (in r) of the Mehler features h_k(s r) and ∂_r h_k(s r), tabulated
    exactly by ``model.kernel_features`` on a uniform grid of step ``h`` (error O(h⁴),
    ~1e-9 at h = 1e-3): ~10× cheaper than re-evaluating the features every stage.
    The table is rebuilt on a larger range when a particle leaves it."""

    def __init__(self, model, r_hi, h=1e-3):
        self.model, self.h = model, h
        self._build(r_hi)

    def _build(self, r_hi):
        self.r_hi = float(r_hi)
        grid = np.linspace(0.0, self.r_hi, int(np.ceil(self.r_hi / self.h)) + 1)
        feats = self.model.kernel_features(grid)
        self.weights = feats.weights
        from scipy.interpolate import CubicSpline  # deferred: import time (see tests/test_import_time.py)

        self._val = CubicSpline(grid, feats.values.T)
        self._der = CubicSpline(grid, feats.derivatives.T)

    def velocity(self, x, xi_value):
        if x.max() > self.r_hi:
            self._build(1.5 * x.max())
        coef = self.weights * (self._val(x).T @ np.full(x.size, 1.0 / x.size))
        return -2.0 * xi_value * (self.model.dv(x) + self._der(x) @ coef)


def solve_radial_lagrangian(model, init="gaussian", kappa=0.8, times=(0, 1, 2, 5, 10), n=2000,
                            dt=1e-3, xi=None, exact_features=False, progress=None, accuracy_tol=ACCURACY_TOL):
    """Quantile particles X_i(0) = F_0^{-1}((i−½)/n) moved by RK4 with step ``dt``;
    returns a :class:`RadialLagrangianSolution` with the radii at ``times``.

    Each particle moves with Ẋ_i = −2ξ(t) ∂_rψ(X_i; (1/n) Σ_j δ_{X_j}), kept ≥ 0.

    Parameters
    ----------
    model : RadialModel
        The radial model (:class:`meanfield.IsotropicGaussians`, d ≥ 2).
    init : {"gaussian"}, callable or array_like
        As in :func:`solve_radial_pde`.
    kappa : float
        Scale κ > 0 of the "gaussian" initial law.
    times : array_like of float
        Non-decreasing snapshot times ≥ 0.
    n : int
        Number of particles, ≥ 1.
    dt : float
        RK4 step > 0 (the last step before a snapshot is shortened to hit it).
    xi : callable or float, optional
        Step-size schedule ξ(t) ≥ 0 (default 1).
    exact_features : bool
        Evaluate ``model.kernel_features`` at the particles every stage (slow) instead of a
        cubic-spline table of the features (error ~1e-9; where the Mehler series cannot meet
        the model's tol, an interpolated table of the dense kernel).
    progress : bool, optional
        Show a tqdm progress bar (None: only if stderr is a TTY).
    accuracy_tol : float or None, optional
        Every 25th step is repeated as two steps of dt/2 (step doubling, ~8% more work) and
        the summed local errors (max-norm) must stay below accuracy_tol·(1 + max X);
        None skips the check.

    Returns
    -------
    RadialLagrangianSolution
        Sorted radii at ``times``, ``stats``. A Ctrl-C (noticed between steps) returns the
        snapshots reached, the last one the state at the interruption, with ``status`` "interrupted".

    Raises
    ------
    ValueError
        On an invalid argument (the message names it), a model without the
        :class:`meanfield.RadialModel` methods, or d < 2.
    solvers.AccuracyError
        (A :class:`solvers.SolverError`, so a RuntimeError) if the estimated error exceeds
        ``accuracy_tol``: reduce ``dt``; ``result`` holds the snapshots before (status "failed").
    solvers.NonFiniteError
        (Also a FloatingPointError) if the radii become non-finite; ``result`` as above.

    Examples
    --------
    An independent check of :func:`solve_radial_pde`: the mean radii agree.

    >>> from meanfield import IsotropicGaussians, ramp
    >>> from solvers import solve_radial_pde
    >>> model = IsotropicGaussians(0.8, 40, ramp())
    >>> lag = solve_radial_lagrangian(model, times=[0, 0.5], n=100, dt=0.01, progress=False)
    >>> pde = solve_radial_pde(model, times=[0, 0.5], cells=100, progress=False)
    >>> round(lag.mean_radius(-1), 3), round(pde.mean_radius(-1), 3)
    (1.256, 1.256)
    """
    check_model(model, RadialModel)
    check_radial_model(model)
    n = check_int(n, "n", minimum=1)
    dt = check_positive(dt, "dt")
    times = check_times(times)
    xi_of = Dynamics(xi).xi_at
    accuracy_tol = check_accuracy_tol(accuracy_tol)
    law = InitialLaw(init, kappa, model.d)
    x = np.sort(law.quantiles((np.arange(n) + 0.5) / n))

    table = None
    if not exact_features:
        r_hi = 2.0 * x.max() + 1.0
        if isinstance(model.radial_kernel(np.linspace(0.0, r_hi, 64)), KernelFeatures):  # the series meets tol
            table = _FeatureTable(model, r_hi)
        else:  # O(size²) table: a tighter range, grown ×1.5 when a particle leaves it
            table = _DenseTable(model, 1.25 * x.max() + 0.5)

    def vel(y, s):
        y = np.maximum(y, 0.0)
        if table is None:
            return radial_velocity(model, y, xi_of(s))
        return table.velocity(y, xi_of(s))

    def rk4(y, s, h):
        k1 = vel(y, s)
        k2 = vel(y + 0.5 * h * k1, s + 0.5 * h)
        k3 = vel(y + 0.5 * h * k2, s + 0.5 * h)
        k4 = vel(y + h * k3, s + h)
        return np.maximum(y + (h / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4), 0.0)

    check = StepDoublingCheck(rk4, 4, accuracy_tol, RK4_EVERY, "solve_radial_lagrangian", dt=dt)

    def step(y, s, t_left):
        h = min(dt, t_left)
        new = rk4(y, s, h)
        if np.all(np.isfinite(new)):  # else march reports the non-finite state
            check.after(y, s, h, new)
        return new, h

    run = run_march(x, times, step, lambda y, s: np.sort(y), progress=progress,
                    desc=f"radial particles (n={n})", what="particle radii", snap_tol=1e-12, step_name="RK4 steps")
    radii = np.array(run.snapshots) if run.snapshots else np.zeros((0, n))
    return conclude(RadialLagrangianSolution(
        times=run.reached, radii=radii, steps=run.steps, error_estimate=None if accuracy_tol is None else check.estimate,
        status=run.status, message=run.message, stats=run.stats), run.error)
