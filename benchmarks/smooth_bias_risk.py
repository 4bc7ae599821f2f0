"""Cost of the exact R_N for smooth σ with biases (issue 31) against ReLU, in the same run.

R_N = R# + (2/N) Σ_i V(θ_i) + (1/N²) Σ_ij a_i a_j E σ(u_i)σ(u_j) for a network with (a, w, b)
trained on the isotropic Gaussian mixture (two classes, d = 10), random biases b_i ~ N(0, 0.5²).
The tanh/sigmoid pair sums take Mehler's series (meanfield._smooth_pair_series); the previous
exact 2-D rule (``series=False``) is timed too, at the smaller N only (~0.3 ms a
pair). Reported: seconds per pair and class of each path (R_N and the gradient ∇Ψ), and the
ratios to ReLU's.

    python benchmarks/smooth_bias_risk.py [--quick] [--out PATH]
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402

from _timing import best_time  # noqa: E402

from meanfield import GaussianMixture, MeanFieldModel, TwoLayerNetwork, relu, sigmoid, Tanh  # noqa: E402
from meanfield._smooth_pair_series import pair_rows  # noqa: E402


def _exact_rows(model, theta):
    """The pair sums by the exact 2-D rule (what R_N used before the series)."""
    act = model.activation
    return pair_rows(act, act, model.data.gaussian_classes(), theta.W, theta.b, theta.a, theta.W, theta.b, True,
                     series=False)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "smooth_bias_risk.json"))
    args = parser.parse_args(argv)
    d, sizes, exact_n = 10, ((50, 200) if args.quick else (100, 600)), (30 if args.quick else 50)
    law = GaussianMixture.isotropic(0.5, d)
    classes = law.gaussian_classes()[0].size
    results = {}
    for name, act in (("relu", relu()), ("tanh", Tanh()), ("sigmoid", sigmoid())):
        model = MeanFieldModel(law, TwoLayerNetwork(act, train=("a", "w", "b")))
        rows = {}
        for n in sizes:
            theta = model.init(n, seed=0, a_std=0.5, b_std=0.5)
            seconds = best_time(lambda: model.population_risk(theta), 3)
            gradient = best_time(lambda: model.potential_gradient(theta), 3)
            rows[n] = {"risk_s": seconds, "per_pair_s": seconds / (n * n * classes), "gradient_s": gradient,
                       "gradient_per_pair_s": gradient / (n * n * classes)}
        if name != "relu":
            theta = model.init(exact_n, seed=0, a_std=0.5, b_std=0.5)
            seconds = best_time(lambda: _exact_rows(model, theta), 1)
            rows["exact_rule"] = {"N": exact_n, "pair_sums_s": seconds, "per_pair_s": seconds / (exact_n**2 * classes)}
        results[name] = rows
    base = results["relu"]
    for name in ("tanh", "sigmoid"):
        for n in sizes:
            row = results[name][n]
            row["ratio_to_relu"] = row["per_pair_s"] / base[n]["per_pair_s"]
            row["gradient_ratio_to_relu"] = row["gradient_s"] / base[n]["gradient_s"]
            print(f"{name:8s} N = {n:4d}: R_N {row['risk_s']:.4f} s, {row['per_pair_s'] * 1e6:.3f} µs a pair = "
                  f"{row['ratio_to_relu']:.2f} × ReLU's {base[n]['per_pair_s'] * 1e6:.3f} µs; gradient "
                  f"{row['gradient_s']:.4f} s = {row['gradient_ratio_to_relu']:.2f} × ReLU's")
        exact = results[name]["exact_rule"]
        print(f"{name:8s} exact 2-D rule (N = {exact['N']}): {exact['per_pair_s'] * 1e6:.1f} µs a pair")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"d": d, "classes": classes, "results": {k: {str(n): v for n, v in r.items()}
                                                                       for k, r in results.items()},
                               "quick": args.quick}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
