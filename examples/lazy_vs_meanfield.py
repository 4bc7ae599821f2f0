"""
Lazy (NTK) vs mean-field training
=================================

The output scale α moves a two-layer network between the two regimes.

The network f(x) = (α/N) Σ_i a_i σ(⟨w_i, x⟩ + b_i), centred at initialisation (f − f(θ⁰), so every
run starts from the zero function), is trained by full-batch gradient flow on n training rows
(the exact flow of :func:`solvers.run_particle_flow` on :class:`meanfield.ArrayData`) with the
time convention dθ_i/dt = (2/α) E[(y − f)∇_θσ*(x; θ_i)], under which the output moves by
∂_t f = 2 E_x'[K_t(x, x')(y' − f(x'))] whatever α (one time axis for all runs). Next to each
run, the linearised model (:func:`solvers.solve_linearized`: the same flow with K frozen at K₀).

Two problems: the isotropic Gaussians (y = ±1, x ~ N(0, (1 ± Δ)² I_d)) and a teacher–student
problem (x ~ N(0, I_d), y = a two-neuron erf teacher). For α over several decades and a few N::

  fig1_kernel_change.png   ‖K_T − K₀‖_F/‖K₀‖_F vs α per N, and vs α/√N, with fitted slopes
  fig2_movement.png        mean parameter movement (1/N) Σ‖θ_i(T) − θ_i(0)‖ vs α
  fig3_risk_curves.png     test risk vs t of the network and of its linearisation, small and large α
  fig4_final_risk.png      final test risk vs α, network and linearisation
  summary.json             every number behind the figures, the fitted exponents with 95% intervals

Run it as::

    python examples/lazy_vs_meanfield.py --quick          # < 1 min
    python examples/lazy_vs_meanfield.py --out results_lazy

The exponent of the kernel change in α is printed next to the a ≈ 1.3 that Geiger, Spigler,
Jacot & Wyart (2020) report for deep networks on real data (their √h·α is α here): a different
problem, so a different exponent is a finding, not a failure.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
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
from scipy import stats  # noqa: E402

from meanfield import (ArrayData, GaussianMixture, MeanFieldModel, TeacherStudent, TwoLayerNetwork,  # noqa: E402
                       erf)
from solvers import run_particle_flow, solve_linearized  # noqa: E402

QUICK = dict(d=8, n_train=100, n_test=400, widths=(50, 200), alphas=(0.3, 1.0, 3.0, 10.0, 30.0, 100.0), t_end=2.0,
             n_times=5)
FULL = dict(d=10, n_train=300, n_test=2000, widths=(50, 200, 800),
            alphas=(0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0), t_end=5.0, n_times=11)
REPORTED_EXPONENT = 1.3  # Geiger, Spigler, Jacot & Wyart (2020), in α here


def log(message):
    print(message, file=sys.stderr, flush=True)


def problems(d, n_train, n_test, seed):
    """The two data sets: (name, X, y, X_test, y_test)."""
    rng = np.random.default_rng(seed)
    out = []
    iso = GaussianMixture.isotropic(0.5, d)
    X, y = iso.sample(n_train + n_test, rng)
    out.append(("isotropic", X[:n_train], y[:n_train], X[n_train:], y[n_train:]))
    teacher = TeacherStudent(rng.standard_normal((2, d)) / math.sqrt(d) * 2.0, erf(), a=[1.5, -1.0])
    X, y = teacher.sample(n_train + n_test, rng)
    out.append(("teacher_student", X[:n_train], y[:n_train], X[n_train:], y[n_train:]))
    return out


def fit_slope(x, y):
    """Least-squares slope of log y on log x with its 95% confidence interval."""
    lx, ly = np.log(x), np.log(y)
    res = stats.linregress(lx, ly)
    half = stats.t.ppf(0.975, len(lx) - 2) * res.stderr if len(lx) > 2 else float("nan")
    return {"slope": float(res.slope), "ci95": [float(res.slope - half), float(res.slope + half)]}


def run_one(data, width, alpha, times, seed):
    name, X, y, Xt, yt = data
    net = TwoLayerNetwork(erf(), train=("a", "w", "b"), scale=alpha)
    base = MeanFieldModel(ArrayData(X, y, X_test=Xt, y_test=yt), net)
    theta0 = base.init(width, kappa=1.0, seed=seed, a_std=1.0, b_std=0.5)
    model = base.centered(theta0)
    start = time.perf_counter()
    res = run_particle_flow(model, theta0, times=times, record=("risk", "kernel", "movement"), probes=X[:50],
                            rtol=1e-6, progress=False)
    lin = solve_linearized(model, theta0, times)
    return {"problem": name, "N": width, "alpha": alpha, "status": res.status,
            "risk": res.risk.tolist(), "linear_risk": lin.test_risk.tolist(),
            "kernel_change": float(res.kernel_change[-1]), "movement": float(res.movement[-1]),
            "steps": res.steps, "seconds": time.perf_counter() - start}


def figures(records, times, out, widths):
    names = sorted({r["problem"] for r in records})
    fits = {}
    fig, axes = plt.subplots(2, len(names), figsize=(5 * len(names), 8), squeeze=False)
    for col, name in enumerate(names):
        for width in widths:
            rows = [r for r in records if r["problem"] == name and r["N"] == width]
            alpha = np.array([r["alpha"] for r in rows])
            change = np.array([r["kernel_change"] for r in rows])
            lazy = alpha >= 1.0  # fit where the network is near its linearisation
            fit = fit_slope(alpha[lazy], change[lazy])
            fits[f"{name}_N{width}"] = fit
            axes[0, col].loglog(alpha, change, "o-", label=f"N = {width}: slope {fit['slope']:.2f}")
            axes[1, col].loglog(alpha / math.sqrt(width), change, "o-", label=f"N = {width}")
        axes[0, col].set(title=f"{name}: kernel change at t = {times[-1]:g}", xlabel="α",
                         ylabel="‖K_T − K₀‖/‖K₀‖")
        axes[1, col].set(xlabel="α/√N", ylabel="‖K_T − K₀‖/‖K₀‖")
        axes[0, col].legend()
        axes[1, col].legend()
    fig.tight_layout()
    fig.savefig(out / "fig1_kernel_change.png", dpi=120)
    plt.close(fig)

    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 4), squeeze=False)
    for col, name in enumerate(names):
        for width in widths:
            rows = [r for r in records if r["problem"] == name and r["N"] == width]
            axes[0, col].loglog([r["alpha"] for r in rows], [r["movement"] for r in rows], "o-", label=f"N = {width}")
        axes[0, col].set(title=name, xlabel="α", ylabel="(1/N) Σ‖θ_i(T) − θ_i(0)‖")
        axes[0, col].legend()
    fig.tight_layout()
    fig.savefig(out / "fig2_movement.png", dpi=120)
    plt.close(fig)

    widest = max(widths)
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 4), squeeze=False)
    for col, name in enumerate(names):
        rows = [r for r in records if r["problem"] == name and r["N"] == widest]
        for r in (rows[0], rows[-1]):
            line, = axes[0, col].plot(times, r["risk"], "o-", label=f"network, α = {r['alpha']:g}")
            axes[0, col].plot(times, r["linear_risk"], "--", color=line.get_color(), label=f"linearised, α = {r['alpha']:g}")
        axes[0, col].set(title=f"{name}, N = {widest}", xlabel="t", ylabel="test risk")
        axes[0, col].legend()
    fig.tight_layout()
    fig.savefig(out / "fig3_risk_curves.png", dpi=120)
    plt.close(fig)

    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 4), squeeze=False)
    for col, name in enumerate(names):
        for width in widths:
            rows = [r for r in records if r["problem"] == name and r["N"] == width]
            line, = axes[0, col].semilogx([r["alpha"] for r in rows], [r["risk"][-1] for r in rows], "o-",
                                          label=f"network, N = {width}")
            axes[0, col].semilogx([r["alpha"] for r in rows], [r["linear_risk"][-1] for r in rows], "--",
                                  color=line.get_color(), label=f"linearised, N = {width}")
        axes[0, col].set(title=f"{name}: test risk at t = {times[-1]:g}", xlabel="α", ylabel="test risk")
        axes[0, col].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "fig4_final_risk.png", dpi=120)
    plt.close(fig)
    return fits


def check_out(parser, out):
    """Create the output folder and write a probe file there before any computation (an unwritable
    --out used to fail only at the first figure, after the whole run): a usage error otherwise."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        parser.error(f"--out {out}: cannot create or write this folder ({exc.strerror or exc})")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer α, N and samples (< 1 min)")
    parser.add_argument("--out", default="results_lazy", help="output folder (figures, summary.json)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    cfg = QUICK if args.quick else FULL
    out = Path(args.out)
    check_out(parser, out)
    times = np.linspace(0.0, cfg["t_end"], cfg["n_times"])
    records = []
    interrupted = False
    start = time.perf_counter()
    try:
        for data in problems(cfg["d"], cfg["n_train"], cfg["n_test"], args.seed):
            for width in cfg["widths"]:
                for alpha in cfg["alphas"]:
                    record = run_one(data, width, alpha, times, args.seed)
                    records.append(record)
                    log(f"{record['problem']:16s} N = {width:4d} α = {alpha:7.3g}: kernel change "
                        f"{record['kernel_change']:.3e}, movement {record['movement']:.3e}, test risk "
                        f"{record['risk'][-1]:.4f} (linearised {record['linear_risk'][-1]:.4f}), "
                        f"{record['seconds']:.1f} s")
                    if record["status"] != "finished":
                        raise KeyboardInterrupt
    except KeyboardInterrupt:
        interrupted = True
        log("interrupted: writing the runs finished so far")
    fits = figures(records, times, out, cfg["widths"]) if records and not interrupted else {}
    summary = {"config": {**cfg, "seed": args.seed, "quick": args.quick}, "times": times.tolist(), "runs": records,
               "kernel_change_exponent": fits, "reported_exponent_GSJW2020": REPORTED_EXPONENT,
               "interrupted": interrupted, "seconds": time.perf_counter() - start}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    for key, fit in fits.items():
        print(f"{key:28s} kernel change ~ α^{fit['slope']:.2f}  (95% CI [{fit['ci95'][0]:.2f}, {fit['ci95'][1]:.2f}]; "
              f"reported for deep nets: −{REPORTED_EXPONENT})")
    print(f"wrote {out}/")
    return 1 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
