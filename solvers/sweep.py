"""Parameter sweeps of particle runs: locally on worker processes or on a Dask cluster.

A *task* is plain, picklable data (a :class:`SweepTask`, or any dict / dataclass of
numbers, strings and lists for a user function); the function that runs it is an
importable top-level function (default :func:`run_task`). So any process that has
the package installed can run any task: the local process pool, or the workers of
a ``dask.distributed`` scheduler. The same task gives the same record wherever it
runs: every random stream comes from the task's own ``seed``.

:func:`run_sweep` writes each finished task to ``out/<key>.json`` as soon as it
completes, ``key`` being a hash of the function's name and the task's parameters
(canonical JSON). Run again with the same ``out``, it reuses those files and runs
only the tasks without one: an interrupted or partly failed sweep resumes where it
stopped. A task that raises is reported (parameters, error, traceback; also in
``out/<key>.failed.json``) and does not stop the others.

The model of a :class:`SweepTask` is plain data too, e.g.::

    {"kind": "isotropic_gaussians", "delta": 0.8, "d": 40,
     "activation": {"kind": "piecewise_linear", "knots": [0.5, 1.5], "values": [-2.5, 7.5]}}

turned into a model inside the worker by :func:`model_from_spec`.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import os
import sys
import time
import traceback
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from meanfield import Erf, GaussianMixture, IsotropicGaussians, MeanFieldModel, PiecewiseLinear, Tanh, TwoLayerNetwork
from meanfield.wasserstein import w1_radial, w2_radial

from meanfield._validation import check_int, check_times, check_real
from .initialization import init_gaussian
from .particle_flow import run_particle_flow
from .radial_pde import sample_grid_density, solve_radial_pde
from .sgd import run_sgd

__all__ = [
    "SweepTask",
    "SweepResult",
    "TaskFailure",
    "run_sweep",
    "run_task",
    "model_from_spec",
    "activation_from_spec",
    "radial_pde_reference",
    "task_key",
]

#: Stored with every result file; bump when the file layout changes.
FILE_FORMAT = 1


# ------------------------------------------------------------------ model specs
def _spec_fields(spec, name, required, optional=()):
    """The keyword arguments of a spec (without "kind"); ValueError on missing or unknown keys."""
    keys = set(spec) - {"kind"}
    missing = [k for k in required if k not in spec]
    unknown = sorted(keys - set(required) - set(optional))
    if missing or unknown:
        raise ValueError(f"{name}: kind {spec['kind']!r} needs keys {list(required)}"
                         + (f" (optional {list(optional)})" if optional else "")
                         + (f"; missing {missing}" if missing else "") + (f"; unknown {unknown}" if unknown else ""))
    return {k: spec[k] for k in keys}


def _kind(spec, name, kinds):
    if not isinstance(spec, Mapping) or not isinstance(spec.get("kind"), str):
        raise ValueError(f"{name}: expected a dict with a 'kind' string, got {spec!r}")
    if spec["kind"] not in kinds:
        raise ValueError(f"{name}: unknown kind {spec['kind']!r}; known kinds: {sorted(kinds)}")
    return kinds[spec["kind"]]


def _piecewise_linear(spec):
    return PiecewiseLinear(**_spec_fields(spec, "activation", ("knots", "values")))


def _tanh(spec):
    return Tanh(**_spec_fields(spec, "activation", (), ("amplitude", "slope", "center", "shift", "panels")))


def _isotropic_gaussians(spec):
    kw = _spec_fields(spec, "model", ("delta", "d", "activation"), ("large_d_limit", "tol"))
    kw["activation"] = activation_from_spec(kw["activation"])
    return IsotropicGaussians(**kw)


def _piecewise_linear_tails(spec):
    return PiecewiseLinear(**_spec_fields(spec, "activation", ("knots", "values"), ("left_slope", "right_slope")))


def _erf(spec):
    return Erf(**_spec_fields(spec, "activation", (), ("amplitude", "slope", "center", "shift", "panels")))


def _data_law(spec):
    """{"kind": "isotropic", "delta", "d"}, {"kind": "anisotropic", "delta", "d", "s0"} or
    {"kind": "gaussian_mixture", "weights", "labels", "means", "stds"}."""
    kinds = {"isotropic": lambda kw: GaussianMixture.isotropic(**kw),
             "anisotropic": lambda kw: GaussianMixture.anisotropic(**kw),
             "gaussian_mixture": lambda kw: GaussianMixture(**kw)}
    fields = {"isotropic": (("delta", "d"), ()), "anisotropic": (("delta", "d", "s0"), ()),
              "gaussian_mixture": (("weights", "labels", "means", "stds"), ())}
    build = _kind(spec, "data", kinds)
    return build(_spec_fields(spec, "data", *fields[spec["kind"]]))


def _mean_field_model(spec):
    kw = _spec_fields(spec, "model", ("data", "activation"), ("train", "scale"))
    network = TwoLayerNetwork(activation_from_spec(kw["activation"]), train=tuple(kw.get("train", ("w",))),
                              scale=kw.get("scale", 1.0))
    return MeanFieldModel(_data_law(kw["data"]), network)


#: activation kind → builder(spec); add an entry to support a new activation.
ACTIVATION_KINDS = {"piecewise_linear": _piecewise_linear, "piecewise_linear_tails": _piecewise_linear_tails,
                    "tanh": _tanh, "erf": _erf}
#: model kind → builder(spec); add an entry to support a new model.
MODEL_KINDS = {"isotropic_gaussians": _isotropic_gaussians, "mean_field_model": _mean_field_model}


def activation_from_spec(spec):
    """The activation described by plain data.

    Parameters
    ----------
    spec : dict
        {"kind": "piecewise_linear", "knots", "values"}, {"kind": "piecewise_linear_tails",
        "knots", "values", optional "left_slope", "right_slope"}, or {"kind": "tanh" or "erf",
        optional "amplitude", "slope", "center", "shift", "panels"}.

    Returns
    -------
    Activation
        The activation.

    Raises
    ------
    ValueError
        On an unknown kind or a missing or unknown key (the activation checks the values).

    Examples
    --------
    >>> act = activation_from_spec({"kind": "piecewise_linear_tails", "knots": [0], "values": [0], "right_slope": 1})
    >>> act([-1.0, 2.0]).tolist()                    # relu
    [0.0, 2.0]
    """
    return _kind(spec, "activation", ACTIVATION_KINDS)(spec)


def model_from_spec(spec):
    """The model described by plain data (JSON-ready dicts), built inside a worker.

    ``{"kind": "isotropic_gaussians", "delta": 0.8, "d": 40, "activation": {...}}`` (optional
    "large_d_limit", "tol"), or ``{"kind": "mean_field_model", "data": {"kind": "anisotropic",
    "delta": 0.5, "d": 40, "s0": 10}, "activation": {"kind": "piecewise_linear_tails", "knots": [0],
    "values": [0], "right_slope": 1}, "train": ["a", "w", "b"]}`` (optional "scale"; "train"
    defaults to ["w"]). Data kinds: "isotropic", "anisotropic", "gaussian_mixture"; activation
    kinds: "piecewise_linear", "piecewise_linear_tails", "tanh", "erf".

    Parameters
    ----------
    spec : dict
        The model spec, with a "kind" string (a key of ``MODEL_KINDS``).

    Returns
    -------
    IsotropicGaussians or MeanFieldModel
        The model.

    Raises
    ------
    ValueError
        On an unknown kind or a missing or unknown key; the model's own checks validate the values.

    Examples
    --------
    >>> model = model_from_spec({"kind": "isotropic_gaussians", "delta": 0.8, "d": 10,
    ...         "activation": {"kind": "piecewise_linear", "knots": [0.5, 1.5], "values": [-2.5, 7.5]}})
    >>> type(model).__name__, model.d
    ('IsotropicGaussians', 10)
    """
    return _kind(spec, "model", MODEL_KINDS)(spec)


# ------------------------------------------------------------------ plain data, keys
def _plain(value, name="task"):
    """``value`` as JSON-ready Python data (dicts, lists, str, int, float, bool, None)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v, f"{name}[{k!r}]") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{name}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist(), name)
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise ValueError(f"{name}: expected plain data (numbers, strings, lists, dicts), got {type(value).__name__}")


def _canonical(params):
    return json.dumps(params, sort_keys=True, separators=(",", ":"))


def _function_name(function):
    return f"{getattr(function, '__module__', '?')}:{getattr(function, '__qualname__', repr(function))}"


def task_key(task, function=None):
    """Hex key of ``task`` run by ``function`` (default :func:`run_task`): the first 20 hex
    digits of SHA-256 over the function's module:qualname and the task's canonical JSON.

    Parameters
    ----------
    task : SweepTask, dict or dataclass
        Plain data (numbers, strings, lists, dicts, arrays).
    function : callable, optional
        The task function (default :func:`run_task`).

    Returns
    -------
    str
        20 hex digits; equal tasks (same canonical JSON) have equal keys.

    Examples
    --------
    >>> task_key({"x": 1, "y": [2, 3]}) == task_key({"y": (2, 3), "x": 1}), len(task_key({"x": 1}))
    (True, 20)
    """
    text = _function_name(function or run_task) + "\n" + _canonical(_plain(task))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


# ------------------------------------------------------------------ the particle task
@dataclasses.dataclass(frozen=True)
class SweepTask:
    """One particle run: the model, the dynamics, N, ε, seed and snapshot times.

    Plain, picklable data, validated and normalised on construction (``times`` become a tuple of
    floats, ``model`` and ``options`` plain dicts), so that equal tasks have equal keys.

    Attributes
    ----------
    model : dict
        Plain-data model spec (see :func:`model_from_spec`).
    N : int
        Number of particles, ≥ 1; rows of W0 iid N(0, κ²/d I_d) from ``seed``.
    seed : int
        ≥ 0; seeds the initial particles and the dynamics' random streams.
    times : tuple of float
        Snapshot times (non-decreasing, ≥ 0).
    dynamics : {"sgd", "flow"}
        "sgd": one-pass SGD, step size ``eps``; "flow": the particle flow on the exact
        population risk, time step ``dt`` (None = adaptive RK4).
    eps : float or None
        SGD step size ε > 0 (required for "sgd"; recorded but unused by "flow").
    dt : float or None
        Time step > 0 of the flow (unused by "sgd").
    kappa : float
        Initial scale κ > 0.
    options : dict
        Extra keyword arguments of the integrator as plain data (batch, beta, lam, …).
    reference : dict or None
        None, or {"cells": int ≥ 10, "iid_draws": int ≥ 0} (defaults 1000, 0): compare with the
        radial PDE solved on that many cells (same model, κ, times; beta/lam from ``options``).

    Raises
    ------
    ValueError
        On an invalid field (the message names it).

    Examples
    --------
    >>> spec = {"kind": "isotropic_gaussians", "delta": 0.8, "d": 10,
    ...         "activation": {"kind": "piecewise_linear", "knots": [0.5, 1.5], "values": [-2.5, 7.5]}}
    >>> task = SweepTask(model=spec, N=20, seed=1, times=[0, 0.1], eps=1e-3)
    >>> task.times, task.dynamics, task.kappa
    ((0.0, 0.1), 'sgd', 0.8)
    """

    model: dict
    N: int
    seed: int
    times: tuple
    dynamics: str = "sgd"
    eps: float | None = None
    dt: float | None = None
    kappa: float = 0.8
    options: dict = dataclasses.field(default_factory=dict)
    reference: dict | None = None

    def __post_init__(self):
        set_ = functools.partial(object.__setattr__, self)
        if not isinstance(self.model, Mapping) or not isinstance(self.model.get("kind"), str):
            raise ValueError(f"model: expected a spec dict with a 'kind' string, got {self.model!r}")
        set_("model", _plain(dict(self.model), "model"))
        set_("N", check_int(self.N, "N", 1))
        set_("seed", check_int(self.seed, "seed", 0))
        set_("times", tuple(float(t) for t in check_times(self.times)))
        if self.dynamics not in DYNAMICS:
            raise ValueError(f"dynamics: must be one of {sorted(DYNAMICS)}, got {self.dynamics!r}")
        for name in ("eps", "dt", "kappa"):
            value = getattr(self, name)
            if value is None:
                continue
            value = check_real(value, name)
            if value <= 0:
                raise ValueError(f"{name}: must be positive, got {value!r}")
            set_(name, value)
        if self.dynamics == "sgd" and self.eps is None:
            raise ValueError("eps: the 'sgd' dynamics needs a step size eps > 0")
        if self.kappa is None:
            raise ValueError("kappa: must be positive, got None")
        if not isinstance(self.options, Mapping):
            raise ValueError(f"options: expected a dict of keyword arguments, got {self.options!r}")
        set_("options", _plain(dict(self.options), "options"))
        if self.reference is not None:
            if not isinstance(self.reference, Mapping) or set(self.reference) - {"cells", "iid_draws"}:
                raise ValueError(f"reference: expected None or {{'cells': int, 'iid_draws': int}}, "
                                 f"got {self.reference!r}")
            set_("reference", {"cells": check_int(self.reference.get("cells", 1000), "reference['cells']", 10),
                               "iid_draws": check_int(self.reference.get("iid_draws", 0),
                                                      "reference['iid_draws']", 0)})


def _run_sgd(model, W0, task):
    return run_sgd(model, W0, task.eps, task.times, seed=task.seed, record=("radii", "risk"), progress=False,
                   **task.options)


def _run_flow(model, W0, task):
    return run_particle_flow(model, W0, task.times, dt=task.dt, seed=task.seed, record=("radii", "risk"),
                             progress=False, **task.options)


#: dynamics name → runner(model, W0, task) -> ParticleResult.
DYNAMICS = {"sgd": _run_sgd, "flow": _run_flow}


def radial_pde_reference(model_spec, kappa, times, cells, beta=None, lam=0.0):
    """The radial PDE from the Gaussian init of scale κ at ``times`` as plain arrays.

    Parameters
    ----------
    model_spec : dict
        Plain-data spec of a radial model (see :func:`model_from_spec`).
    kappa : float
        Scale κ > 0 of the initial law w ~ N(0, κ²/d I_d).
    times : sequence of float
        Non-decreasing snapshot times ≥ 0.
    cells : int
        Number of cells, ≥ 10 (automatic domain).
    beta : float, optional
        Inverse temperature (None: noiseless).
    lam : float
        L2 regularisation λ ≥ 0.

    Returns
    -------
    dict
        {"edges": (M+1,), "density": (S, M) per unit length, "risk": (S,) R(ρ̄_t)}.
    """
    sol = solve_radial_pde(model_from_spec(model_spec), init="gaussian", kappa=kappa, times=list(times),
                           cells=cells, beta=beta, lam=lam, progress=False)
    if sol.status != "finished":  # Ctrl-C: a partial reference must not be used (nor cached)
        raise KeyboardInterrupt(sol.message)
    return {"edges": np.asarray(sol.edges), "density": np.asarray(sol.density), "risk": np.asarray(sol.risk)}


@functools.lru_cache(maxsize=4)
def _cached_reference(model_json, kappa, times, cells, beta, lam):
    # A worker solves each reference PDE once, not once per task (pure function of its key).
    return radial_pde_reference(json.loads(model_json), kappa, times, cells, beta, lam)


def run_task(task):
    """Run one :class:`SweepTask` (or a dict of its fields) and return its record.

    Record (lists, one entry per snapshot): ``times`` reached, ``risk`` = exact R_N,
    ``mean_radius`` = (1/N)Σ‖w_i‖, and ``steps``. With a ``reference``, also: ``w2``, ``w1``
    = W_p(ρ̂^N_t, ρ̄_t) between the particles' radii and the PDE law (exact quantile
    integrals), ``pde_risk`` = R(ρ̄_t), ``risk_err`` = |R_N − R(ρ̄_t)|, and ``iid_w2``,
    ``iid_w1`` = the same distances for N iid draws from ρ̄_t (mean over ``iid_draws``
    samples, RNG seeded by (seed, N, 2018); NaN when ``iid_draws`` = 0): the sampling error at that N.

    Parameters
    ----------
    task : SweepTask or dict
        The task (a dict is passed to ``SweepTask(**task)``).

    Returns
    -------
    dict
        The record, plain data (lists of floats, an int).

    Raises
    ------
    ValueError
        On an invalid task or model spec.
    KeyboardInterrupt
        If the integrator was interrupted (a truncated run is never returned).
    DivergenceError
        If SGD diverges (as raised by :func:`run_sgd`).

    Examples
    --------
    The initial particles come from the task's seed alone: ``mean_radius[0]`` is that of
    ``init_gaussian(N, d, kappa, seed)``.

    >>> import numpy as np
    >>> from solvers import init_gaussian
    >>> spec = {"kind": "isotropic_gaussians", "delta": 0.8, "d": 10,
    ...         "activation": {"kind": "piecewise_linear", "knots": [0.5, 1.5], "values": [-2.5, 7.5]}}
    >>> rec = run_task(SweepTask(model=spec, N=20, seed=1, times=[0, 0.1], eps=1e-3))
    >>> rec["steps"], len(rec["risk"])
    (100, 2)
    >>> W0 = init_gaussian(20, 10, 0.8, seed=1)
    >>> round(rec["mean_radius"][0], 12) == round(float(np.linalg.norm(W0, axis=1).mean()), 12)
    True
    """
    if isinstance(task, Mapping):
        task = SweepTask(**task)
    model = model_from_spec(task.model)
    W0 = init_gaussian(task.N, model.d, task.kappa, task.seed)
    res = DYNAMICS[task.dynamics](model, W0, task)
    if res.interrupted:  # Ctrl-C inside the integrator: never store a truncated run
        raise KeyboardInterrupt("task interrupted")
    out = {"times": res.times.tolist(), "risk": np.asarray(res.risk, float).tolist(),
           "mean_radius": res.radii.mean(axis=1).tolist(), "steps": int(res.steps)}
    if task.reference is None:
        return out
    opts = task.options
    ref = _cached_reference(_canonical(task.model), task.kappa, task.times, task.reference["cells"],
                            opts.get("beta"), float(opts.get("lam", 0.0)))
    edges = ref["edges"]
    rng = np.random.default_rng([task.seed, task.N, 2018])
    keys = ("w2", "w1", "pde_risk", "risk_err", "iid_w2", "iid_w1")
    out.update({k: [] for k in keys})
    for k, dens in enumerate(ref["density"]):
        out["w2"].append(float(w2_radial(res.radii[k], dens, edges)))
        out["w1"].append(float(w1_radial(res.radii[k], dens, edges)))
        out["pde_risk"].append(float(ref["risk"][k]))
        out["risk_err"].append(abs(float(res.risk[k]) - float(ref["risk"][k])))
        draws = [sample_grid_density(edges, dens * np.diff(edges), task.N, rng)
                 for _ in range(task.reference["iid_draws"])]
        out["iid_w2"].append(float(np.mean([w2_radial(x, dens, edges) for x in draws])) if draws else math.nan)
        out["iid_w1"].append(float(np.mean([w1_radial(x, dens, edges) for x in draws])) if draws else math.nan)
    return out


# ------------------------------------------------------------------ results
@dataclasses.dataclass
class TaskFailure:
    """A task that raised: its index in the task list, parameters, error and traceback.

    Parameters
    ----------
    index : int
        Position of the task in the list given to :func:`run_sweep` (its first occurrence).
    key : str
        The task's file key (``out/<key>.failed.json``).
    params : dict
        The task as plain data.
    error : str
        "ExceptionType: message".
    traceback : str
        The formatted traceback from the worker.

    Examples
    --------
    >>> f = TaskFailure(0, "abc", {"x": 1}, "ValueError: no", "")
    >>> str(f)
    'task 0 {"x":1} failed: ValueError: no'
    """

    index: int
    key: str
    params: dict
    error: str
    traceback: str

    def __str__(self):
        return f"task {self.index} {_canonical(self.params)} failed: {self.error}"


@dataclasses.dataclass
class SweepResult:
    """Outcome of :func:`run_sweep`.

    Attributes
    ----------
    tasks : list
        The tasks, in the order given.
    records : list of dict or None
        The record of each task (None if it failed or did not run).
    wall_times : list of float or None
        Seconds each record took to compute (when it was computed; None if unknown).
    keys : list of str
        The file key of each task (``out/<key>.json``).
    failures : list of TaskFailure
        Parameters, error and traceback of each failed task.
    n_computed, n_reused, n_failed, n_pending : int
        Distinct tasks computed in this call, read back from ``out``, failed, and not run
        (the sweep was interrupted).
    status : {"finished", "failed", "interrupted"}
        "finished": every task has a record; "failed": some failed; "interrupted": Ctrl-C.
    message : str
        Why, in words.
    out : pathlib.Path or None
        The directory of the result files (None: nothing written).
    wall_time : float
        Seconds of this call.

    Examples
    --------
    >>> def square(task):
    ...     return {"y": task["x"] ** 2}
    >>> res = run_sweep([{"x": 1}, {"x": 2}], square, scheduler="serial")
    >>> res.status, res.finished, res.n_computed
    ('finished', True, 2)
    """

    tasks: list
    records: list
    wall_times: list
    keys: list
    failures: list
    n_computed: int
    n_reused: int
    n_failed: int
    n_pending: int
    status: str
    message: str
    out: Path | None
    wall_time: float

    @property
    def finished(self):
        """True when every task has a record."""
        return self.status == "finished"

    def rows(self):
        """One flat dict per task with a record: the task's parameters, then its record.

        Returns
        -------
        list of dict
            ``{**task_params, **record}`` for every task that has a record, in task order.
        """
        return [{**_plain(t), **r} for t, r in zip(self.tasks, self.records) if r is not None]

    def raise_on_failure(self):
        """RuntimeError listing the failures (with the first traceback) unless finished.

        Returns
        -------
        SweepResult
            ``self``, when the status is "finished" (so calls can be chained).

        Raises
        ------
        RuntimeError
            If the status is "failed" or "interrupted": the message, up to ten failures and the
            first traceback.
        """
        if self.finished:
            return self
        lines = [self.message] + [str(f) for f in self.failures[:10]]
        if self.failures:
            lines.append(self.failures[0].traceback)
        raise RuntimeError("\n".join(lines))


# ------------------------------------------------------------------ execution
def _execute(function, task, threads):
    """Run ``function(task)`` in a worker: ("done", record, seconds) or ("failed", error, traceback)."""
    previous = None
    if threads is not None:
        import numba
        previous = numba.get_num_threads()
        numba.set_num_threads(min(int(threads), numba.config.NUMBA_NUM_THREADS))
    start = time.perf_counter()
    try:
        record = _plain(function(task), "record")
        if not isinstance(record, dict):
            raise TypeError(f"the task function must return a dict, got {type(record).__name__}")
        return ("done", record, time.perf_counter() - start)
    except Exception as exc:  # reported with the task's parameters; the sweep goes on
        return ("failed", f"{type(exc).__name__}: {exc}", traceback.format_exc())
    finally:
        if previous is not None:
            import numba
            numba.set_num_threads(previous)


def _write_json(path, data):
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)  # atomic: a file is either complete or absent


def _load_done(path, params, fname):
    """The stored (record, wall_time) of ``path`` if it is a finished run of these params, else None."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if data.get("task") != params or data.get("function") != fname or "record" not in data:
        return None
    return data["record"], data.get("wall_time")


def _local_futures(pool, function, pending, threads):
    return {pool.submit(_execute, function, task, threads): key for key, task in pending.items()}


def _resolve_scheduler(scheduler):
    """(mode, address or client): mode in "serial", "processes", "dask"."""
    if scheduler is None or scheduler == "processes":
        return "processes", None
    if scheduler == "serial":
        return "serial", None
    if isinstance(scheduler, str):
        return "dask", scheduler
    if hasattr(scheduler, "submit") and hasattr(scheduler, "gather"):  # a distributed.Client
        return "dask", scheduler
    if hasattr(scheduler, "scheduler_address"):  # a cluster object (LocalCluster, SLURMCluster, …)
        return "dask", scheduler.scheduler_address
    raise ValueError(f"scheduler: expected None, 'processes', 'serial', a Dask scheduler address, a "
                     f"distributed.Client or a cluster object, got {scheduler!r}")


def _code_digest():
    """Digest of the installed meanfield + solvers sources (run on each Dask worker)."""
    from meanfield._numba_cache import package_digest
    return package_digest()


def _dask_client(target, check_code):
    try:
        from distributed import Client
    except ImportError:
        raise ImportError("scheduler: a Dask scheduler needs dask.distributed "
                          "(python -m pip install 'dask[distributed]')") from None
    own = isinstance(target, str)
    client = Client(target, set_as_default=False) if own else target
    if check_code:
        try:  # the scheduler unpickles the tasks too: it needs the package as well
            digests = {"scheduler": client.run_on_scheduler(_code_digest), **client.run(_code_digest)}
        except Exception as exc:
            if own:
                client.close()
            raise RuntimeError(f"the Dask scheduler or workers cannot import solvers.sweep ({type(exc).__name__}: "
                               f"{exc}); install this package where the scheduler and every worker run") from exc
        mine = _code_digest()
        differ = sorted(w for w, dig in digests.items() if dig != mine)
        if differ:
            if own:
                client.close()
            raise RuntimeError(f"Dask {differ} run different meanfield/solvers sources than this process; "
                               "install the same version everywhere (or pass check_code=False)")
    return client, own


def run_sweep(tasks, function=None, *, scheduler=None, workers=None, out=None, progress=None, threads_per_task=1,
              check_code=True):
    """Run ``function(task)`` for every task, in parallel, saving each record as it completes.

    Parameters
    ----------
    tasks : iterable
        :class:`SweepTask` objects (or any plain-data dicts / dataclasses that ``function``
        accepts). Identical tasks run once.
    function : callable, optional
        Importable top-level function task → dict of plain data (lists, numbers);
        default :func:`run_task`. Lambdas and local functions work only with "serial".
    scheduler : str, distributed.Client or cluster, optional
        None or "processes" (a local pool of ``workers`` spawned processes),
        "serial" (a loop in this process), a Dask scheduler address ("tcp://host:8786"),
        a ``distributed.Client``, or a Dask cluster object (its ``scheduler_address``).
    workers : int, optional
        Local processes, ≥ 1 (default os.cpu_count()); ignored by Dask.
    out : str or pathlib.Path, optional
        Directory of the per-task result files (created); None = keep records in memory
        only. Finished tasks found there (same function, same parameters) are reused.
    progress : bool, optional
        tqdm bar over tasks; None = only if stderr is a terminal.
    threads_per_task : int or None
        Numba threads of each task, ≥ 1 (default 1: one core per task); None leaves Numba's
        setting alone.
    check_code : bool
        On Dask, first check that the scheduler and every worker have the same
        meanfield/solvers sources as this process.

    Returns
    -------
    SweepResult
        Ctrl-C stops the sweep (status "interrupted"; the finished tasks are in ``out``); a task
        that raises becomes a :class:`TaskFailure` (status "failed") and the others go on.

    Raises
    ------
    ValueError
        On an unknown ``scheduler``, a non-importable ``function`` with worker processes,
        ``workers`` or ``threads_per_task`` < 1, or a task that is not plain data.
    ImportError
        If a Dask scheduler is given and ``dask.distributed`` is not installed.
    RuntimeError
        If ``check_code`` finds Dask workers (or the scheduler) that cannot import this package
        or run different sources.

    Examples
    --------
    Identical tasks run once; a failing task does not stop the others:

    >>> def inverse(task):
    ...     return {"y": 1.0 / task["x"]}
    >>> res = run_sweep([{"x": 2}, {"x": 0}, {"x": 2}], inverse, scheduler="serial")
    >>> res.records, res.n_computed, res.status
    ([{'y': 0.5}, None, {'y': 0.5}], 1, 'failed')
    >>> res.failures[0].error
    'ZeroDivisionError: float division by zero'
    """
    start = time.perf_counter()
    function = function or run_task
    tasks = list(tasks)
    mode, target = _resolve_scheduler(scheduler)
    fname = _function_name(function)
    if mode != "serial" and ("<locals>" in fname or "<lambda>" in fname):
        raise ValueError(f"function: {fname} cannot be sent to worker processes; use a top-level function")
    if workers is not None:
        workers = check_int(workers, "workers", 1)
    if threads_per_task is not None:
        threads_per_task = check_int(threads_per_task, "threads_per_task", 1)
    if progress is None:
        progress = sys.stderr.isatty()
    params = [_plain(t, f"tasks[{i}]") for i, t in enumerate(tasks)]
    keys = [task_key(p, function) for p in params]
    by_key = {}
    for i, k in enumerate(keys):
        by_key.setdefault(k, i)
    out = None if out is None else Path(out)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)

    done = {}  # key → (record, wall_time)
    for k, i in by_key.items():
        if out is not None and (out / f"{k}.json").exists():
            loaded = _load_done(out / f"{k}.json", params[i], fname)
            if loaded is not None:
                done[k] = loaded
    reused = len(done)
    pending = {k: tasks[i] for k, i in by_key.items() if k not in done}
    failures = {}
    bar = tqdm(total=len(by_key), initial=reused, disable=not progress, unit="task", desc="sweep")

    def finish(key, outcome):
        i = by_key[key]
        if outcome[0] == "done":
            _, record, seconds = outcome
            done[key] = (record, seconds)
            if out is not None:
                _write_json(out / f"{key}.json", {"format": FILE_FORMAT, "function": fname, "key": key,
                                                  "task": params[i], "record": record, "wall_time": seconds})
                (out / f"{key}.failed.json").unlink(missing_ok=True)
        else:
            _, error, tb = outcome
            failures[key] = TaskFailure(i, key, params[i], error, tb)
            if out is not None:
                _write_json(out / f"{key}.failed.json", {"format": FILE_FORMAT, "function": fname, "key": key,
                                                         "task": params[i], "error": error, "traceback": tb})
        bar.update(1)
        if failures:
            bar.set_postfix(failed=len(failures))

    interrupted = False
    try:
        if not pending:
            pass
        elif mode == "serial":
            for key, task in pending.items():
                finish(key, _execute(function, task, threads_per_task))
        elif mode == "processes":
            _run_local(function, pending, threads_per_task, workers, finish)
        else:
            _run_dask(function, pending, threads_per_task, target, check_code, finish)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()

    records = [done[k][0] if k in done else None for k in keys]
    n_pending = len(by_key) - len(done) - len(failures)
    fails = sorted(failures.values(), key=lambda f: f.index)
    if interrupted:
        status, message = "interrupted", (f"interrupted: {len(done)} of {len(by_key)} tasks finished, "
                                          f"{len(fails)} failed, {n_pending} not run")
    elif fails:
        status, message = "failed", (f"{len(fails)} of {len(by_key)} tasks failed; the others finished"
                                     if len(fails) < len(by_key) else f"all {len(by_key)} tasks failed")
    else:
        status, message = "finished", f"{len(by_key)} tasks finished ({reused} reused from {out})" \
            if reused else f"{len(by_key)} tasks finished"
    return SweepResult(tasks=tasks, records=records, wall_times=[done[k][1] if k in done else None for k in keys],
                       keys=keys, failures=fails, n_computed=len(done) - reused, n_reused=reused,
                       n_failed=len(fails), n_pending=n_pending, status=status, message=message, out=out,
                       wall_time=time.perf_counter() - start)


def _run_local(function, pending, threads, workers, finish):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    n = min(workers or os.cpu_count() or 1, len(pending))
    # spawn: Numba's thread pools are not fork-safe; workers import the package afresh
    pool = ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn"))
    try:
        futures = _local_futures(pool, function, pending, threads)
        for future in as_completed(futures):
            try:
                outcome = future.result()
            except Exception as exc:  # the worker died (BrokenProcessPool) or the task did not pickle
                outcome = ("failed", f"{type(exc).__name__}: {exc}", traceback.format_exc())
            finish(futures[future], outcome)
    except KeyboardInterrupt:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _run_dask(function, pending, threads, target, check_code, finish):
    from distributed import as_completed

    client, own = _dask_client(target, check_code)
    futures = {}
    try:
        futures = {client.submit(_execute, function, task, threads, pure=False): key for key, task in pending.items()}
        for future in as_completed(futures, loop=client.loop):
            try:
                outcome = future.result()
            except Exception as exc:  # lost worker, unpicklable task, …
                outcome = ("failed", f"{type(exc).__name__}: {exc}", traceback.format_exc())
            finish(futures[future], outcome)
    except KeyboardInterrupt:
        client.cancel(list(futures))
        raise
    finally:
        if own:
            client.close()
