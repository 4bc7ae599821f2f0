"""The common result type of the particle integrators (SGD and the deterministic flow)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from meanfield import Params

from ._result import SolverResult


@dataclass
class ParticleResult(SolverResult):
    """Snapshots of a particle system θ_1..θ_N, θ_i = (a_i, w_i, b_i).

    A :class:`~solvers.SolverResult` (``status``, ``message``, ``stats`` from the base; a failed
    run's partial result travels in the ``result`` of the :class:`~solvers.SolverError` raised).
    Lists of per-snapshot arrays are stacked into arrays on construction.

    Attributes
    ----------
    times : ndarray, shape (S,)
        Snapshot times actually reached (for SGD, steps · eps).
    radii : ndarray, shape (S, N), or None
        ‖w_i‖ per snapshot, if recorded.
    risk : ndarray, shape (S,), or None
        Risk per snapshot (see ``risk_kind``).
    weights : ndarray, shape (S, N, d), or None
        The input weights w_i per snapshot.
    params : list of Params, or None
        (a, W, b) per snapshot (S entries).
    kernel : ndarray, shape (S, P, P), or None
        Tangent kernel K(x_p, x_q) on the probe inputs.
    output : ndarray, shape (S, P), or None
        Network output f(x_p) on the probe inputs.
    movement : ndarray, shape (S,), or None
        Mean parameter movement (1/N) Σ_i ‖θ_i − θ_i(0)‖.
    Q : ndarray, shape (S, K, K), or None
        Teacher–student overlaps Q = W Wᵀ per snapshot, if "overlaps" was recorded; with ``R``,
        ``T``, ``a``, ``b`` the names and shapes of :class:`~solvers.OrderParameterSolution`.
    R : ndarray, shape (S, K, M), or None
        R = W W*ᵀ per snapshot.
    T : ndarray, shape (M, M), or None
        T = W* W*ᵀ, the teacher's (constant).
    a, b : ndarray, shape (S, K), or None
        Output weights and biases per snapshot (with "overlaps"; constant when not trained).
    steps : int
        Total number of steps taken.
    interrupted : bool
        True if the run stopped early (Ctrl-C); the snapshots are those reached, the last
        one being the state at the interruption. Same as ``status == "interrupted"``.
    eps : float or None
        Step size (time step for the flow).
    seed : int or None
        RNG seed (None if unused).
    dynamics : {"sgd", "flow"}
        Which integrator produced the run.
    risk_kind : {"population", "empirical"} or None
        "population": the exact R_N; "empirical": on held-out arrays; None: the model has no
        risk rule (no risk recorded).
    status : {"finished", "interrupted", "failed"}
        How the run ended (``interrupted=True`` means "interrupted").
    message : str
        A sentence saying how the run ended, and when (filled in when not given).
    stats : dict
        ``steps`` (and where measured ``wall_time``, seconds).
    error_estimate : float or None
        The flow's fixed-step methods (RK4 with ``dt``, Euler-Maruyama): the step-doubling
        estimate of the global error (max-norm, see ``accuracy_tol``); else None.

    Raises
    ------
    ValueError
        If an array does not have one entry per snapshot time, ``params`` is not a list of
        Params of that length, or ``interrupted`` contradicts ``status``.

    Examples
    --------
    >>> import numpy as np
    >>> res = ParticleResult(times=[0.0, 1.0], radii=[np.ones(3), 2 * np.ones(3)], risk=None,
    ...                      weights=None, steps=10, dynamics="flow")
    >>> res.radii.shape, res.status
    ((2, 3), 'finished')
    """

    times: np.ndarray
    radii: np.ndarray | None
    risk: np.ndarray | None
    weights: np.ndarray | None
    steps: int
    interrupted: bool = False
    eps: float | None = None
    seed: int | None = None
    dynamics: str = "sgd"
    params: list | None = None
    kernel: np.ndarray | None = None
    output: np.ndarray | None = None
    movement: np.ndarray | None = None
    risk_kind: str = "population"
    error_estimate: float | None = None
    Q: np.ndarray | None = None
    R: np.ndarray | None = None
    T: np.ndarray | None = None
    a: np.ndarray | None = None
    b: np.ndarray | None = None

    def __post_init__(self):
        super().__post_init__()
        self.times = np.asarray(self.times, dtype=float).reshape(-1)
        self.steps = int(self.steps)
        self.interrupted = bool(self.interrupted) or self.status == "interrupted"
        if self.interrupted and self.status == "failed":
            raise ValueError("interrupted: True contradicts status 'failed'")
        if self.interrupted:
            self.status = "interrupted"
        self.stats.setdefault("steps", self.steps)
        for name in ("radii", "risk", "weights", "kernel", "output", "movement", "Q", "R", "a", "b"):
            value = getattr(self, name)
            if value is not None:
                value = np.asarray(value)
                if value.shape[:1] != self.times.shape:
                    raise ValueError(f"{name}: expected one entry per snapshot time "
                                     f"({self.times.size}), got shape {value.shape}")
                setattr(self, name, value)
        if self.params is not None:
            self.params = list(self.params)
            if len(self.params) != self.times.size or not all(isinstance(p, Params) for p in self.params):
                raise ValueError(f"params: expected {self.times.size} Params (one per snapshot time)")
        if not self.message:
            reached = f"t = {self.times[-1]:.6g}" if self.times.size else "no snapshot"
            self.message = {"interrupted": f"interrupted (Ctrl-C) after {self.steps} steps at {reached}",
                            "failed": f"failed after {self.steps} steps, last snapshot at {reached}",
                            "finished": f"finished: {self.steps} steps, last snapshot at {reached}"}[self.status]

    @property
    def kernel_change(self):
        """‖K_t − K_0‖_F / ‖K_0‖_F per snapshot (relative to the first one), or None."""
        if self.kernel is None:
            return None
        base = np.linalg.norm(self.kernel[0])
        return np.linalg.norm(self.kernel - self.kernel[0], axis=(1, 2)) / base
