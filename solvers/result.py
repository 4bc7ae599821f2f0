"""The common result type of the particle integrators (SGD and the deterministic flow)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ParticleResult:
    """Snapshots of a particle system θ_1..θ_N ∈ R^d.

    Attributes
    ----------
    times : (S,) snapshot times actually reached (for SGD, steps · eps).
    radii : (S, N) array of ‖θ_i‖ per snapshot, or None if not recorded.
    risk : (S,) exact population risk R_N per snapshot, or None.
    weights : (S, N, d) array of θ per snapshot, or None.
    steps : total number of steps taken.
    interrupted : True if the run stopped early (Ctrl-C); the snapshots are
        those reached, the last one being the state at the interruption.
    eps : step size (time step for the flow); seed : RNG seed (None if unused);
    dynamics : "sgd" or "flow".

    Lists of per-snapshot arrays are stacked into arrays on construction.
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

    def __post_init__(self):
        self.times = np.asarray(self.times, dtype=float).reshape(-1)
        self.steps = int(self.steps)
        self.interrupted = bool(self.interrupted)
        for name in ("radii", "risk", "weights"):
            value = getattr(self, name)
            if value is not None:
                value = np.asarray(value)
                if value.shape[:1] != self.times.shape:
                    raise ValueError(f"{name}: expected one entry per snapshot time "
                                     f"({self.times.size}), got shape {value.shape}")
                setattr(self, name, value)
