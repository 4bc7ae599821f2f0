"""run_sweep: every task once, on the chosen executor, each record saved as it completes.

The tasks are deduplicated by key (:func:`task_key`), the finished ones read back from the
store (:mod:`solvers.sweep.store`), the rest run by the executor (:mod:`solvers.sweep.executors`),
and the outcome gathered into a :class:`SweepResult`.
"""
from __future__ import annotations

import sys
import time

from .._progress import tqdm

from meanfield._validation import check_int, check_scheduler

from ._plain import plain
from .executors import run_dask, run_local, run_serial
from .result import SweepResult, TaskFailure, snapshot_times, sweep_status
from .store import TaskStore
from .task import _function_name, run_task, task_key

__all__ = ["run_sweep"]


def run_sweep(tasks, function=None, *, scheduler=None, workers=None, out=None, progress=None, threads_per_task=1,
              check_code=True):
    """Run ``function(task)`` for every task, in parallel, saving each record as it completes.

    Parameters
    ----------
    tasks : iterable
        :class:`SweepTask` objects (or any plain-data dicts / dataclasses that ``function``
        accepts). Identical tasks run once.
    function : callable, optional
        Importable top-level function task → dict of plain data (lists, numbers);
        default :func:`run_task`. Lambdas and local functions work only with "serial".
    scheduler : str, distributed.Client or cluster, optional
        None or "processes" (a local pool of ``workers`` spawned processes, which exit when
        this process dies), "serial" (a loop in this process), a Dask scheduler address
        ("tcp://host:8786" or "host:8786"), a ``distributed.Client``, or a Dask cluster object
        (its ``scheduler_address``).
    workers : int, optional
        Local processes, ≥ 1 (default os.cpu_count()); ignored by Dask.
    out : str or pathlib.Path, optional
        Directory of the per-task result files (created); None = keep records in memory
        only. Finished tasks found there (same function, same parameters) are reused.
    progress : bool, optional
        tqdm bar over tasks; None = only if stderr is a terminal.
    threads_per_task : int or None
        Numba threads of each task, ≥ 1 (default 1: one core per task); None leaves Numba's
        setting alone.
    check_code : bool
        On Dask, first check that the scheduler and every worker have the same
        meanfield/solvers sources as this process.

    Returns
    -------
    SweepResult
        Status "finished" (every task has a record), "failed" (some task raised, or called
        ``sys.exit``: a :class:`TaskFailure` each; the other tasks ran) or "interrupted"
        (Ctrl-C; the finished tasks are in ``out``); the message counts them.

    Raises
    ------
    ValueError
        On an unknown ``scheduler`` (neither a name, an address, a client nor a cluster), a
        non-importable ``function`` with worker processes, ``workers`` or
        ``threads_per_task`` < 1, or a task that is not plain data.
    ImportError
        If a Dask scheduler is given and ``dask.distributed`` is not installed.
    RuntimeError
        If ``check_code`` finds Dask workers (or the scheduler) that cannot import this package
        or run different sources.

    Examples
    --------
    Identical tasks run once; a failing task does not stop the others:

    >>> def inverse(task):
    ...     return {"y": 1.0 / task["x"]}
    >>> res = run_sweep([{"x": 2}, {"x": 0}, {"x": 2}], inverse, scheduler="serial")
    >>> res.records, res.n_computed, res.status
    ([{'y': 0.5}, None, {'y': 0.5}], 1, 'failed')
    >>> res.failures[0].error, res.message
    ('ZeroDivisionError: float division by zero', '1 of 2 tasks failed; the others finished')
    """
    start = time.perf_counter()
    function = function or run_task
    tasks = list(tasks)
    mode, target = check_scheduler(scheduler)
    fname = _function_name(function)
    if mode != "serial" and ("<locals>" in fname or "<lambda>" in fname):
        raise ValueError(f"function: {fname} cannot be sent to worker processes; use a top-level function")
    if workers is not None:
        workers = check_int(workers, "workers", 1)
    if threads_per_task is not None:
        threads_per_task = check_int(threads_per_task, "threads_per_task", 1)
    if progress is None:
        progress = sys.stderr.isatty()
    params = [plain(t, f"tasks[{i}]") for i, t in enumerate(tasks)]
    keys = [task_key(p, function) for p in params]
    by_key = {}
    for i, k in enumerate(keys):
        by_key.setdefault(k, i)
    store = TaskStore(out, fname)

    done = {}  # key → (record, wall_time)
    for k, i in by_key.items():
        loaded = store.load(k, params[i])
        if loaded is not None:
            done[k] = loaded
    reused = len(done)
    pending = {k: tasks[i] for k, i in by_key.items() if k not in done}
    failures = {}
    bar = tqdm(total=len(by_key), initial=reused, disable=not progress, unit="task", desc="sweep")

    def finish(key, outcome):
        i = by_key[key]
        if outcome[0] == "done":
            _, record, seconds = outcome
            done[key] = (record, seconds)
            store.save_record(key, params[i], record, seconds)
        else:
            _, error, tb = outcome
            failures[key] = TaskFailure(i, key, params[i], error, tb)
            store.save_failure(key, params[i], error, tb)
        bar.update(1)
        if failures:
            bar.set_postfix(failed=len(failures))

    interrupted = False
    try:
        if not pending:
            pass
        elif mode == "serial":
            run_serial(function, pending, threads_per_task, finish)
        elif mode == "processes":
            run_local(function, pending, threads_per_task, workers, finish)
        else:
            run_dask(function, pending, threads_per_task, target, check_code, finish)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()

    records = [done[k][0] if k in done else None for k in keys]
    fails = sorted(failures.values(), key=lambda f: f.index)
    status, message = sweep_status(len(by_key), len(done), reused, len(fails), interrupted, store.out)
    n_pending = len(by_key) - len(done) - len(fails)
    stats = {"wall_time": time.perf_counter() - start, "computed": len(done) - reused, "reused": reused,
             "failed": len(fails), "pending": n_pending}
    return SweepResult(times=snapshot_times(records), tasks=tasks, records=records,
                       wall_times=[done[k][1] if k in done else None for k in keys], keys=keys, failures=fails,
                       n_computed=len(done) - reused, n_reused=reused, n_failed=len(fails), n_pending=n_pending,
                       out=store.out, status=status, message=message, stats=stats)
