"""Timing helper shared by the benchmark scripts."""
import time

import numpy as np


def best_time(fn, repeats=3):
    """Best wall time of ``fn()`` over ``repeats`` calls, after one warm-up call
    (compilation, caches): the least noisy statistic on a shared machine."""
    fn()
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def best_rate(run, steps, repeats):
    """Best steps/s over ``repeats`` timed calls of run(steps), after one warm-up call run(≤ 10)."""
    run(min(steps, 10))
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        run(steps)
        best = min(best, time.perf_counter() - start)
    return steps / best


class CountingModel:
    """A model that counts its drift evaluations (``potential_gradient`` calls) in ``calls``;
    everything else is the wrapped model's."""

    def __init__(self, model):
        self._model, self.calls = model, 0

    def __getattr__(self, name):
        return getattr(self._model, name)

    def potential_gradient(self, W):
        self.calls += 1
        return self._model.potential_gradient(W)
