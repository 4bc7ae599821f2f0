"""Finite volumes on (r₁, r₂) for the anisotropic Gaussians, w-only network (a ≡ 1, b ≡ 0).

The law ρ̄ of (r₁, r₂) = (‖w₁‖, ‖w₂‖) on [0, R₁] × [0, R₂] (density per dr₁ dr₂, so it carries
the Jacobian r₁^{s0−1} r₂^{d−s0−1} of the spheres) evolves by

    noiseless:  ∂_t ρ̄ = 2ξ ∇·(ρ̄ ∇(ψ(r₁, r₂; ρ̄) + λ|r|²/2)),
    noisy:      ∂_t ρ̄ = (2ξ/β) ∇·(e^{−Φ} ∇(e^{Φ} ρ̄)),
                Φ = β(ψ + λ(r₁² + r₂²)/2) − (s0−1) log r₁ − (d−s0−1) log r₂

(Itô for the two norms of the Langevin dynamics of w), no flux through r₁ = 0, r₂ = 0 or the
outer edges. ψ is that of :class:`meanfield.AnisotropicGaussians` at the cell centres
(midpoint quadrature, O(Δr²)), from features tabulated once on the grid: O(J · P) per ψ.

* Noiseless: Carrillo–Chertock–Huang fluxes dimension by dimension, as in
  :mod:`solvers.radial_pde`: face velocities u = −2ξ Δψ/Δr, limited piecewise-linear
  reconstruction (monotonized central or minmod), upwind flux, SSP-RK3 with
  dt = cfl / (max|u₁|/Δr₁ + max|u₂|/Δr₂), cfl ≤ ½ (masses stay ≥ 0). Semi-discretely
  dE/dt = −Σ F·u ΔrΔr/(2ξ) ≤ 0 for E = R/2 + (λ/2)∫|r|²dρ̄.
* Noisy: Scharfetter–Gummel fluxes J = (2ξ/(βΔr²)) [B(ΔΦ) m_P − B(−ΔΦ) m_Q] on every face,
  Φ with the log of the cell average of r₁^{s0−1} r₂^{d−s0−1}, linearly implicit Euler (one
  sparse M-matrix solve per step): positive, mass conserving, and the discrete Gibbs state
  m ∝ ∫_cell r₁^{s0−1} r₂^{d−s0−1} · exp(−β(ψ + λ|r|²/2)) is exactly stationary.

With s0 = d there are no noise coordinates: one r₂ cell at r₂ = 0 and no r₂ flux; the scheme
is then the radial one of :func:`solvers.solve_radial_pde` on the same cells.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from meanfield._validation import check_int, check_model, check_positive, check_real, check_times
from meanfield.interface import ReducedModel

from ._dynamics import Dynamics
from ._initial_law import TAIL_TOL
from ._outcome import DomainError, conclude, run_march
from ._result import SolverResult
from .radial_pde import MIN_CFL, _bernoulli, _limited_slope

#: mass allowed in the outer ring of cells before the solver refuses (the domain is fixed)
OUTER_MASS_TOL = 1e-12
#: the largest ``outer_tol`` accepted
MAX_OUTER_TOL = 1e-2


@njit(cache=True, inline="always")
def _slope(a, b, mode):
    """Reconstruction slope: 0 (mode 0, first-order upwind), minmod (1), monotonized central (2)."""
    if mode == 0:
        return 0.0
    return _limited_slope(a, b, mode == 2)


@njit(cache=True)
def _cch_rate_2d(m, psi, coef, dr1, dr2, mode, out):
    """dm/dt of the dimension-by-dimension CCH scheme on an (n1, n2) grid of masses;
    returns max|u₁|/Δr₁ + max|u₂|/Δr₂. Zero flux through all four sides."""
    n1, n2 = m.shape
    for i in range(n1):
        for j in range(n2):
            out[i, j] = 0.0
    u1max = 0.0
    u2max = 0.0
    # r1 direction: faces (i+½, j); reconstruct the density m/Δr along i
    for j in range(n2):
        for i in range(n1 - 1):
            u = -coef * (psi[i + 1, j] - psi[i, j]) / dr1
            if u > 0.0:
                sl = _slope(m[i, j] - m[i - 1, j], m[i + 1, j] - m[i, j], mode) if i > 0 else 0.0
                flux = u * (m[i, j] + 0.5 * sl) / dr1
            else:
                sl = (_slope(m[i + 1, j] - m[i, j], m[i + 2, j] - m[i + 1, j], mode)
                      if i + 2 < n1 else 0.0)
                flux = u * (m[i + 1, j] - 0.5 * sl) / dr1
            out[i, j] -= flux
            out[i + 1, j] += flux
            if abs(u) > u1max:
                u1max = abs(u)
    for i in range(n1):
        for j in range(n2 - 1):
            u = -coef * (psi[i, j + 1] - psi[i, j]) / dr2
            if u > 0.0:
                sl = _slope(m[i, j] - m[i, j - 1], m[i, j + 1] - m[i, j], mode) if j > 0 else 0.0
                flux = u * (m[i, j] + 0.5 * sl) / dr2
            else:
                sl = (_slope(m[i, j + 1] - m[i, j], m[i, j + 2] - m[i, j + 1], mode)
                      if j + 2 < n2 else 0.0)
                flux = u * (m[i, j + 1] - 0.5 * sl) / dr2
            out[i, j] -= flux
            out[i, j + 1] += flux
            if abs(u) > u2max:
                u2max = abs(u)
    return u1max / dr1 + u2max / dr2


@njit(cache=True)
def _sg_triplets(phi, rate1, rate2, dt, rows, cols, vals):
    """COO triplets of I − dt·A, A the Scharfetter–Gummel operator on the (n1, n2) grid
    (flat index i·n2 + j); returns the number of entries written."""
    n1, n2 = phi.shape
    k = 0
    for i in range(n1):
        for j in range(n2):
            p = i * n2 + j
            rows[k] = p
            cols[k] = p
            vals[k] = 1.0
            k += 1
    for i in range(n1):
        for j in range(n2):
            p = i * n2 + j
            for di, dj, rate in ((1, 0, rate1), (0, 1, rate2)):
                ii, jj = i + di, j + dj
                if ii >= n1 or jj >= n2:
                    continue
                q = ii * n2 + jj
                dphi = phi[ii, jj] - phi[i, j]
                fwd = dt * rate * _bernoulli(dphi)    # p → q
                bwd = dt * rate * _bernoulli(-dphi)   # q → p
                vals[p] += fwd                         # diagonal entries sit at index p
                vals[q] += bwd
                rows[k], cols[k], vals[k] = q, p, -fwd
                k += 1
                rows[k], cols[k], vals[k] = p, q, -bwd
                k += 1
    return k


@njit(cache=True)
def _low_rank_potential(f, weight, m, out):
    """out_J += Σ_p weight_p f_pJ (Σ_I f_pI m_I): the low-rank kernel applied to the masses
    (plain loops: BLAS threads gain nothing at these sizes and collapse on a loaded machine)."""
    n_feat, n_cells = f.shape
    for p in range(n_feat):
        acc = 0.0
        for i in range(n_cells):
            acc += f[p, i] * m[i]
        acc *= weight[p]
        for i in range(n_cells):
            out[i] += acc * f[p, i]


class AnisotropicGrid:
    """Uniform cells on [0, R₁] × [0, R₂] with the model's features at the centres.

    With s0 = d: one r₂ cell, centre r₂ = 0 (``R2`` ignored)."""

    def __init__(self, model, cells, r_max):
        check_model(model, ReducedModel)
        if model.train != ("w",):
            raise ValueError(f"model: the grid solver needs the w-only network (train=('w',)), got {model.train}")
        if model.d == np.inf:
            raise ValueError("model: the grid solver needs a finite d (the Jacobian r₁^{s0−1} r₂^{d−s0−1})")
        n1, n2 = (cells, cells) if np.ndim(cells) == 0 else tuple(cells)
        n1 = check_int(n1, "cells", 4)
        R1, R2 = (r_max, r_max) if np.ndim(r_max) == 0 else tuple(r_max)
        R1 = check_real(R1, "r_max")
        self.model = model
        self.s0, self.d = model.s0, model.d
        self.noise = model.d > model.s0
        if self.noise:
            n2 = check_int(n2, "cells", 4)
            R2 = check_real(R2, "r_max")
        else:
            n2, R2 = 1, 1.0
        if R1 <= 0 or R2 <= 0:
            raise ValueError(f"r_max: must be positive, got {r_max!r}")
        self.shape = (n1, n2)
        self.dr1, self.dr2 = R1 / n1, R2 / n2
        self.edges1 = np.linspace(0.0, R1, n1 + 1)
        self.edges2 = np.linspace(0.0, R2, n2 + 1) if self.noise else np.array([0.0, 0.0])
        self.r1 = 0.5 * (self.edges1[:-1] + self.edges1[1:])
        self.r2 = 0.5 * (self.edges2[:-1] + self.edges2[1:]) if self.noise else np.zeros(1)
        R1g, R2g = np.meshgrid(self.r1, self.r2, indexing="ij")
        self.centres = np.column_stack([np.ones(R1g.size), np.zeros(R1g.size), R1g.ravel(), R2g.ravel()])
        self.v = model.v(self.centres).reshape(self.shape)
        # (P, J) features per class (a = 1); subnormal entries (≪ 1e-200, e.g. h_k(s) ~ s^k near the
        # origin) are flushed to 0: they would slow every product down ~50×
        self.feats = [np.where(np.abs(f) < 1e-200, 0.0, f) for f in
                      (model.class_features(self.centres, c)[0] for c in model.scales)]
        self.half_lam = 0.5 * model.lam
        # log of the cell average of r₁^{s0−1} r₂^{d−s0−1}
        self.log_jac = (_log_cell_average(self.edges1, self.s0 - 1)[:, None]
                        + (_log_cell_average(self.edges2, self.d - self.s0 - 1)[None, :] if self.noise else 0.0))

    @property
    def cells(self):
        return self.shape[0] * self.shape[1]

    def psi(self, m):
        """ψ at the centres: v + Σ_± Σ_kj ½ λ_kj f_kj (Σ_J f_kj m_J)."""
        flat = np.ascontiguousarray(m).ravel()
        out = self.v.ravel().copy()
        for f in self.feats:
            _low_rank_potential(f, self.half_lam, flat, out)
        return out.reshape(self.shape)

    def risk(self, m):
        """Discrete R = 1 + 2Σ v m + Σ m (ψ − v) (R# = 1)."""
        return float(self.model.r_sharp + np.sum(m * (self.v + self.psi(m))))

    def free_energy(self, m, beta, lam):
        """R/2 + (λ/2)Σ|r|² m (noiseless), or that + (1/β)Σ m log(m/(ΔrΔr · average Jacobian))."""
        r2sq = self.r1[:, None] ** 2 + self.r2[None, :] ** 2
        e = 0.5 * self.risk(m) + 0.5 * lam * float(np.sum(m * r2sq))
        if beta is None:
            return e
        pos = m > 0
        area = self.dr1 * (self.dr2 if self.noise else 1.0)
        ent = np.sum(m[pos] * (np.log(m[pos] / area) - self.log_jac[pos]))
        return e + ent / beta

    def initial_masses(self, kappa):
        """Cell masses of w ~ N(0, κ²/d I_d): r₁² d/κ² ~ χ²_{s0}, r₂² d/κ² ~ χ²_{d−s0}, independent.
        Refuses a domain that leaves more than TAIL_TOL of this mass outside (r_max too small)."""
        from scipy import stats  # deferred: import time (see tests/test_import_time.py)

        c1 = stats.chi2.cdf(self.d * self.edges1**2 / kappa**2, self.s0)
        m = np.diff(c1)[:, None].copy()
        if self.noise:
            c2 = stats.chi2.cdf(self.d * self.edges2**2 / kappa**2, self.d - self.s0)
            m = np.outer(m[:, 0], np.diff(c2))
        outside = 1.0 - float(m.sum())
        if outside > TAIL_TOL:
            raise ValueError(f"r_max: the domain [0, {self.edges1[-1]:g}] × [0, {self.edges2[-1]:g}] leaves initial "
                             f"mass {outside:.2e} outside (at most {TAIL_TOL:g}): increase r_max")
        return m

    def gibbs(self, m, beta, lam):
        """The discrete Gibbs state of the current ψ: ∝ exp(−Φ), Φ = β(ψ + λ|r|²/2) − log Jacobian."""
        phi = self.phi(m, beta, lam)
        g = np.exp(-(phi - phi.min()))
        return g / g.sum()

    def phi(self, m, beta, lam):
        r2sq = self.r1[:, None] ** 2 + self.r2[None, :] ** 2
        return beta * (self.psi(m) + 0.5 * lam * r2sq) - self.log_jac


def _log_cell_average(edges, power):
    """log of (1/Δr)∫_cell r^power dr = log[(hi^{p+1} − lo^{p+1})/((p+1)Δr)], in logs."""
    lo, hi = edges[:-1], edges[1:]
    p1 = power + 1
    with np.errstate(divide="ignore"):
        return p1 * np.log(hi) + np.log1p(-(lo / hi) ** p1) - math.log(p1) - np.log(hi - lo)


@dataclass
class AnisotropicPDESolution(SolverResult):
    """Snapshots of the (r₁, r₂) law on the grid.

    Parameters
    ----------
    r1 : ndarray, shape (n1,)
        Cell centres in r₁.
    r2 : ndarray, shape (n2,)
        Cell centres in r₂ (``[0.]`` when s0 = d).
    edges1 : ndarray, shape (n1 + 1,)
        Cell edges in r₁.
    edges2 : ndarray, shape (n2 + 1,)
        Cell edges in r₂.
    mass : ndarray, shape (S, n1, n2)
        Cell masses per snapshot (each sums to 1).
    risk : ndarray, shape (S,)
        R(ρ̄_t) (discrete, R# = 1).
    free_energy : ndarray, shape (S,)
        R/2 (noiseless) or F (noisy).
    times : ndarray, shape (S,)
        Snapshot times reached.
    steps : int
        Time steps taken.
    min_mass : float
        Smallest cell mass seen.
    energy_trace : ndarray, shape (steps + 1, 2), or None
        Rows [t, energy] after every step, if recorded.
    status : {"finished", "interrupted", "failed"}
        Keyword-only. How the run ended ("failed" only on a :class:`solvers.SolverError`'s
        ``result``).
    message : str
        Keyword-only. Why, and when.
    stats : dict
        Keyword-only. ``steps`` and ``wall_time`` (seconds).

    Examples
    --------
    >>> import numpy as np
    >>> mass = np.array([[[0.25, 0.25], [0.5, 0.0]]])
    >>> sol = AnisotropicPDESolution(np.array([0.5, 1.5]), np.array([0.5, 1.5]), np.array([0.0, 1.0, 2.0]),
    ...                              np.array([0.0, 1.0, 2.0]), mass, np.array([1.0]), np.array([0.5]),
    ...                              np.array([0.0]), 0, 0.0)
    >>> sol.mean(0).tolist()                  # (E r₁, E r₂)
    [1.0, 0.75]
    """

    r1: np.ndarray
    r2: np.ndarray
    edges1: np.ndarray
    edges2: np.ndarray
    mass: np.ndarray
    risk: np.ndarray
    free_energy: np.ndarray
    times: np.ndarray
    steps: int
    min_mass: float
    energy_trace: np.ndarray | None = None

    def points(self, k, tol=0.0):
        """(centres (J, 2), masses (J,)) of snapshot k, cells with mass > tol: a weighted cloud for W2.

        Parameters
        ----------
        k : int
            Snapshot index (negative indices count from the end).
        tol : float
            Cells with mass ≤ ``tol`` are left out.

        Returns
        -------
        centres : ndarray, shape (J, 2)
            (r₁, r₂) of the kept cells.
        masses : ndarray, shape (J,)
            Their masses (not renormalised).
        """
        R1, R2 = np.meshgrid(self.r1, self.r2, indexing="ij")
        m = self.mass[k].ravel()
        keep = m > tol
        return np.column_stack([R1.ravel()[keep], R2.ravel()[keep]]), m[keep]

    def mean(self, k):
        """(E r₁, E r₂) of snapshot k.

        Parameters
        ----------
        k : int
            Snapshot index (negative indices count from the end).

        Returns
        -------
        ndarray, shape (2,)
            Σ m r₁ and Σ m r₂ over the cell centres.
        """
        m = self.mass[k]
        return np.array([m.sum(1) @ self.r1, m.sum(0) @ self.r2])


def solve_anisotropic_pde(model, kappa=0.8, times=(0, 1, 2, 5), cells=100, r_max=3.0, init=None, beta=None,
                          lam=0.0, xi=None, cfl=0.4, limiter="mc", dt=None, record_energy=False, progress=None,
                          outer_tol=OUTER_MASS_TOL):
    """Solve the (r₁, r₂) PDE of the w-only anisotropic model on a fixed grid.

    Parameters
    ----------
    model : ReducedModel
        An :class:`meanfield.AnisotropicGaussians` with ``train=("w",)`` and finite d.
    kappa : float
        Initial law w ~ N(0, κ²/d I_d), κ > 0 (ignored when ``init`` is given); the domain
        must leave at most 1e-12 of its mass outside.
    times : array_like of float
        Non-decreasing snapshot times ≥ 0.
    cells : int or (int, int)
        n or (n1, n2) cells, each ≥ 4 (one r₂ cell when s0 = d).
    r_max : float or (float, float)
        R or (R1, R2) > 0: the fixed domain, no flux through it. Mass above ``outer_tol``
        in the outer ring of cells stops the run (:class:`solvers.DomainError`).
    init : array_like, shape (n1, n2), optional
        Initial cell masses (non-negative, finite, positive sum; normalised to 1).
    beta : float, optional
        Inverse temperature β > 0; None: noiseless.
    lam : float
        L2 regularisation λ ≥ 0.
    xi : callable or float, optional
        Step-size schedule ξ (default 1).
    cfl : float
        In [1e-3, 0.5]: Courant number (noiseless positivity; noisy: accuracy step).
    limiter : {"mc", "minmod", "upwind"}
        "upwind": zero slopes, the first-order baseline.
    dt : float, optional
        Maximal step > 0.
    record_energy : bool
        Store [t, energy] after every step.
    progress : bool, optional
        Show a tqdm progress bar (None: only if stderr is a TTY).
    outer_tol : float
        Mass allowed in the outer ring of cells, in [0, 1e-2] (default 1e-12).

    Returns
    -------
    AnisotropicPDESolution
        ``status`` "finished" or "interrupted" (Ctrl-C, noticed between steps: the snapshots
        reached, the last one the state at the interruption), with a ``message`` and ``stats``.

    Raises
    ------
    ValueError
        On an invalid argument (the message names it): a model that is not a w-only
        :class:`meanfield.AnisotropicGaussians` of finite d, ``cfl`` ∉ [1e-3, 0.5], an unknown
        ``limiter``, ``dt`` ≤ 0, ``outer_tol`` ∉ [0, 1e-2], an ``r_max`` that cuts the initial
        law, ``init`` of the wrong shape or with negative masses, etc.
    solvers.DomainError
        If mass above ``outer_tol`` reaches the outer cells; ``result`` holds the snapshots
        before (status "failed").
    solvers.NonFiniteError
        If the masses become non-finite; ``result`` as above.

    Examples
    --------
    Mass is conserved and the energy R/2 decreases:

    >>> import numpy as np
    >>> from meanfield import AnisotropicGaussians, relu
    >>> model = AnisotropicGaussians(0.5, d=20, s0=4, activation=relu(), train=("w",), kmax=10)
    >>> sol = solve_anisotropic_pde(model, times=[0, 0.2], cells=20, progress=False)
    >>> sol.status, np.round(sol.mass.sum(axis=(1, 2)), 12).tolist(), bool(sol.free_energy[1] < sol.free_energy[0])
    ('finished', [1.0, 1.0], True)
    """
    dyn = Dynamics(xi, beta, lam)
    beta, lam = dyn.beta, dyn.lam
    cfl = check_real(cfl, "cfl")
    if not MIN_CFL <= cfl <= 0.5:  # a smaller Courant number only multiplies the steps (1e-300 never ends)
        raise ValueError(f"cfl: must lie in [{MIN_CFL:g}, 0.5], got {cfl!r}")
    modes = {"upwind": 0, "minmod": 1, "mc": 2}
    if limiter not in modes:
        raise ValueError(f"limiter: 'mc', 'minmod' or 'upwind' (first order, the benchmark baseline), "
                         f"got {limiter!r}")
    dt_max = np.inf if dt is None else check_positive(dt, "dt")
    outer_tol = check_real(outer_tol, "outer_tol")
    if not 0 <= outer_tol <= MAX_OUTER_TOL:
        raise ValueError(f"outer_tol: must lie in [0, {MAX_OUTER_TOL:g}] (the mass allowed in the outer cells), "
                         f"got {outer_tol!r}")
    times = check_times(times)
    grid = AnisotropicGrid(model, cells, r_max)
    if init is None:
        m = grid.initial_masses(check_positive(kappa, "kappa"))
    else:
        m = np.array(init, dtype=float)
        if m.shape != grid.shape or not np.all(np.isfinite(m)) or np.any(m < 0) or m.sum() <= 0:
            raise ValueError(f"init: expected non-negative finite masses of shape {grid.shape}")
    m = m / m.sum()
    mode = modes[limiter]
    noisy = dyn.noisy
    trace = [(0.0, grid.free_energy(m, beta, lam))] if record_energy else None
    rate, buf = np.empty(grid.shape), np.empty(grid.shape)
    min_mass = [float(m.min())]

    def step(mm, t, t_left):
        if noisy:
            return _noisy_step(grid, mm, t, t_left, dyn.xi_at, beta, lam, cfl, dt_max)
        return _cch_step(grid, mm, t, t_left, dyn.xi_at, lam, cfl, mode, dt_max, rate, buf)

    def after(mm, t):
        min_mass[0] = min(min_mass[0], float(mm.min()))
        outer = mm[-1, :].sum() + (mm[:, -1].sum() if grid.noise else 0.0)
        if outer > outer_tol:
            raise DomainError(f"mass {outer:.2e} reached the outer cells at t = {t:.6g}: increase r_max")
        if trace is not None:
            trace.append((t, grid.free_energy(mm, beta, lam)))
        return mm

    def record(mm, t):
        return mm.copy(), grid.risk(mm), grid.free_energy(mm, beta, lam)

    run = run_march(m, times, step, record, after, progress=progress, desc=f"(r1, r2) PDE {grid.shape}",
                    what="masses")
    snaps = run.snapshots
    mass = np.array([snap[0] for snap in snaps]) if snaps else np.zeros((0,) + grid.shape)
    return conclude(AnisotropicPDESolution(
        grid.r1, grid.r2, grid.edges1, grid.edges2, mass, np.array([snap[1] for snap in snaps]),
        np.array([snap[2] for snap in snaps]), run.reached, run.steps, min_mass[0],
        None if trace is None else np.array(trace), status=run.status, message=run.message, stats=run.stats),
        run.error)


def _cch_step(grid, m, t, t_left, xi_of, lam, cfl, mode, dt_max, rate, buf):
    """One SSP-RK3 step of the 2-D CCH scheme on the potential ψ + λ|r|²/2; returns (masses, dt)."""
    d1, d2 = grid.dr1, grid.dr2
    confinement = 0.5 * lam * (grid.r1[:, None] ** 2 + grid.r2[None, :] ** 2)
    speed = _cch_rate_2d(m, grid.psi(m) + confinement, 2.0 * xi_of(t), d1, d2, mode, rate)
    h = min(t_left, dt_max, cfl / speed if speed > 0 else np.inf)
    if not np.isfinite(h):
        h = t_left
    m1 = m + h * rate
    _cch_rate_2d(m1, grid.psi(m1) + confinement, 2.0 * xi_of(t + h), d1, d2, mode, buf)
    m2 = 0.75 * m + 0.25 * (m1 + h * buf)
    _cch_rate_2d(m2, grid.psi(m2) + confinement, 2.0 * xi_of(t + 0.5 * h), d1, d2, mode, buf)
    return m / 3.0 + (2.0 / 3.0) * (m2 + h * buf), h


def _noisy_step(grid, m, t, t_left, xi_of, beta, lam, cfl, dt_max):
    """One linearly implicit Scharfetter–Gummel step (sparse M-matrix solve); returns (masses, dt)."""
    psi = grid.psi(m)
    r2sq = grid.r1[:, None] ** 2 + grid.r2[None, :] ** 2
    pot = psi + 0.5 * lam * r2sq
    speed = 2.0 * xi_of(t) * np.abs(np.diff(pot, axis=0)).max() / grid.dr1 / grid.dr1
    if grid.noise:
        speed += 2.0 * xi_of(t) * np.abs(np.diff(pot, axis=1)).max() / grid.dr2 / grid.dr2
    h = min(t_left, dt_max, cfl / speed if speed > 0 else np.inf)
    if not np.isfinite(h):
        h = t_left
    phi = beta * pot - grid.log_jac
    coef = 2.0 * xi_of(t + h) / beta
    n = grid.cells
    size = n + 4 * n
    rows, cols, vals = np.empty(size, np.int64), np.empty(size, np.int64), np.empty(size)
    k = _sg_triplets(np.ascontiguousarray(phi), coef / grid.dr1**2,
                     coef / grid.dr2**2 if grid.noise else 0.0, h, rows, cols, vals)
    import scipy.sparse as sp  # deferred: import time (see tests/test_import_time.py)
    from scipy.sparse.linalg import spsolve

    A = sp.csc_matrix((vals[:k], (rows[:k], cols[:k])), shape=(n, n))
    new = spsolve(A, m.ravel()).reshape(grid.shape)
    return np.maximum(new, 0.0), h   # the M-matrix inverse is ≥ 0: clip only round-off
