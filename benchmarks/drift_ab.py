"""The exact drift ∇Ψ(θ_i; ρ̂) of this checkout against another checkout's, in one process (A/B).

One drift evaluation of ``IsotropicGaussians.potential_gradient`` for iid particles
(w ~ N(0, κ²/d I), N = 2000 by default) at small and moderate d, where many pairs of neurons are
strongly correlated: the ramp (Δ = 0.8, κ = 0.8, the reference σ) and the kinked σ
(``nonmonotone``, Δ = 0.5, κ = 0.4). The two versions alternate (order flipped every repeat) and
the best time of each is kept, so the ratio old/new is robust to the load of a shared machine.
Also printed: the largest difference of the two drifts, relative to the largest row norm.

    python benchmarks/drift_ab.py --old PATH/TO/OTHER/CHECKOUT [--n 2000] [--repeats 5] [--out PATH]

PATH's ``meanfield`` package is copied to a temporary directory as ``meanfield_old`` (its
modules import each other relatively, so the copy is a complete second model layer).

Measured (2 idle cores, N = 2000, against d824283: the drift before the pairs beyond the long
Mehler table took the closed form once per pair i < j, the per-pair tails four Horner chains and
the table-end check a cosine threshold), old/new for ramp / nonmonotone: 1.38 / 1.47 at d = 2,
1.11 / 1.22 at d = 3, 0.97 / 1.03 at d = 5 and 0.98 / 1.02 at d = 20 (unchanged within the
noise where the pass does not apply); the drifts agree to 3e-15 of the largest row.
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

from meanfield import IsotropicGaussians, nonmonotone, ramp  # noqa: E402
from solvers import init_gaussian  # noqa: E402


def _old_model_layer(path):
    tmp = Path(tempfile.mkdtemp())
    shutil.copytree(Path(path) / "meanfield", tmp / "meanfield_old", ignore=shutil.ignore_patterns("__pycache__"))
    sys.path.insert(0, str(tmp))
    import meanfield_old
    return meanfield_old


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old", required=True, help="a checkout of the baseline commit")
    parser.add_argument("--n", type=int, default=2000, help="particles")
    parser.add_argument("--dims", type=int, nargs="+", default=[2, 3, 5, 20])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "drift_ab.json"))
    args = parser.parse_args()
    old_layer = _old_model_layer(args.old)
    rows = []
    print(f"{'case':>12} {'d':>3} {'old [s]':>8} {'new [s]':>8} {'old/new':>8} {'max rel diff':>13}")
    for name, delta, kappa, activation, old_activation in (
            ("ramp", 0.8, 0.8, ramp, old_layer.ramp), ("nonmonotone", 0.5, 0.4, nonmonotone, old_layer.nonmonotone)):
        for d in args.dims:
            new_model = IsotropicGaussians(delta, d, activation())
            old_model = old_layer.IsotropicGaussians(delta, d, old_activation())
            W = init_gaussian(args.n, d, kappa, seed=0)
            new_drift = new_model.potential_gradient(W)  # also compiles
            old_drift = old_model.potential_gradient(W)
            best = {"old": np.inf, "new": np.inf}
            for r in range(args.repeats):
                order = (("old", old_model), ("new", new_model)) if r % 2 == 0 else \
                    (("new", new_model), ("old", old_model))
                for label, model in order:
                    start = time.perf_counter()
                    model.potential_gradient(W)
                    best[label] = min(best[label], time.perf_counter() - start)
            diff = float(np.abs(new_drift - old_drift).max() / np.linalg.norm(old_drift, axis=1).max())
            rows.append(dict(case=name, d=d, N=args.n, old_s=best["old"], new_s=best["new"],
                             old_over_new=best["old"] / best["new"], max_relative_difference=diff))
            print(f"{name:>12} {d:>3} {best['old']:8.3f} {best['new']:8.3f} {best['old'] / best['new']:8.2f}"
                  f" {diff:13.1e}", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"old": str(args.old), "N": args.n, "repeats": args.repeats,
                                          "cases": rows}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
