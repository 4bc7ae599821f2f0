"""The one result type and the one failure policy of every solver.

Every solver returns a subclass of :class:`SolverResult` (in the manner of scipy's
``OdeResult``): the snapshot ``times`` reached, a ``status`` — ``"finished"``,
``"interrupted"`` (Ctrl-C: the snapshots reached, the last one at the interruption) or
``"failed"`` — ``success`` (status is "finished"), a one-sentence ``message`` and ``stats``
(steps, evaluations, wall time). Solver-specific fields live on the subclasses.

The failure policy is the same in every solver: a run that cannot go on (divergence, an
inaccurate fixed step, mass at the domain's edge, a step size that underflows) raises a
:class:`SolverError` subclass, whose ``result`` holds the partial result (the snapshots before
the failure, ``status = "failed"``, the message). A Ctrl-C is not a failure: the solver
returns its partial result with ``status = "interrupted"``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: The values of :attr:`SolverResult.status`.
STATUSES = ("finished", "interrupted", "failed")


@dataclass(kw_only=True)
class SolverResult:
    """The fields every solver's result has; subclasses add theirs (``times`` first).

    Attributes
    ----------
    times : ndarray, shape (S,)
        The snapshot times reached (declared by each subclass).
    status : {"finished", "interrupted", "failed"}
        How the run ended.
    message : str
        One sentence saying how the run ended, and when.
    stats : dict
        Counters of the run: ``steps``, ``evaluations`` (of the right-hand side or drift, where
        counted) and ``wall_time`` (seconds), where the solver measures them.

    Raises
    ------
    ValueError
        If ``status`` is not one of :data:`STATUSES`.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> import numpy as np
    >>> @dataclass
    ... class Toy(SolverResult):
    ...     times: np.ndarray
    >>> res = Toy(times=np.array([0.0, 1.0]), status="interrupted", message="stopped at t = 1")
    >>> res.success, res.status
    (False, 'interrupted')
    """

    status: str = "finished"
    message: str = ""
    stats: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status: must be one of {STATUSES}, got {self.status!r}")
        self.stats = dict(self.stats or {})

    @property
    def success(self):
        """True if the run reached its last snapshot time (status "finished")."""
        return self.status == "finished"

    @property
    def t_final(self):
        """The last snapshot time reached (nan if there is none)."""
        times = np.asarray(self.times, dtype=float).reshape(-1)
        return float(times[-1]) if times.size else float("nan")


class SolverError(RuntimeError):
    """A run that could not go on; ``result`` is its partial result (``status = "failed"``).

    Parameters
    ----------
    message : str
        What failed, where, and what to change.
    result : SolverResult, optional
        The snapshots reached before the failure (None where the solver failed before its
        first snapshot).

    Examples
    --------
    >>> err = SolverError("mass reached the outer cell at t = 2")
    >>> isinstance(err, RuntimeError), err.result is None
    (True, True)
    """

    def __init__(self, message, result=None):
        super().__init__(message)
        self.result = result
