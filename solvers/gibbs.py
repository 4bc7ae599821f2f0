"""Self-consistent Gibbs state of the noisy radial dynamics.

    ρ̄*(r) ∝ r^{d−1} exp(−β(ψ(r; ρ̄*) + λr²/2)),

discretised exactly as the stationary state of the Scharfetter–Gummel scheme of
:mod:`solvers.radial_pde` (same grid, same features):

    m_j ∝ ∫_cell r^{d−1} dr · exp(−β(ψ_j + λ r_j²/2)),   ψ_j = v(r_j) + Σ_i u(r_j, r_i) m_i,

solved by a damped fixed-point iteration on the log-masses with Anderson-free safeguards:
ℓ ← (1 − a) ℓ + a (log G(m)), a halved whenever the residual grows.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from meanfield._validation import check_int, check_noise, check_positive, check_real

from .radial_pde import OUTER_MASS_TOL, _Grid


@dataclass
class GibbsState:
    """r, edges (grid), mass (cell masses), density (per unit length), risk,
    free_energy (same convention as the FV solver), iterations, residual (max |Δ log m|
    over the cells carrying mass > 1e-300)."""

    r: np.ndarray
    edges: np.ndarray
    mass: np.ndarray
    density: np.ndarray
    risk: float
    free_energy: float
    iterations: int
    residual: float


def gibbs_fixed_point(model, beta, lam, cells=1000, r_max=10.0, damping=0.5, tol=1e-12,
                      max_iter=10000, init=None):
    """Solve m = G(m), G(m)_j ∝ exp(log ∫_cell r^{d−1} − β(ψ_j(m) + λr_j²/2)).

    Returns a :class:`GibbsState` on the uniform grid of ``cells`` cells on [0, r_max]
    (identical to ``solve_radial_pde(..., cells, r_max)``). ``init``: optional initial
    masses. Raises RuntimeError if ``max_iter`` iterations do not reach ``tol``, or if the state
    has more than OUTER_MASS_TOL of its mass in the outer cell (the domain would cut it).
    """
    beta, lam = check_noise(beta, lam)
    if beta is None:
        raise ValueError("beta: must be positive (the Gibbs state needs noise), got None")
    cells = check_int(cells, "cells", minimum=10)
    r_max = check_positive(r_max, "r_max")
    damping = check_real(damping, "damping")
    if not 0 < damping <= 1:
        raise ValueError(f"damping: must lie in (0, 1], got {damping!r}")
    tol = check_positive(tol, "tol")
    if tol < 1e-15:
        raise ValueError(f"tol: must be at least 1e-15 (rounding of the log-masses), got {tol!r}")
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    grid = _Grid(model, int(cells), float(r_max))
    base = grid.log_jac + np.log(grid.dr) - 0.5 * beta * lam * grid.r**2

    def gibbs_log(m):
        ell = base - beta * grid.psi(m)
        return ell - logsumexp(ell)

    if init is None:
        ell = base - beta * grid.v
        ell -= logsumexp(ell)
    else:
        m0 = np.asarray(init, dtype=float)
        if m0.shape != grid.r.shape or np.any(m0 < 0) or not m0.sum() > 0:
            raise ValueError("init: expected non-negative masses on the grid")
        with np.errstate(divide="ignore"):
            ell = np.log(m0 / m0.sum())
    a, prev = float(damping), np.inf
    for it in range(1, max_iter + 1):
        m = np.exp(ell)
        target = gibbs_log(m)
        live = ell > np.log(1e-300)
        res = float(np.max(np.abs(target - ell)[live]))
        if res < tol:
            break
        if res > prev:
            a = max(0.5 * a, 1e-3)
        prev = res
        ell = (1.0 - a) * ell + a * target
        ell -= logsumexp(ell)
    else:
        raise RuntimeError(f"gibbs_fixed_point: no convergence in {max_iter} iterations (residual {res:.2e})")
    m = np.exp(target)
    m /= m.sum()
    if m[-1] > OUTER_MASS_TOL:
        raise RuntimeError(f"gibbs_fixed_point: the Gibbs state has mass {m[-1]:.2e} in the outer cell "
                           f"r ≈ {grid.r[-1]:g}: the domain cuts it; increase r_max")
    return GibbsState(r=grid.r, edges=grid.edges, mass=m, density=m / grid.dr, risk=grid.risk(m),
                      free_energy=grid.free_energy(m, beta, lam), iterations=it, residual=res)
