"""SGD throughput: the Numba kernel vs a plain NumPy step loop vs PyTorch eager vs JAX (CPU);
noisy vs noiseless SGD, the Gaussian generator, and threads.

One step = draw (y, x), z = W x, ŷ = mean σ(z), W += 2s(y − ŷ) σ'(z) xᵀ (batch 1,
no noise).  All run single-threaded (BLAS and torch threads pinned to 1; JAX, when
installed, runs jit + lax.scan over data drawn before timing, with XLA's intra-op threads
off).
The streaming bound is a kernel that only reads W once (z = W x) and then reads
and writes it once (the update), the traffic of a step done in two passes;
bound_fraction = numba steps/s ÷ bound steps/s. The Numba kernel fuses the
update of step k with the forward pass of step k+1 (W read and written once per
step), so it can beat that bound; one_pass_bound_fraction compares it with a
kernel doing only that single fused pass.

Noise (β = 100, batch 1, float64, one thread): noisy SGD with the vectorised
generator (solvers._normal_rng) vs noiseless SGD, and vs the generator it
replaced (Marsaglia polar on xoshiro256**, kept as ``polar_noise=True``), both
through sgd_block in the same run. Generator: the per-draw cost of
fill_normals (and of the polar baseline) vs numpy's ``standard_normal`` on
buffers of N·d = 32 000 draws (one step's noise at (800, 40)). Threads: run_sgd
with threads=1 vs 2 (noiseless, float64). The machine is shared: the load
average is recorded with the results, as thread scaling needs idle cores.

    python benchmarks/sgd_throughput.py [--quick] [--out PATH]
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from meanfield import IsotropicGaussians, ramp  # noqa: E402
from solvers._normal_rng import fill_normals, init_noise_state  # noqa: E402
from solvers._sgd_kernels import (fill_normal, initial_noise_states, initial_rng_state, sgd_block,  # noqa: E402
                                  streaming_bound_block)
from solvers.initialization import init_gaussian  # noqa: E402
from solvers.sgd import run_sgd  # noqa: E402

HAVE_JAX = importlib.util.find_spec("jax") is not None  # optional comparison only

try:
    import torch
    torch.set_num_threads(1)
except ImportError:  # optional comparison only
    torch = None

CASES = [(800, 40), (10000, 40), (800, 320)]
NOISE_CASES = [(800, 40), (10000, 40), (800, 320)]
THREAD_CASES = [(10000, 40), (100000, 40)]
BETA = 100.0
DRAWS = 32000
DTYPES = ["float64", "float32"]
EPS = 1e-4
KAPPA = 0.8


def best_rate(run, steps, repeats):
    """Best steps/s over ``repeats`` timed calls of run(steps) (after one warm-up call)."""
    run(min(steps, 10))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run(steps)
        best = min(best, time.perf_counter() - start)
    return steps / best


def numba_runner(model, W0, dtype):
    def run(steps):
        run_sgd(model, W0, EPS, [steps * EPS], seed=1, dtype=dtype, record=(), progress=False, threads=1)
    return run


def numpy_runner(model, W0, dtype):
    """The straightforward vectorised NumPy loop (σ, σ' from the model's activation)."""
    sigma, scales = model.activation, model.scales.astype(dtype)

    def run(steps):
        rng = np.random.default_rng(1)
        W = W0.astype(dtype)
        for _ in range(steps):
            y = 1.0 if rng.random() < 0.5 else -1.0
            x = rng.standard_normal(W.shape[1], dtype=dtype) * scales[0 if y > 0 else 1]
            z = W @ x
            residual = y - sigma(z).mean()
            W += (2 * EPS * residual * sigma.derivative(z)).astype(dtype)[:, None] * x[None, :]
    return run


def torch_runner(model, W0, dtype):
    """The same loop in PyTorch eager mode; σ = y₀ + Σ c_i (t − t_i)₊ from kernel_spec."""
    kind, params = model.activation.kernel_spec()
    if kind != 0:
        raise ValueError("torch benchmark implements piecewise-linear σ only")
    tdtype = getattr(torch, dtype)
    offset = float(params[0])
    knots = torch.tensor(params[1::2], dtype=tdtype)
    coefs = torch.tensor(params[2::2], dtype=tdtype)
    scales = [float(s) for s in model.scales]

    def run(steps):
        gen = torch.Generator().manual_seed(1)
        W = torch.tensor(W0, dtype=tdtype)
        with torch.no_grad():
            for _ in range(steps):
                y = 1.0 if torch.rand((), generator=gen).item() < 0.5 else -1.0
                x = torch.randn(W.shape[1], generator=gen, dtype=tdtype) * scales[0 if y > 0 else 1]
                z = W @ x
                shifted = z[:, None] - knots
                yhat = offset + (coefs * shifted.clamp_min(0)).sum(1).mean()
                dsigma = (coefs * (shifted >= 0)).sum(1)
                W.add_(torch.outer(2 * EPS * (y - yhat) * dsigma, x))
    return run


def jax_runner(model, W0, dtype, steps):
    """JAX: the same w-only step in a jitted lax.scan over data drawn before timing (the
    strongest loop a Python user would write); σ = y₀ + Σ c_i (t − t_i)₊ from kernel_spec."""
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    kind, params = model.activation.kernel_spec()
    if kind != 0:
        raise ValueError("jax benchmark implements bounded piecewise-linear σ only")
    offset = float(params[0])
    knots, coefs = jnp.asarray(params[1::2], dtype=dtype), jnp.asarray(params[2::2], dtype=dtype)
    X, y = model.sample(steps, np.random.default_rng(1))
    X, y = jnp.asarray(X, dtype=dtype), jnp.asarray(y, dtype=dtype)

    def step(W, xy):
        x, target = xy
        shifted = (W @ x)[:, None] - knots
        yhat = offset + (coefs * jnp.maximum(shifted, 0)).sum(1).mean()
        dsigma = (coefs * (shifted >= 0)).sum(1)
        return W + jnp.outer(2 * EPS * (target - yhat) * dsigma, x), None

    scan = jax.jit(lambda W, data: jax.lax.scan(step, W, data)[0])
    W0j = jnp.asarray(W0, dtype=dtype)

    def run(count):
        jax.block_until_ready(scan(W0j, (X[:count], y[:count])))
    return run


def bound_runner(W0, dtype, fused):
    x = np.random.default_rng(0).standard_normal(W0.shape[1]).astype(dtype)

    def run(steps):
        streaming_bound_block(np.ascontiguousarray(W0.T, dtype=dtype), x, steps, fused)
    return run


def measure(quick):
    model_cache = {}
    rows = []
    budget = 2e9 if not quick else 2e8  # multiply-adds per timed numba call
    repeats = 3 if not quick else 1
    for n, d in CASES:
        if d not in model_cache:
            model_cache[d] = IsotropicGaussians(delta=0.8, d=d, activation=ramp())
        model = model_cache[d]
        W0 = init_gaussian(n, d, KAPPA, seed=0)
        fast_steps = max(100, int(budget / (n * d)))
        slow_steps = max(20, fast_steps // 50)
        for dtype in DTYPES:
            row = {"N": n, "d": d, "dtype": dtype}
            row["numba_steps_per_s"] = best_rate(numba_runner(model, W0, dtype), fast_steps, repeats)
            row["numpy_steps_per_s"] = best_rate(numpy_runner(model, W0, dtype), slow_steps, repeats)
            row["torch_steps_per_s"] = (best_rate(torch_runner(model, W0, dtype), slow_steps, repeats)
                                        if torch is not None else None)
            jax_steps = min(fast_steps, 20000)
            row["jax_steps_per_s"] = (best_rate(jax_runner(model, W0, dtype, jax_steps), jax_steps, repeats)
                                      if HAVE_JAX else None)
            bound = best_rate(bound_runner(W0, dtype, False), fast_steps, repeats)
            row["bound_steps_per_s"] = bound
            row["bound_fraction"] = row["numba_steps_per_s"] / bound
            one_pass = best_rate(bound_runner(W0, dtype, True), fast_steps, repeats)
            row["one_pass_bound_steps_per_s"] = one_pass
            row["one_pass_bound_fraction"] = row["numba_steps_per_s"] / one_pass
            rows.append(row)
            print_row(row)
    return rows


def kernel_runner(model, W0, beta, polar):
    """sgd_block on a fresh copy (float64, batch 1): noiseless (beta None), or noisy with the
    vectorised generator or the polar baseline."""
    kind, params = model.activation.kernel_spec()
    scales = np.ascontiguousarray(model.scales, dtype=np.float64)
    noisy = beta is not None
    inv_beta = 1.0 / beta if noisy else 0.0

    def run(steps):
        WT = np.ascontiguousarray(W0.T)
        state = initial_rng_state(1)
        noise_states = initial_noise_states(state, W0.shape[0])
        sgd_block(WT, state, noise_states, np.zeros(1, np.int64), np.full(steps, EPS), 1, 0.0, inv_beta, noisy,
                  scales, kind, params, 1e8, polar)
    return run


def measure_noise(quick):
    rows = []
    budget = 2e8 if not quick else 2e7  # noiseless multiply-adds per timed call
    repeats = 3 if not quick else 1
    for n, d in NOISE_CASES:
        model = IsotropicGaussians(delta=0.8, d=d, activation=ramp())
        W0 = init_gaussian(n, d, KAPPA, seed=0)
        steps = max(100, int(budget / (n * d)))
        row = {"N": n, "d": d, "beta": BETA}
        row["noiseless_steps_per_s"] = best_rate(kernel_runner(model, W0, None, False), steps, repeats)
        row["noisy_steps_per_s"] = best_rate(kernel_runner(model, W0, BETA, False), max(20, steps // 10), repeats)
        row["noisy_polar_steps_per_s"] = best_rate(kernel_runner(model, W0, BETA, True), max(20, steps // 50),
                                                   repeats)
        row["noisy_speedup_vs_polar"] = row["noisy_steps_per_s"] / row["noisy_polar_steps_per_s"]
        row["noiseless_over_noisy"] = row["noiseless_steps_per_s"] / row["noisy_steps_per_s"]
        row["noiseless_over_noisy_polar"] = row["noiseless_steps_per_s"] / row["noisy_polar_steps_per_s"]
        rows.append(row)
        print(f"{n:>6} {d:>4} {row['noiseless_steps_per_s']:12.0f} {row['noisy_steps_per_s']:11.0f} "
              f"{row['noisy_polar_steps_per_s']:11.0f} {row['noisy_speedup_vs_polar']:9.1f}x "
              f"{row['noiseless_over_noisy']:10.1f}x {row['noiseless_over_noisy_polar']:10.1f}x", flush=True)
    return rows


def measure_generator(quick):
    """Seconds per draw, best of several fills of a DRAWS buffer."""
    buffer = np.empty(DRAWS)
    fills = 300 if not quick else 30
    repeats = 5 if not quick else 2
    state = init_noise_state(np.random.SeedSequence(1).generate_state(4, np.uint64))
    polar_state = initial_rng_state(1)[1].copy()
    rng = np.random.default_rng(1)

    def timed(fill):
        fill()
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(fills):
                fill()
            best = min(best, time.perf_counter() - start)
        return best / (fills * DRAWS)

    result = {"draws_per_fill": DRAWS,
              "fill_normals_s_per_draw": timed(lambda: fill_normals(state, buffer)),
              "polar_s_per_draw": timed(lambda: fill_normal(polar_state, buffer)),
              "numpy_standard_normal_s_per_draw": timed(lambda: rng.standard_normal(out=buffer))}
    result["fill_normals_over_numpy"] = result["fill_normals_s_per_draw"] / result["numpy_standard_normal_s_per_draw"]
    result["polar_over_numpy"] = result["polar_s_per_draw"] / result["numpy_standard_normal_s_per_draw"]
    print(f"ns/draw: fill_normals {1e9 * result['fill_normals_s_per_draw']:.2f}, polar baseline "
          f"{1e9 * result['polar_s_per_draw']:.2f}, numpy standard_normal "
          f"{1e9 * result['numpy_standard_normal_s_per_draw']:.2f}  (fill_normals / numpy = "
          f"{result['fill_normals_over_numpy']:.2f}, polar / numpy = {result['polar_over_numpy']:.2f})", flush=True)
    return result


def measure_threads(quick):
    rows = []
    budget = 4e8 if not quick else 4e7
    repeats = 3 if not quick else 1
    model = IsotropicGaussians(delta=0.8, d=40, activation=ramp())
    for n, d in THREAD_CASES:
        W0 = init_gaussian(n, d, KAPPA, seed=0)
        steps = max(50, int(budget / (n * d)))
        row = {"N": n, "d": d}
        for threads in (1, 2):
            def run(k, threads=threads):
                run_sgd(model, W0, EPS, [k * EPS], seed=1, record=(), progress=False, threads=threads)
            row[f"threads_{threads}_steps_per_s"] = best_rate(run, steps, repeats)
        row["speedup"] = row["threads_2_steps_per_s"] / row["threads_1_steps_per_s"]
        rows.append(row)
        print(f"{n:>6} {d:>4} {row['threads_1_steps_per_s']:12.0f} {row['threads_2_steps_per_s']:12.0f} "
              f"{row['speedup']:8.2f}x", flush=True)
    return rows


def print_row(row):
    jax_rate = row.get("jax_steps_per_s")
    torch_rate = row["torch_steps_per_s"]
    vs_torch = f"{row['numba_steps_per_s'] / torch_rate:8.1f}x" if torch_rate else "      n/a"
    torch_text = f"{torch_rate:10.0f}" if torch_rate else "       n/a"
    print(f"{row['N']:>6} {row['d']:>4} {row['dtype']:>8} {row['numba_steps_per_s']:12.0f} "
          f"{row['numpy_steps_per_s']:10.0f} {torch_text} "
          f"{row['numba_steps_per_s'] / row['numpy_steps_per_s']:8.1f}x {vs_torch} "
          f"{row['bound_fraction']:7.2f} {row['one_pass_bound_fraction']:8.2f} "
          + (f"{jax_rate:10.0f} {row['numba_steps_per_s'] / jax_rate:7.1f}x" if jax_rate else "       n/a"),
          flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "sgd_throughput.json"))
    parser.add_argument("--quick", action="store_true", help="shorter timings, one repeat")
    args = parser.parse_args(argv)
    print(f"{'N':>6} {'d':>4} {'dtype':>8} {'numba st/s':>12} {'numpy st/s':>10} {'torch st/s':>10} "
          f"{'vs numpy':>9} {'vs torch':>9} {'bound':>7} {'1-pass':>8} {'jax st/s':>10} {'vs jax':>8}")
    rows = measure(args.quick)
    print(f"\nnoisy SGD (beta = {BETA:g}, float64, batch 1, one thread), steps/s")
    print(f"{'N':>6} {'d':>4} {'noiseless':>12} {'noisy':>11} {'noisy polar':>11} {'vs polar':>10} "
          f"{'noiseless/':>11} {'noiseless/':>11}")
    print(f"{'':>6} {'':>4} {'':>12} {'':>11} {'':>11} {'':>10} {'noisy':>11} {'polar':>11}")
    noise_rows = measure_noise(args.quick)
    print()
    generator = measure_generator(args.quick)
    print("\nthreads (noiseless, float64), steps/s")
    print(f"{'N':>6} {'d':>4} {'1 thread':>12} {'2 threads':>12} {'speedup':>9}")
    load_before = os.getloadavg()
    thread_rows = measure_threads(args.quick)
    load_after = os.getloadavg()
    print(f"load average (1, 5, 15 min) before / after the thread runs: {load_before} / {load_after} "
          f"on {os.cpu_count()} CPUs")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"cases": rows, "threads": 1, "noise": noise_rows, "generator": generator,
                               "thread_scaling": thread_rows, "cpu_count": os.cpu_count(),
                               "load_average_before_threads": load_before,
                               "load_average_after_threads": load_after,
                               "torch_version": getattr(torch, "__version__", None)}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
