"""Cost of the tangent-kernel observable against one SGD block, in the same run.

K(x_p, x_q) = (1/N) Σ_i ⟨∇_θσ*(x_p; θ_i), ∇_θσ*(x_q; θ_i)⟩ for P probe inputs costs
O(P N d + P² N) (two P × N products, BLAS); one SGD block is BLOCK_WORK multiply-adds
(run_sgd's progress / checkpoint granularity, ≈ 2e8 / (N d) steps). Reported: seconds of
one kernel evaluation ÷ seconds of one block, for P ∈ {20, 100, 400}, (a, w, b) trained, ReLU.

    python benchmarks/tangent_kernel_cost.py [--quick] [--out PATH]
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402

from _timing import best_time  # noqa: E402

from meanfield import GaussianMixture, MeanFieldModel, TwoLayerNetwork, relu  # noqa: E402
from solvers import run_sgd  # noqa: E402
from solvers.sgd import BLOCK_WORK, MAX_BLOCK_STEPS  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "tangent_kernel_cost.json"))
    args = parser.parse_args(argv)
    n, d = (400, 40) if args.quick else (800, 40)
    model = MeanFieldModel(GaussianMixture.anisotropic(0.5, d, 10), TwoLayerNetwork(relu(), train=("a", "w", "b")))
    theta = model.init(n, seed=0)
    steps = int(max(1, min(MAX_BLOCK_STEPS, BLOCK_WORK // (n * d))))
    eps = 1e-4
    block = best_time(lambda: run_sgd(model, theta, eps, [steps * eps], seed=0, record=(), progress=False), 3)
    rows = {}
    for P in (20, 100, 400):
        probes = model.sample(P, rng=1)[0]
        seconds = best_time(lambda: model.tangent_kernel(theta, probes), 5)
        rows[P] = {"kernel_s": seconds, "ratio_to_block": seconds / block}
        print(f"P = {P:4d}: tangent kernel {seconds * 1e3:8.3f} ms = {seconds / block:.4f} of one SGD block "
              f"({steps} steps, {block:.3f} s)")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"N": n, "d": d, "block_steps": steps, "block_s": block, "probes": rows,
                               "quick": args.quick}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
