"""The time-stepping loop shared by the grid and Lagrangian solvers: steps up to each snapshot
time, progress bar, finiteness check, Ctrl-C and failures.

A solver supplies ``step(state, t, t_left) → (state, h)`` (one step of its scheme, h ≤ t_left;
the last step before a snapshot time lands on it), ``record(state, t)`` (the snapshot it keeps)
and optionally ``after(state, t) → state`` (its own checks after every step: mass at the
boundary, energy trace, …). :func:`march` runs

    for each snapshot time t_k:  while t < t_k: state, h = step(state, t, t_k − t); t += h
                                 snapshot record(state, t_k)

The loop runs under one :class:`solvers._interrupt.InterruptGuard`: a Ctrl-C waits for the step
(and its compiled kernels) or the snapshot to finish, so the state is always that of a whole step.
The run then stops, the state reached is recorded as the last snapshot (at the time reached),
and the result says ``status = "interrupted"``; a second Ctrl-C during that last snapshot is
ignored, a third aborts. Exceptions listed in ``failures`` end the run with ``status = "failed"``
(the snapshots before the failure are kept, the exception in ``error``); any other exception
propagates. A run may start at ``t0`` > 0 (a resumed one).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np

from ._interrupt import InterruptGuard


@dataclass
class March:
    """What :func:`march` did: ``snapshots`` (what ``record`` returned) at ``times`` (reached),
    ``steps``, ``status`` ("finished", "interrupted" or "failed"), ``message``, the last ``state``
    and, when failed, the ``error`` raised."""

    snapshots: list = field(default_factory=list)
    times: list = field(default_factory=list)
    steps: int = 0
    status: str = "finished"
    message: str = ""
    state: object = None
    error: Exception | None = None

    @property
    def reached(self):
        """The snapshot times reached, as an array."""
        return np.array(self.times, dtype=float)


def march(state, times, step, record, after=None, progress=None, desc="", what="state",
          failures=(), snap_tol=1e-14, step_name="steps", t0=0.0, check_finite=True):
    """Advance ``state`` from t = 0 through the snapshot ``times`` (see the module docstring).

    Parameters
    ----------
    state : the initial state (an array: checked finite after every step unless ``check_finite`` is False).
    times : checked non-decreasing snapshot times ≥ 0.
    step, record, after : the solver's callbacks.
    progress : tqdm bar over simulated time (None: only if stderr is a terminal); desc its label.
    what : the name of the state in the non-finite message.
    failures : exception types that end the run as "failed" instead of propagating.
    snap_tol : a step ending within snap_tol·max(1, t_k) of the snapshot time t_k lands on it.
    step_name : the word for the steps in the messages ("steps", "RK4 steps").
    t0 : the time of ``state`` (the snapshot times start after it).
    check_finite : check the state finite after every step (False: the solver checks it).

    Returns
    -------
    March
    """
    if progress is None:
        progress = sys.stderr.isatty()
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=float(times[-1]) if len(times) else 0.0, initial=float(t0), unit="t", desc=desc)
    out = March(state=state)
    t = float(t0)
    with InterruptGuard() as guard:
        try:
            for t_next in times:
                resolution = snap_tol * max(1.0, float(t_next))
                while t < t_next - resolution:
                    new, h = step(state, t, t_next - t)
                    out.steps += 1  # counted even if the checks below reject it
                    t_new = t_next if t + h >= t_next - resolution else t + h
                    if check_finite and not np.all(np.isfinite(new)):
                        raise FloatingPointError(f"non-finite {what} at t = {t_new:.6g}")
                    if after is not None:
                        new = after(new, t_new)
                    state, t = new, t_new
                    if bar is not None:
                        bar.update(h)
                    if guard.requested:  # a Ctrl-C lands between steps, never inside a kernel
                        raise KeyboardInterrupt
                snap = record(state, float(t_next))
                t = float(t_next)
                out.snapshots.append(snap)
                out.times.append(t)
                if guard.requested:
                    raise KeyboardInterrupt
        except KeyboardInterrupt:  # still guarded: a second Ctrl-C cannot lose the partial result
            out.status = "interrupted"
            out.message = f"interrupted (Ctrl-C) at t = {t:.6g} after {out.steps} {step_name}"
            if not out.times or out.times[-1] != t:   # the state reached is the last snapshot
                out.snapshots.append(record(state, t))
                out.times.append(t)
        except failures as exc:
            out.status = "failed"
            out.message = f"failed: {exc}"
            out.error = exc
        finally:
            if bar is not None:
                bar.close()
    if out.status == "finished":
        last = f"t = {out.times[-1]:.6g}" if out.times else "no snapshot"
        out.message = f"finished: {out.steps} {step_name}, last snapshot at {last}"
    out.state = state
    return out
