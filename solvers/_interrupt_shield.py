"""After a Ctrl-C, the partial result is assembled shielded from the next one.

A solver that stops on a Ctrl-C still has to record the state it reached. A second Ctrl-C,
pressed impatiently while it does, would otherwise raise KeyboardInterrupt there and lose every
snapshot. Inside :func:`shielded_interrupt` the next SIGINT is swallowed; the one after it
(a third Ctrl-C in all) raises KeyboardInterrupt, so a run can always be aborted.
"""
from __future__ import annotations

import contextlib
import signal
import threading


@contextlib.contextmanager
def shielded_interrupt():
    """Run the body with the first SIGINT ignored and the second raised as KeyboardInterrupt.
    Outside the main thread, or where SIGINT is ignored, it does nothing."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is signal.SIG_IGN):
        yield
        return
    received = []

    def absorb(signum, frame):
        received.append(signum)
        if len(received) > 1:
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, absorb)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
