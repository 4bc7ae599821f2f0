"""End-to-end checks of examples/anisotropic_gaussians.py (quick mode; the N = 800 run is slow).

Ground truth from the theory: the reduced dynamics is a gradient flow of R/2 (risk
non-increasing); at t = 0 SGD's neurons are an iid sample of ρ̄_0, so their W2 to the reduced
particles is a sampling error like the iid baseline's; propagation of chaos keeps SGD within
a small multiple of that baseline; the noise coordinates must be forgotten (r₂ → 0).
"""
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(tmp_path, argv):
    spec = importlib.util.spec_from_file_location("anisotropic_example", ROOT / "examples" / "anisotropic_gaussians.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(argv + ["--out", str(tmp_path)])
    return json.loads((tmp_path / "summary.json").read_text())


def _check(summary, w2_factor, forgets=True):
    ref = summary["reference"]
    risk = np.array(ref["reduced_risk"])
    assert np.all(np.diff(risk) <= 1e-9)
    w2, iid = np.array(ref["w2"]), np.array(ref["iid_w2"])
    assert iid[0] / 3 <= w2[0] <= 3 * iid[0]
    assert np.all(w2 <= w2_factor * iid), (w2, iid)
    for who in ("sgd", "reduced"):
        r1, r2 = np.array(ref[f"{who}_mean_r1"]), np.array(ref[f"{who}_mean_r2"])
        assert r1[-1] > (2.5 if forgets else 2.0) * r1[0] and r2[-1] < (0.15 if forgets else 0.5) * r2[0], (who, r1, r2)
    assert np.abs(np.array(ref["sgd_risk"]) - risk).max() < 0.02


def test_quick_example(tmp_path):
    summary = _run(tmp_path, ["--quick"])
    for name in ("fig1_r1_r2", "fig2_risk", "fig3_means", "fig4_wasserstein"):
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000
    assert summary["parameters"]["quick"] is True
    _check(summary, w2_factor=2.0)


@pytest.mark.slow
def test_example_n800_w2_at_iid_baseline(tmp_path):
    # up to t = 2: later the SGD noise floor of r₂ (∝ √(ε (d − s0))) dominates W2 (see the example)
    summary = _run(tmp_path, ["--t-max", "2", "--M", "4000"])
    assert summary["parameters"]["N"] == 800
    _check(summary, w2_factor=1.5, forgets=False)
