"""
Isotropic Gaussians: SGD against the PDE
========================================

The isotropic Gaussians example of Mei, Montanari & Nguyen (PNAS 2018): SGD vs the PDE.

Reference run: Δ = 0.8, d = 40, N = 800, κ = 0.8, ramp σ, ξ ≡ 1. One-pass SGD on the
network and the radial distributional dynamics (finite-volume PDE), side by side::

  fig1_radial_laws.png   histograms of the SGD radii ‖w_i‖ vs the PDE density, t ∈ {0,1,2,5,10}
  fig2_risk.png          exact population risk R_N of the SGD network and R(ρ̄_t) vs t
  fig3_wasserstein.png   W2 and W1 (particles, PDE) vs t, beside the iid-sample baseline
  fig4_nonmonotone.png   non-monotone σ, one column per panel (κ = 0.1, κ = 0.4: different fixed
                         points; noisy, β, from κ = 0.1): risk and W2 vs t of the particle flow
                         (red: the curve compared with the PDE; noiseless: ε = 0, its only error
                         is N; noisy: the Langevin flow), SGD's ε-sequence beside it, and the PDE
                         (black) at its checked cell count; each title names the compared curve
                         with its max W2/iid and final risk gap
  summary.json           every number behind the figures, the convergence checks, parameters,
                         wall times and the load average

Run it as::

    python examples/isotropic_gaussians.py --quick        # ≈ 1 min cold (54–62 s), 12 s warm
    python examples/isotropic_gaussians.py --out results  # reference run and checks

Every comparison carries its own convergence check, run and printed by the example::

  figures 1–3   SGD at ε and ε/2, the PDE at its cells and twice as many; summary.json puts
                next to every compared quantity q its changes q_delta_eps_half and
                q_delta_cells_double (the reference run: ε = 1e-5, 2000 cells).
  figure 4      per panel, the PDE at cells0, 2·cells0, … until a doubling moves R(t_max) by
                < 1% (--cells-tol), SGD at ε0, ε0/2, … until two consecutive halvings each move R_N(t_max)
                by < 2% (--eps-tol; one is not enough: for κ = 0.4, ε = 1e-5 → 5e-6 moves R_N(10)
                by 1.5%, both 16% below the PDE), at most --cell-levels / --eps-levels solves. Where the ladder
                ends unconverged the figure shows the whole ε-sequence converging toward the
                PDE and summary.json says so ("presentation"; for the last two ε also
                Richardson's 2R(ε/2) − R(ε), SGD's bias being linear in ε). The curve compared
                with the PDE is the particle flow (run_particle_flow, from the same law as SGD):
                noiseless, ε = 0 by adaptive dopri5 (the origin, the kink of σ, an event); noisy,
                the Langevin flow by Euler–Maruyama at --dt-langevin, whose step-doubling check
                (the solver's accuracy_tol) it must pass. Per panel --N-flow neurons and
                --flow-seeds seeds (seed, seed+1, …); with several, the compared curve is their
                average: the mean over the seeds of R_N(t) and of W2(radii, PDE), each run of N
                neurons against the iid baseline of N draws (like with like). Each flow runs in
                one call under --flow-budget seconds of CPU time (so not the machine's load
                decides), in --workers worker processes (one Numba thread each) while the main
                process computes the PDEs and SGD. "criterion" (SGD at the finest ε) and
                "flow_criterion" record the done-when test: W2(curve, PDE) ≤ 2× the iid
                baseline at every time (≤ 0.01 where that is below 0.005) and final risks
                within 5%; "best_curve" names the compared curve (the flow when it reached
                t_max, else the finest SGD), its N, max W2/iid, final risk gap and "verdict".

What the checks measured (each flow run alone, CPU seconds on the shared 2-core machine)::

  κ = 0.4       the PDE's R(10) is 0.2677 / 0.2740 / 0.2755 with 1200 / 2400 / 4800 cells;
                the flow's (ε = 0) R(10), gap to 0.2755 and max W2/iid, by N and seed:
                  N = 400   seed 0, 1, 2:  0.2584, 0.2753, 0.2434  (−6.2%, −0.1%, −11.7%;
                                           W2/iid 2.06, 1.24, 2.42; ≈ 270 steps, 50–56 s)
                  N = 800   seed 0, 1:     0.2609, 0.2706          (−5.3%, −1.8%; 1.53, 1.61;
                                           ≈ 315 steps, 90–94 s)
                  N = 1600  seed 0:        0.2897                  (+5.2%; 1.46; 340 steps, 202 s)
                At t = 10 the risk is still falling from the plateau R ≈ 1.6: the escape time
                varies from sample to sample and the final risk with it, ±5% even at N = 1600
                (the gap changes sign). Not the PDE grid, not the tolerance: a fluctuation of
                the plateau escape, which averaging over seeds reduces; hence two seeds at N = 800
                (their mean: −3.5%), ≈ 180 s of CPU.
  κ = 0.1, β    the PDE's R(10) is 0.3141 / 0.3212 / 0.3238 / 0.3248 with 150 / 300 / 600 / 1200
                cells (2.2%, 0.8%, 0.3% per doubling: 600 cells pass the 1% check, so
                --cell-levels is 3). The Langevin flow at N = 400: dt = 3e-3 passes its accuracy
                check narrowly (estimate 0.041 against its bound ≈ 0.042), hence 2.5e-3 by
                default (4000 steps, ≈ 90 s, estimate 0.030). Its R(10) varies with the sample:
                seeds 0, 1, 2 give 0.3082, 0.3402, 0.3021 (−4.8%, +5.1%, −6.7%; their mean
                0.3168, −2.2%): at N = 400 the seed-to-seed spread of the final risk is as large
                as the 5% tolerance, so the default seed's pass has no margin; --flow-seeds 1 2 3
                averages three (≈ 180 s more CPU, beyond the 5-minute budget). Noisy SGD at
                N = 400 gives 0.446, 0.399, 0.382 at
                ε = 1e-4, 5e-5, 2.5e-5: SGD's own gradient noise, of variance ∝ ε² per step against
                the injected 4ε/β, heats it (mean radius at t = 0.05: 0.76, 0.58 at ε = 1e-4,
                2.5e-5; the flow 0.35, the PDE 0.33). This example found a bug: the flow's
                Brownian increments came from numpy's default_rng(seed), init_gaussian's own
                generator, so with the same seed the first increment was proportional to W0, every
                radius jumped by the same factor and the particles left δ0 far faster than the PDE
                (mean radius 0.57 against 0.33 at t = 0.05); run_particle_flow now draws them from
                a child of SeedSequence(seed).
  κ = 0.1       collapses to δ0 (R = 1 + σ(0)² = 7.25; the PDE keeps the atom in its first cell);
                the flow at N = 400 meets the criterion (339 steps). At large ε (--quick) SGD's
                per-step fluctuation acts as a temperature and lets it escape.

Ctrl-C keeps what was computed: summary.json gets "status": "interrupted", the completed runs,
and of the runs of the interrupted stage only the snapshot times they reached
("interrupted_run"); the script says so and exits with status 130. (A PDE solve interrupted
midway returns its partial snapshots, marked interrupted; the example does not keep them.)

The default run (seed 0, warm Numba cache, the 2-core machine idle at its start, load average
2.4 at its end): 264 s wall, 470 s CPU in all (157 s in the main process, 61 + 88 + 76 + 85 s in
the four flows of the two workers); on the shared machine at load 5–9, with kernels compiled at
its start, 570 s wall and 519 s CPU. The numbers below do not depend on the load::

  t      R_N SGD  R PDE   E r SGD  E r PDE  W2      W2 iid  W1      W1 iid
  0      1.722    1.705   0.792    0.795    0.0054  0.0061  0.0036  0.0043
  1      1.075    1.071   1.421    1.423    0.0041  0.0045  0.0026  0.0033
  2      1.016    1.011   1.659    1.659    0.0066  0.0084  0.0044  0.0063
  5      0.701    0.699   2.363    2.356    0.026   0.045   0.020   0.029
  10     0.187    0.176   3.468    3.454    0.103   0.143   0.044   0.063

(the particle W2 stays at or below the iid-sample W2: SGD is as close to ρ̄_t as a fresh iid
sample; both grow from t = 2 to 10 as an atom near r = 0 separates from the bulk). Figure 4 at
t = 10, the compared curve against the PDE at its checked cells, every criterion met::

  κ = 0.1      flow, N = 400 (339 steps, 61 s): R 7.2500 against 7.2683 (300 cells; 150 → 300:
               0.25%): gap 0.3%; W2 ≤ 0.01 where the baseline is below 0.005 (the collapsed
               law, W2/iid up to 2.86 there), ≤ 2× iid elsewhere. SGD: 7.3180, 7.2827 at
               ε = 1e-5, 5e-6.
  κ = 0.4      flow, N = 800, mean of seeds 0 and 1 (320 and 308 steps, 88 s and 76 s):
               R 0.2658 (0.2609, 0.2706) against 0.2755 (4800 cells; 2400 → 4800: 0.52%): gap
               3.5%, max W2/iid 1.33. SGD at N = 400: 0.2282, 0.2317 at ε = 1e-5, 5e-6.
  κ = 0.1, β   Langevin flow, N = 400, dt = 2.5e-3 (4000 steps, 85 s, accuracy estimate 0.030):
               R 0.3082 against 0.3238 (600 cells; 300 → 600: 0.81%): gap 4.8% (seed 0; the
               seed-to-seed spread at N = 400 is about ±6%, see above), max W2/iid 1.91.
               Noisy SGD at N = 400: 0.4460, 0.3992 at ε = 1e-4, 5e-5.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import llvmlite
import numba
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

from solvers import init_gaussian, run_particle_flow, run_sgd, solve_radial_pde  # noqa: E402
from solvers import ParticleResult, SolverError  # noqa: E402

SNAPSHOT_TIMES = (0.0, 1.0, 2.0, 5.0, 10.0)
QUICK = dict(N=200, eps=1e-4, t_max=2.0, cells=300, cells_nonmonotone=(60, 150), dense=20, iid_draws=3,
             eps_noisy=1e-3, N_nonmonotone=200, N_flow=(200, 200, 200), flow_seeds=(1, 1, 1), dt_langevin=3e-3, eps_levels=3,
             cell_levels=2, flow_budget=60.0, workers=1)
FULL = dict(N=800, eps=1e-5, t_max=10.0, cells=2000, cells_nonmonotone=(150, 2400), dense=40, iid_draws=5,
            eps_noisy=1e-4, N_nonmonotone=400, N_flow=(400, 800, 400), flow_seeds=(1, 2, 1), dt_langevin=2.5e-3, eps_levels=2,
            cell_levels=3, flow_budget=600.0, workers=2)


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
                   help="first PDE cell counts (initial domain) of the cell-doubling check for the two κ "
                        "of figure 4 (the noisy panel uses BAD) [150 2400; quick 60 150]")
    g.add_argument("--dense", type=positive(int), default=None,
                   help="time intervals of the dense grid for figures 2–4 [40; quick 20]")
    g.add_argument("--iid-draws", type=positive(int), default=None,
                   help="iid samples averaged in the baseline [5; quick 3]")
    g = p.add_argument_group("figure 4 (non-monotone σ)")
    g.add_argument("--kappas", type=positive(float), nargs=2, default=[0.1, 0.4],
                   metavar=("BAD", "GOOD"), help="the two initial scales [0.1 0.4]")
    g.add_argument("--beta", type=positive(float), default=100.0,
                   help="inverse temperature of the noisy runs from the first κ [100]")
    g.add_argument("--eps-noisy", type=positive(float), default=None,
                   help="first SGD step size of the noisy panel's ε-ladder [1e-4; quick 1e-3]")
    g.add_argument("--lam", type=float, default=0.0, help="L2 regularisation λ ≥ 0 of the noisy runs [0]")
    g.add_argument("--N-nonmonotone", type=positive(int), default=None,
                   help="neurons of the figure-4 runs [400; quick 200]")
    g.add_argument("--eps-levels", type=positive(int), default=None,
                   help="at most this many SGD runs ε0, ε0/2, … per panel, stopping when two consecutive "
                        "halvings each move the final risk by < --eps-tol [2; quick 3]")
    g.add_argument("--eps-tol", type=positive(float), default=0.02, help="relative ε-halving tolerance [0.02]")
    g.add_argument("--cell-levels", type=positive(int), default=None,
                   help="at most this many PDE solves cells0, 2·cells0, … per panel, stopping when a doubling "
                        "moves the final risk by < --cells-tol [2; quick 2]")
    g.add_argument("--cells-tol", type=positive(float), default=0.01, help="relative cell-doubling tolerance [0.01]")
    g.add_argument("--N-flow", type=positive(int), nargs=3, default=None, metavar=("BAD", "GOOD", "NOISY"),
                   help="neurons of the particle-flow curve of each figure-4 panel (the curve compared with "
                        "the PDE) [400 800 400; quick 200 200 200]")
    g.add_argument("--flow-seeds", type=positive(int), nargs=3, default=None, metavar=("BAD", "GOOD", "NOISY"),
                   help="flows per figure-4 panel, from seeds SEED, SEED+1, …; the panel compares their "
                        "average (R_N and W2 to the PDE, each of N neurons, against the iid baseline of N "
                        "draws) [1 2 1; quick 1 1 1]")
    g.add_argument("--dt-langevin", type=positive(float), default=None,
                   help="Euler–Maruyama step of the Langevin flow of the noisy panel; it must pass the "
                        "solver's accuracy check [2.5e-3; quick 3e-3]")
    g.add_argument("--flow-budget", type=positive(float), default=None,
                   help="CPU-time budget (seconds, all threads) of each particle-flow curve: a flow still "
                        "running then is stopped and the panel says so [600; quick 60]")
    g.add_argument("--workers", type=int, default=None,
                   help="worker processes running the figure-4 flows while the main process runs the rest "
                        "(each with one Numba thread; 0: the flows run in the main process) [2; quick 1: on a "
                        "cold Numba cache every worker compiles the flow kernels itself]")
    g.add_argument("--no-flow", action="store_true", help="skip the particle flow curves")
    g.add_argument("--skip-nonmonotone", action="store_true", help="skip figure 4")
    return p


def check_out(parser, out):
    """Create the output folder and write a probe file there before any computation (an unwritable
    --out used to fail only at the first figure, after the whole run): a usage error otherwise."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        parser.error(f"--out {out}: cannot create or write this folder ({exc.strerror or exc})")


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
    if args.workers < 0:
        parser.error(f"--workers must be >= 0, got {args.workers}")
    if args.t_max / min(args.eps, args.eps_noisy) > 1e9:
        parser.error("--t-max / --eps exceeds 1e9 SGD steps")
    check_out(parser, args.out)
    return args


# ----------------------------------------------------------------- interrupts
class Interrupted(Exception):
    """Ctrl-C arrived; the example keeps what it computed and stops."""


def check_particles(res):
    """Raise Interrupted if a particle run (SGD or flow) returned early on Ctrl-C."""
    if res.interrupted:
        raise Interrupted(res.message)
    return res


def reached(res, times):
    """The number of requested snapshot ``times`` a (possibly interrupted) run has reached:
    an interrupted run's last snapshot is the state at the interruption, not a requested time."""
    n = 0
    for k, t in enumerate(res.times):
        if k < len(times) and abs(t - times[k]) <= 1e-9 * max(1.0, times[k]):
            n = k + 1
        else:
            break
    return n


# ----------------------------------------------------------------- runs
def time_grid(t_max, dense):
    """Dense uniform grid on [0, t_max] plus the snapshot times inside it."""
    grid = np.linspace(0.0, t_max, dense + 1)
    snaps = [t for t in SNAPSHOT_TIMES if t <= t_max]
    return np.unique(np.round(np.concatenate((grid, snaps)), 12))


def run_sgd_timed(model, args, n, kappa, eps, times, walls, label, beta=None, lam=0.0, partial=None):
    """SGD from n iid Gaussian neurons N(0, κ²/d I). An interrupted run is stored in
    ``partial`` (if given) before Interrupted is raised."""
    W0 = init_gaussian(n, args.d, kappa, args.seed)
    res = timed(f"SGD {label}, ε={eps:g}", walls, run_sgd, model, W0, eps, times, seed=args.seed,
                beta=beta, lam=lam, progress=sys.stderr.isatty())
    if partial is not None:  # kept (with the snapshot times it reached) if Ctrl-C comes later in the stage
        partial.append((label, eps, res))
    return check_particles(res)


def run_pde_timed(model, kappa, times, cells, walls, label, beta=None, lam=0.0):
    """The radial PDE; Interrupted if Ctrl-C stopped it (its partial snapshots are not kept)."""
    sol = timed(f"PDE {label}, {cells} cells", walls, solve_radial_pde, model, init="gaussian", kappa=kappa,
                times=times, cells=cells, beta=beta, lam=lam, progress=sys.stderr.isatty())
    if sol.status != "finished":
        raise Interrupted(sol.message)
    return sol


def compare(res, sol, iid_draws, seed, count=None):
    """Per-time risks, mean radii, W2/W1 (particles vs PDE) and the iid baseline, over the
    first ``count`` snapshots (default all). ``sol`` None: the particle columns only."""
    rng = np.random.default_rng([seed, 2018])
    count = res.times.size if count is None else count
    keys = ("sgd_risk", "sgd_mean_radius") + (() if sol is None else (
        "pde_risk", "pde_mean_radius", "w2", "w1")) + (() if sol is None or not iid_draws else ("iid_w2", "iid_w1"))
    out = {key: [] for key in keys}
    n = res.radii.shape[1]
    for k in range(count):
        out["sgd_risk"].append(float(res.risk[k]))
        out["sgd_mean_radius"].append(float(res.radii[k].mean()))
        if sol is None:
            continue
        out["pde_risk"].append(float(sol.risk[k]))
        out["pde_mean_radius"].append(sol.mean_radius(k))
        out["w2"].append(w2_radial(res.radii[k], sol, index=k))
        out["w1"].append(w1_radial(res.radii[k], sol, index=k))
        if not iid_draws:
            continue
        draws = [sol.sample(k, n, rng) for _ in range(iid_draws)]
        out["iid_w2"].append(float(np.mean([w2_radial(x, sol, index=k) for x in draws])))
        out["iid_w1"].append(float(np.mean([w1_radial(x, sol, index=k) for x in draws])))
    out["times"] = [float(t) for t in res.times[:count]]
    return out


def relative_change(new, old):
    """|new − old| / |new|: the convergence measure of one refinement (ε/2 or 2× cells)."""
    return float(abs(new - old) / max(abs(new), 1e-300))


def add_deltas(ref, halved, doubled):
    """Next to every compared quantity q of the reference run: q(ε/2) − q(ε) and q(2 cells) − q(cells)."""
    for key in [k for k in ref if k != "times"]:
        ref[key + "_delta_eps_half"] = [b - a for a, b in zip(ref[key], halved[key])]
        ref[key + "_delta_cells_double"] = [b - a for a, b in zip(ref[key], doubled[key])]


def criterion(data, w2_factor=2.0, w2_floor=0.01, floor_below=0.005, risk_rel=0.05):
    """The done-when test of a figure-4 panel: W2(SGD, PDE) ≤ 2× the iid baseline at every
    snapshot time (≤ 0.01 where the baseline is below 0.005, e.g. the law collapsed to δ0,
    where SGD's O(ε) jitter is all there is) and final risks within 5%."""
    ok_w2 = [bool(w <= (w2_floor if b < floor_below else w2_factor * b)) for w, b in zip(data["w2"], data["iid_w2"])]
    risk_gap = relative_change(data["pde_risk"][-1], data["sgd_risk"][-1])
    return dict(w2_ok=ok_w2, final_risk_relative_gap=risk_gap, risk_ok=bool(risk_gap <= risk_rel),
                met=bool(all(ok_w2) and risk_gap <= risk_rel))


def best_curve(data, n):
    """The particle curve compared with the PDE: the flow (noiseless: ε = 0, its only error is N;
    noisy: the Langevin flow, Euler–Maruyama) when it reached t_max, else SGD at the finest ε; with
    its criterion, largest W2/iid ratio (against its own iid baseline) and its n neurons."""
    if "flow_criterion" in data:
        name = "flow (ε = 0)" if data["beta"] is None else f"Langevin flow (dt = {data['flow']['dt']:g})"
        if len(data["flow"]["seeds"]) > 1:
            name += f", mean of {len(data['flow']['seeds'])} seeds"
        curve, check = data["flow_curve"], data["flow_criterion"]
    else:
        name, curve, check = f"SGD ε = {data['eps']:g}", data, data["criterion"]
    ratio = max(w / b for w, b in zip(curve["w2"], curve["iid_w2"]))
    return dict(curve=name, N=n, max_w2_over_iid=ratio, final_risk_relative_gap=check["final_risk_relative_gap"],
                criterion_met=check["met"])


def settled(deltas, tol, confirm):
    """The last ``confirm`` relative changes of a refinement ladder are all below tol."""
    return bool(len(deltas) >= confirm and all(x < tol for x in deltas[-confirm:]))


def pde_ladder(model, kappa, times, cells0, levels, tol, walls, label, beta=None, lam=0.0):
    """PDE at cells0, 2·cells0, …: stop at the first doubling that moves R(t_max) by < tol
    (relative), or after ``levels`` solves. Returns (finest solution, check dict)."""
    sols, cells, deltas = [], [], []
    for level in range(levels):
        c = cells0 * 2**level
        sols.append(run_pde_timed(model, kappa, times, c, walls, label, beta, lam))
        cells.append(c)
        if level:
            deltas.append(relative_change(sols[-1].risk[-1], sols[-2].risk[-1]))
            if settled(deltas, tol, 1):
                break
    converged = settled(deltas, tol, 1)
    log(f"  cells check {label}: R(t={times[-1]:g}) = " + ", ".join(
        f"{s.risk[-1]:.4f} ({c})" for s, c in zip(sols, cells)) + "; relative change per doubling "
        + ", ".join(f"{x:.2%}" for x in deltas) + (" < " if converged else " ≥ ") + f"{tol:.0%}")
    return sols[-1], dict(cells=cells, final_risk=[float(s.risk[-1]) for s in sols], relative_change=deltas,
                          tolerance=tol, confirm=1, converged=converged)


def eps_ladder(model, args, n, kappa, times, eps0, levels, tol, walls, label, beta=None, lam=0.0, partial=None,
               confirm=2):
    """SGD at ε0, ε0/2, …: stop once ``confirm`` consecutive halvings each move R_N(t_max) by
    < tol (relative), or after ``levels`` runs. Two, because one is not enough here: for κ = 0.4
    (N = 400) ε = 1e-5 → 5e-6 moved R_N(10) by 1.5% while both sat 16% below the PDE (the
    plateau escape is a threshold in ε). Returns (runs, check dict); runs[-1] is the finest."""
    runs, eps, deltas = [], [], []
    for level in range(levels):
        e = eps0 / 2**level
        runs.append(run_sgd_timed(model, args, n, kappa, e, times, walls, label, beta, lam, partial))
        eps.append(e)
        if level:
            deltas.append(relative_change(runs[-1].risk[-1], runs[-2].risk[-1]))
            if settled(deltas, tol, confirm):
                break
    converged = settled(deltas, tol, confirm)
    log(f"  ε check {label}: R_N(t={times[-1]:g}) = " + ", ".join(
        f"{r.risk[-1]:.4f} (ε={e:g})" for r, e in zip(runs, eps)) + "; relative change per halving "
        + ", ".join(f"{x:.2%}" for x in deltas) + (f": the last {confirm} < {tol:.0%}, converged" if converged else
                                                    f": not converged (the last {confirm} must each be < {tol:.0%})"))
    return runs, dict(eps=eps, final_risk=[float(r.risk[-1]) for r in runs], relative_change=deltas,
                      tolerance=tol, confirm=confirm, converged=converged)


def caused_by(exc, kind):
    """True if ``exc`` or an exception in its __cause__/__context__ chain is a ``kind``: an
    exception raised by a signal handler inside a compiled (Numba) call reaches Python wrapped in
    one or more SystemError("... returned a result with an exception set")."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, kind):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


class _Budget(Exception):
    """The CPU-time budget of a flow curve ran out."""


#: Numba's and llvmlite's code: an exception raised there by the budget's alarm is swallowed by a
#: ctypes callback and leaves a function half-compiled ("no compiled object yet" on its next call).
_COMPILER_DIRS = tuple(os.path.dirname(module.__file__) + os.sep for module in (numba, llvmlite))


def in_compiler(frame):
    """Whether ``frame`` or one of its callers runs Numba's or llvmlite's Python code (a compilation:
    calls of compiled functions leave no Python frame there)."""
    while frame is not None:
        if frame.f_code.co_filename.startswith(_COMPILER_DIRS):
            return True
        frame = frame.f_back
    return False


@contextlib.contextmanager
def cpu_budget(seconds):
    """Raise _Budget in the main thread once the process has used ``seconds`` more CPU time (all
    threads: ITIMER_PROF/SIGPROF, so the budget does not depend on the machine's load; a no-op
    where unavailable). The solver sees a KeyboardInterrupt-free exception, so a real Ctrl-C stays
    distinct. An alarm that lands inside the compiler (:func:`in_compiler`) waits for it: it is
    re-armed every 50 ms of CPU time until the compilation has returned."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        if in_compiler(frame):
            signal.setitimer(signal.ITIMER_PROF, 0.05)
            return
        raise _Budget

    previous = signal.signal(signal.SIGPROF, expire)
    signal.setitimer(signal.ITIMER_PROF, max(seconds, 1e-3))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0.0)
        signal.signal(signal.SIGPROF, previous)


def flow_curve(model, args, n, seed, kappa, times, walls, label, beta=None, lam=0.0):
    """The particle flow from n iid Gaussian neurons (init_gaussian's ``seed``, also the noise's), in one call over
    ``times`` under the CPU budget: noiseless (β None) by adaptive dopri5 (the origin, where σ has
    its kink, an event), else the Langevin flow by Euler–Maruyama at ``args.dt_langevin`` (whose
    step-doubling check raises AccuracyError if the step is too large; the run stops there).
    Returns (result or None, info): the snapshots reached (none if the budget ran out)."""
    W0 = init_gaussian(n, args.d, kappa, seed)
    name = "flow" if beta is None else "Langevin flow"
    label = f"{label}, N={n}, seed {seed}"
    info = dict(N=n, seed=seed, budget_cpu_s=args.flow_budget, method="dopri5" if beta is None else "euler",
                dt=None if beta is None else args.dt_langevin)
    log(f"· {name} {label} …")
    start, cpu = time.perf_counter(), time.process_time()
    res = None
    try:
        with cpu_budget(args.flow_budget):
            res = run_particle_flow(model, W0, times, beta=beta, lam=lam, seed=seed, progress=False,
                                    dt=None if beta is None else args.dt_langevin)
        check_particles(res)
        info["status"] = f"run to t = {times[-1]:g} in {res.steps} steps"
    except SolverError as exc:  # a too-large Euler step (AccuracyError), a divergence: keep the snapshots
        res = exc.result
        info["status"] = f"failed: {exc}"
    except (_Budget, SystemError) as exc:  # SystemError: the alarm landed inside a compiled call
        if not caused_by(exc, _Budget):
            raise
        info["status"] = (f"too slow: the {name} did not reach t = {times[-1]:g} within its CPU budget of "
                          f"{args.flow_budget:g} s (--flow-budget); no curve")
    walls[f"{name} {label}"] = round(time.perf_counter() - start, 3)
    info.update(wall_s=walls[f"{name} {label}"], cpu_s=round(time.process_time() - cpu, 3),
                steps=None if res is None else int(res.steps),
                error_estimate=None if res is None else res.error_estimate,
                reached_t=float(res.times[-1]) if res is not None and res.times.size else None)
    log(f"  {name} {label}: {info['status']} ({info['cpu_s']:.1f} s CPU, {info['wall_s']:.1f} s wall)")
    if res is None or not res.times.size:
        return None, info
    return res, info


def flow_average(flows, n, seeds, kappa, times, sol, walls, label, beta=None, lam=0.0, iid_draws=5, seed0=0):
    """The flow of n neurons from each seed, and their average against the PDE: the mean over the
    seeds of R_N(t), of the mean radius and of W2/W1(radii, PDE), beside the iid baseline of n draws
    (each curve has n neurons: like with like), over the snapshots every run reached.
    Returns (info, averaged curve or None)."""
    runs, infos = [], []
    for seed in seeds:
        res, info = flows.get(n, seed, kappa, beta, lam, label)
        walls[f"flow {label}, N={n}, seed {seed}"] = info["wall_s"]
        infos.append(info)
        if res is not None:
            runs.append(res)
    info = dict(N=n, seeds=list(seeds), dt=infos[0]["dt"], method=infos[0]["method"], runs=infos,
                status="; ".join(f"seed {i['seed']}: {i['status']}" for i in infos))
    count = min((reached(r, times) for r in runs), default=0)
    if len(runs) < len(seeds) or not count:
        return info, None
    per_seed = [compare(r, sol, 0, seed, count) for r, seed in zip(runs, seeds)]
    curve = {key: [float(x) for x in np.mean([c[key] for c in per_seed], axis=0)]
             for key in ("sgd_risk", "sgd_mean_radius", "w2", "w1")}
    iid = compare(runs[0], sol, iid_draws, seed0, count)
    curve.update(times=iid["times"], pde_risk=iid["pde_risk"], pde_mean_radius=iid["pde_mean_radius"],
                 iid_w2=iid["iid_w2"], iid_w1=iid["iid_w1"],
                 per_seed=[dict(seed=seed, sgd_risk=c["sgd_risk"], w2=c["w2"]) for c, seed in zip(per_seed, seeds)])
    info["risk_relative_gap_at_reached_t"] = relative_change(sol.risk[count - 1], curve["sgd_risk"][-1])
    return info, curve


class FlowRunner:
    """The figure-4 flows, by (N, seed, κ, β, λ): with ``args.workers`` > 0 started at once in that
    many worker processes (this script with --flow-worker, one Numba thread each; jobs spread by
    estimated cost), so that they run while the main process computes the PDEs and SGD; else
    run in the main process when asked for. ``get`` returns flow_curve's (result or None, info)."""

    def __init__(self, args, times, jobs):
        self.args, self.times, self.procs, self.dir = args, times, [], None
        self.jobs = {self.key(*job): f"job{i}" for i, job in enumerate(jobs)}
        if args.workers == 0 or not jobs:
            return
        self.dir = tempfile.TemporaryDirectory(prefix="flows-")
        cost = {key: key[0] * (args.t_max / args.dt_langevin if key[3] is not None else 180 * args.t_max)
                for key in self.jobs}  # drift evaluations × N (the drift's cost grows about like N here)
        loads = [[0.0, []] for _ in range(min(args.workers, len(jobs)))]
        for key in sorted(self.jobs, key=cost.get, reverse=True):  # longest first, to the least loaded
            load = min(loads, key=lambda x: x[0])
            load[0] += cost[key]
            load[1].append(dict(name=self.jobs[key], n=key[0], seed=key[1], kappa=key[2], beta=key[3],
                                lam=key[4], label=key[5]))
        for _, todo in loads:  # each worker in the panels' order: the main process asks in that order
            todo.sort(key=lambda job: int(job["name"][3:]))
        params = dict(delta=args.delta, d=args.d, t_max=args.t_max, dense=args.dense, dt_langevin=args.dt_langevin,
                      flow_budget=args.flow_budget)
        env = dict(os.environ, NUMBA_NUM_THREADS="1")
        for k, (_, todo) in enumerate(loads):
            path = Path(self.dir.name) / f"worker{k}.json"
            path.write_text(json.dumps(dict(params=params, jobs=todo, dir=self.dir.name)))
            self.procs.append(subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--flow-worker",
                                                str(path)], env=env, stdout=subprocess.DEVNULL))

    @staticmethod
    def key(n, seed, kappa, beta, lam, label):
        return (int(n), int(seed), float(kappa), beta, float(lam), label)

    def get(self, n, seed, kappa, beta, lam, label):
        if not self.procs:
            model = IsotropicGaussians(self.args.delta, self.args.d, nonmonotone())
            return flow_curve(model, self.args, n, seed, kappa, self.times, {}, label, beta, lam)
        name = self.jobs[self.key(n, seed, kappa, beta, lam, label)]
        done = Path(self.dir.name) / f"{name}.json"
        while not done.exists():
            if all(proc.poll() is not None for proc in self.procs) and not done.exists():
                codes = [proc.returncode for proc in self.procs]
                if 130 in codes:
                    raise Interrupted("a flow worker was interrupted (Ctrl-C)")
                raise RuntimeError(f"the flow workers ended (exit codes {codes}) without flow {label}, N={n}, "
                                   f"seed {seed}; their messages are above")
            time.sleep(0.1)
        info = json.loads(done.read_text())
        if info.pop("has_result"):
            with np.load(Path(self.dir.name) / f"{name}.npz") as z:
                return ParticleResult(times=z["times"], radii=z["radii"], risk=z["risk"], weights=None,
                                      steps=info["steps"], dynamics="flow"), info
        return None, info

    def close(self):
        """Stop the workers still running (Ctrl-C, an error) and remove their files."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
            proc.wait()
        if self.dir is not None:
            self.dir.cleanup()


def flow_worker(path):
    """Run the flow jobs of a worker file (see FlowRunner): each result to <dir>/<name>.npz, then its
    info to <name>.json (written last, under a temporary name: its presence means done). Exit
    status 130 on Ctrl-C."""
    spec = json.loads(Path(path).read_text())
    args = argparse.Namespace(**spec["params"])
    model = IsotropicGaussians(args.delta, args.d, nonmonotone())
    times = time_grid(args.t_max, args.dense)
    out = Path(spec["dir"])
    try:
        for job in spec["jobs"]:
            res, info = flow_curve(model, args, job["n"], job["seed"], job["kappa"], times, {}, job["label"],
                                   job["beta"], job["lam"])
            if res is not None:
                np.savez(out / f"{job['name']}.npz", times=res.times, radii=res.radii, risk=res.risk)
            tmp = out / f"{job['name']}.tmp"
            tmp.write_text(json.dumps(dict(info, has_result=res is not None)))
            tmp.replace(out / f"{job['name']}.json")
    except (Interrupted, KeyboardInterrupt):
        return 130
    return 0


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


def axis_scale(values):
    """"log" where the positive values span more than a decade, else "linear": a log axis over a
    narrow range (κ = 0.1's risk, 7.25–8.4) makes small differences look large."""
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    return "log" if low > 0 and high > 10 * low else "linear"


def figure_nonmonotone(panels, path):
    """One column per panel: risk (top) and W2 to the PDE (bottom) vs t, for every ε of the
    panel's ε-sequence, the deterministic flow (no ε) and the PDE at its checked cell count."""
    fig, axes = plt.subplots(2, len(panels), figsize=(4.6 * len(panels), 7.2), squeeze=False)
    for col, (label, data) in enumerate(panels.items()):
        top, bottom = axes[0, col], axes[1, col]
        top.plot(data["times"], data["pde_risk"], "k-", lw=1.6,
                 label=f"PDE ({data['cells_check']['cells'][-1]} cells)")
        levels = data["levels"]
        shades = plt.cm.viridis(np.linspace(0.85, 0.15, len(levels)))
        for level, shade in zip(levels, shades):
            top.plot(level["times"], level["sgd_risk"], "o-", ms=2.5, lw=0.8, color=shade,
                     label=f"SGD ε={level['eps']:g}")
            bottom.plot(level["times"], level["w2"], "o-", ms=2.5, lw=0.8, color=shade,
                        label=f"SGD ε={level['eps']:g}")
        bottom.plot(data["times"], data["iid_w2"], "k:", label=f"{data['N']} iid draws of ρ̄_t")
        if data.get("flow_curve"):
            flow, info = data["flow_curve"], data["flow"]
            name = (f"particle flow ε = 0, N = {info['N']}" if data["beta"] is None else
                    f"Langevin flow dt = {info['dt']:g}, N = {info['N']}")
            if len(flow["per_seed"]) > 1:
                name += f", mean of {len(flow['per_seed'])} seeds (thin: each)"
                for one in flow["per_seed"]:
                    top.plot(flow["times"], one["sgd_risk"], "-", color="tab:red", lw=0.7, alpha=0.6)
                    bottom.plot(flow["times"], one["w2"], "-", color="tab:red", lw=0.7, alpha=0.6)
            top.plot(flow["times"], flow["sgd_risk"], "-", color="tab:red", lw=2.0, alpha=0.8, label=name)
            bottom.plot(flow["times"], flow["w2"], "-", color="tab:red", lw=2.0, alpha=0.8, label=name)
            if info["N"] != data["N"]:
                bottom.plot(flow["times"], flow["iid_w2"], ":", color="tab:red", label=f"{info['N']} iid draws of ρ̄_t")
        for ax in (top, bottom):
            ax.set_yscale(axis_scale(np.concatenate([np.ravel(line.get_ydata()) for line in ax.get_lines()])))
        check, best = data["eps_check"], data["best_curve"]
        deltas = ", ".join(f"{x:.1%}" for x in check["relative_change"])
        verdict = "converged" if check["converged"] else "not converged"
        top.set_title(f"{label}\ncompared: {best['curve']}: max W2/iid {best['max_w2_over_iid']:.2f}, "
                      f"R gap {best['final_risk_relative_gap']:.1%}\nSGD ε-sequence {verdict}: ΔR per halving "
                      f"{deltas}", fontsize=8)
        top.set_ylabel("population risk")
        bottom.set_ylabel("W2(radii, PDE)")
        bottom.set_xlabel("t")
        for ax in (top, bottom):
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=6)
    fig.suptitle("non-monotone σ: the particle flow (ε = 0; noisy: Langevin; red) against the PDE (black), "
                 "SGD's ε-sequence beside it")
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


def nonmonotone_cases(args):
    """(label, κ, ε0, cells0, β, λ, N of the flows, their seeds) of the figure-4 panels."""
    bad, good = args.kappas
    cells_bad, cells_good = args.cells_nonmonotone
    n_bad, n_good, n_noisy = args.N_flow
    seeds = [list(range(args.seed, args.seed + k)) for k in args.flow_seeds]
    return [(f"κ={bad:g}", bad, args.eps, cells_bad, None, 0.0, n_bad, seeds[0]),
            (f"κ={good:g}", good, args.eps, cells_good, None, 0.0, n_good, seeds[1]),
            (f"κ={bad:g}, β={args.beta:g}, λ={args.lam:g}", bad, args.eps_noisy, cells_bad, args.beta, args.lam,
             n_noisy, seeds[2])]


def last_change(check):
    """The last relative change of a ladder as a percentage, or why there is none."""
    return f"{check['relative_change'][-1]:.2%}" if check["relative_change"] else "unmeasured (one level)"


def nonmonotone_panel(model, args, label, kappa, eps0, cells0, beta, lam, n_flow, seeds, times, walls, partial,
                      flows):
    """One figure-4 panel: the cell check of the PDE, SGD's ε-ladder against the finest PDE,
    the flow of n_flow neurons (noisy: the Langevin flow) from each of ``seeds`` and their average,
    and the done-when criterion."""
    n = args.N_nonmonotone
    sol, cells_check = pde_ladder(model, kappa, times, cells0, args.cell_levels, args.cells_tol, walls,
                                  f"non-monotone {label}", beta, lam)
    partial.append(("pde", label, sol))
    runs, eps_check = eps_ladder(model, args, n, kappa, times, eps0, args.eps_levels, args.eps_tol, walls,
                                 f"non-monotone {label}", beta, lam, partial)
    finest = runs[-1]
    data = compare(finest, sol, args.iid_draws, args.seed)
    data["levels"] = [dict(eps=float(r.eps), **{k: v for k, v in compare(r, sol, 0, args.seed).items()
                                                if not k.startswith("iid")}) for r in runs]
    data.update(kappa=kappa, beta=beta, lam=lam, N=n, eps=float(finest.eps), cells=int(sol.r.size),  # grown domain
                eps_check=eps_check, cells_check=cells_check,
                pde_mass_at_origin_cell=[float(m) for m in sol.mass[:, 0]],
                sgd_fraction_below_0_05=[float(np.mean(x < 0.05)) for x in finest.radii])
    data["criterion"] = criterion(data)
    if not args.no_flow:
        data["flow"], data["flow_curve"] = flow_average(flows, n_flow, seeds, kappa, times, sol, walls,
                                                        f"non-monotone {label}", beta, lam, args.iid_draws, args.seed)
        if data["flow_curve"] is None:
            del data["flow_curve"]
        elif len(data["flow_curve"]["times"]) == len(times):
            data["flow_criterion"] = criterion(data["flow_curve"])
    else:
        data["flow"] = dict(status="not run: --no-flow")
    data["best_curve"] = best_curve(data, n_flow if "flow_criterion" in data else n)
    if eps_check["converged"] and cells_check["converged"]:
        data["presentation"] = (f"converged: ε = {finest.eps:g} (the last two halvings moved R_N(t_max) by "
                                + " and ".join(f"{x:.2%}" for x in eps_check["relative_change"][-2:])
                                + f" < {args.eps_tol:.0%}), {sol.r.size} cells "
                                f"(doubling moved R by {last_change(cells_check)} < {args.cells_tol:.0%})")
    else:
        parts = []
        if not eps_check["converged"]:
            parts.append("SGD's ε-halvings moved R_N(t_max) by "
                         + ", ".join(f"{x:.2%}" for x in eps_check["relative_change"])
                         + f" (two consecutive < {args.eps_tol:.0%} required) down to ε = {finest.eps:g}: the "
                         "figure shows the ε-sequence "
                         + ", ".join(f"{e:g}" for e in eps_check["eps"]) + " with final risks "
                         + ", ".join(f"{x:.4f}" for x in eps_check["final_risk"])
                         + f" approaching the PDE's {sol.risk[-1]:.4f}")
            if len(runs) >= 2:  # SGD's bias is linear in ε: Richardson's 2R(ε/2) − R(ε) removes it
                data["richardson_final_risk"] = float(2 * runs[-1].risk[-1] - runs[-2].risk[-1])
                parts[-1] += f" (Richardson 2R(ε/2) − R(ε) = {data['richardson_final_risk']:.4f})"
        if not cells_check["converged"]:
            parts.append(f"the PDE's cell doubling still moves R(t_max) by "
                         f"{last_change(cells_check)} ≥ {args.cells_tol:.0%} at {sol.r.size} cells")
        data["presentation"] = "not converged within the budget: " + "; ".join(parts)
    data["best_curve"]["verdict"] = verdict(data["best_curve"])
    log(f"  {label}: {data['presentation']}\n  {label}: criterion {data['best_curve']['verdict']}")
    return data


def verdict(best):
    """The done-when test of a panel's compared curve in words."""
    return (f"{'met' if best['criterion_met'] else 'not met'}: {best['curve']}, N = {best['N']}: max W2/iid "
            f"{best['max_w2_over_iid']:.2f}, final risk gap {best['final_risk_relative_gap']:.1%}")


def partial_rows(partial, times, args):
    """Rows of the run that was interrupted: only the requested snapshot times it reached."""
    out = {}
    pde = {}
    for entry in partial:
        if entry[0] == "pde":
            pde[entry[1]] = entry[2]
    for entry in partial:
        if entry[0] == "pde":
            continue
        label, eps, res = entry
        count = reached(res, times)
        sol = next((s for key, s in pde.items() if label.endswith(key)), None)
        rows = compare(res, sol, 1, args.seed, count=count) if res.radii is not None else {"times": []}
        rows.update(eps=float(eps), interrupted_at_t=float(res.times[-1]) if res.times.size else 0.0,
                    message=res.message)
        out[f"{label}, ε={eps:g}"] = rows
    return out


def write_summary(args, snaps, ref, nonmono, walls, start, status, message, partial=None):
    walls["total"] = round(time.perf_counter() - start, 3)
    walls["cpu_main_process"] = round(time.process_time(), 3)  # the flows' own CPU time: in their "flow" info
    params = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    summary = dict(status=status, message=message, parameters=params, activation="ramp", snapshot_times=snaps,
                   reference=ref, nonmonotone=nonmono,
                   sigma0_squared_plus_1=1.0 + float(nonmonotone()(0.0)) ** 2, wall_time_s=walls,
                   load_average=list(os.getloadavg()) if hasattr(os, "getloadavg") else None)
    if partial is not None:
        summary["interrupted_run"] = partial
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def main(argv=None):
    """Run the example; returns the summary dict (also written to OUT/summary.json), whose
    "status" is "finished" or "interrupted" (Ctrl-C: what was computed is kept)."""
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
    ref, nonmono, partial = {}, {}, []
    stage = "start"
    jobs = [] if args.no_flow or args.skip_nonmonotone else [
        (n, seed, kappa, beta, lam, f"non-monotone {label}")
        for label, kappa, _, _, beta, lam, n, seeds in nonmonotone_cases(args) for seed in seeds]
    flows = FlowRunner(args, times, jobs)
    try:
        stage = "reference run"
        model = IsotropicGaussians(args.delta, args.d, ramp())
        label = "reference (ramp)"
        sol = run_pde_timed(model, args.kappa, times, args.cells, walls, label)
        partial.append(("pde", label, sol))
        res = run_sgd_timed(model, args, args.N, args.kappa, args.eps, times, walls, label, partial=partial)
        ref = compare(res, sol, args.iid_draws, args.seed)
        figure_radial_laws(res, sol, snaps, args.out / "fig1_radial_laws.png")
        figure_risk(ref, args.out / "fig2_risk.png")
        figure_wasserstein(ref, args.N, args.out / "fig3_wasserstein.png")
        # convergence check of figures 1–3: ε/2 and 2× cells, compared quantity by quantity
        res_half = run_sgd_timed(model, args, args.N, args.kappa, args.eps / 2, times, walls, label, partial=partial)
        sol_double = run_pde_timed(model, args.kappa, times, 2 * args.cells, walls, label)
        add_deltas(ref, compare(res_half, sol, args.iid_draws, args.seed),
                   compare(res, sol_double, args.iid_draws, args.seed))
        ref["eps"], ref["cells"] = args.eps, args.cells
        partial.clear()
        if not args.skip_nonmonotone:
            model_nm = IsotropicGaussians(args.delta, args.d, nonmonotone())
            for label, kappa, eps0, cells0, beta, lam, n_flow, seeds in nonmonotone_cases(args):
                stage = f"figure 4, {label}"
                nonmono[label] = nonmonotone_panel(model_nm, args, label, kappa, eps0, cells0, beta, lam, n_flow,
                                                   seeds, times, walls, partial, flows)
                partial.clear()
            figure_nonmonotone(nonmono, args.out / "fig4_nonmonotone.png")
    except (KeyboardInterrupt, Interrupted, SystemError) as exc:
        # SystemError: a Ctrl-C that landed inside a compiled (Numba) call of a solver
        if isinstance(exc, SystemError) and not caused_by(exc, KeyboardInterrupt):
            raise
        rows = partial_rows(partial, times, args)
        message = (f"interrupted (Ctrl-C) during {stage}: summary.json keeps the completed runs and, of the "
                   f"run in progress, only the snapshot times it reached")
        summary = write_summary(args, snaps, ref, nonmono, walls, start, "interrupted", message, rows)
        log(f"\n{message}; written to {args.out}/summary.json")
        return summary
    finally:
        flows.close()
    summary = write_summary(args, snaps, ref, nonmono, walls, start, "finished", "finished")
    print_table(ref, snaps)
    for label, data in nonmono.items():
        flow = data.get("flow_curve")
        print(f"non-monotone {label:>24}: ε={data['eps']:g}, {data['cells_check']['cells'][-1]} cells "
              f"({data['cells']} on the grown domain): risk at t={data['times'][-1]:g} SGD "
              f"{data['sgd_risk'][-1]:.4f}, PDE {data['pde_risk'][-1]:.4f}"
              + (f"; flow (N={data['flow']['N']}, {len(flow['per_seed'])} seeds) {flow['sgd_risk'][-1]:.4f} at "
                 f"t={flow['times'][-1]:g}" if flow else "")
              + f"; SGD max W2/iid {max(w / b for w, b in zip(data['w2'], data['iid_w2'])):.2f}"
              f"\n    criterion {data['best_curve']['verdict']}\n    {data['presentation']}")
    print(f"\nfigures and summary.json in {args.out}/ (total {walls['total']:.1f} s, "
          f"load average {summary['load_average'][0]:.1f})")
    return summary


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--flow-worker":  # internal: a FlowRunner worker
        sys.exit(flow_worker(sys.argv[2]))
    sys.exit(130 if main()["status"] == "interrupted" else 0)
