"""Wall time of one sweep on 1 vs 2 local worker processes (solvers.run_sweep), same run.

The sweep: ``--tasks`` SGD runs (N = 3200, d = 40, ε = 1e-5 to t = 1, ramp σ; one
seed each) compared with the radial PDE, each ≈ 2.5 s, so that starting the worker
processes (spawn + import + loading Numba's cache, ~1–2 s) does not dominate. Every
timing includes starting the pool, as a user's call of run_sweep does. Best of
``--repeats`` rounds, the two pool sizes alternating; the speed-up is the ratio of
the two best times. With ``--dask``, the same sweep on an already running
``LocalCluster`` of 2 worker processes (cluster start-up not timed) is added.

    python benchmarks/sweep_scaling.py            # 12 tasks, best of 2 (~2 min on idle cores)
    python benchmarks/sweep_scaling.py --quick    # 8 tasks, 1 round
    python benchmarks/sweep_scaling.py --dask

The records of the runs are checked to be identical (same seeds, any executor).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _sweep  # noqa: E402  (puts this checkout first on sys.path)

from solvers import SweepTask, run_sweep  # noqa: E402


def make_tasks(args):
    model = {"kind": "isotropic_gaussians", "delta": 0.8, "d": args.d, "activation": _sweep.ACTIVATIONS["ramp"]}
    return [SweepTask(model, N=args.N, seed=seed, times=(args.time,), eps=args.eps,
                      reference={"cells": 1000, "iid_draws": 2}) for seed in range(args.tasks)]


def timed(tasks, **kw):
    start = time.perf_counter()
    result = run_sweep(tasks, progress=False, **kw)
    seconds = time.perf_counter() - start
    result.raise_on_failure()
    return seconds, result


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", type=_sweep.positive_int, default=None, help="tasks (>= 8; default 12, quick 8)")
    p.add_argument("--N", type=_sweep.positive_int, default=3200)
    p.add_argument("--d", type=_sweep.positive_int, default=40)
    p.add_argument("--eps", type=_sweep.positive_float, default=1e-5)
    p.add_argument("--time", type=_sweep.positive_float, default=1.0)
    p.add_argument("--repeats", type=_sweep.positive_int, default=None, help="rounds (default 2, quick 1)")
    p.add_argument("--dask", action="store_true", help="also time a LocalCluster of 2 worker processes")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", type=Path, default=_sweep.DEFAULT_RESULTS / "sweep_scaling.json")
    args = p.parse_args(argv)
    args.tasks = args.tasks or (8 if args.quick else 12)
    if args.tasks < 8:
        p.error("--tasks must be >= 8")
    repeats = args.repeats or (1 if args.quick else 2)
    tasks = make_tasks(args)

    # one task in this process: compiles Numba's on-disk cache if stale (workers then load it)
    one, _ = timed(tasks[:1], scheduler="serial")
    print(f"one task in this process: {one:.2f} s (incl. compilation if the cache was stale)", file=sys.stderr)

    load_before = os.getloadavg()
    best = {1: float("inf"), 2: float("inf")}
    records = {}
    task_seconds = []
    for r in range(repeats):
        for workers in (1, 2):
            seconds, result = timed(tasks, workers=workers)
            best[workers] = min(best[workers], seconds)
            records[workers] = result.records
            task_seconds = result.wall_times
            print(f"round {r + 1}: {workers} worker(s) {seconds:.2f} s", file=sys.stderr, flush=True)
    if records[1] != records[2]:
        raise SystemExit("error: the records differ between 1 and 2 workers")
    rows = [{"executor": "local processes", "workers": w, "wall_time": best[w], "speedup": best[1] / best[w]}
            for w in (1, 2)]
    if args.dask:
        from distributed import LocalCluster

        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=None) as cluster:
            timed(tasks[:2], scheduler=cluster.scheduler_address)  # workers import + load the cache
            seconds = min(timed(tasks, scheduler=cluster.scheduler_address)[0] for _ in range(repeats))
            if timed(tasks, scheduler=cluster.scheduler_address)[1].records != records[1]:
                raise SystemExit("error: the Dask records differ from the local ones")
        rows.append({"executor": "dask LocalCluster (running)", "workers": 2, "wall_time": seconds,
                     "speedup": best[1] / seconds})

    load_after = os.getloadavg()
    mean_task = sum(task_seconds) / len(task_seconds)
    print(f"\n{args.tasks} tasks (SGD N = {args.N}, d = {args.d}, ε = {args.eps:g} to t = {args.time:g}; "
          f"{mean_task:.2f} s per task inside a worker), best of {repeats}:")
    print(f"{'executor':30s} {'workers':>7s} {'wall [s]':>9s} {'speed-up':>9s}")
    for row in rows:
        print(f"{row['executor']:30s} {row['workers']:7d} {row['wall_time']:9.2f} {row['speedup']:8.2f}×")
    print(f"load average (1, 5, 15 min) before: {load_before[0]:.1f} {load_before[1]:.1f} {load_before[2]:.1f}, "
          f"after: {load_after[0]:.1f} {load_after[1]:.1f} {load_after[2]:.1f} on {os.cpu_count()} cores")
    if load_before[0] > 1.5:  # this script's own warm-up accounts for ≤ 1
        print("warning: other programs were using the cores; the speed-up of 2 workers is then bounded by the "
              "CPU share this session gets, not by run_sweep", file=sys.stderr)
    summary = dict(tasks=args.tasks, N=args.N, d=args.d, eps=args.eps, time=args.time, repeats=repeats,
                   cpu_count=os.cpu_count(), load_average_before=load_before, load_average_after=load_after,
                   mean_task_seconds=mean_task, rows=rows,
                   speedup_2_workers=best[1] / best[2],
                   note="wall time of run_sweep including the start of the process pool; best of repeats")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=1))
    print(f"wrote {args.out}", file=sys.stderr)
    return summary


if __name__ == "__main__":
    main()
