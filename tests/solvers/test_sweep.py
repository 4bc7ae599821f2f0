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
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from meanfield import IsotropicGaussians, Tanh, ramp, w1_radial, w2_radial
from meanfield._validation import check_scheduler
from solvers import (SolverError, SolverResult, SweepTask, init_gaussian, model_from_spec, run_particle_flow, run_sgd,
                     run_sweep, run_task, solve_radial_pde)
from solvers.sweep import SweepError, task_key

ROOT = Path(__file__).resolve().parents[2]
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
    assert isinstance(result, SolverResult) and not result.success and result.times.tolist() == [0.1, 0.2]
    assert result.message == "1 of 5 tasks failed; the others finished"
    with pytest.raises(SweepError, match="1 of 5 tasks failed") as raised:
        result.raise_on_failure()
    assert isinstance(raised.value, SolverError) and raised.value.result is result
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
    assert first.message == "interrupted: 2 of 4 tasks finished, 0 failed, 2 not run"
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


# ------------------------------------------------------------------ every field reaches its run (issue 31)
BASE = dict(model=MODEL, N=40, seed=3, times=(0.0, 0.05, 0.1), eps=1e-3, kappa=0.8)
VARIANTS = {  # one field changed at a time
    "N": {"N": 41}, "seed": {"seed": 4}, "eps": {"eps": 2e-3}, "times": {"times": (0.0, 0.1)},
    "kappa": {"kappa": 0.5}, "model": {"model": dict(MODEL, d=12, delta=0.6)},
    "batch": {"options": {"batch": 3}}, "xi": {"options": {"xi": 0.5}}, "lam": {"options": {"lam": 0.3}},
    "beta": {"options": {"beta": 40.0}}, "dtype": {"options": {"dtype": "float32"}},
}


def direct_sgd(fields):
    """run_sgd called by hand with the task's fields (model built without model_from_spec)."""
    spec = fields["model"]
    model = IsotropicGaussians(spec["delta"], spec["d"], ramp())
    W0 = init_gaussian(fields["N"], spec["d"], fields["kappa"], fields["seed"])
    return run_sgd(model, W0, fields["eps"], list(fields["times"]), seed=fields["seed"], progress=False,
                   **fields.get("options", {}))


@pytest.mark.parametrize("field", sorted(VARIANTS))
def test_every_field_of_a_task_reaches_its_sgd_run(field):
    """run_task = run_sgd called by hand with the same arguments, for each field changed alone; and
    the change shows in the record (a field dropped on the way would fail one of the two)."""
    fields = dict(BASE, **VARIANTS[field])
    record = run_task(SweepTask(**fields))
    sgd = direct_sgd(fields)
    assert record["risk"] == sgd.risk.tolist() and record["times"] == sgd.times.tolist()
    assert record["mean_radius"] == sgd.radii.mean(axis=1).tolist() and record["steps"] == sgd.steps
    assert record != run_task(SweepTask(**BASE))


def test_the_flow_task_passes_its_fields_and_options():
    fields = dict(BASE, dynamics="flow", dt=0.025, options={"xi": 0.5, "method": "rk4"})
    record = run_task(SweepTask(**fields))
    model = IsotropicGaussians(0.8, 10, ramp())
    flow = run_particle_flow(model, init_gaussian(40, 10, 0.8, 3), list(BASE["times"]), dt=0.025, xi=0.5,
                             method="rk4", seed=3, progress=False)
    assert record["risk"] == flow.risk.tolist() and record["mean_radius"] == flow.radii.mean(axis=1).tolist()


def test_seeds_give_different_runs_that_reproduce_bitwise(serial):
    """Tasks differing only in the seed differ at every snapshot; the same seed gives the same
    record again (here: serial; the executor tests compare processes and Dask to it)."""
    for a, b in ((0, 1), (2, 3)):  # (N = 60, seeds 0, 1) and (N = 30, seeds 0, 1)
        assert all(x != y for x, y in zip(serial[a]["risk"], serial[b]["risk"]))
        assert all(x != y for x, y in zip(serial[a]["w2"], serial[b]["w2"]))
    assert run_sweep(small_tasks(), scheduler="serial").records == serial


def noisy_tasks():
    """Langevin SGD: the noise stream comes from the seed too."""
    return [SweepTask(MODEL, N=30, seed=seed, times=(0.05, 0.1), eps=1e-3, options={"beta": 30.0, "lam": 0.1})
            for seed in (0, 1)]


def test_noisy_tasks_reproduce_bitwise_on_every_scheduler(cluster):
    serial = run_sweep(noisy_tasks(), scheduler="serial").records
    assert serial[0]["risk"] != serial[1]["risk"]
    assert run_sweep(noisy_tasks(), workers=2).records == serial
    assert run_sweep(noisy_tasks(), scheduler=cluster.scheduler_address).records == serial


# ------------------------------------------------------------------ the PDE reference follows the dynamics
def test_reference_solves_the_pde_of_the_tasks_xi():
    """With xi = 0.5 the reference is the PDE at xi = 0.5 (solve_radial_pde called directly), not at xi = 1."""
    task = SweepTask(MODEL, N=100, seed=0, times=(0.0, 1.0), eps=1e-3, options={"xi": 0.5},
                     reference={"cells": 200})
    record = run_task(task)
    model = IsotropicGaussians(0.8, 10, ramp())
    sgd = direct_sgd(dict(BASE, N=100, seed=0, times=(0.0, 1.0), options={"xi": 0.5}))
    half, one = (solve_radial_pde(model, kappa=0.8, times=[0.0, 1.0], cells=200, xi=xi, progress=False)
                 for xi in (0.5, 1.0))
    assert record["pde_risk"] == half.risk.tolist()
    assert record["w2"][1] == w2_radial(sgd.radii[1], half.density[1], half.edges)
    assert abs(half.risk[1] - one.risk[1]) > 0.05  # the two references are far apart at t = 1
    assert record["w2"][1] < 0.5 * w2_radial(sgd.radii[1], one.density[1], one.edges)


def test_noisy_reference_gets_beta_and_lam():
    task = SweepTask(MODEL, N=30, seed=0, times=(0.0, 0.2), eps=1e-3, options={"beta": 30.0, "lam": 0.2, "xi": 2.0},
                     reference={"cells": 100})
    pde = solve_radial_pde(IsotropicGaussians(0.8, 10, ramp()), kappa=0.8, times=[0.0, 0.2], cells=100, beta=30.0,
                           lam=0.2, xi=2.0, progress=False)
    assert run_task(task)["pde_risk"] == pde.risk.tolist()


MEAN_FIELD_SPEC = {"kind": "mean_field_model", "data": {"kind": "isotropic", "delta": 0.8, "d": 10},
                   "activation": RAMP}


@pytest.mark.parametrize("fields, match", [
    ({"model": MEAN_FIELD_SPEC, "reference": {"cells": 100}}, "reference: the radial PDE reference needs"),
    ({"options": {"lam": 0.1}, "reference": {"cells": 100}}, "options: lam = 0.1 without beta"),
    ({"options": {"seed": 1}}, r"options: \['seed'\] are set by the task's own fields"),
    ({"options": {"record": ["radii"]}}, r"options: \['record'\]"),
    ({"options": {"bogus": 1}}, r"options: unknown keys \['bogus'\] for dynamics 'sgd'; accepted"),
    ({"options": {"rtol": 1e-6}}, r"options: unknown keys \['rtol'\]"),
    ({"options": {"xi": -1.0}}, "xi: must be positive"),
    ({"options": {"xi": None}}, "options: xi must be a positive number"),
    ({"options": {"xi": lambda t: 1.0}}, r"options\['xi'\]: expected plain data"),
    ({"options": {"beta": 0.0}}, "beta: must be positive"),
    ({"options": {"batch": 0}}, r"options\['batch'\]"),
    ({"model": dict(MODEL, kind="two_moons")}, "model: unknown kind 'two_moons'"),
])
def test_sweep_task_refuses_what_it_cannot_run_as_described(fields, match):
    with pytest.raises(ValueError, match=match):
        SweepTask(**dict(BASE, **fields))


def test_run_task_refuses_a_reference_on_a_general_model_before_any_work():
    """Before the fix: SGD ran, then AttributeError 'radial_kernel'. Now: ValueError at once."""
    with pytest.raises(ValueError, match="reference"):
        run_task(dict(BASE, model=MEAN_FIELD_SPEC, reference={"cells": 100}))


# ------------------------------------------------------------------ schedulers, sys.exit, orphaned workers
@pytest.mark.parametrize("scheduler", ["serail", "process", "", "tcp:/host", "host", "tcp://", object()])
def test_run_sweep_refuses_an_unknown_scheduler(scheduler):
    with pytest.raises(ValueError, match=r"scheduler: expected None, 'processes' or 'serial', a Dask scheduler"):
        run_sweep([{"x": 1}], pid_task, scheduler=scheduler)


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:8786", "tls://node-3.cluster:8786", "localhost:8786",
                                     "[::1]:8786", "inproc://10.0.0.1/1234/1"])
def test_scheduler_addresses_go_to_dask(address):
    assert check_scheduler(address) == ("dask", address)
    assert check_scheduler("serial") == ("serial", None) and check_scheduler(None) == ("processes", None)


def exit_task(task):
    """sys.exit(0) for x = 0, else a record."""
    if task["x"] == 0:
        sys.exit(0)
    return {"y": task["x"]}


@pytest.mark.parametrize("mode", [{"scheduler": "serial"}, {"workers": 2}])
def test_sys_exit_in_a_task_is_that_tasks_failure(mode):
    result = run_sweep([{"x": 0}, {"x": 1}], exit_task, **mode)
    assert result.status == "failed" and result.records == [None, {"y": 1}]
    (failure,) = result.failures
    assert failure.index == 0 and failure.error.startswith("SystemExit: the task called sys.exit(0)")


ORPHAN_SCRIPT = '''
import os, sys, time
from pathlib import Path

from solvers import run_sweep


def slow(task):
    """Leave evidence that this worker runs a task, then sleep far longer than the test."""
    Path(task["dir"], f"{os.getpid()}.pid").write_text(str(os.getppid()))
    time.sleep(task["sleep"])
    return {}


if __name__ == "__main__":
    run_sweep([{"dir": sys.argv[1], "sleep": 900, "i": i} for i in range(2)], slow, workers=2, progress=False)
'''


def _process_table():
    """{pid: (ppid, state)} of every process, from /proc."""
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # exited meanwhile
            continue
        table[int(stat.parent.name)] = (int(fields[1]), fields[0])
    return table


def _alive(pids):
    table = _process_table()
    return sorted(pid for pid in pids if pid in table and table[pid][1] not in "ZX")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")
def test_local_workers_exit_when_the_sweep_process_is_killed(tmp_path):
    """kill -9 of the process running run_sweep: its workers and the resource tracker exit (before
    the fix they idled on). Evidence that the workers run: the files they write, not a sleep."""
    script = tmp_path / "orphans.py"
    script.write_text(ORPHAN_SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    parent = subprocess.Popen([sys.executable, str(script), str(tmp_path)], cwd=ROOT, env=env)
    children = []
    try:
        deadline = time.monotonic() + 300
        while len(list(tmp_path.glob("*.pid"))) < 2:
            assert parent.poll() is None, "the sweep process ended early"
            assert time.monotonic() < deadline, "the workers did not start within 300 s"
            time.sleep(0.2)
        workers = {int(p.stem) for p in tmp_path.glob("*.pid")}
        children = sorted(pid for pid, (ppid, _) in _process_table().items() if ppid == parent.pid)
        assert workers < set(children)  # the two workers and the resource tracker
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 60
        while _alive(children) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _alive(children) == []
    finally:
        for pid in [parent.pid] + _alive(children):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        parent.wait()
