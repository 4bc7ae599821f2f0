"""run_sgd throughput of this checkout against another checkout's, in one process (A/B).

The two drivers alternate (order flipped every repeat) on the same problems and the best time of
each is kept, so the ratio new/old is robust to the load of a shared machine (separate runs of
sgd_throughput.py / general_sgd_throughput.py varied by ±50% under load). Used to check that the
norm-based divergence check with an exact first-bad-step replay costs nothing in the hot loop.

    python benchmarks/sgd_ab.py --old PATH/TO/OTHER/CHECKOUT [--repeats 7] [--out PATH]

PATH's ``solvers`` package is copied to a temporary directory as ``solvers_old`` (its own
``meanfield`` is not used: both drivers run on this checkout's model layer).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from meanfield import GaussianMixture, IsotropicGaussians, MeanFieldModel, TwoLayerNetwork, ramp, relu  # noqa: E402
from solvers.sgd import run_sgd  # noqa: E402


def _old_driver(path):
    tmp = Path(tempfile.mkdtemp())
    shutil.copytree(Path(path) / "solvers", tmp / "solvers_old", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp / "solvers_old" / "__init__.py").write_text("")  # only the driver and its kernels
    sys.path.insert(0, str(tmp))
    from solvers_old.sgd import run_sgd as old
    return old


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old", required=True, help="a checkout of the baseline commit")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--work", type=float, default=4e8, help="multiply-adds per timed run")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "sgd_ab.json"))
    args = parser.parse_args()
    old_run = _old_driver(args.old)
    cases = {
        "isotropic_w_ramp_800x40": (IsotropicGaussians(0.5, 40, ramp()), False, 800, 40),
        "isotropic_w_ramp_800x320": (IsotropicGaussians(0.5, 320, ramp()), False, 800, 320),
        "anisotropic_awb_relu_800x40": (MeanFieldModel(GaussianMixture.anisotropic(0.5, d=40, s0=5),
                                                       TwoLayerNetwork(relu(), train=("a", "w", "b"))), True, 800, 40),
    }
    rows = {}
    print(f"{'case':32s} {'old steps/s':>12s} {'new steps/s':>12s} {'new/old':>8s}")
    for name, (model, general, n, d) in cases.items():
        init = model.init(n, seed=0) if general else np.random.default_rng(0).standard_normal((n, d)) * 0.3 / d**0.5
        steps, eps = int(args.work / (n * d)), 1e-4
        for run in (old_run, run_sgd):  # compile
            run(model, init, eps, [10 * eps], seed=1, record=("radii",), progress=False, threads=1)
        best = {"old": np.inf, "new": np.inf}
        for r in range(args.repeats):
            order = (("old", old_run), ("new", run_sgd)) if r % 2 == 0 else (("new", run_sgd), ("old", old_run))
            for label, run in order:
                start = time.perf_counter()
                run(model, init, eps, [steps * eps], seed=1, record=("radii",), progress=False, threads=1)
                best[label] = min(best[label], time.perf_counter() - start)
        rows[name] = {"steps": steps, "old_steps_per_s": steps / best["old"], "new_steps_per_s": steps / best["new"],
                      "new_over_old": best["old"] / best["new"]}
        print(f"{name:32s} {steps / best['old']:12.4g} {steps / best['new']:12.4g} {best['old'] / best['new']:8.3f}",
              flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"old": str(args.old), "repeats": args.repeats, "threads": 1,
                                          "cases": rows}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
