"""The initial radial law of the radial solvers: ``"gaussian"`` (w ~ N(0, κ²/d I_d), so
r = ‖w‖ = (κ/√d)·χ_d), a density f(r) on r ≥ 0, or the empirical law of radius samples; its cell
masses m_j = F(r_{j+½}) − F(r_{j−½}) on a grid and its quantiles F⁻¹(q).
"""
from __future__ import annotations

import math

import numpy as np

from meanfield._validation import check_positive

#: initial mass allowed beyond the last edge of a grid
TAIL_TOL = 1e-12


class InitialLaw:
    """The initial radial law: ``"gaussian"`` (w ~ N(0, κ²/d I_d), r = (κ/√d)·χ_d),
    a callable density f(r) on r ≥ 0 (normalised numerically), or a 1-D array of
    radius samples (their empirical law). Provides cell masses and quantiles."""

    def __init__(self, init, kappa, d):
        self.kind = None
        if isinstance(init, str):
            if init != "gaussian":
                raise ValueError(f"init: unknown initial law {init!r} (use 'gaussian', a callable "
                                 "density or an array of radii)")
            kappa = check_positive(kappa, "kappa")
            self.kind = "gaussian"
            from scipy import stats  # deferred: import time (see tests/test_import_time.py)

            self._chi = stats.chi(d, scale=kappa / math.sqrt(d))
            self.r_hi = float(self._chi.isf(1e-14))
        elif callable(init):
            self.kind = "density"
            self._f = init
            hi = 1.0
            while hi < 1e6 and float(np.max(np.abs(np.atleast_1d(init(np.linspace(hi, 2 * hi, 64)))))) > 0:
                hi *= 2.0
            self._tab_r = np.linspace(0.0, 2 * hi, 200001)
            cdf = self._cumulative(self._tab_r)
            if not cdf[-1] > 0:
                raise ValueError("init: the density has no positive mass on r ≥ 0")
            self._total = float(cdf[-1])
            self._tab_F = cdf / cdf[-1]
            self.r_hi = float(self._tab_r[np.searchsorted(self._tab_F, 1.0 - 1e-14)])
        else:
            x = np.asarray(init, dtype=float)
            if x.ndim != 1 or x.size == 0 or not np.all(np.isfinite(x)) or np.any(x < 0):
                raise ValueError("init: an array of radii must be 1-D, non-empty, finite and ≥ 0")
            self.kind = "samples"
            self._x = np.sort(x)
            self.r_hi = float(self._x[-1])

    def _cumulative(self, edges):
        """∫_0^{edges} f by 4-point Gauss–Legendre on each interval of ``edges``."""
        g, w = np.polynomial.legendre.leggauss(4)
        a, b = edges[:-1], edges[1:]
        pts = 0.5 * (a + b)[:, None] + 0.5 * (b - a)[:, None] * g
        vals = np.asarray(self._f(pts), dtype=float)
        if vals.shape != pts.shape or not np.all(np.isfinite(vals)) or np.any(vals < 0):
            raise ValueError("init: the density must return finite non-negative values, vectorised")
        return np.concatenate(([0.0], np.cumsum(0.5 * (b - a) * (vals @ w))))

    def cell_masses(self, edges):
        """Masses of the cells [edges_j, edges_{j+1}], summing to 1 (the far tail beyond
        the last edge must be negligible: checked)."""
        if self.kind == "gaussian":
            sf = self._chi.sf(edges)
            m = sf[:-1] - sf[1:]
            tail = sf[-1]
        elif self.kind == "density":
            cdf = self._cumulative(edges)
            m, tail = np.diff(cdf) / self._total, 1.0 - cdf[-1] / self._total
        else:
            if self._x[-1] >= edges[-1]:
                raise ValueError("init: radius samples beyond r_max")
            m = np.histogram(self._x, bins=edges)[0] / self._x.size
            tail = 0.0
        if tail > TAIL_TOL:
            raise ValueError(f"r_max: {edges[-1]:g} leaves initial mass {tail:.2e} outside the grid (at most "
                             f"{TAIL_TOL:g} may lie beyond it): increase r_max")
        m = np.maximum(m, 0.0)
        return m / m.sum()

    def quantiles(self, q):
        """F^{-1}(q) (left-continuous generalised inverse for samples)."""
        q = np.asarray(q, dtype=float)
        if self.kind == "gaussian":
            return self._chi.ppf(q)
        if self.kind == "density":
            return np.interp(q, self._tab_F, self._tab_r)
        idx = np.clip(np.ceil(q * self._x.size).astype(int) - 1, 0, self._x.size - 1)
        return self._x[idx]
