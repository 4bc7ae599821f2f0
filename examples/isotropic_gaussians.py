"""
Isotropic Gaussians: SGD against the PDE
========================================

The isotropic Gaussians example of Mei, Montanari & Nguyen (PNAS 2018): SGD vs the PDE.

Reference run: Δ = 0.8, d = 40, N = 800, κ = 0.8, ramp σ, ξ ≡ 1. One-pass SGD on the
network and the radial distributional dynamics (finite-volume PDE), side by side::

  fig1_radial_laws.png   histograms of the SGD radii ‖w_i‖ vs the PDE density, t ∈ {0,1,2,5,10}
  fig2_risk.png          exact population risk R_N of the SGD network and R(ρ̄_t) vs t
  fig3_wasserstein.png   W2 and W1 (particles, PDE) vs t, beside the iid-sample baseline
  fig4_nonmonotone.png   non-monotone σ: κ = 0.1 vs 0.4 reach different fixed points;
                         noisy SGD / noisy PDE (β) from κ = 0.1
  summary.json           every number behind the figures, parameters and wall times

Run it as::

    python examples/isotropic_gaussians.py --quick        # < 1 min
    python examples/isotropic_gaussians.py --out results  # reference run, a few minutes

Step size: ε = 1e-5 by default (10^6 steps to t = 10, ~15 s per noiseless run at N = 800).
ε = 1e-4 is visibly biased (mean radius 2.41 instead of 2.36 at t = 5); the SGD
step-size error is roughly linear in ε (benchmarks/step_size_vs_error.py). The noisy runs
use --eps-noisy 1e-4: each noisy step draws N·d Gaussians (~10× a noiseless step).

What the default run shows (measured, seed 0, ~100 s on a shared 2-core machine)::

  t      R_N SGD  R PDE   E r SGD  E r PDE  W2      W2 iid  W1      W1 iid
  0      1.722    1.705   0.792    0.795    0.0054  0.0061  0.0036  0.0043
  1      1.075    1.071   1.421    1.423    0.0041  0.0045  0.0026  0.0033
  2      1.016    1.011   1.659    1.659    0.0066  0.0084  0.0044  0.0063
  5      0.701    0.699   2.363    2.356    0.026   0.045   0.020   0.029
  10     0.187    0.176   3.468    3.454    0.103   0.143   0.044   0.063

The particle W2 stays at or below the iid-sample W2 of the same N: SGD is as close to
ρ̄_t as a fresh iid sample would be. Both grow ~20× from t = 2 to 10, when an atom near
r = 0 separates from the bulk (the W2-vs-N rate then degrades to about N^(-1/4)); W1 grows less.
Non-monotone σ at t = 10: κ = 0.1 collapses to δ0 in both SGD and the PDE (R = 7.32 and
7.27 vs 1 + σ(0)² = 7.25; the PDE keeps the atom in its first cell); κ = 0.4 reaches
R ≈ 0.22 (SGD) / 0.27 (PDE, still moving with the grid: the escape from the plateau
R ≈ 1.6 is sensitive) with mean radius ≈ 4.06; noisy SGD from κ = 0.1 (β = 100, λ = 0)
leaves δ0 at once (the r^{d−1} entropy) and reaches R ≈ 0.41 (PDE 0.32). With --quick
(N = 200, ε = 1e-4) the *noiseless* κ = 0.1 SGD also escapes δ0 (R ≈ 2.8 at t = 2 while
the PDE sits at 7.3): the per-step SGD fluctuation ~ ε‖x‖ acts as a temperature.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

try:
    import meanfield  # noqa: F401
except ImportError:  # running from a source checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from meanfield import IsotropicGaussians, nonmonotone, ramp  # noqa: E402
from meanfield.wasserstein import w1_radial, w2_radial  # noqa: E402

from solvers import init_gaussian, run_sgd, solve_radial_pde  # noqa: E402

SNAPSHOT_TIMES = (0.0, 1.0, 2.0, 5.0, 10.0)
QUICK = dict(N=200, eps=1e-4, t_max=2.0, cells=300, cells_nonmonotone=(60, 150), dense=20, iid_draws=3)
FULL = dict(N=800, eps=1e-5, t_max=10.0, cells=2000, cells_nonmonotone=(300, 1200), dense=40, iid_draws=5)


# ----------------------------------------------------------------- helpers
def log(message):
    print(message, file=sys.stderr, flush=True)


def positive(kind):
    """argparse type: a positive int or float."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}, got {text!r}") from None
        if not (math.isfinite(value) and value > 0):
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}, got {text!r}")
        return value
    return parse


def timed(label, walls, func, *args, **kwargs):
    """Call func, log and store its wall time under ``label``."""
    log(f"· {label} …")
    start = time.perf_counter()
    out = func(*args, **kwargs)
    walls[label] = round(time.perf_counter() - start, 3)
    log(f"  done in {walls[label]:.1f} s")
    return out


# ----------------------------------------------------------------- CLI
def build_parser():
    p = argparse.ArgumentParser(
        description="SGD vs the mean-field PDE on the isotropic Gaussians example "
                    "(Mei–Montanari–Nguyen 2018). Writes four PNG figures and summary.json.",
        epilog="Defaults are the reference run (N=800, eps=1e-5, t-max=10: a few minutes on 2 cores); "
               "--quick uses " + ", ".join(f"{k.replace('_', '-')}={v}" for k, v in QUICK.items()) + ".")
    p.add_argument("--quick", action="store_true", help="small fast run (< 1 min)")
    p.add_argument("--out", type=Path, default=Path("isotropic_gaussians_out"),
                   help="output directory (default ./isotropic_gaussians_out)")
    p.add_argument("--seed", type=int, default=0, help="seed of the initialisation and SGD (default 0)")
    g = p.add_argument_group("model (reference values in brackets)")
    g.add_argument("--delta", type=positive(float), default=0.8, help="Δ in (0,1) [0.8]")
    g.add_argument("--d", type=positive(int), default=40, help="input dimension [40]")
    g.add_argument("--N", type=positive(int), default=None, help="neurons [800; quick 200]")
    g.add_argument("--kappa", type=positive(float), default=0.8, help="init w ~ N(0, κ²/d I) [0.8]")
    g = p.add_argument_group("numerics")
    g.add_argument("--eps", type=positive(float), default=None,
                   help="SGD step size [1e-5: agrees with the limit to ~3 digits; quick 1e-4]")
    g.add_argument("--t-max", type=positive(float), default=None, help="horizon [10; quick 2]")
    g.add_argument("--cells", type=positive(int), default=None,
                   help="PDE cells, reference run [2000: W2 grid error ≈ 2e-3 at t=10; quick 300]")
    g.add_argument("--cells-nonmonotone", type=positive(int), nargs=2, default=None,
                   metavar=("BAD", "GOOD"),
                   help="PDE cells of the initial domain for the two κ of figure 4 (the noisy run "
                        "uses BAD) [300 1200: Δr ≈ 0.005, 0.002; the plateau escape time of κ=0.4 "
                        "moves with Δr: R(t=10) = 0.150, 0.238, 0.268, 0.274 at 150, 600, 1200, 2400 "
                        "cells; quick 60 150]")
    g.add_argument("--dense", type=positive(int), default=None,
                   help="time intervals of the dense grid for figures 2–4 [40; quick 20]")
    g.add_argument("--iid-draws", type=positive(int), default=None,
                   help="iid samples averaged in the baseline [5; quick 3]")
    g = p.add_argument_group("figure 4 (non-monotone σ)")
    g.add_argument("--kappas", type=positive(float), nargs=2, default=[0.1, 0.4],
                   metavar=("BAD", "GOOD"), help="the two initial scales [0.1 0.4]")
    g.add_argument("--beta", type=positive(float), default=100.0,
                   help="inverse temperature of the noisy runs from the first κ [100]")
    g.add_argument("--eps-noisy", type=positive(float), default=1e-4,
                   help="SGD step size of the noisy runs [1e-4: each noisy step draws N·d Gaussians, "
                        "≈10× the cost of a noiseless step]")
    g.add_argument("--lam", type=float, default=0.0, help="L2 regularisation λ ≥ 0 of the noisy runs [0]")
    g.add_argument("--skip-nonmonotone", action="store_true", help="skip figure 4")
    return p


def parse_args(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.delta >= 1:
        parser.error(f"--delta must lie in (0, 1), got {args.delta}")
    if args.cells < 10 or min(args.cells_nonmonotone) < 10:
        parser.error("--cells and --cells-nonmonotone must be >= 10")
    if not (math.isfinite(args.lam) and args.lam >= 0):
        parser.error(f"--lam must be >= 0, got {args.lam}")
    if args.seed < 0:
        parser.error(f"--seed must be >= 0, got {args.seed}")
    if args.t_max / min(args.eps, args.eps_noisy) > 1e9:
        parser.error("--t-max / --eps exceeds 1e9 SGD steps")
    return args


# ----------------------------------------------------------------- runs
def time_grid(t_max, dense):
    """Dense uniform grid on [0, t_max] plus the snapshot times inside it."""
    grid = np.linspace(0.0, t_max, dense + 1)
    snaps = [t for t in SNAPSHOT_TIMES if t <= t_max]
    return np.unique(np.round(np.concatenate((grid, snaps)), 12))


def sgd_and_pde(model, args, kappa, times, cells, walls, label, beta=None, lam=0.0):
    """SGD from N iid Gaussian neurons and the radial PDE from their law, at ``times``."""
    progress = sys.stderr.isatty()
    W0 = init_gaussian(args.N, args.d, kappa, args.seed)
    eps = args.eps if beta is None else args.eps_noisy
    res = timed(f"SGD {label}", walls, run_sgd, model, W0, eps, times, seed=args.seed,
                beta=beta, lam=lam, progress=progress)
    sol = timed(f"PDE {label}", walls, solve_radial_pde, model, init="gaussian", kappa=kappa,
                times=times, cells=cells, beta=beta, lam=lam, progress=progress)
    return res, sol


def compare(res, sol, iid_draws, seed):
    """Per-time risks, mean radii, W2/W1 (particles vs PDE) and the iid baseline."""
    rng = np.random.default_rng([seed, 2018])
    out = {key: [] for key in ("sgd_risk", "pde_risk", "sgd_mean_radius", "pde_mean_radius",
                               "w2", "w1", "iid_w2", "iid_w1")}
    n = res.radii.shape[1]
    for k in range(res.times.size):
        out["sgd_risk"].append(float(res.risk[k]))
        out["pde_risk"].append(float(sol.risk[k]))
        out["sgd_mean_radius"].append(float(res.radii[k].mean()))
        out["pde_mean_radius"].append(sol.mean_radius(k))
        out["w2"].append(w2_radial(res.radii[k], sol, index=k))
        out["w1"].append(w1_radial(res.radii[k], sol, index=k))
        draws = [sol.sample(k, n, rng) for _ in range(iid_draws)]
        out["iid_w2"].append(float(np.mean([w2_radial(x, sol, index=k) for x in draws])))
        out["iid_w1"].append(float(np.mean([w1_radial(x, sol, index=k) for x in draws])))
    out["times"] = [float(t) for t in res.times]
    return out


# ----------------------------------------------------------------- figures
def figure_radial_laws(res, sol, snaps, path):
    fig, axes = plt.subplots(1, len(snaps), figsize=(3.2 * len(snaps), 3.2), squeeze=False)
    for ax, t in zip(axes[0], snaps):
        k = int(np.argmin(np.abs(res.times - t)))
        r = res.radii[k]
        hi = max(float(r.max()), float(sol.edges[np.nonzero(sol.mass[k] > 1e-6)[0][-1] + 1]))
        heights = ax.hist(r, bins=np.linspace(0, hi * 1.02, 40), density=True, color="tab:blue",
                          alpha=0.5, label=f"SGD (N={r.size})")[0]
        ax.stairs(sol.density[k], sol.edges, color="k", lw=1.2, label="PDE ρ̄_t")
        top = 1.3 * max(heights.max(), np.percentile(sol.density[k][sol.mass[k] > 1e-6], 90))
        if sol.density[k].max() > top:  # an atom near r = 0 would flatten the bulk
            ax.set_ylim(0, top)
            ax.annotate("PDE peak at r≈0 clipped", (0.97, 0.97), xycoords="axes fraction", ha="right",
                        va="top", fontsize=7)
        ax.set_xlim(0, hi * 1.02)
        ax.set_title(f"t = {t:g}")
        ax.set_xlabel("r = ‖w‖")
    axes[0, 0].set_ylabel("density")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def figure_risk(ref, path):
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.semilogy(ref["times"], ref["pde_risk"], "k-", label="PDE  R(ρ̄_t)")
    ax.semilogy(ref["times"], ref["sgd_risk"], "o", ms=3.5, color="tab:blue", label="SGD  R_N(θ)")
    ax.set_xlabel("t = kε")
    ax.set_ylabel("population risk")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def figure_wasserstein(ref, n, path):
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, p in zip(axes, ("w2", "w1")):
        name = p.upper()
        ax.plot(ref["times"], ref[p], "o-", ms=3.5, label=f"{name}(SGD radii, PDE)")
        ax.plot(ref["times"], ref["iid_" + p], "k--", label=f"{name}({n} iid draws, PDE law)")
        ax.set_yscale("log")
        ax.set_xlabel("t")
        ax.set_title(f"{name} distance of the radial laws")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def figure_nonmonotone(runs, path):
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    colors = ["tab:red", "tab:green", "tab:purple"]
    for (label, data), color in zip(runs.items(), colors):
        for ax, key in zip(axes, ("risk", "mean_radius")):
            ax.plot(data["times"], data["pde_" + key], "-", color=color, label=f"PDE  {label}")
            ax.plot(data["times"], data["sgd_" + key], "o", ms=3, color=color, label=f"SGD  {label}")
    axes[0].set_yscale("log")
    axes[0].set_ylabel("population risk")
    axes[1].set_ylabel("mean radius  E‖w‖")
    for ax in axes:
        ax.set_xlabel("t")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle("non-monotone σ: initial scale decides the fixed point; noise escapes δ₀")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ----------------------------------------------------------------- main
def print_table(ref, snaps):
    print(f"\n{'t':>5} {'R_N SGD':>9} {'R PDE':>9} {'E r SGD':>8} {'E r PDE':>8} "
          f"{'W2':>8} {'W2 iid':>8} {'W1':>8} {'W1 iid':>8}")
    for t in snaps:
        k = int(np.argmin(np.abs(np.asarray(ref["times"]) - t)))
        print(f"{t:5g} {ref['sgd_risk'][k]:9.4f} {ref['pde_risk'][k]:9.4f} "
              f"{ref['sgd_mean_radius'][k]:8.3f} {ref['pde_mean_radius'][k]:8.3f} "
              f"{ref['w2'][k]:8.4f} {ref['iid_w2'][k]:8.4f} {ref['w1'][k]:8.4f} {ref['iid_w1'][k]:8.4f}")


def main(argv=None):
    """Run the example; returns the summary dict (also written to OUT/summary.json)."""
    args = parse_args(argv)
    start = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    walls = {}
    times = time_grid(args.t_max, args.dense)
    snaps = [t for t in SNAPSHOT_TIMES if t <= args.t_max]
    if args.t_max not in snaps:
        snaps.append(args.t_max)
    log(f"isotropic Gaussians: Δ={args.delta}, d={args.d}, N={args.N}, κ={args.kappa}, "
        f"ε={args.eps:g} ({int(round(args.t_max / args.eps)):,} SGD steps per run), t ≤ {args.t_max:g}")

    model = IsotropicGaussians(args.delta, args.d, ramp())
    res, sol = sgd_and_pde(model, args, args.kappa, times, args.cells, walls, "reference (ramp)")
    ref = compare(res, sol, args.iid_draws, args.seed)
    figure_radial_laws(res, sol, snaps, args.out / "fig1_radial_laws.png")
    figure_risk(ref, args.out / "fig2_risk.png")
    figure_wasserstein(ref, args.N, args.out / "fig3_wasserstein.png")

    nonmono = {}
    if not args.skip_nonmonotone:
        model_nm = IsotropicGaussians(args.delta, args.d, nonmonotone())
        bad, good = args.kappas
        cells_bad, cells_good = args.cells_nonmonotone
        cases = [(f"κ={bad:g}", bad, cells_bad, None, 0.0), (f"κ={good:g}", good, cells_good, None, 0.0),
                 (f"κ={bad:g}, β={args.beta:g}, λ={args.lam:g}, ε={args.eps_noisy:g}", bad, cells_bad,
                  args.beta, args.lam)]
        for label, kappa, cells, beta, lam in cases:
            r, s = sgd_and_pde(model_nm, args, kappa, times, cells, walls,
                               f"non-monotone {label}", beta=beta, lam=lam)
            nonmono[label] = compare(r, s, 1, args.seed)
            nonmono[label].update(kappa=kappa, beta=beta, lam=lam,
                                  pde_mass_at_origin_cell=[float(m) for m in s.mass[:, 0]],
                                  sgd_fraction_below_0_05=[float(np.mean(x < 0.05)) for x in r.radii])
        figure_nonmonotone(nonmono, args.out / "fig4_nonmonotone.png")

    walls["total"] = round(time.perf_counter() - start, 3)
    params = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    summary = dict(parameters=params, activation="ramp", snapshot_times=snaps, reference=ref,
                   nonmonotone=nonmono, sigma0_squared_plus_1=1.0 + float(nonmonotone()(0.0)) ** 2,
                   wall_time_s=walls)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    print_table(ref, snaps)
    for label, data in nonmono.items():
        print(f"non-monotone {label:>32}: risk SGD {data['sgd_risk'][-1]:.4f}, PDE {data['pde_risk'][-1]:.4f}, "
              f"mean r SGD {data['sgd_mean_radius'][-1]:.3f}, PDE {data['pde_mean_radius'][-1]:.3f} "
              f"at t = {data['times'][-1]:g}")
    print(f"\nfigures and summary.json in {args.out}/ (total {walls['total']:.1f} s)")
    return summary


if __name__ == "__main__":
    main()
