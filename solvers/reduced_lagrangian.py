"""Reduced Lagrangian (particle) solver of the anisotropic Gaussians dynamics on (a, b, r₁, r₂).

ρ̄_t ≈ Σ_m w_m δ_{X_m(t)}, X_m = (a, b, r₁, r₂)_m, with

    dX_m/dt = −2ξ(t) ∇ψ(X_m; ρ̄_t)        (untrained coordinates stay fixed),

ψ from :class:`meanfield.AnisotropicGaussians`: the kernel is low rank (features indexed by
(k, j)), so one field evaluation costs O(M · K²), not O(M²), and M = 1e5 particles are
practical. Classical RK4 with a fixed step; the radii live on r ≥ 0: every stage evaluates
the field at (r₁, r₂) ← max(·, 0) and every step projects, so a particle on an axis stays
while its velocity points inward (ψ is even in r₁ and r₂: on the axes ∂ψ = 0 anyway).

Each particle is the reduced image of an O(s0)×O(d−s0)-invariant cloud of neurons, so this
solves the distributional dynamics of the full network exactly when ρ̄_0 is the image of the
initial law (iid draws of it by default: the sampling error is that of M draws).
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import numpy as np

from meanfield import AnisotropicGaussians

from meanfield._validation import check_times, check_real, xi_function


@dataclass
class ReducedLagrangianSolution:
    """Snapshots of the reduced particles.

    times : (S,) snapshot times reached; points : (S, M, 4) columns (a, b, r₁, r₂);
    weights : (M,) particle weights (sum 1); risk : (S,) R(ρ̄_t); steps : RK4 steps taken;
    status : "finished", "interrupted" (Ctrl-C) or "failed" (non-finite state);
    message : why; wall_time : seconds.
    """

    times: np.ndarray
    points: np.ndarray
    weights: np.ndarray
    risk: np.ndarray
    steps: int
    status: str = "finished"
    message: str = ""
    wall_time: float = field(default=0.0)

    def mean(self, k):
        """Mean (a, b, r₁, r₂) of snapshot k."""
        return self.weights @ self.points[k]


def solve_reduced_lagrangian(model, init, times, dt=1e-2, xi=None, weights=None, progress=None):
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

    Returns
    -------
    ReducedLagrangianSolution
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
    if progress is None:
        progress = sys.stderr.isatty()

    def vel(y, s):
        y = y.copy()
        np.maximum(y[:, 2:], 0.0, out=y[:, 2:])
        return model.velocity(y, w, xi_of(s))

    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=float(times[-1]), unit="t", desc=f"reduced particles (M={x.shape[0]})")
    snaps, risks, reached = [], [], []
    t, steps, status, message = 0.0, 0, "finished", ""
    start = time.perf_counter()
    try:
        for t_next in times:
            while t < t_next - 1e-12:
                h = min(dt, t_next - t)
                k1 = vel(x, t)
                k2 = vel(x + 0.5 * h * k1, t + 0.5 * h)
                k3 = vel(x + 0.5 * h * k2, t + 0.5 * h)
                k4 = vel(x + h * k3, t + h)
                x = x + (h / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4)
                np.maximum(x[:, 2:], 0.0, out=x[:, 2:])
                t = t_next if t + h >= t_next - 1e-12 else t + h
                steps += 1
                if not np.all(np.isfinite(x)):
                    raise FloatingPointError(f"non-finite particle state at t = {t:.6g}")
                if bar is not None:
                    bar.update(h)
            snaps.append(x.copy())
            risks.append(model.risk(x, w))
            reached.append(t)
    except KeyboardInterrupt:
        status, message = "interrupted", f"interrupted (Ctrl-C) at t = {t:.6g} after {steps} steps"
    except FloatingPointError as exc:
        status, message = "failed", f"failed: {exc} (step dt = {dt} too large?)"
    finally:
        if bar is not None:
            bar.close()
    if status == "finished":
        message = f"finished: {steps} RK4 steps, last snapshot at t = {reached[-1]:.6g}"
    points = np.array(snaps) if snaps else np.zeros((0,) + x.shape)
    return ReducedLagrangianSolution(np.array(reached), points, w, np.array(risks), steps, status, message,
                                     time.perf_counter() - start)
