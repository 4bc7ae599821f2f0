"""A one-line notice on stderr while Numba compiles: a cold first call is not a hang.

Numba fires a ``numba:compile`` event for each function it compiles, and only then: a kernel
loaded from the disk cache (``meanfield/_numba_cache.py``) or already compiled in this process
fires none. :func:`compile_notice` listens to that event around a solver call and prints
:data:`MESSAGE` once, at the first compilation; a warm call prints nothing. No timing is involved.
:func:`announces_compilation` wraps a solver in it (``run_sgd``, ``run_particle_flow``).
"""
from __future__ import annotations

import functools
import sys
from contextlib import contextmanager

from numba.core import event

MESSAGE = "meanfield: compiling kernels for this model (first run only, cached afterwards)…"


class _Notice(event.Listener):
    """Prints MESSAGE to ``stream`` at the first compilation it hears; ``shown`` says whether it did."""

    def __init__(self, stream):
        self.stream, self.shown = stream, False

    def on_start(self, ev):
        if not self.shown:
            self.shown = True
            print(MESSAGE, file=self.stream if self.stream is not None else sys.stderr, flush=True)

    def on_end(self, ev):
        pass


@contextmanager
def compile_notice(stream=None):
    """Within the block, print MESSAGE once to ``stream`` (None = sys.stderr at print time) if Numba
    compiles anything; yields the listener (its ``shown`` is True afterwards if it printed)."""
    notice = _Notice(stream)
    with event.install_listener("numba:compile", notice):
        yield notice


def announces_compilation(solver):
    """``solver`` run inside :func:`compile_notice` (the notice goes to sys.stderr)."""

    @functools.wraps(solver)
    def wrapper(*args, **kwargs):
        with compile_notice():
            return solver(*args, **kwargs)

    return wrapper
