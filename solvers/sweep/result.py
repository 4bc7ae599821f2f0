"""What a sweep returns: the records of its tasks, their failures, and how it ended.

:class:`SweepResult` is a :class:`solvers.SolverResult`. Its ``times`` are the union of the
snapshot times of the records (the ``"times"`` entry of each record that has one; empty for
task functions whose records have none). Its ``status``: "finished" when every task has a
record; "failed" when some task raised (the other records are there, each failure is a
:class:`TaskFailure` with the task's parameters, the error and the worker's traceback);
"interrupted" on Ctrl-C (the records saved so far). A task failure does not stop the sweep,
so :func:`run_sweep` returns the result; :meth:`SweepResult.raise_on_failure` turns a status
other than "finished" into a :class:`SweepError` carrying the result.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from .._result import SolverError, SolverResult
from ._plain import canonical, plain

__all__ = ["SweepResult", "TaskFailure", "SweepError"]


@dataclasses.dataclass
class TaskFailure:
    """A task that raised: its index in the task list, parameters, error and traceback.

    Parameters
    ----------
    index : int
        Position of the task in the list given to :func:`run_sweep` (its first occurrence).
    key : str
        The task's file key (``out/<key>.failed.json``).
    params : dict
        The task as plain data.
    error : str
        "ExceptionType: message".
    traceback : str
        The formatted traceback from the worker.

    Examples
    --------
    >>> f = TaskFailure(0, "abc", {"x": 1}, "ValueError: no", "")
    >>> str(f)
    'task 0 {"x":1} failed: ValueError: no'
    """

    index: int
    key: str
    params: dict
    error: str
    traceback: str

    def __str__(self):
        return f"task {self.index} {canonical(self.params)} failed: {self.error}"


class SweepError(SolverError):
    """A sweep that did not finish every task; ``result`` is its :class:`SweepResult`.

    Raised by :meth:`SweepResult.raise_on_failure` (a ``RuntimeError``, as every
    :class:`solvers.SolverError`).

    Parameters
    ----------
    message : str
        The sweep's message, the failures and the first traceback.
    result : SweepResult, optional
        The sweep's result.

    Examples
    --------
    >>> isinstance(SweepError("2 of 5 tasks failed"), RuntimeError)
    True
    """


@dataclasses.dataclass(kw_only=True)
class SweepResult(SolverResult):
    """Outcome of :func:`run_sweep`.

    Attributes
    ----------
    times : ndarray
        Sorted union of the snapshot times of the records (their ``"times"`` entries; empty
        when the records have none).
    tasks : list
        The tasks, in the order given.
    records : list of dict or None
        The record of each task (None if it failed or did not run).
    wall_times : list of float or None
        Seconds each record took to compute (when it was computed; None if unknown).
    keys : list of str
        The file key of each task (``out/<key>.json``).
    failures : list of TaskFailure
        Parameters, error and traceback of each failed task.
    n_computed, n_reused, n_failed, n_pending : int
        Distinct tasks computed in this call, read back from ``out``, failed, and not run
        (the sweep was interrupted).
    status : {"finished", "failed", "interrupted"}
        "finished": every task has a record; "failed": some task raised (the others ran);
        "interrupted": Ctrl-C.
    message : str
        How many tasks finished, were reused, failed and did not run.
    stats : dict
        ``wall_time`` (seconds of this call), ``computed``, ``reused``, ``failed``, ``pending``.
    out : pathlib.Path or None
        The directory of the result files (None: nothing written).

    Examples
    --------
    >>> from solvers.sweep import run_sweep
    >>> def square(task):
    ...     return {"y": task["x"] ** 2}
    >>> res = run_sweep([{"x": 1}, {"x": 2}], square, scheduler="serial")
    >>> res.status, res.success, res.n_computed, res.message
    ('finished', True, 2, '2 tasks finished')
    """

    times: np.ndarray
    tasks: list
    records: list
    wall_times: list
    keys: list
    failures: list
    n_computed: int
    n_reused: int
    n_failed: int
    n_pending: int
    out: Path | None

    def __post_init__(self):
        super().__post_init__()
        self.times = np.asarray(self.times, dtype=float)

    @property
    def finished(self):
        """True when every task has a record (the same as ``success``)."""
        return self.success

    @property
    def wall_time(self):
        """Seconds of the :func:`run_sweep` call (``stats["wall_time"]``)."""
        return self.stats.get("wall_time")

    def rows(self):
        """One flat dict per task with a record: the task's parameters, then its record.

        Returns
        -------
        list of dict
            ``{**task_params, **record}`` for every task that has a record, in task order.
        """
        return [{**plain(t), **r} for t, r in zip(self.tasks, self.records) if r is not None]

    def raise_on_failure(self):
        """:class:`SweepError` listing the failures (with the first traceback) unless finished.

        Returns
        -------
        SweepResult
            ``self``, when the status is "finished" (so calls can be chained).

        Raises
        ------
        SweepError
            If the status is "failed" or "interrupted" (a ``RuntimeError``; ``.result`` is
            ``self``): the message, up to ten failures and the first traceback.
        """
        if self.finished:
            return self
        lines = [self.message] + [str(f) for f in self.failures[:10]]
        if self.failures:
            lines.append(self.failures[0].traceback)
        raise SweepError("\n".join(lines), result=self)


def sweep_status(n_tasks, n_done, n_reused, n_failed, interrupted, out):
    """(status, message) of a sweep from its counts."""
    n_pending = n_tasks - n_done - n_failed
    if interrupted:
        return "interrupted", (f"interrupted: {n_done} of {n_tasks} tasks finished, {n_failed} failed, "
                               f"{n_pending} not run")
    if n_failed:
        return "failed", (f"{n_failed} of {n_tasks} tasks failed; the others finished" if n_failed < n_tasks
                          else f"all {n_tasks} tasks failed")
    return "finished", (f"{n_tasks} tasks finished ({n_reused} reused from {out})" if n_reused
                        else f"{n_tasks} tasks finished")


def snapshot_times(records):
    """Sorted union of the ``"times"`` entries of the records that have one."""
    times = {float(t) for r in records if isinstance(r, dict) and isinstance(r.get("times"), list)
             for t in r["times"]}
    return np.array(sorted(times), dtype=float)
