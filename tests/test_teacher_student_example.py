"""The teacher–student example end to end (quick mode): figures written, and the plateau of SGD at
the height the order-parameter ODE with the η² term predicts (not the flow's)."""
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _example():
    spec = importlib.util.spec_from_file_location("teacher_student_example", ROOT / "examples" / "teacher_student.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    return example


def test_quick_teacher_student_example(tmp_path):
    example = _example()
    example.main(["--quick", "--out", str(tmp_path)])
    summary = json.loads((tmp_path / "summary.json").read_text())
    for name in ("fig1_risk", "fig2_overlaps"):
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000
    plateau = summary["plateau_risk"]
    assert plateau["ode"] > 1.5 * plateau["flow"]                 # the η² term lifts the plateau
    # SGD's plateau is the η² ODE's up to its O(1/√d) fluctuations (d = 300: ~6%)
    assert np.all(np.abs(np.array(plateau["sgd"]) / plateau["ode"] - 1) < 0.15)
    assert all(r[-1] < 0.1 * r[1] for r in summary["sgd_risk"])    # every seed specialised


def test_example_refuses_an_unwritable_output(tmp_path):
    example = _example()
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OSError):          # before any computation
        example.main(["--quick", "--out", str(blocker / "sub")])
