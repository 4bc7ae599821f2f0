"""solvers.sweep: the same records in this process, in spawned worker processes and on a
Dask cluster of worker processes; failures reported without losing the other tasks;
resume after an interruption without recomputing finished tasks.

Ground truth: a direct call of the integrators and distances (run_task replayed by
hand), the serial run in this process (every random stream comes from the task's
seed, so any executor must give bitwise the same records), and counts of executions
logged by the task function itself.
"""
import dataclasses
import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest

from meanfield import IsotropicGaussians, Tanh, ramp
from meanfield.wasserstein import w1_radial, w2_radial
from solvers import SweepTask, init_gaussian, model_from_spec, run_sgd, run_sweep, run_task, solve_radial_pde
from meanfield._validation import check_scheduler
from solvers.sweep import task_key

ROOT = Path(__file__).resolve().parents[1]
RAMP = {"kind": "piecewise_linear", "knots": [0.5, 1.5], "values": [-2.5, 7.5]}
MODEL = {"kind": "isotropic_gaussians", "delta": 0.8, "d": 10, "activation": RAMP}
REFERENCE = {"cells": 200, "iid_draws": 1}


def small_tasks():
    return [SweepTask(MODEL, N=N, seed=seed, times=(0.1, 0.2), eps=1e-3, reference=REFERENCE)
            for N in (60, 30) for seed in (0, 1)]


def bad_task():
    """Fails inside the worker: the model spec names an unknown activation kind."""
    return SweepTask(dict(MODEL, activation={"kind": "relu"}), N=30, seed=0, times=(0.1,), eps=1e-3)


def counting_task(task):
    """run_task(task['sweep']), logging each execution to task['log']; raises KeyboardInterrupt
    (a Ctrl-C) once 2 executions are logged while the file 'interrupt' exists beside the log."""
    log = Path(task["log"])
    count = len(log.read_text().splitlines()) if log.exists() else 0
    if count >= 2 and (log.parent / "interrupt").exists():
        raise KeyboardInterrupt
    with open(log, "a") as f:
        f.write(f"{task['sweep']['N']} {task['sweep']['seed']} {os.getpid()}\n")
    return run_task(task["sweep"])


def pid_task(task):
    """run_task plus the id of the process that ran it."""
    return dict(run_task(task), pid=os.getpid())


@pytest.fixture(scope="module")
def serial():
    """The reference: every task in this process (also compiles Numba's cache for the workers)."""
    result = run_sweep(small_tasks(), scheduler="serial")
    assert result.status == "finished" and result.n_computed == 4
    return result.records


# ------------------------------------------------------------------ specs and one task
def test_model_from_spec_builds_the_same_model():
    r = np.linspace(0.0, 3.0, 7)
    for spec, act in ((RAMP, ramp()), ({"kind": "tanh", "slope": 2.0, "shift": 0.5}, Tanh(slope=2.0, shift=0.5))):
        model = model_from_spec(dict(MODEL, d=20, activation=spec))
        direct = IsotropicGaussians(0.8, 20, act)
        assert model.d == 20 and model.delta == 0.8
        np.testing.assert_array_equal(model.v(r), direct.v(r))
        np.testing.assert_array_equal(model.u(r, 1.0), direct.u(r, 1.0))


@pytest.mark.parametrize("spec, match", [
    (dict(MODEL, kind="two_moons"), "model: unknown kind 'two_moons'"),
    (dict(MODEL, activation={"kind": "relu"}), "activation: unknown kind 'relu'"),
    (dict(MODEL, dimension=3), r"unknown \['dimension'\]"),
    ({k: v for k, v in MODEL.items() if k != "d"}, r"missing \['d'\]"),
    ([1, 2], "expected a dict"),
])
def test_model_from_spec_rejects_bad_specs(spec, match):
    with pytest.raises(ValueError, match=match):
        model_from_spec(spec)


def test_sweep_task_validates_its_fields():
    with pytest.raises(ValueError, match="N"):
        SweepTask(MODEL, N=0, seed=0, times=(0.1,), eps=1e-3)
    with pytest.raises(ValueError, match="eps"):
        SweepTask(MODEL, N=10, seed=0, times=(0.1,))
    with pytest.raises(ValueError, match="dynamics"):
        SweepTask(MODEL, N=10, seed=0, times=(0.1,), eps=1e-3, dynamics="adam")
    with pytest.raises(ValueError, match="times"):
        SweepTask(MODEL, N=10, seed=0, times=(0.2, 0.1), eps=1e-3)
    with pytest.raises(ValueError, match="reference"):
        SweepTask(MODEL, N=10, seed=0, times=(0.1,), eps=1e-3, reference={"cells": 5})
    with pytest.raises(ValueError, match="model"):
        SweepTask("ramp", N=10, seed=0, times=(0.1,), eps=1e-3)


def test_run_task_replays_the_integrators():
    """The record is SGD + the radial PDE + W_p of the radii, as called by hand."""
    task = small_tasks()[0]
    record = run_task(task)
    model = IsotropicGaussians(0.8, 10, ramp())
    sgd = run_sgd(model, init_gaussian(60, 10, 0.8, 0), 1e-3, [0.1, 0.2], seed=0, progress=False)
    pde = solve_radial_pde(model, init="gaussian", kappa=0.8, times=[0.1, 0.2], cells=200, progress=False)
    assert record["steps"] == 200 and record["times"] == [0.1, 0.2]
    assert record["risk"] == sgd.risk.tolist()
    assert record["mean_radius"] == sgd.radii.mean(axis=1).tolist()
    for k in range(2):
        assert record["w2"][k] == w2_radial(sgd.radii[k], pde.density[k], pde.edges)
        assert record["w1"][k] == w1_radial(sgd.radii[k], pde.density[k], pde.edges)
        assert record["risk_err"][k] == abs(sgd.risk[k] - pde.risk[k])
    # the iid baseline is a sampling error of order N^{-1/2}, the particles' error of the same order
    assert all(0 < x < 0.5 for x in record["iid_w2"] + record["w2"])


def test_run_sweep_rejects_bad_arguments():
    with pytest.raises(ValueError, match="scheduler"):
        run_sweep(small_tasks(), scheduler=42)
    with pytest.raises(ValueError, match="top-level function"):
        run_sweep(small_tasks(), function=lambda t: {}, workers=2)
    with pytest.raises(ValueError, match="plain data"):
        run_sweep([{"x": object()}], function=pid_task, scheduler="serial")


# ------------------------------------------------------------------ executors
def test_process_pool_matches_serial_and_keeps_failures_apart(serial, tmp_path):
    tasks = small_tasks() + [bad_task()]
    result = run_sweep(tasks, function=pid_task, workers=2, out=tmp_path)
    assert result.status == "failed" and (result.n_computed, result.n_failed, result.n_reused) == (4, 1, 0)
    records = result.records[:4]
    assert {r.pop("pid") for r in records} - {os.getpid()}  # ran in other processes
    assert records == serial and result.records[4] is None
    (failure,) = result.failures
    assert failure.index == 4 and failure.params["model"]["activation"] == {"kind": "relu"}
    assert "ValueError: activation: unknown kind 'relu'" in failure.error
    assert "Traceback" in failure.traceback and "model_from_spec" in failure.traceback
    assert json.loads((tmp_path / f"{failure.key}.failed.json").read_text())["error"] == failure.error
    with pytest.raises(RuntimeError, match="1 of 5 tasks failed"):
        result.raise_on_failure()
    # rerun: the four finished tasks are read back, only the failing one runs again
    again = run_sweep(tasks, function=pid_task, workers=2, out=tmp_path)
    assert (again.n_reused, again.n_computed, again.n_failed) == (4, 0, 1)
    assert [dict(r, pid=0) for r in again.records[:4]] == [dict(r, pid=0) for r in records]


def test_resume_after_interrupt_runs_each_task_once(serial, tmp_path):
    log, out = tmp_path / "log.txt", tmp_path / "out"
    tasks = [{"sweep": dataclasses.asdict(t), "log": str(log)} for t in small_tasks()]  # plain dicts
    (tmp_path / "interrupt").touch()
    first = run_sweep(tasks, function=counting_task, scheduler="serial", out=out)
    assert first.status == "interrupted" and (first.n_computed, first.n_pending) == (2, 2)
    assert first.records[:2] == serial[:2] and first.records[2:] == [None, None]
    assert sorted(p.name for p in out.glob("*.json")) == sorted(f"{task_key(t, counting_task)}.json"
                                                               for t in tasks[:2])
    (tmp_path / "interrupt").unlink()
    # a damaged result file is not trusted: that task runs again
    (out / f"{task_key(tasks[1], counting_task)}.json").write_text("{not json")
    second = run_sweep(tasks, function=counting_task, workers=2, out=out)
    assert second.status == "finished" and (second.n_reused, second.n_computed) == (1, 3)
    assert second.records == serial
    lines = log.read_text().splitlines()
    assert sorted(line.rsplit(" ", 1)[0] for line in lines) == sorted(["60 0", "60 1", "60 1", "30 0", "30 1"])
    third = run_sweep(tasks, function=counting_task, workers=2, out=out)
    assert (third.n_reused, third.n_computed) == (4, 0) and third.records == serial
    assert len(log.read_text().splitlines()) == 5  # nothing recomputed


def test_identical_tasks_run_once(serial):
    tasks = small_tasks()
    result = run_sweep(tasks + tasks[:2], scheduler="serial")
    assert result.n_computed == 4 and result.records == serial + serial[:2]


# ------------------------------------------------------------------ a real Dask cluster
@pytest.fixture(scope="module")
def cluster(serial):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, protocol="tcp://",
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        yield cluster


def test_dask_cluster_of_processes_matches_local(serial, cluster, tmp_path):
    tasks = small_tasks() + [bad_task()]
    result = run_sweep(tasks, function=pid_task, scheduler=cluster.scheduler_address, out=tmp_path)
    assert (result.n_computed, result.n_failed) == (4, 1)
    records = result.records[:4]
    assert {r.pop("pid") for r in records} - {os.getpid()}  # the tasks ran in worker processes
    assert records == serial
    assert "unknown kind 'relu'" in result.failures[0].error and "Traceback" in result.failures[0].traceback
    # a client object works too, and the finished tasks are reused
    from distributed import Client
    with Client(cluster.scheduler_address) as client:
        again = run_sweep(tasks, function=pid_task, scheduler=client, out=tmp_path)
    assert (again.n_reused, again.n_computed, again.n_failed) == (4, 0, 1)
    assert check_scheduler(cluster) == ("dask", cluster.scheduler_address)  # a cluster object: its address


def test_benchmark_command_line_on_the_cluster(serial, cluster, tmp_path):
    """The issue's scenario: particle_count_vs_error.py --scheduler ADDRESS on worker processes."""
    spec = importlib.util.spec_from_file_location("particle_count_vs_error",
                                                  ROOT / "benchmarks" / "particle_count_vs_error.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    argv = ["--n-min", "30", "--n-max", "120", "--seeds", "2", "--d", "10", "--times", "0.1", "--eps", "1e-3",
            "--cells", "200", "--iid-draws", "1", "--no-plot"]
    remote = bench.main(argv + ["--scheduler", cluster.scheduler_address, "--out", str(tmp_path / "remote.json")])
    local = bench.main(argv + ["--workers", "1", "--out", str(tmp_path / "local.json")])
    assert remote["runs"] == local["runs"] and len(local["runs"]) == 6
    assert remote["slope"] == local["slope"]


def test_mean_field_model_spec_builds_the_general_model():
    """A general model as plain data: the same exact risk as the model built directly."""
    from meanfield import GaussianMixture, MeanFieldModel, TwoLayerNetwork, relu
    spec = {"kind": "mean_field_model", "data": {"kind": "anisotropic", "delta": 0.5, "d": 6, "s0": 2},
            "activation": {"kind": "piecewise_linear_tails", "knots": [0.0], "values": [0.0], "right_slope": 1.0},
            "train": ["a", "w", "b"], "scale": 2.0}
    built = model_from_spec(spec)
    direct = MeanFieldModel(GaussianMixture.anisotropic(0.5, 6, 2),
                            TwoLayerNetwork(relu(), train=("a", "w", "b"), scale=2.0))
    theta = direct.init(7, seed=1, a_std=0.5)
    assert built.population_risk(theta) == direct.population_risk(theta)
    with pytest.raises(ValueError, match="data"):
        model_from_spec({**spec, "data": {"kind": "moons"}})
