"""A-posteriori accuracy check of fixed-step integrators by step doubling on a sparse subset of steps.

For a one-step method Φ_h of order p, one step from X and two steps of h/2 differ by

    Φ_h(X) − Φ_{h/2}∘Φ_{h/2}(X) ≈ (1 − 2^{−p}) C h^{p+1},

so the local error of the step actually taken is e ≈ ‖Φ_h(X) − Φ_{h/2}²(X)‖_∞ · 2^p/(2^p − 1).
Every ``every``-th step (and the first) is doubled this way; the local error per unit time e/h is
taken as constant over the steps since the previous check, and summed into the global estimate

    E(t) = Σ_checks (e/h) · (time since the previous check),

the sum of the local errors (no damping by the dynamics: an upper estimate for contracting
flows). With a ``horizon`` only the last ``horizon`` time units are summed (Euler–Maruyama: 1):
for an ergodic diffusion the bias of the law reached is set by the error rate over a relaxation
time, not by the length of the run. The run raises :class:`AccuracyError` as soon as E > tol · (1 + max|X|) (max-norm,
relative to the state's size as the adaptive methods' ``rtol``). The doubled steps cost two
extra steps per ``every``: 8% of the RK4 work with every = RK4_EVERY = 25, 7.5% of the
Euler–Maruyama drifts (three per check) with every = EULER_EVERY = 40.
"""
from __future__ import annotations

import numpy as np

from ._result import SolverError

#: default accuracy tolerance of the fixed-step integrators (``accuracy_tol``)
ACCURACY_TOL = 1e-2
#: one RK4 step in RK4_EVERY, one Euler step in EULER_EVERY is doubled
RK4_EVERY = 25
EULER_EVERY = 40


class AccuracyError(SolverError):
    """A fixed-step integrator's estimated error exceeds its ``accuracy_tol``.

    A :class:`SolverError` (so a ``RuntimeError``) whose ``result`` is the partial result
    (status "failed", the snapshots before the failure), raised by :func:`solvers.run_particle_flow` (RK4 with ``dt``,
    Euler-Maruyama), :func:`solvers.solve_radial_lagrangian` and
    :func:`solvers.solve_reduced_lagrangian`; the message names ``dt``, the time, the estimate
    and the opt-out (``accuracy_tol=None``).

    Examples
    --------
    >>> from solvers import AccuracyError, SolverError
    >>> issubclass(AccuracyError, RuntimeError), issubclass(AccuracyError, SolverError)
    (True, True)
    """


class StepDoublingCheck:
    """Global error estimate E(t) of a fixed-step method by step doubling every ``every`` steps.

    Parameters
    ----------
    advance : callable (X, t, h) → X after one step of the method (deterministic part only:
        for Euler–Maruyama, the Euler step of the drift).
    order : the method's order p (4 for RK4, 1 for Euler).
    tol : ``accuracy_tol`` (None: estimate nothing, raise nothing).
    every : check one step in ``every``.
    name : the solver's name for the error message; dt : the step asked for (the message's, else h).
    hint : what to do; horizon : sum the local errors over the last ``horizon`` time units only
        (None: the whole run).

    After each step call :meth:`after` with the state before it, its time, the step h and
    (optionally) the step's result Φ_h(X) if it is deterministic (saves one step).
    ``estimate`` is E(t); ``checks`` the number of doubled steps.
    """

    def __init__(self, advance, order, tol, every, name, dt=None, hint="reduce dt", horizon=None):
        self.advance, self.order, self.tol, self.every, self.dt = advance, int(order), tol, int(every), dt
        self.name, self.hint, self.horizon = name, hint, horizon
        self.estimate = 0.0
        self._window = []   # (end time, rate e/h, duration) of the checks inside the horizon
        self.checks = 0
        self._since = 0.0   # time stepped since the previous check
        self._count = 0     # steps taken

    def after(self, X, t, h, full=None):
        """Account for the step (X, t) → t + h; double it if it is due; raise if E > tol·(1 + max|X|)."""
        if self.tol is None:
            return
        self._since += h
        due = self._count % self.every == 0
        self._count += 1
        if not due:
            return
        if full is None:
            full = self.advance(X, t, h)
        half = self.advance(self.advance(X, t, 0.5 * h), t + 0.5 * h, 0.5 * h)
        diff = float(np.max(np.abs(full - half))) if full.size else 0.0
        if not np.isfinite(diff):
            diff = np.inf
        gain = 2.0 ** self.order
        local = diff * gain / (gain - 1.0)
        if self.horizon is None:
            self.estimate += local / h * self._since
        else:  # Σ rate · (overlap of its interval with [t + h − horizon, t + h])
            end = t + h
            self._window.append((end, local / h, self._since))
            start = end - self.horizon
            self._window = [w for w in self._window if w[0] > start]
            self.estimate = sum(rate * min(dur, stop - start) for stop, rate, dur in self._window)
        self._since = 0.0
        self.checks += 1
        scale = 1.0 + float(np.max(np.abs(X))) if X.size else 1.0
        if not self.estimate <= self.tol * scale:
            raise AccuracyError(
                f"{self.name}: the fixed step dt = {self.dt if self.dt is not None else h:.3g} is too large: by step doubling the estimated error "
                f"at t = {t + h:.6g} is {self.estimate:.3g} (max-norm), above accuracy_tol·(1 + max|X|) = "
                f"{self.tol * scale:.3g}; {self.hint} (or pass accuracy_tol=None to skip this check)")
