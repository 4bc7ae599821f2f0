"""A fixed partition of tasks run on Python threads over serial, GIL-free Numba kernels.

A pass split into n tasks, task t writing only its own outputs (its rows, or its own partial sum
that the caller adds in task order t = 0, 1, …, n − 1), gives the same bits whatever the thread
count and schedule. The threads take the next task index from a shared counter (a loaded core
delays only the tasks it holds). Each task calls a serial ``@njit(nogil=True)`` kernel: Numba
compiles such a kernel several times faster than the ``parallel=True`` (parfor) loop it replaces
(issue 28). The helper threads are one lazily created pool per process (starting threads per
call cost ~0.2–0.5 ms, as much as a whole pass at N = 256); the tasks and their results are
per call.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numba

_POOL = {}  # pid → the helper threads of this process, created on first use
_POOL_LOCK = threading.Lock()


def _after_fork():
    """A forked child starts without helper threads and with a free lock."""
    global _POOL_LOCK
    _POOL.clear()
    _POOL_LOCK = threading.Lock()


os.register_at_fork(after_in_child=_after_fork)


def _pool():
    """The process's helper threads (NUMBA_NUM_THREADS − 1 of them), created on first use and
    again in a forked child. Thread-safe; shared by concurrent callers, whose tasks never wait on
    each other (a caller whose helpers are queued runs its tasks itself)."""
    with _POOL_LOCK:
        pool = _POOL.get(os.getpid())
        if pool is None:
            _POOL.clear()
            pool = _POOL[os.getpid()] = ThreadPoolExecutor(max(1, numba.config.NUMBA_NUM_THREADS - 1),
                                                           thread_name_prefix="meanfield")
        return pool


def run_tasks(task, n_tasks, threads=None):
    """[task(0), …, task(n_tasks − 1)], the calls spread over up to ``threads`` threads.

    Parameters
    ----------
    task : callable
        task(t) for a task index t; tasks must not write to each other's outputs.
    n_tasks : int
        Number of tasks (≥ 0).
    threads : int, optional
        Largest number of threads (the calling thread included); None: numba.get_num_threads().

    Returns
    -------
    list
        The tasks' return values, in task order.

    Raises
    ------
    Exception
        The first exception a task raised (the other threads stop after their current task).

    Examples
    --------
    >>> run_tasks(lambda t: t * t, 5, threads=2)
    [0, 1, 4, 9, 16]
    """
    workers = min(n_tasks, numba.get_num_threads() if threads is None else threads)
    if workers <= 1:
        return [task(t) for t in range(n_tasks)]
    results = [None] * n_tasks
    errors = []
    lock = threading.Lock()
    next_task = [0]

    def work():
        try:
            while True:
                with lock:
                    t = next_task[0]
                    if errors or t >= n_tasks:
                        return
                    next_task[0] = t + 1
                results[t] = task(t)
        except BaseException as error:  # Ctrl-C included: the other threads stop after their current task
            errors.append(error)

    helpers = [_pool().submit(work) for _ in range(workers - 1)]
    work()  # the calling thread takes tasks too
    for helper in helpers:
        helper.result()
    if errors:
        raise errors[0]
    return results
