"""The teacher–student order parameters as a recorded observable of SGD and the flow (issue 29).

``record=("overlaps",)`` gives Q = W Wᵀ, R = W W*ᵀ, T, a, b per snapshot with the names and shapes of
:class:`solvers.OrderParameterSolution`. Checked against :func:`meanfield.order_parameters` of the
recorded parameters, across a checkpoint, and, for online SGD of an erf committee machine at
d = 2000, against the order-parameter ODE with the η² term (seed means within a few standard errors
computed from the seed spread).
"""
import numpy as np
import pytest

from meanfield import (GaussianMixture, MeanFieldModel, TeacherStudent, TwoLayerNetwork, erf, init_from_overlaps,
                       order_parameters, relu)
from solvers import run_particle_flow, run_sgd, solve_order_parameters

K = M = 2
Q0 = 0.2 * np.eye(K)
R0 = np.array([[1e-3, 5e-4], [4e-4, 1.2e-3]])


def committee(d):
    """The erf soft committee machine (a ≡ K, a* ≡ M) on an orthonormal teacher in dimension d."""
    rows, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((d, M)))
    return MeanFieldModel(TeacherStudent(rows.T, erf(), a=[float(M)] * M), TwoLayerNetwork(erf()))


def _assert_overlaps_of_params(res, model):
    for idx, params in enumerate(res.params):
        op = order_parameters(params, model)
        np.testing.assert_allclose(res.Q[idx], op.Q, rtol=0, atol=1e-12)
        np.testing.assert_allclose(res.R[idx], op.R, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(res.a[idx], params.a)
        np.testing.assert_array_equal(res.b[idx], params.b)
    np.testing.assert_allclose(res.T, model.data.W @ model.data.W.T, rtol=0, atol=1e-12)


@pytest.mark.parametrize("train", [("w",), ("a", "w", "b")])
def test_recorded_overlaps_are_those_of_the_recorded_params(train):
    model = MeanFieldModel(TeacherStudent(np.eye(2, 12), relu(), a=[1.0, -0.5], b=[0.1, 0.0]),
                           TwoLayerNetwork(relu(), train=train))
    theta = model.init(5, seed=1)
    res = run_sgd(model, theta, 1e-2, [0.0, 0.3, 0.6], seed=2, record=("params", "overlaps"), progress=False)
    assert res.Q.shape == (3, 5, 5) and res.R.shape == (3, 5, 2) and res.a.shape == res.b.shape == (3, 5)
    assert not np.allclose(res.Q[0], res.Q[-1])  # it moved
    if "a" in train:
        assert not np.allclose(res.a[0], res.a[-1])
    _assert_overlaps_of_params(res, model)
    flow = run_particle_flow(model, theta, [0.0, 0.3], record=("params", "overlaps"), progress=False)
    _assert_overlaps_of_params(flow, model)
    assert flow.Q.shape == (2, 5, 5)


def test_overlaps_need_teacher_student_data():
    model = MeanFieldModel(GaussianMixture.anisotropic(0.5, d=6, s0=2), TwoLayerNetwork(relu()))
    for run in (lambda: run_sgd(model, model.init(4, seed=0), 1e-2, [0.1], record=("overlaps",)),
                lambda: run_particle_flow(model, model.init(4, seed=0), [0.1], record=("overlaps",))):
        with pytest.raises(ValueError, match="^record: 'overlaps'.*TeacherStudent"):
            run()


def test_unrecorded_overlaps_are_none():
    model = committee(8)
    res = run_sgd(model, init_from_overlaps(model, Q0, R0), 1e-2, [0.1], record=("risk",), progress=False)
    assert res.Q is res.R is res.T is res.a is res.b is None


def test_a_checkpoint_carries_the_recorded_overlaps(tmp_path):
    model = committee(10)
    theta = init_from_overlaps(model, Q0, R0, a0=[2.0, 2.0])
    kw = dict(seed=4, record=("overlaps", "risk"), progress=False)
    whole = run_sgd(model, theta, 1e-2, [0.05, 0.1, 0.2], **kw)
    path = str(tmp_path / "ck.npz")
    run_sgd(model, theta, 1e-2, [0.05, 0.1], checkpoint=path, **kw)
    resumed = run_sgd(model, theta, 1e-2, [0.05, 0.1, 0.2], checkpoint=path, **kw)
    for name in ("Q", "R", "a", "b", "risk"):
        np.testing.assert_array_equal(getattr(resumed, name), getattr(whole, name))
    np.testing.assert_array_equal(resumed.T, whole.T)
    other = str(tmp_path / "other.npz")
    run_sgd(model, theta, 1e-2, [0.05, 0.1], checkpoint=other, seed=4, record=("risk",), progress=False)
    with pytest.raises(ValueError, match="checkpoint: .*did not record 'overlaps'"):
        run_sgd(model, theta, 1e-2, [0.05, 0.1, 0.2], checkpoint=other, **kw)


def _sgd_against_ode(d, t_max, snapshots, seeds, n_se):
    """Online SGD (η = 2εdK = 1) of the committee machine through its plateau: the seed means of Q,
    R and R_N lie within ``n_se`` standard errors of the η² ODE, and the flow ODE (no η² term) is
    far outside them on the plateau."""
    model = committee(d)
    eps = 1.0 / (2 * d * K)
    times = np.linspace(0.0, t_max, snapshots + 1)
    theta0 = init_from_overlaps(model, Q0, R0, a0=[float(K)] * K)
    ode = solve_order_parameters(model, theta0, times, eps=eps, rtol=1e-9, progress=False)
    flow = solve_order_parameters(model, theta0, times, rtol=1e-9, progress=False)
    runs = [run_sgd(model, init_from_overlaps(model, Q0, R0, a0=[float(K)] * K, seed=seed), eps, times, seed=seed,
                    record=("overlaps", "risk"), progress=False) for seed in range(seeds)]
    for name in ("Q", "R", "risk"):
        values = np.array([getattr(run, name) for run in runs])[:, 1:]
        mean, se = values.mean(axis=0), values.std(axis=0, ddof=1) / np.sqrt(seeds)
        z = np.abs(mean - getattr(ode, name)[1:]) / se
        assert np.all(z < n_se), f"{name}: {np.max(z):.2f} standard errors from the η² ODE"
        if name == "risk":  # the η² term lifts the plateau: the flow is no fit
            plateau = times[1:] >= 0.4 * t_max
            assert np.all(np.abs(mean - flow.risk[1:])[plateau] > 10 * se[plateau])


def test_sgd_overlaps_follow_the_eta_squared_ode():
    """d = 2000, 8 seeds of 80 000 steps (about 25 s on one loaded core)."""
    _sgd_against_ode(d=2000, t_max=10.0, snapshots=10, seeds=8, n_se=3.0)
