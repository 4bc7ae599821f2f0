"""Ctrl-C during compiled code: hold SIGINT while a kernel runs, raise it when the kernel returns.

Python's default SIGINT handler raises KeyboardInterrupt at the next bytecode boundary, which
may fall inside Numba's dispatcher or a threaded (parallel) region: the kernel then returns
"a result with an exception set" (SystemError) and the caller loses its state. Solvers wrap
every compiled call in :func:`deferred_interrupt`, so a Ctrl-C is noticed between calls, the
state is consistent, and the solver returns its partial result marked as interrupted.
:class:`InterruptGuard` does the same for a whole time loop (:func:`solvers._time_stepping.march`),
and shields the recording of the partial result from a second Ctrl-C.
"""
from __future__ import annotations

import contextlib
import signal
import threading


@contextlib.contextmanager
def deferred_interrupt():
    """Run the body with SIGINT recorded instead of raised; raise KeyboardInterrupt after it
    if one arrived. Outside the main thread (where handlers cannot be set), or where SIGINT is
    ignored (a background job), it does nothing."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is signal.SIG_IGN):  # no Ctrl-C to defer
        yield
        return
    received = []

    def record(signum, frame):
        received.append(signum)

    previous = signal.signal(signal.SIGINT, record)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


class InterruptGuard:
    """While active (a context manager), SIGINT only sets ``requested``; the solver's loop looks
    at it between steps and stops. The ``abort_at``-th Ctrl-C raises KeyboardInterrupt where it
    lands: a second Ctrl-C while the solver records its last snapshot is ignored (the partial
    result survives), a third aborts. Outside the main thread, or where SIGINT is ignored, it
    does nothing (``requested`` stays False)."""

    def __init__(self, abort_at=3):
        self.abort_at = abort_at
        self.count = 0
        self._previous = None

    @property
    def requested(self):
        """True once a Ctrl-C arrived."""
        return self.count > 0

    def _handle(self, signum, frame):
        self.count += 1
        if self.count >= self.abort_at:
            raise KeyboardInterrupt

    def __enter__(self):
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is not signal.SIG_IGN):
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
        return False
