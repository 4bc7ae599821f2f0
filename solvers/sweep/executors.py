"""Where the tasks of a sweep run: this process, local worker processes, or a Dask cluster.

Each executor calls ``finish(key, outcome)`` in this process as each task completes, the
outcome being ("done", record, seconds) or ("failed", error, traceback). A task that raises
— any ``Exception``, and ``SystemExit`` (a task calling ``sys.exit`` must not end the caller)
— is a failed outcome; the other tasks go on. ``KeyboardInterrupt`` (Ctrl-C) propagates.

Local workers are spawned processes (Numba's thread pools are not fork-safe) that watch
their parent: each runs a daemon thread polling ``os.getppid()`` and exits as soon as the
process that started it is gone (e.g. killed with ``kill -9``), instead of idling forever;
the multiprocessing resource tracker then sees its pipe close and exits too.
"""
from __future__ import annotations

import multiprocessing
import os
import threading
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed

import numba

from ._plain import plain

__all__ = ["execute", "run_serial", "run_local", "run_dask"]

#: Seconds between two checks of a local worker that its parent is still alive.
PARENT_POLL_SECONDS = 0.5
#: Exit status of a local worker whose parent died.
ORPHAN_EXIT_STATUS = 70


def execute(function, task, threads):
    """Run ``function(task)`` in a worker: ("done", record, seconds) or ("failed", error, traceback)."""
    previous = None
    if threads is not None:
        previous = numba.get_num_threads()
        numba.set_num_threads(min(int(threads), numba.config.NUMBA_NUM_THREADS))
    start = time.perf_counter()
    try:
        record = plain(function(task), "record")
        if not isinstance(record, dict):
            raise TypeError(f"the task function must return a dict, got {type(record).__name__}")
        return ("done", record, time.perf_counter() - start)
    except SystemExit as exc:  # not the caller's exit: this task's failure
        return ("failed", f"SystemExit: the task called sys.exit({exc.code!r}); a task function must return "
                          "a dict or raise an exception", traceback.format_exc())
    except Exception as exc:  # reported with the task's parameters; the sweep goes on
        return ("failed", f"{type(exc).__name__}: {exc}", traceback.format_exc())
    finally:
        if previous is not None:
            numba.set_num_threads(previous)


def run_serial(function, pending, threads, finish):
    """Every pending task ({key: task}) in this process, in order."""
    for key, task in pending.items():
        finish(key, execute(function, task, threads))


def _watch_parent(parent_pid):
    """Initializer of a local worker: exit as soon as the process ``parent_pid`` is no longer its parent."""
    def watch():
        while os.getppid() == parent_pid:
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(ORPHAN_EXIT_STATUS)  # no cleanup to do: the parent that would collect the result is gone
    threading.Thread(target=watch, name="sweep-parent-watchdog", daemon=True).start()


def run_local(function, pending, threads, workers, finish):
    """The pending tasks on ``workers`` spawned local processes (default os.cpu_count())."""
    n = min(workers or os.cpu_count() or 1, len(pending))
    pool = ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_watch_parent, initargs=(os.getpid(),))
    try:
        futures = {pool.submit(execute, function, task, threads): key for key, task in pending.items()}
        for future in as_completed(futures):
            try:
                outcome = future.result()
            except Exception as exc:  # the worker died (BrokenProcessPool) or the task did not pickle
                outcome = ("failed", f"{type(exc).__name__}: {exc}", traceback.format_exc())
            finish(futures[future], outcome)
    except KeyboardInterrupt:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _code_digest():
    """Digest of the installed meanfield + solvers sources (run on each Dask worker)."""
    from meanfield._numba_cache import package_digest  # no public name: the digest of the Numba cache
    return package_digest()


def _dask_client(target, check_code):
    try:
        from distributed import Client
    except ImportError:
        raise ImportError("scheduler: a Dask scheduler needs dask.distributed "
                          "(python -m pip install 'dask[distributed]')") from None
    own = isinstance(target, str)
    client = Client(target, set_as_default=False) if own else target
    if check_code:
        try:  # the scheduler unpickles the tasks too: it needs the package as well
            digests = {"scheduler": client.run_on_scheduler(_code_digest), **client.run(_code_digest)}
        except Exception as exc:
            if own:
                client.close()
            raise RuntimeError(f"the Dask scheduler or workers cannot import solvers.sweep ({type(exc).__name__}: "
                               f"{exc}); install this package where the scheduler and every worker run") from exc
        mine = _code_digest()
        differ = sorted(w for w, dig in digests.items() if dig != mine)
        if differ:
            if own:
                client.close()
            raise RuntimeError(f"Dask {differ} run different meanfield/solvers sources than this process; "
                               "install the same version everywhere (or pass check_code=False)")
    return client, own


def run_dask(function, pending, threads, target, check_code, finish):
    """The pending tasks on a Dask scheduler (an address: a client opened and closed here, or a client)."""
    from distributed import as_completed as dask_completed

    client, own = _dask_client(target, check_code)
    futures = {}
    try:
        futures = {client.submit(execute, function, task, threads, pure=False): key for key, task in pending.items()}
        for future in dask_completed(futures, loop=client.loop):
            try:
                outcome = future.result()
            except Exception as exc:  # lost worker, unpicklable task, …
                outcome = ("failed", f"{type(exc).__name__}: {exc}", traceback.format_exc())
            finish(futures[future], outcome)
    except KeyboardInterrupt:
        client.cancel(list(futures))
        raise
    finally:
        if own:
            client.close()
