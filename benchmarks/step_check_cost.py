"""Cost of the step-doubling accuracy check of the fixed-step integrators (``accuracy_tol``).

Each solver on the reference run (ramp σ, Δ = 0.8, d = 40, κ = 0.8; the anisotropic example
with d = 12, s0 = 4 for the reduced particles) with the default ``accuracy_tol`` against the
same call with ``accuracy_tol=None``, timed alternately (best of ``--repeats``, after a warm-up)
in the same run: the wall-time ratio, and for the flow the ratio of drift evaluations (exact,
noise free). Target: ≤ 1.15.

    python benchmarks/step_check_cost.py [--quick] [--out benchmarks/results/step_check_cost.json]
"""
import argparse
import json
import os
import platform
import time

import numpy as np

from meanfield import AnisotropicGaussians, IsotropicGaussians, ramp
from solvers import init_gaussian, run_particle_flow, solve_radial_lagrangian, solve_reduced_lagrangian

from _timing import CountingModel

TARGET_RATIO = 1.15


def alternate(fn_off, fn_on, repeats):
    """Best wall times of fn_off() and fn_on(), timed alternately after one warm-up call each."""
    fn_off()
    fn_on()
    best = [np.inf, np.inf]
    for _ in range(repeats):
        for k, fn in enumerate((fn_off, fn_on)):
            start = time.perf_counter()
            fn()
            best[k] = min(best[k], time.perf_counter() - start)
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs, 3 repeats")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "step_check_cost.json"))
    args = parser.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 5)
    scale = 0.5 if args.quick else 1.0

    iso = IsotropicGaussians(0.8, 40, ramp())
    aniso = AnisotropicGaussians(0.8, 12, 4, ramp(), kmax=8)
    W0 = init_gaussian(int(200 * scale), 40, 0.8, seed=0)
    X0 = aniso.init(int(2000 * scale), 0.8, seed=0)
    cases = {
        "flow RK4 (N=200, dt=0.02, t=1)": lambda tol: run_particle_flow(
            iso, W0, [1.0], method="rk4", dt=0.02, check_energy=False, progress=False, accuracy_tol=tol),
        "flow Euler-Maruyama (N=200, β=30, default dt, t=0.2)": lambda tol: run_particle_flow(
            iso, W0, [0.2], beta=30.0, progress=False, accuracy_tol=tol),
        "radial Lagrangian (n=2000, dt=0.01, t=2)": lambda tol: solve_radial_lagrangian(
            iso, n=int(2000 * scale), dt=0.01, times=[0, 2], progress=False, accuracy_tol=tol),
        "reduced Lagrangian (M=2000, dt=0.01, t=1)": lambda tol: solve_reduced_lagrangian(
            aniso, X0, [0, 1], dt=0.01, progress=False, accuracy_tol=tol),
    }
    rows = []
    print(f"{'solver':<55} {'off [s]':>8} {'on [s]':>8} {'ratio':>6} {'drifts':>7}")
    for name, run in cases.items():
        off, on = alternate(lambda: run(None), lambda: run(1e-2), repeats)
        drift_ratio = None
        if name.startswith("flow"):
            counts = []
            for tol in (None, 1e-2):
                counting = CountingModel(iso)
                kwargs = dict(method="rk4", dt=0.02, check_energy=False) if "RK4" in name else dict(beta=30.0)
                run_particle_flow(counting, W0, [1.0 if "RK4" in name else 0.2], progress=False, accuracy_tol=tol,
                                  **kwargs)
                counts.append(counting.calls)
            drift_ratio = counts[1] / counts[0]
        rows.append(dict(solver=name, off_s=off, on_s=on, ratio=on / off, drift_ratio=drift_ratio))
        drifts = f"{drift_ratio:7.3f}" if drift_ratio is not None else f"{'-':>7}"
        print(f"{name:<55} {off:8.3f} {on:8.3f} {on / off:6.3f} {drifts}", flush=True)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump({"rows": rows, "target_ratio": TARGET_RATIO, "repeats": repeats, "quick": args.quick,
                   "machine": platform.platform(), "cpus": os.cpu_count()}, fh, indent=2)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
