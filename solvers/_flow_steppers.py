"""The schemes of the particle flow dX/dt = v(X, t) (X: the trained coordinates, (N, D)).

Each stepper's ``step(X, t, t_left) → (X_new, h)`` advances by one accepted step h ≤ t_left
(landing on t + t_left when it fits); ``h`` (the attribute) is the step it would try next.

* :class:`Dopri5` — adaptive Dormand–Prince 5(4) (:mod:`solvers._adaptive`), optionally with
  the origin events of :mod:`solvers._origin` (steps cut at the predicted arrivals at w = 0);
* :class:`RK4` — classical RK4, X₁ = X + (h/6)(k₁ + 2k₂ + 2k₃ + k₄), with a fixed ``dt``;
* :class:`RK4Doubling` — RK4 with step doubling: one step of h against two of h/2, error
  ‖Δ‖_∞/15, accepted when ≤ rtol·(1 + max|X|), Richardson-extrapolated;
* :class:`EulerMaruyama` — X₁ = X + h v(X, t) + √(4ξ(t)h/β) g, g ~ N(0, I).
"""
from __future__ import annotations

import numpy as np

from ._adaptive import DormandPrince


def rk4_step(velocity, X, t, h):
    """One classical RK4 step of size h."""
    k1 = velocity(X, t)
    k2 = velocity(X + 0.5 * h * k1, t + 0.5 * h)
    k3 = velocity(X + 0.5 * h * k2, t + 0.5 * h)
    k4 = velocity(X + h * k3, t + h)
    return X + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


class Dopri5:
    """Adaptive Dormand–Prince 5(4) with tolerance ``rtol`` (also the atol), and origin ``events``
    (an OriginEvents, or None)."""

    def __init__(self, velocity, rtol, events=None):
        self.events = events
        self.stepper = DormandPrince(velocity if events is None else events.velocity, rtol, atol=rtol)

    @property
    def h(self):
        return self.stepper.h

    def step(self, X, t, t_left):
        stepper, events = self.stepper, self.events
        t_max = t + t_left
        if events is not None:
            k1 = stepper.first_stage(X, t)
            if events.release():
                stepper.reset()
                k1 = stepper.first_stage(X, t)
            if stepper.h is not None:
                limit = events.step_limit(X, k1)
                if limit < stepper.h:  # cut the step at the earliest arrival at 0
                    t_max = min(t_max, t + max(limit, 1e-9 * stepper.h))
        X_new, t_new = stepper.step(X, t, t_max)
        if events is not None and events.capture(X_new):
            stepper.reset()
        return X_new, t_new - t


class RK4:
    """Classical RK4 with the fixed step ``dt``."""

    def __init__(self, velocity, dt):
        self.velocity, self.h = velocity, dt

    def step(self, X, t, t_left):
        h = min(self.h, t_left)
        return rk4_step(self.velocity, X, t, h), h


class RK4Doubling:
    """RK4 with step doubling (see the module docstring); the first trial step is 0.01."""

    def __init__(self, velocity, rtol, h=1e-2):
        self.velocity, self.rtol, self.h = velocity, rtol, h

    def step(self, X, t, t_left):
        while True:
            h = min(self.h, t_left)
            full = rk4_step(self.velocity, X, t, h)
            half = rk4_step(self.velocity, rk4_step(self.velocity, X, t, 0.5 * h), t + 0.5 * h, 0.5 * h)
            err = np.max(np.abs(half - full)) / 15.0
            tol = self.rtol * (1.0 + np.max(np.abs(half)))
            factor = 0.9 * (tol / max(err, 1e-300)) ** 0.2
            if err > tol:
                self.h = h * max(0.2, factor)
                continue
            if h == self.h:
                self.h = h * min(2.0, max(0.2, factor))
            return half + (half - full) / 15.0, h  # Richardson extrapolation


class EulerMaruyama:
    """Euler-Maruyama with the fixed step ``dt``, inverse temperature β, time scale ``xi_at`` and
    the normal generator ``rng``."""

    def __init__(self, velocity, dt, beta, xi_at, rng):
        self.velocity, self.h, self.beta, self.xi_at, self.rng = velocity, dt, beta, xi_at, rng

    def step(self, X, t, t_left):
        h = min(self.h, t_left)
        noise = self.rng.standard_normal(X.shape) * np.sqrt(4.0 * self.xi_at(t) * h / self.beta)
        return X + h * self.velocity(X, t) + noise, h
