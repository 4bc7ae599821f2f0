"""Divergence of a particle run: some particle's ‖θ_i‖ beyond a threshold, or non-finite.

A particle integrator (SGD, the particle flow) stops when some ‖θ_i‖ = √(a_i² + ‖w_i‖² + b_i²)
exceeds :data:`DIVERGENCE_THRESHOLD` or becomes non-finite, and raises :class:`DivergenceError`
(a :class:`~solvers.SolverError` and a ``FloatingPointError``) carrying the partial result.
"""
from __future__ import annotations

from ._result import SolverError

#: A particle with ‖θ_i‖ = √(a_i² + ‖w_i‖² + b_i²) beyond this (or non-finite) is reported as divergence.
DIVERGENCE_THRESHOLD = 1e8


class DivergenceError(SolverError, FloatingPointError):
    """The iterates became non-finite or exceeded DIVERGENCE_THRESHOLD.

    A :class:`~solvers.SolverError` (``result``: the partial result, status "failed") and a
    ``FloatingPointError``; raised by :func:`run_sgd` (some particle's norm
    ‖θ_i‖ = √(a_i² + ‖w_i‖² + b_i²)) and :func:`run_particle_flow`.

    Parameters
    ----------
    step : int
        The first step (or drift evaluation) after which the iterates were beyond the threshold
        or non-finite.
    time : float
        The corresponding time t.
    result : ParticleResult, optional
        The snapshots before the divergence (status "failed").

    Examples
    --------
    >>> err = DivergenceError(120, 0.12)
    >>> err.step, err.time, isinstance(err, FloatingPointError), isinstance(err, SolverError)
    (120, 0.12, True, True)
    """

    def __init__(self, step, time, result=None):
        self.step, self.time = int(step), float(time)
        super().__init__(f"diverged: iterates beyond {DIVERGENCE_THRESHOLD:g} (run_sgd: a particle's norm) or non-finite, "
                         f"first after step {self.step} (t = {self.time:g}); reduce eps or lam", result)
