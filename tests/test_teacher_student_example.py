"""The teacher–student example end to end (quick mode, three cases: erf K = M = 2, erf K = 4 > M = 2,
ReLU K = M = 2): figures written, and the plateau of SGD at the height the order-parameter ODE with
the η² term predicts (not the flow's)."""
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
    cases = summary["cases"]
    assert set(cases) == {"erf_K2_M2", "erf_K4_M2", "relu_K2_M2"}
    for name, case in cases.items():
        for kind in ("risk", "overlaps"):
            assert (tmp_path / f"{name}_{kind}.png").stat().st_size > 10_000
        plateau, sgd = case["plateau_risk"], np.array(case["plateau_risk"]["sgd"])
        assert plateau["sgd_mean"] == pytest.approx(sgd.mean())
        assert case["final_risk"]["sgd_mean"] == pytest.approx(np.mean(case["final_risk"]["sgd"]))
        # the η² term lifts the plateau (erf K = M = 2 by 75%, K = 4 eightfold, ReLU by 30%)
        assert plateau["ode"] > 1.2 * plateau["flow"], name
        # SGD's plateau is the η² ODE's up to its O(1/√d) fluctuations (d = 300: ~6%), not the flow's
        assert np.all(np.abs(sgd / plateau["ode"] - 1) < 0.15), name
        assert np.all(np.abs(sgd - plateau["ode"]) < np.abs(sgd - plateau["flow"])), name
        assert all(r[-1] < 0.1 * r[1] for r in case["sgd_risk"]), name    # every seed specialised
    assert cases["erf_K2_M2"]["plateau_risk"]["ode"] > 1.5 * cases["erf_K2_M2"]["plateau_risk"]["flow"]
    assert cases["erf_K4_M2"]["Q0"] == (0.2 * np.eye(4)).tolist()


@pytest.mark.parametrize("act", ["erf", "relu"])
def test_snapshot_risk_is_the_risk_recorder(act):
    """The example's R_N from the recorded overlaps equals run_sgd's "risk" recorder (the exact
    population risk by the model's pair sums), snapshot by snapshot."""
    from meanfield import MeanFieldModel, TeacherStudent, TwoLayerNetwork, erf, relu
    from solvers import run_sgd
    example = _example()
    sigma = {"erf": erf, "relu": relu}[act]()
    law = TeacherStudent(np.linalg.qr(np.random.default_rng(1).standard_normal((20, 2)))[0].T, sigma, a=[2.0, 2.0],
                         noise_std=0.1)
    model = MeanFieldModel(law, TwoLayerNetwork(sigma, train=("a", "w", "b")))
    theta = model.init(3, kappa=1.0, seed=2, a_std=0.5, b_std=0.2)
    res = run_sgd(model, theta, 1e-3, [0.0, 0.5, 1.0], seed=0, record=("overlaps", "risk"), progress=False)
    np.testing.assert_allclose(example.snapshot_risk(model, res), res.risk, rtol=1e-12)
    assert res.risk[-1] != res.risk[0]


def test_example_refuses_an_unwritable_output(tmp_path):
    example = _example()
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OSError):          # before any computation
        example.main(["--quick", "--out", str(blocker / "sub")])
