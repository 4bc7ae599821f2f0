"""Dormand–Prince 5(4): an embedded explicit Runge–Kutta pair with FSAL and a PI step controller.

For y' = f(t, y) on an array state (any shape), one step of size h computes the stages

    k_i = f(t + c_i h, y + h Σ_{j<i} a_ij k_j),   i = 1..7,

the fifth-order solution y₁ = y + h Σ b_i k_i (b = the 7th row of a, so k₇ = f(t + h, y₁) is the
next step's k₁: "first same as last", six new evaluations per step) and the error estimate
e = h Σ (b_i − b̂_i) k_i of the embedded fourth-order solution (Dormand & Prince 1980; the
coefficients of Hairer, Nørsett & Wanner, Solving ODEs I, and of scipy's RK45).

A step is accepted when ‖e‖ ≤ 1, ‖e‖ = max_i |e_i| / (atol + rtol · max(max|y|, max|y₁|))
(one scale for the whole state: the particle flow's coordinates are all of one kind). The next
step is h · min(10, max(0.2, 0.9 ‖e‖^{−α} ‖e_prev‖^{β})) with α = 0.2 − 0.75β, β = 0.04 (the
PI controller of Hairer's DOPRI5), never larger than h right after a rejection.
"""
from __future__ import annotations

import math

import numpy as np

from ._result import SolverError

_C = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0)
_A = (
    (),
    (1 / 5,),
    (3 / 40, 9 / 40),
    (44 / 45, -56 / 15, 32 / 9),
    (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
    (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
    (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84),
)
#: b − b̂ (fifth minus fourth order weights), k₁..k₇
_E = (71 / 57600, 0.0, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40)
ORDER = 5
SAFETY = 0.9
MIN_FACTOR = 0.2
MAX_FACTOR = 10.0
BETA = 0.04
ALPHA = 1.0 / ORDER - 0.75 * BETA


class StepSizeError(SolverError):
    """The step size fell below the resolution of t (a :class:`SolverError`, so a RuntimeError;
    the solver attaches its partial result as ``result``)."""


class DormandPrince:
    """Adaptive Dormand–Prince 5(4) stepper for y' = velocity(y, t).

    Parameters
    ----------
    velocity : callable
        (y, t) → array of y's shape.
    rtol, atol : float
        Tolerances of the error test above (at least one positive).
    h : float, optional
        First trial step, or None (chosen from f(t₀, y₀) as in Hairer's / scipy's rule, one
        extra evaluation).

    ``evaluations`` counts the calls of ``velocity``; ``rejected`` the rejected steps;
    ``last_error`` is the last step's ‖e‖ (relative to its scale).
    Call :meth:`reset` after changing the state between steps (FSAL then recomputes k₁).
    """

    def __init__(self, velocity, rtol, atol=0.0, h=None):
        if not (rtol > 0 or atol > 0):
            raise ValueError("rtol: rtol or atol must be positive")
        self.velocity = velocity
        self.rtol, self.atol = float(rtol), float(atol)
        self.h = h
        self.evaluations = 0
        self.rejected = 0
        self._k1 = None
        self._err_prev = 1e-4
        self.last_error = 0.0

    def _f(self, y, t):
        self.evaluations += 1
        return self.velocity(y, t)

    def reset(self):
        """Forget the FSAL stage (the state was changed outside the stepper)."""
        self._k1 = None

    def first_stage(self, y, t):
        """k₁ = velocity(y, t) of the next step (the FSAL stage, evaluated if unknown)."""
        if self._k1 is None:
            self._k1 = self._f(y, t)
        return self._k1

    def _scale(self, y, y_new=None):
        size = float(np.max(np.abs(y))) if y.size else 0.0
        if y_new is not None and y_new.size:
            size = max(size, float(np.max(np.abs(y_new))))
        return self.atol + self.rtol * size

    def _initial_step(self, y, t, k1, t_max):
        """Hairer's starting step: h₀ = 0.01 ‖y‖/‖f‖, refined by the change of f over h₀."""
        sc = self._scale(y)
        d0 = float(np.max(np.abs(y))) / sc if y.size else 0.0
        d1 = float(np.max(np.abs(k1))) / sc if y.size else 0.0
        h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
        h0 = min(h0, t_max - t)
        k2 = self._f(y + h0 * k1, t + h0)
        d2 = float(np.max(np.abs(k2 - k1))) / sc / h0 if y.size else 0.0
        if max(d1, d2) <= 1e-15:
            h1 = max(1e-6, h0 * 1e-3)
        else:
            h1 = (0.01 / max(d1, d2)) ** (1.0 / ORDER)
        return min(100.0 * h0, h1)

    def step(self, y, t, t_max):
        """One accepted step from (y, t), not beyond t_max: returns (y_new, t_new).
        Raises StepSizeError if the step underflows."""
        self.first_stage(y, t)
        if self.h is None:
            self.h = self._initial_step(y, t, self._k1, t_max)
        rejected_here = False
        while True:
            h = min(self.h, t_max - t)
            if h <= 8.0 * np.finfo(float).eps * max(1.0, abs(t)):
                raise StepSizeError(f"step size {h:.3g} underflows at t = {t:.6g}")
            k = [self._k1]
            for i in range(1, 7):
                a = _A[i]
                inc = a[0] * k[0]
                for j in range(1, i):
                    if a[j] != 0.0:
                        inc = inc + a[j] * k[j]
                y_stage = y + h * inc
                k.append(self._f(y_stage, t + _C[i] * h))
            y_new = y_stage  # the 7th stage point is the fifth-order solution
            err = _E[0] * k[0]
            for j in range(2, 7):
                err = err + _E[j] * k[j]
            err_norm = float(np.max(np.abs(h * err))) / self._scale(y, y_new) if y.size else 0.0
            if not math.isfinite(err_norm):
                err_norm = 1e10
            self.last_error = err_norm
            if err_norm <= 1.0:
                if err_norm == 0.0:
                    factor = MAX_FACTOR
                else:
                    factor = SAFETY * err_norm ** (-ALPHA) * self._err_prev ** BETA
                    factor = min(MAX_FACTOR, max(MIN_FACTOR, factor))
                if rejected_here:
                    factor = min(1.0, factor)
                self._err_prev = max(err_norm, 1e-4)
                if h == self.h or factor < 1.0:  # a step cut short by t_max keeps the controller's h
                    self.h = h * factor
                self._k1 = k[6]
                return y_new, t + h
            self.rejected += 1
            rejected_here = True
            self.h = h * max(MIN_FACTOR, SAFETY * err_norm ** (-ALPHA))
