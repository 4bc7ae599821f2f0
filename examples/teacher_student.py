"""
Teacher–student: online SGD against the committee-machine ODE
=============================================================

Soft committee machines (unnormalised: a ≡ K, a* ≡ M) learn an orthonormal teacher at d = 1000 from
small prescribed overlaps Q₀ = 0.2 I, R₀ ≈ 1e-3 (:func:`meanfield.init_from_overlaps`), in three cases:

  erf_K2_M2    erf (σ = erf(t/√2)), K = M = 2, η = 2εdK = 1, t ≤ 60
  erf_K4_M2    erf, an over-parameterised student K = 4 > M = 2, η = 1, t ≤ 60
  relu_K2_M2   ReLU student and teacher, K = M = 2, η = 0.5, t ≤ 9 (quick: 6)

Each runs online SGD (:func:`solvers.run_sgd`, ``record=("overlaps",)``, R_N from the overlaps) over a
few seeds, next to the order-parameter ODE (:func:`solvers.solve_order_parameters`) with the η² term
of the step (``eps=ε``) and without it (the flow). For erf the η² term is Saad & Solla's closed form;
for ReLU it is the quadrature of :mod:`meanfield.overlap_noise` (at the ODE's rtol 1e-4 its order is
20 nodes per panel: ~15 ms per evaluation, 744 evaluations for t ≤ 9), so the ReLU case stops at
0.15 × --t-max with rtol 1e-4: its η² ODE only starts to leave the plateau by then (R_N = 0.08 at
t = 9; quick, t ≤ 6: 0.19), SGD has left it::

  CASE_risk.png      the exact risk R_N = 2ε_g of SGD (each seed), the ODE with η² and the flow
  CASE_overlaps.png  R_it and Q_ij vs t: SGD seed 0 (dots) and the η² ODE (lines)
  summary.json       per case: every number behind the figures, the plateau level (median of
                     R_N over 0 < t ≤ horizon/6, ReLU 0 < t ≤ horizon/2) and final risk of each SGD seed,
                     their mean, the η² ODE and the flow; parameters and wall times

Run it as::

    python examples/teacher_student.py --quick        # d = 300, 2 seeds: 18 s CPU warm, 52 s cold (Numba)
    python examples/teacher_student.py --out results  # d = 1000, 3 seeds: 41 s CPU warm

What it shows: the students first learn the teacher's mean direction and sit on the symmetric
plateau, then they specialise and R_N falls. Measured (default run, d = 1000, seeds 0, 1, 2)::

                plateau R_N                           final R_N
                η² ODE  flow    SGD seeds             η² ODE   flow     SGD seeds
  erf_K2_M2     0.0416  0.0237  0.0416 0.0421 0.0410  1.7e-06  5.6e-07  1.2e-07 4.0e-07 6.1e-07
  erf_K4_M2     0.2320  0.0278  0.2337 0.2273 0.2319  4.3e-04  1.2e-08  1e-12   1e-10   3e-12
  relu_K2_M2    0.1908  0.1472  0.1883 0.1787 0.1926  8.2e-02  2.9e-03  2.6e-03 8.7e-05 1.9e-02

The η² term lifts the plateau (erf K = M = 2 by 75%, K = 4 eightfold, ReLU by 30%) and SGD sits on
it, not on the flow's (quick run, d = 300: erf K = 2 SGD 0.0415, 0.0428 against 0.0418; K = 4 0.2291,
0.2323 against 0.2310; ReLU 0.182, 0.186 against 0.195). The plateau's height is the ODE's; its length
is not: at finite d the SGD overlaps fluctuate by O(1/√d), which breaks the symmetry earlier than the
prescribed initial asymmetry does, by an amount that varies from seed to seed (K = 4: SGD leaves the
plateau at t ≈ 20, the η² ODE at t ≈ 48; once the over-parameterised student interpolates,
the η² term vanishes with the risk and SGD reaches 1e-10).
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

from meanfield import (MeanFieldModel, OrderParameters, TeacherStudent, TwoLayerNetwork, erf,  # noqa: E402
                       init_from_overlaps, relu, risk_from_overlaps)

from solvers import run_sgd, solve_order_parameters  # noqa: E402

QUICK = dict(d=300, seeds=2, t_max=40.0)
FULL = dict(d=1000, seeds=3, t_max=60.0)
#: The cases: activation, K, M, learning rate as a multiple of --eta, horizon as a multiple of --t-max
#: (ReLU: the η² term is a quadrature, ~15 ms per evaluation at rtol 1e-4, so a shorter horizon and rtol).
CASES = {
    "erf_K2_M2": dict(activation=erf, K=2, M=2, eta=1.0, horizon=1.0, rtol=1e-9, plateau=1 / 6),
    "erf_K4_M2": dict(activation=erf, K=4, M=2, eta=1.0, horizon=1.0, rtol=1e-9, plateau=1 / 6),
    "relu_K2_M2": dict(activation=relu, K=2, M=2, eta=0.5, horizon=0.15, rtol=1e-4, plateau=0.5),
}


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


def build_parser():
    p = argparse.ArgumentParser(
        description="Online SGD of erf and ReLU committee machines against the order-parameter ODE.")
    p.add_argument("--quick", action="store_true", help="small fast run (d = 300, 2 seeds, < 1 min)")
    p.add_argument("--out", type=Path, default=Path("teacher_student_out"), help="output directory")
    p.add_argument("--d", type=positive(int), default=None, help="input dimension [1000; quick 300]")
    p.add_argument("--seeds", type=positive(int), default=None, help="SGD runs [3; quick 2]")
    p.add_argument("--eta", type=positive(float), default=1.0, help="learning rate η = 2εdK [1]")
    p.add_argument("--t-max", type=positive(float), default=None, help="horizon t = α_SS η/(2K) [60; quick 40]")
    p.add_argument("--snapshots", type=positive(int), default=30, help="time intervals [30]")
    return p


def parse_args(argv=None):
    args = build_parser().parse_args(argv)
    defaults = QUICK if args.quick else FULL
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def check_writable(out):
    """Fail before computing if OUT cannot be written."""
    out.mkdir(parents=True, exist_ok=True)
    probe = out / ".write_test"
    probe.write_text("ok")
    probe.unlink()


def figure_risk(name, times, sgd, ode, flow, path):
    fig, ax = plt.subplots(figsize=(6, 4))
    for k, risk in enumerate(sgd):
        ax.semilogy(times, np.maximum(risk, 1e-12), "o", ms=3, alpha=0.6, label="SGD" if k == 0 else None)
    ax.semilogy(times, np.maximum(ode, 1e-12), "k-", label="ODE with η² term")
    ax.semilogy(times, np.maximum(flow, 1e-12), "k--", label="flow ODE")
    ax.set(xlabel="t = α_SS η / (2K)", ylabel="R_N = 2 ε_g", ylim=(1e-6, 2), title=name)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def figure_overlaps(name, times, sgd_R, sgd_Q, ode, path):
    K, M = ode.R.shape[1:]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for i in range(K):
        for t in range(M):
            line, = ax1.plot(times, ode.R[:, i, t], "-", label=f"R{i + 1}{t + 1}")
            ax1.plot(times, sgd_R[0][:, i, t], "o", ms=3, color=line.get_color())
        for j in range(i, K):
            line, = ax2.plot(times, ode.Q[:, i, j], "-", label=f"Q{i + 1}{j + 1}")
            ax2.plot(times, sgd_Q[0][:, i, j], "o", ms=3, color=line.get_color())
    ax1.set(xlabel="t", ylabel="R = W W*ᵀ", title=f"{name}: student–teacher overlaps (SGD seed 0: dots)")
    ax2.set(xlabel="t", ylabel="Q = W Wᵀ", title="student overlaps (lines: ODE with η²)")
    ax1.legend(fontsize=7, ncol=2)
    ax2.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


#: Prescribed small student–teacher overlaps (first K rows), asymmetric so the students specialise.
R0_TABLE = np.array([[1e-3, 5e-4], [4e-4, 1.2e-3], [8e-4, 6e-4], [5e-4, 9e-4]])


def snapshot_risk(model, res):
    """The exact risk R_N of each SGD snapshot from its overlaps (:func:`meanfield.risk_from_overlaps`):
    the number run_sgd's "risk" recorder gives, through the pair integrals the ODEs use (on a cold
    cache the recorder would compile another kernel for it)."""
    law = model.data
    return np.array([risk_from_overlaps(OrderParameters(Q=Q, R=R, T=res.T, a=a, b=b, a_teacher=law.a, b_teacher=law.b),
                                        model.activation, law.activation, law.noise_std, model.output_scale)
                     for Q, R, a, b in zip(res.Q, res.R, res.a, res.b)])


def run_case(name, case, args, rng_teacher):
    """SGD over the seeds, the η² ODE and the flow ODE for one case; figures; the case's summary."""
    d, K, M = args.d, case["K"], case["M"]
    eta = args.eta * case["eta"]
    eps = eta / (2 * d * K)
    t_max = args.t_max * case["horizon"]
    times = np.linspace(0.0, t_max, args.snapshots + 1)
    teacher_rows, _ = np.linalg.qr(rng_teacher.standard_normal((d, M)))
    act = case["activation"]
    model = MeanFieldModel(TeacherStudent(teacher_rows.T, act(), a=[float(M)] * M), TwoLayerNetwork(act()))
    Q0 = 0.2 * np.eye(K)
    R0 = R0_TABLE[:K, :M]
    log(f"{name}: K = {K}, M = {M}, d = {d}, η = {eta:g} (ε = {eps:.3g}, "
        f"{int(round(t_max / eps)):,} steps), t ≤ {t_max:g}")
    walls = {}
    theta0 = init_from_overlaps(model, Q0, R0, a0=[float(K)] * K)
    t0 = time.perf_counter()
    ode = solve_order_parameters(model, theta0, times, eps=eps, rtol=case["rtol"], progress=False)
    walls["ode_eta2"] = round(time.perf_counter() - t0, 3)
    t0 = time.perf_counter()
    flow = solve_order_parameters(model, theta0, times, rtol=case["rtol"], progress=False)
    walls["ode_flow"] = round(time.perf_counter() - t0, 3)
    log(f"  ODEs: η² {walls['ode_eta2']:.1f} s ({ode.stats.get('evaluations')} evaluations), "
        f"flow {walls['ode_flow']:.1f} s")
    sgd_risk, sgd_R, sgd_Q = [], [], []
    for seed in range(args.seeds):
        t0 = time.perf_counter()
        theta = init_from_overlaps(model, Q0, R0, a0=[float(K)] * K, seed=seed)
        res = run_sgd(model, theta, eps, times, seed=seed, record=("overlaps",), progress=sys.stderr.isatty())
        sgd_risk.append(snapshot_risk(model, res))
        sgd_R.append(res.R)
        sgd_Q.append(res.Q)
        walls[f"sgd_seed{seed}"] = round(time.perf_counter() - t0, 3)
        log(f"  SGD seed {seed}: {walls[f'sgd_seed{seed}']:.1f} s")
    figure_risk(name, times, sgd_risk, ode.risk, flow.risk, args.out / f"{name}_risk.png")
    figure_overlaps(name, times, sgd_R, sgd_Q, ode, args.out / f"{name}_overlaps.png")
    plateau = (times > 0) & (times <= case["plateau"] * t_max)

    def level(risk):
        return float(np.median(risk[plateau]))

    sgd_plateau = [level(r) for r in sgd_risk]
    sgd_final = [float(r[-1]) for r in sgd_risk]
    return dict(
        K=K, M=M, activation=act.__name__, eta=eta, eps=eps, Q0=Q0.tolist(), R0=R0.tolist(),
        times=times.tolist(), plateau_until=float(case["plateau"] * t_max),
        ode_risk=ode.risk.tolist(), flow_risk=flow.risk.tolist(), sgd_risk=[r.tolist() for r in sgd_risk],
        ode_R=ode.R.tolist(), ode_Q=ode.Q.tolist(), sgd_R=[r.tolist() for r in sgd_R],
        sgd_Q=[q.tolist() for q in sgd_Q],
        plateau_risk=dict(ode=level(ode.risk), flow=level(flow.risk), sgd=sgd_plateau,
                          sgd_mean=float(np.mean(sgd_plateau))),
        final_risk=dict(ode=float(ode.risk[-1]), flow=float(flow.risk[-1]), sgd=sgd_final,
                        sgd_mean=float(np.mean(sgd_final))),
        wall_time_s=walls)


def main(argv=None):
    """Run the example; returns the summary dict (also written to OUT/summary.json)."""
    args = parse_args(argv)
    check_writable(args.out)
    start = time.perf_counter()
    rng_teacher = np.random.default_rng(0)
    cases = {name: run_case(name, case, args, rng_teacher) for name, case in CASES.items()}
    total = round(time.perf_counter() - start, 3)
    summary = dict(parameters={k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                   cases=cases, wall_time_s=dict(total=total))
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    for name, c in cases.items():
        p, f = c["plateau_risk"], c["final_risk"]
        print(f"{name}: plateau risk (t ≤ {c['plateau_until']:g}) ODE with η² {p['ode']:.4f}, "
              f"flow {p['flow']:.4f}, "
              f"SGD {np.round(p['sgd'], 4).tolist()}; final risk ODE {f['ode']:.2e}, flow {f['flow']:.2e}, "
              f"SGD {[f'{r:.2e}' for r in f['sgd']]}")
    print(f"figures and summary.json in {args.out}/ (total {total:.1f} s)")
    return summary


if __name__ == "__main__":
    main()
