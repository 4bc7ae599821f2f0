"""What a particle run records: one small recorder per ``record=(...)`` key.

A snapshot of the particle system θ_1..θ_N (θ_i = (a_i, w_i, b_i)) at time t is the dict
{key: recorder(view)} over the requested keys, where

* ``radii``    ‖w_i‖,                       * ``risk``     the model's risk (R_N or held-out),
* ``weights``  W (SGD: in the kernel dtype), * ``params``   (a, W, b),
* ``kernel``   K(x_p, x_q) on the probes,   * ``output``   f(x_p) on the probes,
* ``movement`` (1/N) Σ_i ‖θ_i − θ_i(0)‖ over the trained coordinates,
* ``overlaps`` the teacher–student order parameters Q = W Wᵀ, R = W W*ᵀ, T = W* W*ᵀ, a, b
  (:func:`meanfield.order_parameters`; a model on :class:`~meanfield.TeacherStudent` data).

SGD and the particle flow share these recorders and :class:`Recording`, which stacks the
snapshots into the fields of :class:`~solvers.ParticleResult` ("overlaps" into ``Q``, ``R``
(S, K, K), (S, K, M), ``T`` (M, M), ``a``, ``b`` (S, K): the names and shapes of
:class:`~solvers.OrderParameterSolution`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from meanfield import OrderParameters, Params, order_parameters
from meanfield._validation import RECORD_KEYS


@dataclass(frozen=True)
class View:
    """The state a recorder reads: ``params`` (float64 Params), ``weights`` (W as integrated),
    the ``model``, the ``probes`` (P, d) or None and the ``initial`` θ(0)."""

    model: object
    params: Params
    weights: np.ndarray
    probes: np.ndarray | None
    initial: Params


def _movement(v):
    moved = v.params.flat(v.model.train) - v.initial.flat(v.model.train)
    return np.float64(np.mean(np.linalg.norm(moved, axis=1)))


#: The recorder of every ``record`` key (the keys are meanfield._validation.RECORD_KEYS).
RECORDERS = {
    "radii": lambda v: np.linalg.norm(v.params.W, axis=1),
    "risk": lambda v: np.float64(v.model.risk(v.params)),
    "weights": lambda v: np.array(v.weights, order="C"),
    "params": lambda v: v.params.copy(),
    "kernel": lambda v: v.model.tangent_kernel(v.params, v.probes),
    "output": lambda v: v.model.output(v.params, v.probes),
    "movement": _movement,
    "overlaps": lambda v: order_parameters(v.params, v.model.data),
}

#: The record keys whose snapshot is an object of several arrays: its type and its fields (how a
#: checkpoint stores it, one stacked array per field).
PARTS = {"params": (Params, ("a", "W", "b")),
         "overlaps": (OrderParameters, ("Q", "R", "T", "a", "b", "a_teacher", "b_teacher"))}
#: The ParticleResult fields of "overlaps" stacked per snapshot (T is the teacher's, constant).
OVERLAP_FIELDS = ("Q", "R", "a", "b")


class Recording:
    """The snapshots of one run: ``take`` records the keys of ``record``; ``fields`` stacks them.

    Parameters
    ----------
    model : ParticleModel
    record : tuple of str
        Checked keys (:func:`meanfield._validation.check_record`).
    probes : ndarray or None
        The inputs of "kernel" and "output".
    initial : Params
        θ(0), for "movement".
    """

    def __init__(self, model, record, probes, initial):
        self.model, self.record, self.probes, self.initial = model, tuple(record), probes, initial

    def take(self, params, weights=None):
        """The snapshot {key: value} of ``params`` (``weights``: W as integrated, default params.W)."""
        view = View(self.model, params, params.W if weights is None else weights, self.probes, self.initial)
        return {name: RECORDERS[name](view) for name in self.record}

    def fields(self, snapshots):
        """The ParticleResult fields of ``snapshots`` (None for the keys not recorded)."""
        out = {}
        for name in RECORD_KEYS:
            values = [snap[name] for snap in snapshots] if name in self.record and snapshots else None
            if name == "overlaps":
                out["T"] = None if values is None else values[0].T
                for part in OVERLAP_FIELDS:
                    out[part] = None if values is None else np.stack([getattr(op, part) for op in values])
            else:
                out[name] = values if values is None or name == "params" else np.stack(values)
        return out
