"""Ctrl-C (SIGINT sent to a subprocess) returns partial results marked as interrupted."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SGD_SCRIPT = """
import json, sys
import numpy as np
from meanfield import GaussianMixture, MeanFieldModel, TwoLayerNetwork, relu
from solvers import run_sgd
model = MeanFieldModel(GaussianMixture.anisotropic(0.5, 40, 10), TwoLayerNetwork(relu(), train=("a", "w", "b")))
theta = model.init(500, seed=0)
run_sgd(model, theta, 1e-4, [1e-3], seed=0, record=(), progress=False)   # compile first
print("started", flush=True)
res = run_sgd(model, theta, 1e-5, [1.0, 100.0], seed=0, record=("params", "risk"), progress=False)
print(json.dumps({"status": res.status, "steps": res.steps, "times": res.times.tolist(),
                  "finite": bool(np.all(np.isfinite(res.params[-1].W))), "message": res.message}), flush=True)
"""


def run_and_interrupt(script, wait_s=2.0, timeout_s=600):
    """Start ``script``, wait for its "started" line, send SIGINT after ``wait_s``; (stdout lines, code)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=str(ROOT))
    deadline = time.monotonic() + timeout_s
    line = proc.stdout.readline()
    while line and "started" not in line and time.monotonic() < deadline:
        line = proc.stdout.readline()
    assert "started" in line, proc.stderr.read()
    time.sleep(wait_s)
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
