"""SGD at few neurons and large d: the general kernel against what a step cannot avoid.

A step of online SGD on teacher–student data with K student and M teacher neurons draws x ~ N(0, I_d)
and forms the K + M dot products ⟨w_i, x⟩, ⟨w*_t, x⟩; at K = 2, d = 2000 everything else (the
activations, the K updates w_i += c_i x) is of the same order. Measured in the same process, one
thread, float64, best of ``repeats`` (the three loops alternating):

* ``sgd_us``: run_sgd(record=()) per step (erf, K = M = 2 or K = 4, M = 2, train ("w",));
* ``floor_us``: a Numba loop that draws d normals with the generator the kernel draws x of this
  law with (the vectorised generator of :mod:`solvers._normal_rng`) and does the K + M dot products;
* ``ratio`` = sgd_us / floor_us, the figure of merit (≤ 1.5 wanted);
* ``polar_floor_us``: the same loop with the scalar xoshiro256** + Marsaglia polar generator of
  the data stream (:func:`solvers._sgd_streams.fill_normal`, what the kernel drew x with before
  issue 29), for reference.

    python benchmarks/few_neurons_sgd.py [--quick] [--out PATH]
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from numba import njit  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from meanfield import MeanFieldModel, TeacherStudent, TwoLayerNetwork, erf  # noqa: E402
from solvers import run_sgd  # noqa: E402
from solvers._normal_rng import fill_normals, init_noise_state  # noqa: E402
from solvers._sgd_streams import fill_normal, initial_rng_state  # noqa: E402

EPS = 1e-4
CASES = [(2, 2, 500), (2, 2, 2000), (4, 2, 2000)]  # (K, M, d)


@njit(cache=True)
def _dots(W, x, out):
    """out_i = ⟨W_i, x⟩."""
    for i in range(W.shape[0]):
        s = 0.0
        for l in range(x.shape[0]):
            s += W[i, l] * x[l]
        out[i] = s


@njit(cache=True)
def floor(fill, state, W, x, out, steps):
    """``steps`` times: d normals from ``fill(state, x)``, then the K + M dot products."""
    total = 0.0
    for _ in range(steps):
        fill(state, x)
        _dots(W, x, out)
        total += out[0]
    return total


def per_step(runs, steps, repeats):
    """Best seconds per step of each run(steps), the runs alternating (order flipped every repeat, so
    that a change of the machine's load hits them alike), after a warm-up run(10) of each."""
    for run in runs:
        run(10)
    best = [np.inf] * len(runs)
    for rep in range(repeats):
        for idx in (range(len(runs)) if rep % 2 == 0 else reversed(range(len(runs)))):
            start = time.perf_counter()
            runs[idx](steps)
            best[idx] = min(best[idx], time.perf_counter() - start)
    return [b / steps for b in best]


def measure(k, m, d, steps, repeats):
    rng = np.random.default_rng(0)
    model = MeanFieldModel(TeacherStudent(rng.standard_normal((m, d)) / np.sqrt(d), erf()), TwoLayerNetwork(erf()))
    theta = model.init(k, seed=1)
    rows = np.vstack([theta.W, model.data.W])   # the K + M dot products of a step
    x, out = np.empty(d), np.empty(k + m)
    data_state = initial_rng_state(0)[0].copy()
    fast_state = init_noise_state(initial_rng_state(0)[1].copy())
    sgd, fast, polar = per_step([lambda n: run_sgd(model, theta, EPS, [n * EPS], seed=0, record=(), progress=False),
                                 lambda n: floor(fill_normals, fast_state, rows, x, out, n),
                                 lambda n: floor(fill_normal, data_state, rows, x, out, n)], steps, repeats)
    return dict(K=k, M=m, d=d, steps=steps, sgd_us=sgd * 1e6, floor_us=fast * 1e6, ratio=sgd / fast,
                polar_floor_us=polar * 1e6)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer steps and repeats")
    p.add_argument("--out", type=Path, default=Path("few_neurons_sgd.json"))
    args = p.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    steps, repeats = (5_000, 3) if args.quick else (40_000, 5)
    rows = [measure(k, m, d, steps, repeats) for k, m, d in CASES]
    print(f"{'K':>2} {'M':>2} {'d':>5} {'SGD µs':>8} {'floor µs':>9} {'ratio':>6} {'polar floor µs':>15}")
    for r in rows:
        print(f"{r['K']:>2} {r['M']:>2} {r['d']:>5} {r['sgd_us']:8.2f} {r['floor_us']:9.2f} {r['ratio']:6.2f} "
              f"{r['polar_floor_us']:15.2f}")
    args.out.write_text(json.dumps(dict(cases=rows, steps=steps, repeats=repeats), indent=1))
    return rows


if __name__ == "__main__":
    main()
