"""Ctrl-C during compiled code: hold SIGINT while a kernel runs, raise it when the kernel returns.

Python's default SIGINT handler raises KeyboardInterrupt at the next bytecode boundary, which
may fall inside Numba's dispatcher or a threaded (parallel) region: the kernel then returns
"a result with an exception set" (SystemError) and the caller loses its state. Solvers wrap
every compiled call in :func:`deferred_interrupt`, so a Ctrl-C is noticed between calls, the
state is consistent, and the solver returns its partial result marked as interrupted.
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
