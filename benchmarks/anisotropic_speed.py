"""Speed/accuracy of the anisotropic Gaussians solvers.

A. The (r₁, r₂) finite-volume solver (w-only, ramp σ, Δ = 0.8, d = 12, s0 = 4, K = 20, κ = 0.8,
   domain [0, 4] × [0, 3.2], t = 0.5): for n × n cells, second-order CCH (MC limiter) against
   the first-order upwind baseline (zero slopes) in the same run, both against a 192 × 192 MC
   reference: wall time (best of several), the exact W2 of the r₁ and r₂ marginals (1-D
   quantile formula for piecewise-constant densities) and the L1 error of the masses
   restricted to the coarse grid; accuracy per second = 1/(error · time).
B. The reduced Lagrangian solver's cost per RK4 step vs M (ReLU, a, w, b trained, K = 24) at
   (d, s0) = (40, 8) and (320, 60), per particle, against the full-dimensional exact ∇Ψ of
   :class:`meanfield.MeanFieldModel` for N neurons (the O(N² d) pair pass the reduction avoids),
   timed in the same run.

    python benchmarks/anisotropic_speed.py [--quick] [--out benchmarks/results/anisotropic_speed.json]

Measured (2-core machine shared with other jobs, load ≈ 10; ratios are what carries over):
  A. cells  MC wall  MC W2    upwind wall  upwind W2   W2 ratio  accuracy/s ratio
     24²    0.023 s  7.3e-2   0.023 s      1.5e-1      2.1       2.1
     48²    0.29 s   1.7e-2   0.39 s       8.8e-2      5.3       7.1
     96²    3.8 s    3.4e-3   5.5 s        4.9e-2      14.4      20.7
     (W2 = the larger of the r₁, r₂ marginal W2 to the 192² reference at t = 0.5; MC error
     falls ×4.5–4.9 per halving of Δr, upwind ×1.7–1.8.)
  B. reduced RK4 step: 98, 90, 103 µs/particle at M = 1e3, 1e4, 1e5 (d = 40, s0 = 8) and 72,
     68, 81 µs at (320, 60): linear in M (10 s a step at M = 1e5). The full-dimensional exact
     ∇Ψ costs 6.9, 14.4, 25.7 ms/particle a step at N = 500, 1000, 2000 (d = 40) and 11.7, 22.0, 35.6 ms
     at N = 500, 1000, 2000 (d = 320): quadratic; at N = M = 1000 the reduction is ≈ 150× (d = 40)
     and ≈ 300× (d = 320) cheaper.
"""
import argparse
import json
import os
import platform
import time

import numpy as np

from meanfield import AnisotropicGaussians, ramp, relu
from solvers.anisotropic_pde import solve_anisotropic_pde
from solvers.radial_pde import w2_grids
from solvers.reduced_lagrangian import solve_reduced_lagrangian

try:
    from _timing import best_time
except ImportError:  # run as a module
    from benchmarks._timing import best_time

R = (4.0, 3.2)
T = 0.5
OUTER_TOL = 1e-6  # upwind's numerical diffusion feeds the outer cells faster than the MC scheme


def restrict(m, f):
    n1, n2 = m.shape
    return m.reshape(n1 // f, f, n2 // f, f).sum(axis=(1, 3))


def part_a(quick):
    model = AnisotropicGaussians(0.8, 12, 4, ramp(), train=("w",), kmax=20)
    n_ref = 96 if quick else 192
    ref = solve_anisotropic_pde(model, times=[0, T], cells=n_ref, r_max=R, progress=False, outer_tol=OUTER_TOL)
    if ref.status != "finished":
        raise RuntimeError(f"reference: {ref.message}")
    rows = []
    for n in ([24, 48] if quick else [24, 48, 96]):
        for limiter in ("mc", "upwind"):
            sol = None

            def run():
                nonlocal sol
                sol = solve_anisotropic_pde(model, times=[0, T], cells=n, r_max=R, limiter=limiter, progress=False,
                                            outer_tol=OUTER_TOL)
                if sol.status != "finished":
                    raise RuntimeError(f"{n}² {limiter}: {sol.message}")
            wall = best_time(run, repeats=2 if n >= 96 else 3)
            m, mref = sol.mass[-1], ref.mass[-1]
            w2_r1 = w2_grids(sol.edges1, m.sum(1), ref.edges1, mref.sum(1))
            w2_r2 = w2_grids(sol.edges2, m.sum(0), ref.edges2, mref.sum(0))
            l1 = float(np.abs(m - restrict(mref, n_ref // n)).sum())
            rows.append(dict(cells=n, limiter=limiter, wall_s=wall, steps=sol.steps, w2_r1=w2_r1, w2_r2=w2_r2,
                             l1=l1, accuracy_per_second=1.0 / (max(w2_r1, w2_r2) * wall)))
            print(f"  FV {n:4d}² {limiter:>6}: {wall:7.3f} s  W2(r1) {w2_r1:.2e}  W2(r2) {w2_r2:.2e}  L1 {l1:.2e}",
                  flush=True)
    return dict(reference_cells=n_ref, t=T, rows=rows)


def part_b(quick):
    rows = []
    for d, s0 in ((40, 8), (320, 60)):
        model = AnisotropicGaussians(0.5, d, s0, relu(), kmax=24)
        full = model.full_model()
        for M in ([1000, 10000] if quick else [1000, 10000, 100000]):
            X = model.init(M, kappa=0.8, seed=0)
            wall = best_time(lambda: solve_reduced_lagrangian(model, X, times=[0, 0.05], dt=0.05, progress=False),
                             repeats=2 if M >= 100000 else 3)
            rows.append(dict(d=d, s0=s0, kind="reduced RK4 step", n=M, wall_s=wall, per_particle_us=1e6 * wall / M))
            print(f"  reduced d={d} s0={s0} M={M:6d}: {wall:8.4f} s / RK4 step ({1e6 * wall / M:.2f} µs/particle)",
                  flush=True)
        for N in ([500, 1000] if quick else [500, 1000, 2000]):
            theta = full.init(N, kappa=0.8, seed=0)
            wall = 4 * best_time(lambda: full.potential_gradient(theta), repeats=2)  # 4 stages of an RK4 step
            rows.append(dict(d=d, s0=s0, kind="full exact ∇Ψ ×4", n=N, wall_s=wall, per_particle_us=1e6 * wall / N))
            print(f"  full    d={d} s0={s0} N={N:6d}: {wall:8.4f} s / RK4 step ({1e6 * wall / N:.2f} µs/particle)",
                  flush=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller grids and M")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "anisotropic_speed.json"))
    args = parser.parse_args(argv)
    # compile the kernels once, untimed
    solve_anisotropic_pde(AnisotropicGaussians(0.8, 12, 4, ramp(), train=("w",), kmax=4), times=[0, 0.01],
                          cells=8, r_max=R, progress=False)
    print("A. (r1, r2) finite volumes: MC (second order) vs upwind (first order)")
    a = part_a(args.quick)
    by = {(r["cells"], r["limiter"]): r for r in a["rows"]}
    print(f"\n{'cells':>6} {'MC s':>8} {'MC W2':>9} {'upw s':>8} {'upw W2':>9} {'W2 ratio':>9} {'acc/s ratio':>11}")
    for n in sorted({r["cells"] for r in a["rows"]}):
        mc, up = by[(n, "mc")], by[(n, "upwind")]
        e_mc, e_up = max(mc["w2_r1"], mc["w2_r2"]), max(up["w2_r1"], up["w2_r2"])
        print(f"{n:6d} {mc['wall_s']:8.3f} {e_mc:9.2e} {up['wall_s']:8.3f} {e_up:9.2e} {e_up / e_mc:9.1f} "
              f"{mc['accuracy_per_second'] / up['accuracy_per_second']:11.1f}")
    print("\nB. reduced Lagrangian cost per RK4 step vs M (and the full-dimensional exact ∇Ψ)")
    b = part_b(args.quick)
    out = dict(machine=platform.platform(), quick=args.quick, fv=a, lagrangian=b, timestamp=time.time())
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(out, fh, indent=1)
    print(f"\nwritten {args.out}")


if __name__ == "__main__":
    main()
