"""Command-line helpers of the convergence benchmarks (particle count, step size).

The tasks and their execution live in the package (:mod:`solvers.sweep`): one
:class:`~solvers.SweepTask` per (N, ε, seed), run by :func:`solvers.run_sweep` on
local worker processes or a Dask scheduler (``--scheduler ADDRESS``), each record
saved in ``--task-dir`` as it completes (rerun the same command to resume). Nothing
here is sent to a worker.

Here: the argument parsing, the log–log slope fit with its confidence interval,
the JSON summary and the plot.
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

# the package of this checkout first (before an installed copy): the benchmark measures this code
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from solvers import SweepTask, run_sweep  # noqa: E402

#: The activations of the command line, as plain-data specs (see solvers.sweep.model_from_spec).
ACTIVATIONS = {
    "ramp": {"kind": "piecewise_linear", "knots": [0.5, 1.5], "values": [-2.5, 7.5]},
    "nonmonotone": {"kind": "piecewise_linear", "knots": [0.0, 0.5, 1.5], "values": [-2.5, -4.0, 7.5]},
}
DYNAMICS = ("flow", "sgd")
DEFAULT_RESULTS = Path(__file__).resolve().parent / "results"

#: Time step of the deterministic flow (RK4: its time error ~ dt⁴ is far below the N error).
FLOW_DT = 0.05


def model_spec(args):
    """The isotropic Gaussians model of the command line, as a plain-data spec."""
    return {"kind": "isotropic_gaussians", "delta": args.delta, "d": args.d,
            "activation": ACTIVATIONS[args.activation]}


def make_task(params, N, eps, seed):
    """The :class:`SweepTask` of one particle run of the sweep described by ``params``."""
    return SweepTask(model=params["model"], N=N, seed=seed, times=params["times"], dynamics=params["dynamics"],
                     eps=eps, dt=FLOW_DT if params["dynamics"] == "flow" else None, kappa=params["kappa"],
                     reference={"cells": params["cells"], "iid_draws": params["iid_draws"]})


# ----------------------------------------------------------------- statistics
def fit_loglog(x, y, level=0.95):
    """OLS of log y on log x over all points; returns (slope, [lo, hi], intercept).

    The interval is slope ± t_{n−2, (1+level)/2} · SE(slope) (points treated as
    independent; with several seeds per x this uses the seed scatter as the noise)."""
    from scipy import stats

    lx, ly = np.log(np.asarray(x, float)), np.log(np.asarray(y, float))
    res = stats.linregress(lx, ly)
    half = stats.t.ppf(0.5 + level / 2, lx.size - 2) * res.stderr if lx.size > 2 else math.inf
    return float(res.slope), [float(res.slope - half), float(res.slope + half)], float(res.intercept)


def mean_std(results, sweep, values, get):
    """Per value v of ``sweep``: mean and sample std (0 for one seed) of get(r) over the
    results with r[sweep] == v."""
    groups = [[get(r) for r in results if r[sweep] == v] for v in values]
    return ([float(np.mean(g)) for g in groups],
            [float(np.std(g, ddof=1)) if len(g) > 1 else 0.0 for g in groups])


def fit_results(results, sweep, get):
    """:func:`fit_loglog` of get(r) against r[sweep] over the results with get(r) > 0."""
    return fit_loglog(*zip(*[(r[sweep], get(r)) for r in results if get(r) > 0]))


def summarize(results, sweep, params, fit_time):
    """Aggregate task results over seeds per value of ``sweep`` ("N" or "eps") and
    fit log–log slopes of w2, w1, risk_err at every time; top level = ``fit_time``."""
    times = list(params["times"])
    values = sorted({r[sweep] for r in results})
    by_time = {}
    for k, t in enumerate(times):
        entry = {sweep: values}
        for key in ("w2", "w1", "risk_err", "iid_w2", "iid_w1"):
            entry[key + "_mean"], entry[key + "_std"] = mean_std(results, sweep, values, lambda r: r[key][k])
        for key in ("w2", "w1", "risk_err", "iid_w2"):
            s, ci, c = fit_results(results, sweep, lambda r: r[key][k])
            prefix = "" if key == "w2" else key + "_"
            entry[prefix + "slope"], entry[prefix + "slope_ci"], entry[prefix + "intercept"] = s, ci, c
        by_time[f"{t:g}"] = entry
    top = dict(by_time[f"{fit_time:g}"])
    top.update(time=fit_time, times=times, by_time=by_time,
               fit="OLS of log(error) on log(%s) over all (%s, seed) points; 95%% CI from the "
                   "t-distribution with n-2 degrees of freedom" % (sweep, sweep))
    return top


# ----------------------------------------------------------------- CLI helpers
def positive(kind):
    """argparse type: a finite ``kind`` (int or float) > 0."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}, got {text!r}") from None
        if not (math.isfinite(value) and value > 0):
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}, got {text!r}")
        return value
    return parse


positive_int = positive(int)
positive_float = positive(float)


def geometric(lo, hi, factor):
    """lo, lo·f, lo·f², … up to hi (inclusive, with round-off slack); works for f < 1 too."""
    if factor <= 0 or factor == 1:
        raise ValueError("factor must be positive and != 1")
    out, v = [], lo
    while (v <= hi * (1 + 1e-9)) if factor > 1 else (v >= hi * (1 - 1e-9)):
        out.append(v)
        v *= factor
    return out


def add_model_arguments(parser):
    """--delta, --d, --kappa, --activation (checked by :func:`check_model_arguments`)."""
    g = parser.add_argument_group("model")
    g.add_argument("--delta", type=positive_float, default=0.8, help="Δ in (0,1) (default 0.8)")
    g.add_argument("--d", type=positive_int, default=40, help="input dimension (default 40)")
    g.add_argument("--kappa", type=positive_float, default=0.8, help="init scale κ (default 0.8)")
    g.add_argument("--activation", choices=sorted(ACTIVATIONS), default="ramp")


def check_model_arguments(parser, args):
    if args.delta >= 1:
        parser.error(f"--delta must lie in (0, 1), got {args.delta}")


def add_common_arguments(parser):
    """Model, PDE, executor and output options shared by both benchmarks."""
    add_model_arguments(parser)
    g = parser.add_argument_group("run")
    g.add_argument("--dynamics", choices=DYNAMICS, default="sgd")
    g.add_argument("--times", type=positive_float, nargs="+", default=None,
                   help="snapshot times (default 0.5 1 2; quick 0.5)")
    g.add_argument("--fit-time", type=positive_float, default=None,
                   help="time of the reported slope (default: the first of --times)")
    g.add_argument("--seeds", type=positive_int, default=None, help="seeds per point")
    g.add_argument("--cells", type=positive_int, default=None,
                   help="PDE cells (default 4000, quick 1000; W2 grid error < 3e-4 at t <= 2)")
    g.add_argument("--iid-draws", type=positive_int, default=2,
                   help="iid samples per task for the baseline (default 2)")
    g = parser.add_argument_group("execution")
    g.add_argument("--workers", type=positive_int, default=None,
                   help="local processes (default os.cpu_count(); 1 = serial)")
    g.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run the tasks on this Dask scheduler, e.g. tcp://host:8786 (needs dask[distributed] "
                        "here and the same meanfield version on every worker)")
    g.add_argument("--task-dir", type=Path, default=None, metavar="DIR",
                   help="save one JSON per finished run in DIR; the same command with the same DIR "
                        "reuses them (resume after an interruption or a failure)")
    g.add_argument("--quick", action="store_true", help="small fast sweep")
    g.add_argument("--out", type=Path, default=None, help="JSON output path")
    g.add_argument("--no-plot", action="store_true", help="skip the PNG next to the JSON")


def finish_params(parser, args, quick_times, full_times):
    """Fill the time defaults, validate, and return the params dict of the tasks."""
    check_model_arguments(parser, args)
    args.times = sorted(set(args.times or (quick_times if args.quick else full_times)))
    args.fit_time = args.fit_time if args.fit_time is not None else args.times[0]
    if args.fit_time not in args.times:
        parser.error(f"--fit-time {args.fit_time:g} is not one of --times {args.times}")
    args.cells = args.cells or (1000 if args.quick else 4000)
    if args.cells < 10:
        parser.error("--cells must be >= 10")
    return dict(model=model_spec(args), kappa=args.kappa, dynamics=args.dynamics, times=args.times,
                cells=args.cells, iid_draws=args.iid_draws)


def run_benchmark(args, params, tasks, sweep, extra):
    """Run the tasks, summarise, write JSON (+ plot) and print it; returns the summary."""
    where = (f"Dask scheduler {args.scheduler}" if args.scheduler else
             "this process" if args.workers == 1 else f"{args.workers or os.cpu_count()} local worker processes")
    print(f"{len(tasks)} runs ({args.dynamics}) on {where}"
          + (f", results in {args.task_dir}" if args.task_dir else ""), file=sys.stderr, flush=True)
    start = time.perf_counter()
    scheduler = args.scheduler or ("serial" if args.workers == 1 else None)
    try:
        result = run_sweep(tasks, scheduler=scheduler, workers=args.workers, out=args.task_dir)
    except (ImportError, RuntimeError, OSError, ValueError) as exc:  # no dask, unknown or unreachable scheduler, …
        raise SystemExit(f"error: {exc}") from None
    print(result.message, file=sys.stderr, flush=True)
    if not result.finished:
        for failure in result.failures:
            print(f"{failure}\n{failure.traceback}", file=sys.stderr)
        if args.task_dir:
            print(f"finished tasks are in {args.task_dir}: rerun the same command to resume", file=sys.stderr)
        raise SystemExit(1)
    results = result.rows()
    summary = summarize(results, sweep, params, args.fit_time)
    summary.update(extra)
    summary.update(dynamics=args.dynamics, delta=args.delta, d=args.d, kappa=args.kappa,
                   activation=args.activation, cells=args.cells, quick=args.quick,
                   wall_time=time.perf_counter() - start,
                   cpu_time_runs=float(sum(w for w in result.wall_times if w is not None)),
                   tasks_computed=result.n_computed, tasks_reused=result.n_reused,
                   runs=[{k: r[k] for k in ("N", "eps", "seed", "w2", "w1", "risk_err", "iid_w2")}
                         for r in results])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=1))
    if not args.no_plot:
        plot_loglog(summary, sweep, args.out.with_suffix(".png"))
    brief = {k: v for k, v in summary.items() if k not in ("by_time", "runs")}
    print(json.dumps(brief, indent=1))
    print(f"wrote {args.out}", file=sys.stderr)
    return summary


def plot_loglog(summary, sweep, path):
    """W2, W1, |ΔR| and the iid baseline vs the sweep variable at the fit time, with the fitted line."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = np.asarray(summary[sweep], float)
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    styles = [("w2", "o-", "W2(particles, PDE)"), ("w1", "s-", "W1(particles, PDE)"),
              ("risk_err", "^-", "|R_N − R(ρ̄)|"), ("iid_w2", "x--", "W2(iid sample, PDE law)")]
    for key, fmt, label in styles:
        ax.errorbar(x, summary[key + "_mean"], yerr=summary[key + "_std"], fmt=fmt, ms=4,
                    capsize=2, label=label)
    fit = np.exp(summary["intercept"]) * x ** summary["slope"]
    lo, hi = summary["slope_ci"]
    ax.plot(x, fit, "k:", label=f"W2 fit: slope {summary['slope']:.3f} [{lo:.3f}, {hi:.3f}]")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("N (particles)" if sweep == "N" else "ε (step size)")
    ax.set_ylabel("error")
    ax.set_title(f"{summary['dynamics']} vs radial PDE at t = {summary['time']:g}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
