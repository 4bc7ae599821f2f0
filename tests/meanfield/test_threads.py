"""meanfield._threads: tasks on threads, results in task order, and the isotropic pair passes that
use it give the same bits on one thread and on several."""
import numba
import numpy as np
import pytest

from meanfield import IsotropicGaussians, ramp
from meanfield import _isotropic_particles
from meanfield._threads import run_tasks


def test_results_in_task_order_on_any_thread_count():
    for threads in (1, 2, 3, 8):
        assert run_tasks(lambda t: t * t, 11, threads=threads) == [t * t for t in range(11)]
    assert run_tasks(lambda t: t, 0, threads=2) == []


def test_a_failing_task_raises_in_the_caller():
    def task(t):
        if t == 5:
            raise ArithmeticError("task 5")
        return t

    with pytest.raises(ArithmeticError, match="task 5"):
        run_tasks(task, 40, threads=2)


def _on_threads(threads, f):
    previous = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        return f()
    finally:
        numba.set_num_threads(previous)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 threads")
def test_isotropic_pair_passes_do_not_depend_on_the_thread_count(monkeypatch):
    """R_N (task sums added in order), ∇Ψ (row blocks) and the closed-form pairs (duplicated neurons:
    |c| = 1 pairs, task sums) above PARALLEL_MIN particles: bitwise equal on 1 and 2 threads, and
    equal to the serial kernels (N < PARALLEL_MIN) on the same particles to rounding."""
    model = IsotropicGaussians(0.8, 6, ramp())
    W = np.random.default_rng(0).standard_normal((300, 6)) * 0.4
    W[:40] = W[40]  # closed-form pairs
    one = _on_threads(1, lambda: (model.population_risk(W), model.potential_gradient(W)))
    two = _on_threads(2, lambda: (model.population_risk(W), model.potential_gradient(W)))
    assert one[0] == two[0]
    np.testing.assert_array_equal(one[1], two[1])
    monkeypatch.setattr(_isotropic_particles, "PARALLEL_MIN", 10**9)
    risk, gradient = model.population_risk(W), model.potential_gradient(W)
    assert risk == pytest.approx(one[0], rel=1e-14)
    np.testing.assert_allclose(gradient, one[1], rtol=1e-13, atol=1e-15)
