"""Error decomposition of SGD: particle count N against step size ε, with the
deterministic particle flow (exact population gradient, no sampling, no step) in between.

From the same initial particles W0 (rows iid N(0, κ²/d I_d)) at time t:

    W2(SGD, PDE)    the total error of SGD,
    W2(flow, PDE)   the particle-count error alone,
    W2(SGD, flow)   the step-size error alone (SGD's bias and sampling noise),

all 1-D W2 distances between radial laws (against the PDE: the exact quantile
integral of the finite-volume density; particles against particles: POT's
wasserstein_1d), plus the coupled distance rms_i ‖θ_i^SGD − θ_i^flow‖ (same
initial particles, so the i-th particles correspond). Two sweeps: against N at
fixed ε, and against ε at fixed N. Prints a summary, writes JSON and a two-panel
figure (one plot against N, one against ε) next to it.

    python benchmarks/error_decomposition.py --quick          # ~15 s
    python benchmarks/error_decomposition.py                  # N = 200…6400, ε = 1e-3…1e-5, 4 seeds (~2.5 min)

Measured (defaults: ramp, Δ = 0.8, d = 40, κ = 0.8, t = 0.5, 4 seeds):
* against N at ε = 1e-4: W2(flow, PDE) falls like N^{-1/2} (slope −0.50 [−0.56, −0.43];
  0.0068 at N = 200, 0.0013 at 6400) while W2(SGD, PDE) ≈ W2(SGD, flow) ≈ 0.011 stay
  flat (slopes −0.04, −0.05): at this ε SGD's error is its step-size error at every N.
* against ε at N = 3200: W2(SGD, flow) grows like ε (slope +0.99 [0.91, 1.07]; 0.0015 at
  1e-5, 0.137 at 1e-3), W2(flow, PDE) = 0.0015 is the N error, and W2(SGD, PDE) follows
  the larger of the two. The coupled distance rms ‖θ_SGD − θ_flow‖ grows like √ε
  (slope +0.48): each particle carries an O(√ε) fluctuation (the theorem's rate), but
  these average out in the law, whose error is an O(ε) bias.

Slopes: OLS of log error on log N (or log ε) over all (value, seed) points, 95% CI
from the t-distribution.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _sweep  # noqa: E402

from meanfield.wasserstein import w2_empirical_1d, w2_radial  # noqa: E402
from solvers import init_gaussian, model_from_spec, run_particle_flow, run_sgd  # noqa: E402
from solvers.sweep import radial_pde_reference  # noqa: E402

METRICS = {
    "sgd_pde": "W2(SGD, PDE)",
    "flow_pde": "W2(flow, PDE)",
    "sgd_flow": "W2(SGD, flow)",
    "coupled_rms": "rms ‖θ_SGD − θ_flow‖",
}


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    pos_int, pos_float = _sweep.positive_int, _sweep.positive_float
    p.add_argument("--time", type=pos_float, default=0.5, help="comparison time t")
    p.add_argument("--n-values", type=pos_int, nargs="+", default=None,
                   help="N of the N sweep (default 200 400 … 6400; quick 200 … 1600)")
    p.add_argument("--eps", type=pos_float, default=1e-4, help="SGD step size of the N sweep")
    p.add_argument("--eps-values", type=pos_float, nargs="+", default=None,
                   help="ε of the ε sweep (default 1e-3 3e-4 1e-4 3e-5 1e-5; quick 1e-3 1e-4 1e-5)")
    p.add_argument("--n", type=pos_int, default=None, help="N of the ε sweep (default 3200, quick 800)")
    p.add_argument("--seeds", type=pos_int, default=None, help="seeds per point (default 4, quick 2)")
    p.add_argument("--cells", type=pos_int, default=None, help="PDE cells (default 4000, quick 1000)")
    p.add_argument("--quick", action="store_true", help="small fast sweep")
    p.add_argument("--out", type=Path, default=_sweep.DEFAULT_RESULTS / "error_decomposition.json")
    p.add_argument("--no-plot", action="store_true", help="skip the PNG next to the JSON")
    _sweep.add_model_arguments(p)
    return p


def one_run(model, reference, flow_cache, N, eps, seed, params):
    """The four distances at params['time'] for one (N, ε, seed); the flow is cached per (N, seed)."""
    t = params["time"]
    W0 = init_gaussian(N, params["d"], params["kappa"], seed)
    if (N, seed) not in flow_cache:
        flow_cache[(N, seed)] = run_particle_flow(model, W0, [t], dt=_sweep.FLOW_DT, record=("radii", "weights"),
                                                  progress=False)
    flow = flow_cache[(N, seed)]
    sgd = run_sgd(model, W0, eps, [t], seed=seed, record=("radii", "weights"), progress=False)
    dens, edges = reference["density"][0], reference["edges"]
    gap = sgd.weights[-1] - flow.weights[-1]
    return {"N": N, "eps": eps, "seed": seed,
            "sgd_pde": w2_radial(sgd.radii[-1], dens, edges),
            "flow_pde": w2_radial(flow.radii[-1], dens, edges),
            "sgd_flow": float(w2_empirical_1d(sgd.radii[-1], flow.radii[-1])),
            "coupled_rms": float(math.sqrt(np.mean(np.sum(gap * gap, axis=1))))}


def summarise(runs, sweep):
    """Mean, std and log–log slope of every metric against ``sweep`` ("N" or "eps")."""
    values = sorted({r[sweep] for r in runs})
    out = {sweep: values}
    for key in METRICS:
        out[key + "_mean"], out[key + "_std"] = _sweep.mean_std(runs, sweep, values, lambda r: r[key])
        out[key + "_slope"], out[key + "_slope_ci"], out[key + "_intercept"] = \
            _sweep.fit_results(runs, sweep, lambda r: r[key])
    return out


def plot(summary, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4))
    panels = [("by_N", "N", "N (particles)", f"against N (ε = {summary['by_N']['eps']:g})"),
              ("by_eps", "eps", "ε (SGD step size)", f"against ε (N = {summary['by_eps']['N']})")]
    for ax, (block, key, xlabel, title) in zip(axes, panels):
        data = summary[block]
        x = np.asarray(data[key], float)
        for metric, fmt in zip(METRICS, ("o-", "s-", "^-", "x--")):
            slope = data[metric + "_slope"]
            ax.errorbar(x, data[metric + "_mean"], yerr=data[metric + "_std"], fmt=fmt, ms=4, capsize=2,
                        label=f"{METRICS[metric]} (slope {slope:+.2f})")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(x, [f"{v:g}" for v in x])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel(xlabel)
        ax.set_ylabel(f"distance at t = {summary['time']:g}")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    _sweep.check_model_arguments(parser, args)
    n_values = sorted(set(args.n_values or ([200, 400, 800, 1600] if args.quick
                                            else [200, 400, 800, 1600, 3200, 6400])))
    eps_values = sorted(set(args.eps_values or ([1e-3, 1e-4, 1e-5] if args.quick
                                                else [1e-3, 3e-4, 1e-4, 3e-5, 1e-5])))
    if len(n_values) < 3 or len(eps_values) < 3:
        parser.error("need at least 3 values of N and of ε to fit slopes")
    n_fixed = args.n or (800 if args.quick else 3200)
    seeds = args.seeds or (2 if args.quick else 4)
    params = dict(delta=args.delta, d=args.d, kappa=args.kappa, activation=args.activation,
                  times=[args.time], cells=args.cells or (1000 if args.quick else 4000), time=args.time)
    start = time.perf_counter()
    spec = _sweep.model_spec(args)
    model = model_from_spec(spec)
    reference = radial_pde_reference(spec, args.kappa, params["times"], params["cells"])
    flow_cache = {}
    by_n, by_eps = [], []
    for seed in range(seeds):
        for N in n_values:
            by_n.append(one_run(model, reference, flow_cache, N, args.eps, seed, params))
            print(f"N = {N:6d}  ε = {args.eps:g}  seed {seed}: "
                  + "  ".join(f"{k} {by_n[-1][k]:.4g}" for k in METRICS), file=sys.stderr, flush=True)
        for eps in eps_values:
            by_eps.append(one_run(model, reference, flow_cache, n_fixed, eps, seed, params))
            print(f"N = {n_fixed:6d}  ε = {eps:g}  seed {seed}: "
                  + "  ".join(f"{k} {by_eps[-1][k]:.4g}" for k in METRICS), file=sys.stderr, flush=True)
        flow_cache.clear()  # flows of one seed are not needed by the next
    summary = dict(time=args.time, seeds=seeds, delta=args.delta, d=args.d, kappa=args.kappa,
                   activation=args.activation, cells=params["cells"], flow_dt=_sweep.FLOW_DT, quick=args.quick,
                   by_N=dict(summarise(by_n, "N"), eps=args.eps), by_eps=dict(summarise(by_eps, "eps"), N=n_fixed),
                   fit="OLS of log(distance) on log(N or ε) over all (value, seed) points; 95% CI (t-distribution)",
                   wall_time=time.perf_counter() - start, runs=by_n + by_eps)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=1))
    if not args.no_plot:
        plot(summary, args.out.with_suffix(".png"))
    for block, key in (("by_N", "N"), ("by_eps", "eps")):
        data = summary[block]
        print(f"against {key}: " + ", ".join(
            f"{METRICS[m]} slope {data[m + '_slope']:+.3f} [{data[m + '_slope_ci'][0]:+.3f}, "
            f"{data[m + '_slope_ci'][1]:+.3f}]" for m in METRICS))
    print(f"wrote {args.out}", file=sys.stderr)
    return summary


if __name__ == "__main__":
    main()
