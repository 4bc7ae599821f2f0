"""Self-consistent Gibbs state of the noisy radial dynamics.

    ρ̄*(r) ∝ r^{d−1} exp(−β(ψ(r; ρ̄*) + λr²/2)),

discretised exactly as the stationary state of the Scharfetter–Gummel scheme of
:mod:`solvers.radial_pde` (same grid, same features):

    m_j ∝ ∫_cell r^{d−1} dr · exp(−β(ψ_j + λ r_j²/2)),   ψ_j = v(r_j) + Σ_i u(r_j, r_i) m_i,

solved by a damped fixed-point iteration on the log-masses with Anderson-free safeguards:
ℓ ← (1 − a) ℓ + a (log G(m)), a halved whenever the residual grows.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from meanfield._validation import check_int, check_model, check_positive, check_radial_model, check_real
from meanfield.interface import RadialModel

from ._dynamics import Dynamics
from ._interrupt import deferred_interrupt
from ._outcome import ConvergenceError, DomainError
from ._result import SolverResult
from .radial_pde import OUTER_MASS_TOL, _Grid


@dataclass
class GibbsState(SolverResult):
    """The self-consistent Gibbs state on a uniform radial grid.

    Parameters
    ----------
    r : ndarray, shape (M,)
        Cell centres.
    edges : ndarray, shape (M + 1,)
        Cell edges.
    mass : ndarray, shape (M,)
        Cell masses (sum 1).
    density : ndarray, shape (M,)
        Density per unit length, mass/Δr.
    risk : float
        R(ρ̄*) (discrete, R# = 1).
    free_energy : float
        F(ρ̄*), the convention of :func:`solve_radial_pde`.
    iterations : int
        Fixed-point iterations used.
    residual : float
        Max |Δ log m| over the cells carrying mass > 1e-300 at the last iteration.
    times : ndarray, shape (0,)
        Empty: a stationary state has no time.
    status : {"finished", "interrupted", "failed"}
        Keyword-only. "finished": the iteration converged; "interrupted": Ctrl-C (the last
        iterate, normalised); "failed" only on a :class:`solvers.SolverError`'s ``result``.
    message : str
        Keyword-only. How the iteration ended.
    stats : dict
        Keyword-only. ``steps`` (= iterations) and ``wall_time`` (seconds).

    Examples
    --------
    >>> import numpy as np
    >>> s = GibbsState(r=np.array([0.5, 1.5]), edges=np.array([0.0, 1.0, 2.0]), mass=np.array([0.5, 0.5]),
    ...                density=np.array([0.5, 0.5]), risk=1.0, free_energy=0.0, iterations=3, residual=1e-13)
    >>> float(s.mass @ s.r)
    1.0
    """

    r: np.ndarray
    edges: np.ndarray
    mass: np.ndarray
    density: np.ndarray
    risk: float
    free_energy: float
    iterations: int
    residual: float
    times: np.ndarray = field(default_factory=lambda: np.zeros(0))


def gibbs_fixed_point(model, beta, lam, cells=1000, r_max=10.0, damping=0.5, tol=1e-12,
                      max_iter=10000, init=None):
    """Solve m = G(m), G(m)_j ∝ exp(log ∫_cell r^{d−1} − β(ψ_j(m) + λr_j²/2)).

    Damped fixed-point iteration on the log-masses, ℓ ← (1 − a) ℓ + a log G(m), the damping a
    halved (down to 1e-3) whenever the residual grows. The grid is that of
    ``solve_radial_pde(..., cells, r_max)``, whose noisy scheme has this state as its exact
    stationary state.

    Parameters
    ----------
    model : RadialModel
        The radial model (:class:`meanfield.IsotropicGaussians`, d ≥ 2).
    beta : float
        Inverse temperature β > 0 (None is refused: the Gibbs state needs noise).
    lam : float
        L2 regularisation λ ≥ 0.
    cells : int
        Number of cells on [0, r_max], ≥ 10.
    r_max : float
        Outer radius > 0.
    damping : float
        Initial damping a ∈ (0, 1].
    tol : float
        Stopping residual max |Δ log m|, ≥ 1e-15.
    max_iter : int
        Maximal number of iterations, ≥ 1.
    init : array_like, shape (cells,), optional
        Initial masses (non-negative, positive sum); default: the Gibbs state of v alone.

    Returns
    -------
    GibbsState
        The converged state (status "finished"), or, after a Ctrl-C (noticed between
        iterations), the last iterate with status "interrupted".

    Raises
    ------
    ValueError
        On an invalid argument (the message names it).
    solvers.ConvergenceError
        (A :class:`solvers.SolverError`, so a RuntimeError) if ``max_iter`` iterations do not
        reach ``tol``; ``result`` is the last iterate (status "failed").
    solvers.DomainError
        (A SolverError) if the state has more than OUTER_MASS_TOL of its mass in the outer
        cell (the domain would cut it); ``result`` is that state (status "failed").

    Examples
    --------
    The noisy PDE, run long enough on the same grid, converges to this state:

    >>> import numpy as np
    >>> from meanfield import IsotropicGaussians, ramp
    >>> from solvers import solve_radial_pde
    >>> model = IsotropicGaussians(0.8, 40, ramp())
    >>> g = gibbs_fixed_point(model, beta=10.0, lam=1.0, cells=100, r_max=4.0)
    >>> sol = solve_radial_pde(model, times=[0, 10], cells=100, r_max=4.0, beta=10.0, lam=1.0,
    ...                        cfl=20.0, progress=False)
    >>> bool(np.abs(sol.mass[-1] - g.mass).sum() < 1e-10), round(float(g.free_energy), 6)
    (True, -0.189979)
    """
    check_model(model, RadialModel)
    check_radial_model(model)
    dyn = Dynamics(None, beta, lam)
    beta, lam = dyn.beta, dyn.lam
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
    from scipy.special import logsumexp  # deferred: import time (see tests/test_import_time.py)

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
    start = time.perf_counter()
    a, prev, res, it, status = float(damping), np.inf, np.inf, 0, "failed"
    target = ell
    try:
        while it < max_iter:
            with deferred_interrupt():  # a Ctrl-C lands between iterations
                it += 1
                target = gibbs_log(np.exp(ell))
                live = ell > np.log(1e-300)
                res = float(np.max(np.abs(target - ell)[live]))
                if res < tol:
                    status = "finished"
                    break
                if res > prev:
                    a = max(0.5 * a, 1e-3)
                prev = res
                ell = (1.0 - a) * ell + a * target
                ell -= logsumexp(ell)
                target = ell
    except KeyboardInterrupt:
        status = "interrupted"
    m = np.exp(target)
    m /= m.sum()
    message = {"finished": f"finished: converged in {it} iterations (residual {res:.2e} < tol = {tol:g})",
               "interrupted": f"interrupted (Ctrl-C) after {it} iterations (residual {res:.2e})",
               "failed": f"failed: no convergence in {max_iter} iterations (residual {res:.2e} ≥ tol = {tol:g})"}
    state = GibbsState(r=grid.r, edges=grid.edges, mass=m, density=m / grid.dr, risk=grid.risk(m),
                       free_energy=grid.free_energy(m, beta, lam), iterations=it, residual=res, status=status,
                       message=message[status], stats={"steps": it, "wall_time": time.perf_counter() - start})
    if status == "failed":
        raise ConvergenceError(f"gibbs_fixed_point: {state.message}", state)
    if status == "finished" and m[-1] > OUTER_MASS_TOL:
        state.status = "failed"
        state.message = (f"failed: the Gibbs state has mass {m[-1]:.2e} in the outer cell r ≈ {grid.r[-1]:g}: "
                         "the domain cuts it; increase r_max")
        raise DomainError(f"gibbs_fixed_point: {state.message}", state)
    return state
