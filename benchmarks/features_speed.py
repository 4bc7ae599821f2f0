"""Building the radial kernel features h_k(s r) on M grid points: closed form vs quadrature.

The PDE solver evaluates ψ through the low-rank Mehler features (values and r-derivatives
for both scales s = 1 ± Δ and the even k below the truncation K). The baseline, in the same
run, is the obvious alternative: the same coefficients by an n-point Gauss-Hermite rule
(NumPy), whose error is printed too (it converges slowly for a kinked σ). Target from the
issue: M = 4000 in < 0.2 s. Prints a table and writes JSON.

    python benchmarks/features_speed.py [--out FILE]
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from _timing import best_time
from meanfield import IsotropicGaussians, ramp


def gauss_hermite_features(model, r, terms, nodes):
    """h_k(s r) and s h_k'(s r), even k < terms, by an n-point probabilists' Gauss-Hermite rule."""
    x, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / math.sqrt(2.0 * math.pi)
    he = np.empty((nodes, terms))
    he[:, 0], he[:, 1] = 1.0, x
    for n in range(1, terms - 1):
        he[:, n + 1] = (x * he[:, n] - math.sqrt(n) * he[:, n - 1]) / math.sqrt(n + 1)
    he = he[:, ::2] * w[:, None]
    act = model.activation
    values, derivs = [], []
    for s in model.scales:
        t = s * r[:, None] * x[None, :]
        values.append((act(t) @ he).T)
        derivs.append(s * ((act.derivative(t) * x[None, :]) @ he).T)
    return np.concatenate(values), np.concatenate(derivs)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "features_speed.json")
    args = parser.parse_args(argv)
    model = IsotropicGaussians(delta=0.8, d=40, activation=ramp())
    cases = []
    print(f"{'M':>6} {'K':>4} {'closed [s]':>11} {'GH-200 [s]':>11} {'ratio':>7} {'GH max err':>11}")
    for m in (1000, 4000, 16000):
        r = np.linspace(0.0, 8.0, m)
        feats = model.kernel_features(r)
        closed = best_time(lambda: model.kernel_features(r))
        quad = best_time(lambda: gauss_hermite_features(model, r, feats.terms, 200))
        values, _ = gauss_hermite_features(model, r, feats.terms, 200)
        err = float(np.max(np.abs(values - feats.values)))
        cases.append(dict(M=m, terms=feats.terms, closed_form_s=closed, gauss_hermite_s=quad,
                          ratio=quad / closed, gauss_hermite_max_error=err, target_s=0.2))
        print(f"{m:>6} {feats.terms:>4} {closed:>11.4f} {quad:>11.4f} {quad / closed:>7.1f} {err:>11.2e}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"cases": cases}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
