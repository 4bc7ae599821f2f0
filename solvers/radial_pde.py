"""Finite-volume solver of the radial distributional dynamics.

Noiseless (a Wasserstein gradient flow of R/2 + (λ/2)∫r²dρ̄, time scaled by 2ξ):

    ∂_t ρ̄ = 2ξ(t) ∂_r(ρ̄ ∂_r(ψ(r; ρ̄) + λr²/2)),    r ≥ 0, no flux at r = 0,

Noisy (gradient flow of the free energy F, see :func:`free_energy`):

    ∂_t ρ̄ = 2ξ ∂_r[ρ̄ ∂_r(ψ + λr²/2 − ((d−1)/β) log r)] + (2ξ/β) ∂_r² ρ̄
          = (2ξ/β) ∂_r[e^{−Φ} ∂_r(e^{Φ} ρ̄)],      Φ = β(ψ + λr²/2) − (d−1) log r.

Grid: uniform cells [r_{j−½}, r_{j+½}] on [0, r_max], unknowns the cell masses m_j
(density ρ_j = m_j/Δr). ψ_j = v(r_j) + Σ_i u(r_j, r_i) m_i at the cell centres
(midpoint quadrature, O(Δr²)) costs O(M·J) with the low-rank Mehler features.

* Noiseless: Carrillo–Chertock–Huang (2015) scheme. Face velocity
  u_{j+½} = −2ξ (ψ_{j+1} + λr_{j+1}²/2 − ψ_j − λr_j²/2)/Δr, piecewise-linear reconstruction with a
  minmod / monotonized-central limiter, upwind flux F = u⁺ρ^E_j + u⁻ρ^W_{j+1},
  SSP-RK3 (Shu–Osher), dt = cfl·Δr/max|u| (cfl ≤ ½ keeps the masses ≥ 0).
  Semi-discretely dE/dt = −Σ F_{j+½} u_{j+½} Δr/(2ξ) ≤ 0 for E = R/2 + (λ/2)∫r²dρ̄.
* Noisy: Scharfetter–Gummel (exponential fitting) fluxes
  J_{j+½} = (2ξ/(βΔr²)) [B(ΔΦ) m_j − B(−ΔΦ) m_{j+1}], B(x) = x/(eˣ−1),
  with Φ_j = β(ψ_j + λr_j²/2) − log(cell average of r^{d−1}) (exact, no singularity
  at r = 0), linearly implicit Euler (Φ frozen at t_n, tridiagonal M-matrix solve):
  unconditionally positive and mass conserving; the discrete Gibbs state
  m_j ∝ ∫_cell r^{d−1}dr · exp(−β(ψ_j + λr_j²/2)) is exactly stationary (first
  order in time; the stationary state does not depend on dt).

No flux crosses r = 0: mass driven to the origin (∂_rψ(0+) > 0) piles up in the
first cell as a discrete atom. Outer boundary: see ``solve_radial_pde``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from meanfield.isotropic_gaussians import KernelMatrix

from meanfield._validation import (as_finite_array, check_int, check_model, check_positive, check_radial_model,
                                   check_real, check_times)
from meanfield.interface import RadialModel

from ._dynamics import Dynamics
from ._initial_law import InitialLaw
from ._outcome import DomainError, conclude, run_march
from ._result import SolverResult

#: mass allowed in the outer 10% of the cells before an automatic domain grows
GROW_THRESHOLD = 1e-14
#: mass allowed in the last cell of a user-fixed domain before raising
OUTER_MASS_TOL = 1e-12
#: the smallest Courant number (a smaller one only multiplies the steps)
MIN_CFL = 1e-3


# ---------------------------------------------------------------- kernels
@njit(cache=True)
def _limited_slope(a, b, mc):
    """minmod(a, b), or the monotonized-central minmod(2a, 2b, (a+b)/2) if mc."""
    if a * b <= 0.0:
        return 0.0
    s = 1.0 if a > 0.0 else -1.0
    a, b = abs(a), abs(b)
    if mc:
        return s * min(2.0 * a, 2.0 * b, 0.5 * (a + b))
    return s * min(a, b)


@njit(cache=True)
def _cch_rate(m, psi, coef, inv_dr, mc, out):
    """dm/dt of the CCH scheme (masses m, potential ψ at centres, coef = 2ξ);
    writes ``out`` and returns max |u_{j+½}|. Zero flux through both ends."""
    n = m.size
    slope = np.zeros(n)
    for j in range(1, n - 1):
        slope[j] = _limited_slope(m[j] - m[j - 1], m[j + 1] - m[j], mc)
    umax = 0.0
    left = 0.0
    for j in range(n - 1):
        u = -coef * (psi[j + 1] - psi[j]) * inv_dr
        if u > 0.0:
            flux = u * (m[j] + 0.5 * slope[j]) * inv_dr
        else:
            flux = u * (m[j + 1] - 0.5 * slope[j + 1]) * inv_dr
        out[j] = left - flux
        left = flux
        if abs(u) > umax:
            umax = abs(u)
    out[n - 1] = left
    return umax


@njit(cache=True)
def _bernoulli(x):
    """B(x) = x/(eˣ − 1), B(0) = 1, stable for all x."""
    if abs(x) < 1e-6:
        return 1.0 - 0.5 * x + x * x / 12.0
    if x > 700.0:
        return x * math.exp(-x)
    return x / math.expm1(x)


@njit(cache=True)
def _sg_bands(phi, rate, dt):
    """Banded (1,1) form of I − dt·A for the Scharfetter–Gummel operator
    dm_j/dt = −(J_{j+½} − J_{j−½}), J_{j+½} = rate [B(ΔΦ) m_j − B(−ΔΦ) m_{j+1}]."""
    n = phi.size
    ab = np.zeros((3, n))
    for j in range(n):
        ab[1, j] = 1.0
    for j in range(n - 1):
        dphi = phi[j + 1] - phi[j]
        fwd = dt * rate * _bernoulli(dphi)     # j → j+1
        bwd = dt * rate * _bernoulli(-dphi)    # j+1 → j
        ab[1, j] += fwd
        ab[1, j + 1] += bwd
        ab[0, j + 1] = -bwd
        ab[2, j] = -fwd
    return ab


# ---------------------------------------------------------------- grid
class _Grid:
    """Uniform cells on [0, r_max] with the radial kernel at the centres: the Mehler features
    (low rank) or, where the series cannot meet the model's tol (small d), the dense table
    u(r_i, r_j) (O(M²) once; a grown grid reuses the block of the grid it extends)."""

    def __init__(self, model, cells, r_max, previous=None):
        self.model = model
        self.dr = r_max / cells
        self.edges = np.linspace(0.0, r_max, cells + 1)
        self.r = 0.5 * (self.edges[:-1] + self.edges[1:])
        old = None if previous is None else previous.feats
        if isinstance(old, KernelMatrix) and old.values.shape[0] <= cells:
            self.feats = _extend_table(model, old.values, self.r)
        else:
            self.feats = model.radial_kernel(self.r)
        self.v = model.v(self.r)
        d = model.d
        lo, hi = self.edges[:-1], self.edges[1:]
        # log of the cell average of r^{d-1}: (hi^d − lo^d)/(d Δr), computed in logs
        with np.errstate(divide="ignore"):
            self.log_jac = (d * np.log(hi) + np.log1p(-(lo / hi) ** d) - math.log(d) - np.log(self.dr))

    @property
    def cells(self):
        return self.r.size

    def psi(self, m):
        """ψ_j = v(r_j) + Σ_i u(r_j, r_i) m_i."""
        return self.v + self.feats.potential(m)

    def risk(self, m):
        """Discrete R = 1 + 2Σ v_j m_j + Σ_ij u_ij m_i m_j (R# = 1)."""
        return float(self.model.r_sharp + m @ (self.v + self.psi(m)))

    def free_energy(self, m, beta, lam):
        """R/2 + (λ/2)Σ r_j² m_j (noiseless) or that + (1/β) Σ m_j log(m_j / ∫_cell r^{d−1}dr)."""
        e = 0.5 * self.risk(m) + 0.5 * lam * float(m @ self.r**2)
        if beta is None:
            return e
        pos = m > 0
        ent = np.sum(m[pos] * (np.log(m[pos] / self.dr) - self.log_jac[pos]))
        return e + ent / beta


def _extend_table(model, table, r):
    """The dense table on the points r whose leading block ``table`` is already known."""
    n = table.shape[0]
    if n == r.size:
        return KernelMatrix(table, None)
    out = np.empty((r.size, r.size))
    out[:n, :n] = table
    out[:, n:] = model.dense_kernel(r, r[n:])[0]
    out[n:, :n] = out[:n, n:].T  # u is symmetric
    return KernelMatrix(out, None)


# ---------------------------------------------------------------- solution
@dataclass
class RadialPDESolution(SolverResult):
    """Snapshots of ρ̄_t on a uniform grid.

    Parameters
    ----------
    r : ndarray, shape (M,)
        Cell centres.
    edges : ndarray, shape (M + 1,)
        Cell edges (uniform, from 0).
    density : ndarray, shape (S, M)
        Density per unit length at each of the S snapshot times.
    mass : ndarray, shape (S, M)
        Cell masses (each row sums to 1; a grown domain pads early rows with zeros).
    risk : ndarray, shape (S,)
        R(ρ̄_t) of the discrete law (R# = 1).
    free_energy : ndarray, shape (S,)
        R/2 + (λ/2)∫r²dρ̄ (noiseless) or F (noisy, entropy relative to r^{d−1}dr): the energy the dynamics
        dissipates.
    times : ndarray, shape (S,)
        Snapshot times reached.
    steps : int
        Number of time steps taken.
    beta : float or None
        Inverse temperature (None: noiseless).
    lam : float
        L2 regularisation λ.
    energy_trace : ndarray, shape (steps + 1, 2), or None
        Rows [t, energy] after every step, if recorded.
    min_mass : float
        Smallest cell mass met during the run (≤ 0; a negative value is round-off).
    status : {"finished", "interrupted", "failed"}
        Keyword-only. "interrupted" after a Ctrl-C: the last snapshot is the state reached, at
        the time reached; "failed" only on the ``result`` of a :class:`solvers.SolverError`.
    message : str
        Keyword-only. A sentence saying how the run ended, and when.
    stats : dict
        Keyword-only. ``steps`` and ``wall_time`` (seconds).

    Examples
    --------
    >>> import numpy as np
    >>> sol = RadialPDESolution(r=np.array([0.5, 1.5]), edges=np.array([0.0, 1.0, 2.0]),
    ...                         density=np.array([[0.25, 0.75]]), mass=np.array([[0.25, 0.75]]),
    ...                         risk=np.array([1.0]), free_energy=np.array([0.5]),
    ...                         times=np.array([0.0]), steps=0)
    >>> sol.mean_radius(0)                 # 0.25 · 0.5 + 0.75 · 1.5
    1.25
    """

    r: np.ndarray
    edges: np.ndarray
    density: np.ndarray
    mass: np.ndarray
    risk: np.ndarray
    free_energy: np.ndarray
    times: np.ndarray
    steps: int
    beta: float | None = None
    lam: float = 0.0
    energy_trace: np.ndarray | None = None
    min_mass: float = field(default=0.0)

    def mean_radius(self, k):
        """∫ r ρ̄_{t_k}(dr) (exact for the piecewise-constant density).

        Parameters
        ----------
        k : int
            Snapshot index (negative indices count from the end).

        Returns
        -------
        float
            Σ_j m_j r_j.
        """
        return float(self.mass[k] @ self.r)

    def quantile_radii(self, k, n):
        """The n quantile midpoints Q((i−½)/n) of snapshot k (Q piecewise linear).

        Parameters
        ----------
        k : int
            Snapshot index in [−S, S − 1].
        n : int
            Number of quantiles, ≥ 1.

        Returns
        -------
        ndarray, shape (n,)
            Increasing radii: n equal-weight particles representing the snapshot.

        Raises
        ------
        ValueError
            If ``k`` or ``n`` is out of range.
        """
        k = check_int(k, "k", minimum=-len(self.times), maximum=len(self.times) - 1)
        n = check_int(n, "n", minimum=1)
        cdf, r = _grid_quantile(self.edges, self.mass[k])
        return np.interp((np.arange(n) + 0.5) / n, cdf, r)

    def sample(self, k, n, rng):
        """n iid radii from snapshot k (inverse CDF, uniform within each cell).

        Parameters
        ----------
        k : int
            Snapshot index.
        n : int
            Number of draws, ≥ 1.
        rng : int, numpy.random.Generator or None
            Passed to ``np.random.default_rng``.

        Returns
        -------
        ndarray, shape (n,)
            The radii.

        Raises
        ------
        ValueError
            If ``n`` < 1 (see :func:`sample_grid_density`).
        """
        return sample_grid_density(self.edges, self.mass[k], n, rng)


def sample_grid_density(edges, mass, n, rng):
    """n iid draws from the piecewise-constant law with cell ``mass`` on ``edges``.

    Inverse-CDF sampling: U uniform on [0, 1) mapped through the piecewise-linear quantile
    function (uniform within each cell).

    Parameters
    ----------
    edges : array_like, shape (M + 1,)
        Strictly increasing, finite cell edges.
    mass : array_like, shape (M,)
        Finite, non-negative cell masses with a positive sum (normalised).
    n : int
        Number of draws, ≥ 1.
    rng : int, numpy.random.Generator or None
        Passed to ``np.random.default_rng``.

    Returns
    -------
    ndarray, shape (n,)
        The draws, inside [edges[0], edges[-1]].

    Raises
    ------
    ValueError
        If ``n`` < 1, ``edges`` is not increasing or of the wrong length, or ``mass`` is
        negative, non-finite or sums to zero.

    Examples
    --------
    Mass ¼ on [0, 1] and ¾ on [1, 2]: the sample mean approaches 1.25.

    >>> import numpy as np
    >>> x = sample_grid_density([0.0, 1.0, 2.0], [0.25, 0.75], 100_000, rng=0)
    >>> bool(abs(x.mean() - 1.25) < 0.01), float(np.mean(x < 1.0).round(2))
    (True, 0.25)
    """
    n = check_int(n, "n", minimum=1)
    cdf, r = _grid_quantile(edges, mass)
    return np.interp(np.random.default_rng(rng).random(n), cdf, r)


# ---------------------------------------------------------------- solver
def default_r_max(law):
    """Initial domain for ``r_max=None``: 2·r_hi + 1 with r_hi the 1 − 1e-14 quantile
    of the initial law. The domain then grows (×1.25, same Δr) whenever mass above
    GROW_THRESHOLD enters its outer 10%: the support moves at a speed bounded by
    2ξ sup|∂_rψ|, but that bound (≈17 for the reference run) is far too pessimistic
    to size the domain a priori."""
    return 2.0 * law.r_hi + 1.0


def solve_radial_pde(model, init="gaussian", kappa=0.8, times=(0, 1, 2, 5, 10), cells=1000,
                     r_max=None, beta=None, lam=0.0, xi=None, cfl=0.45, limiter="mc", dt=None,
                     record_energy=False, progress=None):
    """Solve the radial PDE (noiseless if ``beta`` is None) and return a
    :class:`RadialPDESolution` with snapshots at ``times``.

    Parameters
    ----------
    model : RadialModel
        The radial model (:class:`meanfield.IsotropicGaussians`, d ≥ 2).
    init : {"gaussian"}, callable or array_like
        "gaussian" (w ~ N(0, κ²/d I_d)), a vectorised density f(r) ≥ 0 on r ≥ 0 (normalised
        numerically), or a 1-D array of radii ≥ 0 (their empirical law).
    kappa : float
        Scale κ > 0 (finite) of the "gaussian" initial law.
    times : array_like of float
        Non-decreasing snapshot times ≥ 0.
    cells : int
        Number of cells on the initial domain, ≥ 10 (Δr = r_max/cells is fixed; with
        ``r_max=None`` the domain may grow, adding cells of the same width).
    r_max : float, optional
        Outer radius > 0; None → :func:`default_r_max` and automatic growth. A given
        r_max is fixed: it must leave at most 1e-12 of the initial mass outside and resolve the
        initial law (Δr = r_max/cells ≤ half its extent, see :func:`check_r_max`); mass above
        OUTER_MASS_TOL in the last cell during the run raises :class:`solvers.DomainError`.
    beta : float, optional
        Inverse temperature β > 0 of the noisy dynamics; None = noiseless.
    lam : float
        L2 regularisation λ ≥ 0 (both dynamics: the velocity is −2ξ ∂_r(ψ + λr²/2)).
    xi : callable or float, optional
        Step-size schedule ξ(t) ≥ 0 (callable or number; default 1).
    cfl : float
        Courant number max|u|dt/Δr of the noiseless scheme, in [1e-3, 0.5] (≤ ½ for
        positivity); in the noisy scheme (≥ 1e-3) it sets the accuracy step
        dt = cfl·Δr/max|2ξ ∂_r(ψ+λr²/2)|.
    limiter : {"mc", "minmod"}
        Slope limiter: monotonized central (default) or minmod.
    dt : float, optional
        Maximal step > 0.
    record_energy : bool
        Store [t, energy] after every step in ``energy_trace``.
    progress : bool, optional
        Show a tqdm progress bar (None: only if stderr is a TTY).

    Returns
    -------
    RadialPDESolution
        Snapshots at ``times`` (mass, density, risk, free energy); ``status`` "finished", or
        "interrupted" (Ctrl-C, noticed between steps: the snapshots reached, the last one the
        state at the interruption, mass conserved); ``stats`` steps and wall time.

    Raises
    ------
    ValueError
        On an invalid argument (the message names it), a model without the
        :class:`meanfield.RadialModel` methods, or d < 2.
    solvers.DomainError
        (A :class:`solvers.SolverError`, so a RuntimeError) if mass reaches the outer cell of a
        fixed ``r_max``; its ``result`` holds the snapshots before (status "failed").
    solvers.NonFiniteError
        (Also a FloatingPointError) if the masses become non-finite; ``result`` as above.

    Examples
    --------
    The scheme conserves mass and decreases the energy R/2:

    >>> import numpy as np
    >>> from meanfield import IsotropicGaussians, ramp
    >>> model = IsotropicGaussians(0.8, 40, ramp())
    >>> sol = solve_radial_pde(model, times=[0, 0.5], cells=100, progress=False)
    >>> np.round(sol.mass.sum(axis=1), 12).tolist(), bool(sol.free_energy[1] < sol.free_energy[0])
    ([1.0, 1.0], True)
    """
    check_model(model, RadialModel)
    check_radial_model(model)
    cells = check_int(cells, "cells", 10)
    dyn = Dynamics(xi, beta, lam)
    beta, lam = dyn.beta, dyn.lam
    cfl = check_real(cfl, "cfl")
    if not (0 < cfl <= 0.5) and beta is None:
        raise ValueError(f"cfl: must lie in (0, 0.5] for the noiseless scheme, got {cfl!r}")
    if not cfl >= MIN_CFL:  # a smaller Courant number only multiplies the steps (cfl = 1e-12 never ends)
        raise ValueError(f"cfl: must lie in [{MIN_CFL:g}, 0.5] (noiseless) or be ≥ {MIN_CFL:g} (noisy), got {cfl!r}")
    if limiter not in ("mc", "minmod"):
        raise ValueError(f"limiter: 'mc' or 'minmod', got {limiter!r}")
    dt_max = np.inf if dt is None else check_positive(dt, "dt")
    times = check_times(times)
    law = InitialLaw(init, kappa, model.d)
    auto = r_max is None
    r_max = default_r_max(law) if auto else check_r_max(check_positive(r_max, "r_max"), law, cells)
    grid = _Grid(model, int(cells), float(r_max))
    m = law.cell_masses(grid.edges)
    mc = limiter == "mc"
    noisy = dyn.noisy

    trace = [(0.0, grid.free_energy(m, beta, lam))] if record_energy else None
    state = {"grid": grid, "min_mass": 0.0, "rate": np.empty(grid.cells), "buf": np.empty(grid.cells)}

    def step(mm, t, t_left):
        g = state["grid"]
        if noisy:
            return _noisy_step(g, mm, t, t_left, dyn.xi_at, beta, lam, cfl, dt_max)
        if state["rate"].size != g.cells:
            state["rate"], state["buf"] = np.empty(g.cells), np.empty(g.cells)
        return _cch_step(g, mm, t, t_left, dyn.xi_at, lam, cfl, mc, dt_max, state["rate"], state["buf"])

    def after(mm, t):
        state["min_mass"] = min(state["min_mass"], float(mm.min()))
        mm, state["grid"] = _check_outer(model, state["grid"], mm, auto, t)
        if trace is not None:
            trace.append((t, state["grid"].free_energy(mm, beta, lam)))
        return mm

    def record(mm, t):
        g = state["grid"]
        return mm.copy(), g.risk(mm), g.free_energy(mm, beta, lam)

    run = run_march(m, times, step, record, after, progress=progress, desc=f"radial PDE ({grid.cells} cells)",
                    what="masses")
    grid = state["grid"]
    mass = np.zeros((len(run.snapshots), grid.cells))
    for k, (snap, _, _) in enumerate(run.snapshots):
        mass[k, :snap.size] = snap
    return conclude(RadialPDESolution(
        r=grid.r, edges=grid.edges, density=mass / grid.dr, mass=mass,
        risk=np.array([snap[1] for snap in run.snapshots]),
        free_energy=np.array([snap[2] for snap in run.snapshots]), times=run.reached, steps=run.steps,
        beta=beta, lam=float(lam), energy_trace=None if trace is None else np.array(trace),
        min_mass=state["min_mass"], status=run.status, message=run.message, stats=run.stats), run.error)


def check_r_max(r_max, law, cells):
    """A fixed ``r_max`` the grid can resolve: Δr = r_max/cells at most half the extent r_hi of the
    initial law (its 1 − 1e-14 quantile), so that the law spans at least two cells; returns r_max.
    (The truncation of the initial law, mass beyond r_max, is checked by its cell masses.)"""
    if law.r_hi > 0 and r_max / cells > 0.5 * law.r_hi:
        raise ValueError(f"r_max: with {cells} cells must be at most {2 * cells * law.r_hi:.6g} (Δr ≤ half the "
                         f"extent {law.r_hi:.3g} of the initial law, so the grid resolves it), got {r_max!r}")
    return r_max


def _cch_step(grid, m, t, t_left, xi_of, lam, cfl, mc, dt_max, rate, buf):
    """One SSP-RK3 step of the CCH scheme on the potential ψ + λr²/2; returns (masses, dt)."""
    inv = 1.0 / grid.dr
    confinement = 0.5 * lam * grid.r**2
    umax = _cch_rate(m, grid.psi(m) + confinement, 2.0 * xi_of(t), inv, mc, rate)
    h = min(t_left, dt_max, cfl * grid.dr / umax if umax > 0 else np.inf)
    if not np.isfinite(h):
        h = t_left
    m1 = m + h * rate
    _cch_rate(m1, grid.psi(m1) + confinement, 2.0 * xi_of(t + h), inv, mc, buf)
    m2 = 0.75 * m + 0.25 * (m1 + h * buf)
    _cch_rate(m2, grid.psi(m2) + confinement, 2.0 * xi_of(t + 0.5 * h), inv, mc, buf)
    return m / 3.0 + (2.0 / 3.0) * (m2 + h * buf), h


def _noisy_step(grid, m, t, t_left, xi_of, beta, lam, cfl, dt_max):
    """One linearly implicit Scharfetter–Gummel step; returns (masses, dt)."""
    psi = grid.psi(m)
    drift = np.abs(np.diff(psi + 0.5 * lam * grid.r**2)) / grid.dr
    speed = 2.0 * xi_of(t) * (drift.max() if drift.size else 0.0)
    h = min(t_left, dt_max, cfl * grid.dr / speed if speed > 0 else np.inf)
    if not np.isfinite(h):
        h = t_left
    phi = beta * (psi + 0.5 * lam * grid.r**2) - grid.log_jac
    rate = 2.0 * xi_of(t + h) / (beta * grid.dr**2)
    from scipy.linalg import solve_banded  # deferred: import time (see tests/test_import_time.py)

    new = solve_banded((1, 1), _sg_bands(phi, rate, h), m)
    return np.maximum(new, 0.0), h   # the M-matrix inverse is ≥ 0: clip only round-off


def _check_outer(model, grid, m, auto, t):
    """Grow an automatic domain, or refuse to lose mass through a fixed one."""
    if auto:
        outer = max(1, grid.cells // 10)
        if m[-outer:].sum() > GROW_THRESHOLD:
            cells = int(math.ceil(1.25 * grid.cells))
            grid = _Grid(model, cells, cells * grid.dr, previous=grid)
            m = np.concatenate((m, np.zeros(cells - m.size)))
    elif m[-1] > OUTER_MASS_TOL:
        raise DomainError(f"mass {m[-1]:.2e} reached the outer cell r ≈ {grid.r[-1]:g} at t = {t:.6g}: "
                          "increase r_max (or pass r_max=None for an automatic domain)")
    return m, grid


def _grid_quantile(edges, mass):
    """Breakpoints (cdf, radius) of the piecewise-linear quantile function of cell masses."""
    edges = as_finite_array(edges, "edges", ndim=1)
    mass = as_finite_array(mass, "mass", ndim=1, nonnegative=True)
    if edges.size != mass.size + 1 or np.any(np.diff(edges) <= 0):
        raise ValueError(f"edges: expected {mass.size + 1} increasing cell edges for {mass.size} masses, "
                         f"got {edges.size}")
    if not mass.sum() > 0:
        raise ValueError("mass: must have a positive sum")
    cdf = np.concatenate(([0.0], np.cumsum(mass / mass.sum())))
    keep = np.concatenate(([True], np.diff(cdf) > 0))
    cdf, r = cdf[keep], np.asarray(edges, dtype=float)[keep]
    cdf[-1] = 1.0
    return cdf, r


def w2_grids(edges_a, mass_a, edges_b, mass_b):
    """Exact W2 between two piecewise-constant densities given by cell masses.

    Both quantile functions are piecewise linear in q; on the merged breakpoints
    W2² = Σ Δq (f0² + f0 f1 + f1²)/3 with f = Q_a − Q_b (robust to tiny masses)."""
    ca, ra = _grid_quantile(edges_a, mass_a)
    cb, rb = _grid_quantile(edges_b, mass_b)
    q = np.unique(np.concatenate((ca, cb)))
    f = np.interp(q, ca, ra) - np.interp(q, cb, rb)
    w2sq = np.sum(np.diff(q) * (f[:-1] ** 2 + f[:-1] * f[1:] + f[1:] ** 2)) / 3.0
    return float(np.sqrt(max(w2sq, 0.0)))
