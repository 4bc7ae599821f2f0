"""Ctrl-C (SIGINT sent to a subprocess) returns partial results marked as interrupted.

No fixed delay decides anything: each child prints "progress" from its ξ(t) once its run is past
its first snapshot (evidence that it is stepping), and only then is SIGINT sent; the tests pass
with both cores loaded."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]

SGD_SCRIPT = """
import json, sys
import numpy as np
from meanfield import GaussianMixture, MeanFieldModel, TwoLayerNetwork, relu
from solvers import run_sgd
model = MeanFieldModel(GaussianMixture.anisotropic(0.5, 40, 10), TwoLayerNetwork(relu(), train=("a", "w", "b")))
theta = model.init(500, seed=0)
run_sgd(model, theta, 1e-4, [1e-3], seed=0, record=(), progress=False)   # compile first
print("started", flush=True)
res = run_sgd(model, theta, 1e-5, [1.0, 100.0], seed=0, record=("params", "risk"), progress=False,
              xi=progress_xi(1.001))
print(json.dumps({"status": res.status, "steps": res.steps, "times": res.times.tolist(),
                  "finite": bool(np.all(np.isfinite(res.params[-1].W))), "message": res.message}), flush=True)
"""


def sigint_as_at_a_terminal():
    """In the child before exec: SIGINT's default action, so that Python installs its Ctrl-C
    handler (a shell running the tests in the background makes its children ignore SIGINT)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


#: Prepended to every child script: ξ ≡ 1 that prints "progress" once, the first time it is
#: evaluated beyond ``t_after`` (vectorised: SGD evaluates it on arrays of times). ``t_after`` is a
#: little beyond the first snapshot time: the stage t + h of the step landing on it may exceed it
#: by a rounding.
PROGRESS_XI = """
import numpy as _np
def progress_xi(t_after):
    said = []
    def xi(t):
        if not said and _np.max(t) > t_after:
            said.append(True)
            print("progress", flush=True)
        return _np.ones_like(t, dtype=float) if _np.ndim(t) else 1.0
    return xi
"""


def start(script):
    """The child process running ``script`` (with :data:`PROGRESS_XI`)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", PROGRESS_XI + script], preexec_fn=sigint_as_at_a_terminal,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=str(ROOT))


def run_and_interrupt(script, timeout_s=900):
    """Start ``script``, wait for its "progress" line, send SIGINT; (stdout lines, code, stderr)."""
    proc = start(script)
    deadline = time.monotonic() + timeout_s
    line = proc.stdout.readline()
    while line and "progress" not in line and time.monotonic() < deadline:
        line = proc.stdout.readline()
    if "progress" not in line:
        proc.kill()
        pytest.fail(f"no progress line: {proc.communicate()[1]}")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=timeout_s)
    return out.strip().splitlines(), proc.returncode, err


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sgd_returns_partial_result_on_sigint():
    lines, code, err = run_and_interrupt(SGD_SCRIPT)
    assert code == 0, err
    result = json.loads(lines[-1])
    assert result["status"] == "interrupted" and "interrupted" in result["message"]
    assert 0 < result["steps"] < 10_000_000  # stopped before t = 100
    assert result["finite"]
    assert result["times"][-1] == pytest.approx(result["steps"] * 1e-5)


# Each script runs a short call first (compiles the kernels), then a run far too long to finish whose
# ξ prints "progress" once it is past its first snapshot; after SIGINT it prints the partial result as JSON.
SOLVER_SCRIPTS = {
    "flow": """
import json
import numpy as np
from meanfield import IsotropicGaussians, ramp
from solvers import init_gaussian, run_particle_flow
model = IsotropicGaussians(0.8, 40, ramp())
W0 = init_gaussian(400, 40, 0.8, seed=0)
run_particle_flow(model, W0, [0.01], progress=False)
print("started", flush=True)
res = run_particle_flow(model, W0, [0.01, 1e4], method="rk4", dt=1e-3, record=("weights", "risk"), progress=False,
                        xi=progress_xi(0.011))
print(json.dumps({"status": res.status, "message": res.message, "times": res.times.tolist(),
                  "steps": res.steps, "finite": bool(np.all(np.isfinite(res.weights))),
                  "risk_ok": bool(abs(res.risk[-1] - model.population_risk(res.weights[-1])) < 1e-12)}), flush=True)
""",
    "radial_pde": """
import json
import numpy as np
from meanfield import IsotropicGaussians, ramp
from solvers import solve_radial_pde
model = IsotropicGaussians(0.8, 40, ramp())
solve_radial_pde(model, times=[0, 0.01], cells=100, progress=False)
print("started", flush=True)
sol = solve_radial_pde(model, times=[0, 0.01, 1e4], cells=4000, progress=False, xi=progress_xi(0.011))
print(json.dumps({"status": sol.status, "message": sol.message, "times": sol.times.tolist(), "steps": sol.steps,
                  "mass": sol.mass.sum(axis=1).tolist(), "min": float(sol.mass.min()),
                  "risk_ok": bool(abs(sol.risk[-1] - (model.r_sharp + sol.mass[-1] @ (model.v(sol.r)
                                  + model.radial_kernel(sol.r).potential(sol.mass[-1]) + model.v(sol.r))))
                                  < 1e-9)}), flush=True)
""",
    "anisotropic_pde": """
import json
import numpy as np
from meanfield import AnisotropicGaussians, ramp
from solvers import solve_anisotropic_pde
model = AnisotropicGaussians(0.8, 12, 4, ramp(), train=("w",), kmax=8)
solve_anisotropic_pde(model, times=[0, 0.01], cells=(20, 20), r_max=(2.5, 2.2), beta=30.0, lam=1.0, progress=False)
print("started", flush=True)
sol = solve_anisotropic_pde(model, times=[0, 0.01, 1e4], cells=(120, 120), r_max=(2.5, 2.2), beta=30.0, lam=1.0,
                            progress=False, xi=progress_xi(0.011))
print(json.dumps({"status": sol.status, "message": sol.message, "times": sol.times.tolist(), "steps": sol.steps,
                  "mass": sol.mass.sum(axis=(1, 2)).tolist(), "min": float(sol.mass.min()),
                  "risk_ok": True}), flush=True)
""",
    "radial_lagrangian": """
import json
import numpy as np
from meanfield import IsotropicGaussians, ramp
from solvers import solve_radial_lagrangian
model = IsotropicGaussians(0.8, 40, ramp())
solve_radial_lagrangian(model, times=[0, 0.01], n=100, progress=False)
print("started", flush=True)
sol = solve_radial_lagrangian(model, times=[0, 0.01, 1e4], n=4000, dt=1e-3, progress=False, xi=progress_xi(0.011))
print(json.dumps({"status": sol.status, "message": sol.message, "times": sol.times.tolist(), "steps": sol.steps,
                  "mass": [1.0] * len(sol.times), "min": float(sol.radii.min()),
                  "risk_ok": bool(sol.radii.shape == (len(sol.times), 4000)
                                  and np.all(np.isfinite(sol.radii)))}), flush=True)
""",
    "reduced_lagrangian": """
import json
import numpy as np
from meanfield import AnisotropicGaussians, ramp
from solvers import solve_reduced_lagrangian
model = AnisotropicGaussians(0.8, 12, 4, ramp(), kmax=8)
X0 = model.init(4000, 0.8, seed=0)
solve_reduced_lagrangian(model, X0[:100], times=[0, 0.01], progress=False)
print("started", flush=True)
sol = solve_reduced_lagrangian(model, X0, times=[0, 0.01, 1e4], dt=1e-3, progress=False, xi=progress_xi(0.011))
print(json.dumps({"status": sol.status, "message": sol.message, "times": sol.times.tolist(), "steps": sol.steps,
                  "mass": [float(sol.weights.sum())] * len(sol.times), "min": float(sol.points[:, :, 2:].min()),
                  "risk_ok": bool(abs(sol.risk[-1] - model.risk(sol.points[-1], sol.weights)) < 1e-12)}),
      flush=True)
""",
}


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("solver", sorted(SOLVER_SCRIPTS))
def test_solvers_return_partial_results_on_sigint(solver):
    """Ctrl-C during a run far too long to finish: the solver returns (exit 0) the snapshots reached
    plus the state at the interruption (a time between the last requested snapshot reached and
    the next), status "interrupted", total mass 1 (the schemes conserve it), masses/radii ≥ 0,
    and the recorded risk is that of the recorded state."""
    lines, code, err = run_and_interrupt(SOLVER_SCRIPTS[solver])
    assert code == 0, err
    assert "SystemError" not in err and "Traceback" not in err, err
    res = json.loads(lines[-1])
    assert res["status"] == "interrupted" and res["message"].startswith("interrupted (Ctrl-C)"), res
    assert 0 < res["steps"]
    times = res["times"]
    assert times[-2] == pytest.approx(0.01) and 0.01 < times[-1] < 1e4  # the last one: where it stopped
    assert f"t = {times[-1]:.6g}" in res["message"]
    if solver != "flow":
        np.testing.assert_allclose(res["mass"], 1.0, rtol=0, atol=1e-12)
        assert res["min"] >= 0.0
    else:
        assert res["finite"]
    assert res["risk_ok"]


# The child interrupts itself: its grid's free energy (computed by every snapshot's record) sends
# SIGINT twice in the record of the snapshot at t = 0.02: the first asks the run to stop after that
# record, the second must be ignored (the partial result survives). With EXTRA = 1 a third Ctrl-C
# lands in that record, which raises there; the record of the state reached (a fourth call) then
# gets a fourth Ctrl-C, which aborts.
REPEATED_SIGINT = """
import json, os, signal
import numpy as np
import solvers.anisotropic_pde as ap
from meanfield import AnisotropicGaussians, ramp
original = ap.AnisotropicGrid.free_energy
calls = []
def free_energy(self, m, beta, lam):
    calls.append(1)
    if len(calls) >= 3:
        for _ in range(2 + EXTRA if len(calls) == 3 else EXTRA):
            os.kill(os.getpid(), signal.SIGINT)
    return original(self, m, beta, lam)
ap.AnisotropicGrid.free_energy = free_energy
model = AnisotropicGaussians(0.8, 12, 4, ramp(), train=("w",), kmax=4)
sol = ap.solve_anisotropic_pde(model, times=[0, 0.01, 0.02, 1e4], cells=(20, 20), r_max=(2.5, 2.2), beta=30.0, lam=1.0,
                               progress=False)
print(json.dumps({"status": sol.status, "message": sol.message, "times": sol.times.tolist(),
                  "mass": sol.mass.sum(axis=(1, 2)).tolist(), "calls": len(calls)}), flush=True)
"""


# A second Ctrl-C while the interrupted run records its last snapshot (here the risk, made slow and
# announced on stdout by a subclass) must not lose the partial result (issue 31, item 10).
DOUBLE_SCRIPT = """
import json, os, sys, time
import numpy as np
from meanfield import GaussianMixture, MeanFieldModel, TwoLayerNetwork, relu
from solvers import run_sgd

def xi(t):  # says once that the run is inside its time loop
    if not xi.said:
        print("started", flush=True)
        xi.said = True
    return np.ones_like(t)
xi.said = False

class Announcing(MeanFieldModel):
    def risk(self, theta):
        if xi.said:  # the snapshot recorded after the first Ctrl-C
            print("in-risk", flush=True)
            # stay here until the parent has sent the second Ctrl-C (it then creates the flag file)
            flag, waited = sys.argv[1], 0.0
            while not os.path.exists(flag) and waited < 600.0:
                time.sleep(0.01)
                waited += 0.01
        return super().risk(theta)

model = Announcing(GaussianMixture.anisotropic(0.5, 40, 10), TwoLayerNetwork(relu(), train=("a", "w", "b")))
theta = model.init(200, seed=0)
run_sgd(model, theta, 1e-4, [1e-3], seed=0, record=(), progress=False)   # compile first
print("compiled", flush=True)
res = run_sgd(model, theta, 1e-5, [100.0], seed=0, xi=xi, record=("risk",), progress=False)
print(json.dumps({"status": res.status, "steps": res.steps, "risk": res.risk.tolist()}), flush=True)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_second_ctrl_c_cannot_lose_the_partial_result():
    """Issue 31: a second Ctrl-C while the interrupted run records the state it reached raised
    KeyboardInterrupt there and lost every snapshot; now it is absorbed."""
    proc = start(REPEATED_SIGINT.replace("EXTRA", "0"))
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0 and "Traceback" not in err, err
    res = json.loads(out.strip().splitlines()[-1])
    assert res["status"] == "interrupted" and res["calls"] == 3, res
    assert res["times"] == [0.0, 0.01, 0.02] and res["message"].startswith("interrupted (Ctrl-C) at t = 0.02")
    np.testing.assert_allclose(res["mass"], 1.0, rtol=0, atol=1e-12)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_third_ctrl_c_aborts():
    proc = start(REPEATED_SIGINT.replace("EXTRA", "1"))
    out, err = proc.communicate(timeout=600)
    assert proc.returncode != 0 and "KeyboardInterrupt" in err and not out.strip(), (out, err)


def test_a_second_ctrl_c_during_the_last_snapshot_keeps_the_partial_result(tmp_path):
    """The child waits in ``risk`` until the parent has sent the second Ctrl-C: no timing window."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    flag = tmp_path / "second-sigint-sent"
    proc = subprocess.Popen([sys.executable, "-c", DOUBLE_SCRIPT, str(flag)], preexec_fn=sigint_as_at_a_terminal,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=str(ROOT))
    try:
        for expected in ("started", "in-risk"):
            line = proc.stdout.readline()
            while line and expected not in line:
                line = proc.stdout.readline()
            assert expected in line, proc.stderr.read()
            proc.send_signal(signal.SIGINT)  # first: stop the run; second: while it records the risk
        flag.touch()  # the second Ctrl-C is sent: the child may leave risk
        out, err = proc.communicate(timeout=600)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["status"] == "interrupted" and result["steps"] > 0
    assert len(result["risk"]) == 1 and np.isfinite(result["risk"][0])
