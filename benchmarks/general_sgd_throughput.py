"""The general SGD kernel (any data law × trained set × activation) against the isotropic
w-only kernel, the raw kernel call, and JAX (jit + lax.scan), all in the same run.

Ratios reported (each a ratio of best-of-`repeats` step rates, one thread, float64):
* ``driver_vs_raw_kernel``: run_sgd on the reference case (isotropic, w only, ramp,
  (N, d) = (800, 40)) ÷ the isotropic kernel called directly (what the driver adds; ≥ 0.9).
* ``anisotropic_awb_relu_vs_isotropic_w``: step time of the anisotropic mixture with (a, w, b)
  trained and ReLU ÷ the isotropic w-only step at the same (N, d) = (800, 320) (≤ 1.5).
* ``arrays_vs_mixture``: ArrayData with 60 000 × 40 samples ÷ the mixture path at (800, 40),
  both (a, w, b) with ReLU (step rates; ≥ 0.5).
* ``vs_jax``: this package ÷ JAX for the same update and data law with the data drawn
  before timing (≥ 2), when jax is installed.
* compile times: the first run_sgd call of one combination in a fresh process with an empty
  Numba cache (cold) and with the cache from that run (warm).
The process is pinned to one core (Linux), so that no column uses a second thread.

    python benchmarks/general_sgd_throughput.py [--quick] [--out PATH]
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from _timing import best_rate  # noqa: E402

from meanfield import (ArrayData, GaussianMixture, IsotropicGaussians, MeanFieldModel, TwoLayerNetwork,  # noqa: E402
                       ramp, relu)
from solvers import run_sgd  # noqa: E402

EPS = 1e-4
SEED = 1


def sgd_runner(model, theta):
    def run(steps):
        run_sgd(model, theta, EPS, [steps * EPS], seed=SEED, record=(), progress=False)
    return run


def raw_isotropic_runner(model, W0):
    """The isotropic kernel called directly: the cost of a step without the driver."""
    from solvers._sgd_kernels import initial_noise_states, initial_rng_state, sgd_block
    spec = model.sgd_spec()

    def run(steps):
        WT = np.ascontiguousarray(W0.T)
        state = initial_rng_state(SEED)
        sgd_block(WT, state, initial_noise_states(state, W0.shape[0]), np.zeros(1, np.int64), np.full(steps, EPS),
                  1, 0.0, 0.0, False, spec.isotropic_scales, spec.act_kind, spec.act_params, 1e8)
    return run


def jax_runner(model, theta, steps):
    """JAX: the same (a, w, b) ReLU update in a jitted lax.scan over pre-drawn data."""
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    X, y = model.sample(steps, rng=np.random.default_rng(0))
    X, y = jnp.asarray(X), jnp.asarray(y)
    n = theta.n

    def step(carry, xy):
        a, W, b = carry
        x, target = xy
        z = W @ x + b
        values = jnp.maximum(z, 0.0)
        slopes = (z >= 0).astype(z.dtype)
        err = 2.0 * EPS * (target - jnp.dot(a, values) / n)
        g = err * a * slopes
        return (a + err * values, W + g[:, None] * x[None, :], b + g), None

    scan = jax.jit(lambda carry, data: jax.lax.scan(step, carry, data)[0])
    carry = tuple(jnp.asarray(v) for v in (theta.a, theta.W, theta.b))

    def run(count):
        out = scan(carry, (X[:count], y[:count]))
        jax.block_until_ready(out)
    return run


COMPILE_SNIPPET = """
import time, numpy as np
t0 = time.perf_counter()
from meanfield import GaussianMixture, MeanFieldModel, TwoLayerNetwork, relu
from solvers import run_sgd
t1 = time.perf_counter()
model = MeanFieldModel(GaussianMixture.anisotropic(delta=0.5, d=20, s0=5), TwoLayerNetwork(relu(), train=("a", "w", "b")))
theta = model.init(50, seed=0)
run_sgd(model, theta, 1e-3, [0.01], seed=0, record=(), progress=False)
print(time.perf_counter() - t1)
"""


def compile_times():
    """First run_sgd call (import excluded) in a fresh process: empty Numba cache, then warm."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        out = []
        for _ in range(2):
            res = subprocess.run([sys.executable, "-c", COMPILE_SNIPPET], env=env, capture_output=True, text=True,
                                 check=True)
            out.append(float(res.stdout.strip().splitlines()[-1]))
    return {"cold_first_call_s": out[0], "warm_first_call_s": out[1]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer steps and repeats")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "general_sgd_throughput.json"))
    args = parser.parse_args(argv)
    steps, repeats = (2000, 2) if args.quick else (20000, 5)
    if hasattr(os, "sched_setaffinity"):  # one core for every column (JAX/XLA would use both)
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    rows = {}
    # reference case: driver vs raw kernel
    ref = IsotropicGaussians(0.8, 40, ramp())
    W0 = np.random.default_rng(0).standard_normal((800, 40)) * (0.8 / np.sqrt(40))
    rows["reference_driver"] = best_rate(sgd_runner(ref, W0), steps, repeats)
    rows["reference_raw_kernel"] = best_rate(raw_isotropic_runner(ref, W0), steps, repeats)

    awb = TwoLayerNetwork(relu(), train=("a", "w", "b"))
    aniso = MeanFieldModel(GaussianMixture.anisotropic(delta=0.5, d=320, s0=60), awb)
    theta320 = aniso.init(800, kappa=0.8, seed=0)
    iso320 = IsotropicGaussians(0.8, 320, ramp())
    rows["anisotropic_awb_relu_800x320"] = best_rate(sgd_runner(aniso, theta320), steps // 4, repeats)
    rows["isotropic_w_ramp_800x320"] = best_rate(sgd_runner(iso320, theta320.W), steps // 4, repeats)

    mixture = MeanFieldModel(GaussianMixture.anisotropic(delta=0.5, d=40, s0=10), awb)
    theta40 = mixture.init(800, kappa=0.8, seed=0)
    X, y = mixture.sample(60000, rng=np.random.default_rng(1))
    arrays = MeanFieldModel(ArrayData(X, y), awb)
    rows["mixture_awb_relu_800x40"] = best_rate(sgd_runner(mixture, theta40), steps, repeats)
    rows["arrays_60000x40_awb_relu_800x40"] = best_rate(sgd_runner(arrays, theta40), steps, repeats)

    ratios = {
        "driver_vs_raw_kernel": rows["reference_driver"] / rows["reference_raw_kernel"],
        "anisotropic_awb_relu_vs_isotropic_w_step_time":
            rows["isotropic_w_ramp_800x320"] / rows["anisotropic_awb_relu_800x320"],
        "arrays_vs_mixture": rows["arrays_60000x40_awb_relu_800x40"] / rows["mixture_awb_relu_800x40"],
    }
    if importlib.util.find_spec("jax") is not None:  # optional baseline
        rows["jax_awb_relu_800x40"] = best_rate(jax_runner(mixture, theta40, steps), steps, repeats)
        rows["jax_awb_relu_800x320"] = best_rate(jax_runner(aniso, theta320, steps // 4), steps // 4, repeats)
        ratios["vs_jax_800x40"] = rows["mixture_awb_relu_800x40"] / rows["jax_awb_relu_800x40"]
        ratios["vs_jax_800x320"] = rows["anisotropic_awb_relu_800x320"] / rows["jax_awb_relu_800x320"]
    compile_s = compile_times()

    targets = {"driver_vs_raw_kernel": (">=", 0.9), "anisotropic_awb_relu_vs_isotropic_w_step_time": ("<=", 1.5),
               "arrays_vs_mixture": (">=", 0.5), "vs_jax_800x40": (">=", 2.0), "vs_jax_800x320": (">=", 2.0)}
    print(f"{'case':40s} {'steps/s':>12s}")
    for name, rate in rows.items():
        print(f"{name:40s} {rate:12.4g}")
    print()
    met = {}
    for name, value in ratios.items():
        op, target = targets[name]
        met[name] = value >= target if op == ">=" else value <= target
        print(f"{name:48s} {value:7.3f}  (target {op} {target}: {'met' if met[name] else 'MISSED'})")
    print(f"compile: cold first call {compile_s['cold_first_call_s']:.1f} s, "
          f"warm first call {compile_s['warm_first_call_s']:.2f} s (target cold <= 10 s)")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"steps_per_second": rows, "ratios": ratios, "targets_met": met,
                               "compile": compile_s, "quick": args.quick, "eps": EPS, "threads": 1}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
