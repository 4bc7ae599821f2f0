"""Wall time of the flow with particles reaching w = 0 (origin events) against the reference flow.

The issue's case: non-monotone σ (kink at 0), Δ = 0.5, d = 20, κ = 0.4, N = 2000 iid particles
to t = 2 (dopri5 with origin events, the default for this σ), against the reference run (ramp,
Δ = 0.8, d = 40, κ = 0.8, N = 2000, t = 2, dopri5) timed in the same run; both against the
radial PDE (2000 cells): mean radius at t = 0.5, 1, 2 and, for the kinked case, the atom
(fraction of particles with ‖w‖ < 1e-3) against the PDE's first-cell mass at t = 0.5.
Prints a table and writes JSON {"cases": [{"name", "N", "d", "wall_s", "evaluations",
"steps", "mean_radius", "pde_mean_radius", "atom", "pde_first_cell", "drift_s"}],
"wall_ratio": kinked / reference, "drift_ratio", "estimated_ratio"}. The two flows run one
after the other, so a change of machine load between them moves wall_ratio; drift_s is one
drift evaluation at the initial state, both cases timed alternately (best of 3), and
estimated_ratio = (evaluations × drift_s) kinked / reference is the load-robust estimate.

Measured before the long Mehler series for the kinked drift (one run, machine loaded ~5 on
2 cores): reference 111.9 s, 140 drift evaluations, 23 steps; kinked case 494.5 s, 224
evaluations, 36 steps: 4.4× the reference's wall time (1.6× the evaluations, the rest the
d = 20 drift, ≈ 2.8× the d = 40 one per evaluation: 2.1% of its pairs have |c| > ½ and took
the closed form). With the long series (pairs with |c| > ½ on the Mehler series under the
per-pair bound, see ``flow_speed.py --only-routes``), one run on a machine loaded 7–9:
reference 310.7 s, kinked 206.5 s, wall_ratio 0.66 (the load fell between the two runs);
a second run (load 4–5, steady): reference 27.5 s, 140 evaluations, 23 steps; kinked 54.0 s,
224 evaluations, 36 steps: wall_ratio 1.96, one drift evaluation 0.233 s vs 0.177 s (1.32×),
estimated_ratio 2.11. Target ≤ 3×: met. Mean radius against the PDE: kinked 0.3957, 1.7485,
1.9666, 2.0728 vs 0.3950, 1.7484, 1.9668, 2.0733 at t = 0, 0.5, 1, 2 (within 5e-4); atom at
t = 0.5: 0 particles vs a first-cell mass of 4e-4 (within 2/N = 1e-3); the same numbers
before and after the long series. Before the origin events (RK4 step doubling) this case
took 276 s to reach t = 0.1 (the issue).

    python benchmarks/origin_flow.py [--n N] [--out FILE]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from _timing import best_time
from meanfield import IsotropicGaussians, nonmonotone, ramp
from solvers import init_gaussian, run_particle_flow, solve_radial_pde

from _timing import CountingModel

TIMES = [0, 0.5, 1, 2]


def case(name, model, kappa, n):
    counting = CountingModel(model)
    W0 = init_gaussian(n, model.d, kappa, seed=0)
    start = time.perf_counter()
    flow = run_particle_flow(counting, W0, times=TIMES)
    wall = time.perf_counter() - start
    pde = solve_radial_pde(model, kappa=kappa, times=TIMES, cells=2000)
    out = dict(name=name, N=n, d=model.d, wall_s=wall, evaluations=counting.calls, steps=flow.steps,
               mean_radius=flow.radii.mean(axis=1).tolist(),
               pde_mean_radius=[pde.mean_radius(k) for k in range(len(TIMES))],
               atom=float(np.mean(flow.radii[1] < 1e-3)), pde_first_cell=float(pde.mass[1, 0]))
    print(f"{name:>10} N={n} d={model.d}: {wall:8.1f} s, {counting.calls} drift evaluations, {flow.steps} steps; "
          f"mean r {np.round(out['mean_radius'], 4).tolist()} vs PDE {np.round(out['pde_mean_radius'], 4).tolist()}; "
          f"atom {out['atom']:.4f} vs first cell {out['pde_first_cell']:.4f}", flush=True)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "origin_flow.json")
    args = parser.parse_args(argv)
    models = (IsotropicGaussians(0.8, 40, ramp()), IsotropicGaussians(0.5, 20, nonmonotone()))
    ref = case("reference", models[0], 0.8, args.n)
    kink = case("kinked", models[1], 0.4, args.n)
    ratio = kink["wall_s"] / ref["wall_s"]
    starts = [init_gaussian(args.n, m.d, kappa, seed=0) for m, kappa in zip(models, (0.8, 0.4))]
    drift = [np.inf, np.inf]
    for _ in range(3):  # alternately, so that both see the same load
        for k, (m, W) in enumerate(zip(models, starts)):
            drift[k] = min(drift[k], best_time(lambda: m.potential_gradient(W), 1))
    ref["drift_s"], kink["drift_s"] = drift
    estimate = kink["evaluations"] * drift[1] / (ref["evaluations"] * drift[0])
    print(f"wall time kinked / reference: {ratio:.2f}; one drift evaluation {drift[1]:.3f} s vs {drift[0]:.3f} s "
          f"({drift[1] / drift[0]:.2f}x); evaluations x drift: {estimate:.2f} (target <= 3)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"cases": [ref, kink], "wall_ratio": ratio, "drift_ratio": drift[1] / drift[0],
                                    "estimated_ratio": estimate}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
