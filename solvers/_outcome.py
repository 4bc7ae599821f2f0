"""How a grid or Lagrangian run ends: the failure exceptions, and the one rule that turns a
:func:`solvers._time_stepping.march` into a result or a raise.

A run marches through its snapshot times; it ends "finished" (every snapshot reached),
"interrupted" (Ctrl-C: the snapshots reached plus the state at the interruption), both returned,
or "failed": the run cannot go on (non-finite state, mass at the domain's edge, a fixed step too
inaccurate), and :func:`conclude` raises the matching :class:`SolverError` subclass carrying the
partial result (its snapshots before the failure, ``status = "failed"``).
"""
from __future__ import annotations

import time

from ._result import SolverError
from ._time_stepping import march


class NonFiniteError(SolverError, FloatingPointError):
    """The state of a run became non-finite (a step too large, or a diverging dynamics).

    Also a ``FloatingPointError`` (what the solvers raised before); ``result`` is the partial
    result (status "failed").

    Parameters
    ----------
    message : str
        What became non-finite, and when.
    result : SolverResult, optional
        The snapshots reached before.

    Examples
    --------
    >>> err = NonFiniteError("non-finite masses at t = 2")
    >>> isinstance(err, FloatingPointError), isinstance(err, SolverError)
    (True, True)
    """


class DomainError(SolverError):
    """Mass reached the outer cells of a fixed grid: the domain would cut the law.

    ``result`` is the partial result (status "failed"); increase ``r_max``.

    Parameters
    ----------
    message : str
        How much mass, where and when.
    result : SolverResult, optional
        The snapshots reached before.

    Examples
    --------
    >>> isinstance(DomainError("mass 1e-3 reached the outer cell"), RuntimeError)
    True
    """


class ConvergenceError(SolverError):
    """An iteration did not reach its tolerance (``result``: the last iterate, status "failed").

    Parameters
    ----------
    message : str
        The iterations used and the residual reached.
    result : SolverResult, optional
        The last iterate.

    Examples
    --------
    >>> isinstance(ConvergenceError("no convergence in 10 iterations"), RuntimeError)
    True
    """


def run_march(state, times, step, record, after=None, **options):
    """:func:`march` with every :class:`SolverError` and FloatingPointError a failure; returns the
    ``March`` with two more fields: ``error`` (the exception that ended a failed run, None if march
    itself found the state non-finite) and ``stats`` (``steps``, ``wall_time`` in seconds)."""
    caught = []

    def guarded(fn):
        def call(*args):
            try:
                return fn(*args)
            except Exception as exc:
                caught.append(exc)
                raise
        return call

    start = time.perf_counter()
    run = march(state, times, guarded(step), record, None if after is None else guarded(after),
                failures=(FloatingPointError, SolverError), **options)
    run.error = caught[-1] if run.status == "failed" and caught else None
    run.stats = {"steps": run.steps, "wall_time": time.perf_counter() - start}
    return run


def conclude(result, error=None):
    """``result`` if it finished or was interrupted; if it failed, raise ``error``'s type when it
    is a :class:`SolverError` (else :class:`NonFiniteError`) with ``error``'s message (else the
    result's) and ``result`` (one traceback: the message says what failed, where and when)."""
    if result.status != "failed":
        return result
    cls = type(error) if isinstance(error, SolverError) else NonFiniteError
    text = str(error) if error is not None else result.message.removeprefix("failed: ")
    raise cls(text, result) from None
