"""One particle run of a sweep: the task as plain data, its key, and the function that runs it.

A :class:`SweepTask` names a model spec (:mod:`solvers.sweep.specs`), the dynamics ("sgd" or
"flow"), N, the seed, ε or dt, the initial scale κ (rows of W₀ iid N(0, κ²/d I_d)), the
snapshot times and the integrator's options. :func:`run_task` runs it and returns its record;
with a ``reference`` it also solves the radial PDE of the *same* dynamics

    ∂_t ρ = 2ξ ∇·(ρ ∇Ψ_λ) + (2ξ/β) Δρ,   Ψ_λ = Ψ + (λ/2)‖w‖²,

(ξ, β, λ from the options; the batch size of SGD does not enter the ε → 0 limit) and
measures W₁, W₂ of the particles' radii to it. Every field reaches the run it describes; an
option the task cannot pass on, or a reference the options make meaningless, is refused
when the task is built, before any work.

:func:`task_key` hashes the function's name and the task's canonical JSON: the name of the
task's result file.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
from collections.abc import Mapping

import numpy as np

from meanfield import w1_radial, w2_radial
from meanfield._validation import check_int, check_positive, check_times

from .._dynamics import Dynamics
from ..initialization import init_gaussian
from ..particle_flow import run_particle_flow
from ..radial_pde import sample_grid_density, solve_radial_pde
from ..sgd import run_sgd
from ._plain import canonical, plain
from .specs import MODEL_KINDS, model_from_spec

__all__ = ["SweepTask", "run_task", "radial_pde_reference", "task_key", "DYNAMICS", "OPTIONS"]

#: Options of the dynamics (ξ, β, λ): passed to the integrator and to the PDE reference.
DYNAMICS_OPTIONS = ("xi", "beta", "lam")
#: dynamics name → the options a task may pass to its integrator (ξ must be a number: plain data).
OPTIONS = {"sgd": DYNAMICS_OPTIONS + ("batch", "dtype", "threads"),
           "flow": DYNAMICS_OPTIONS + ("method", "rtol", "check_energy", "energy_tol", "origin", "accuracy_tol")}
#: Arguments set by the task's own fields (or by run_task), never by ``options``.
RESERVED = ("model", "init", "eps", "dt", "times", "seed", "record", "progress", "checkpoint", "probes")
#: The model kind the radial PDE reference applies to.
RADIAL_KIND = "isotropic_gaussians"


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

    Raises
    ------
    ValueError
        If ``task`` is not plain data.

    Examples
    --------
    >>> task_key({"x": 1, "y": [2, 3]}) == task_key({"y": (2, 3), "x": 1}), len(task_key({"x": 1}))
    (True, 20)
    """
    text = _function_name(function or run_task) + "\n" + canonical(plain(task))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _check_options(options, dynamics, reference):
    """The options as plain data; ValueError on a reserved or unknown key, a bad ξ, β, λ or
    batch, or a reference the dynamics' options have no PDE for."""
    if not isinstance(options, Mapping):
        raise ValueError(f"options: expected a dict of keyword arguments, got {options!r}")
    options = plain(dict(options), "options")
    reserved = sorted(set(options) & set(RESERVED))
    if reserved:
        raise ValueError(f"options: {reserved} are set by the task's own fields (N, seed, eps, dt, times, kappa, "
                         "model), not by options")
    unknown = sorted(set(options) - set(OPTIONS[dynamics]))
    if unknown:
        raise ValueError(f"options: unknown keys {unknown} for dynamics {dynamics!r}; "
                         f"accepted: {list(OPTIONS[dynamics])}")
    if "xi" in options and options["xi"] is None:
        raise ValueError("options: xi must be a positive number (omit it for ξ ≡ 1), got None")
    dyn = Dynamics(options.get("xi"), options.get("beta"), options.get("lam", 0.0))  # ValueError naming xi/beta/lam
    if "batch" in options:
        check_int(options["batch"], "options['batch']", 1)
    if reference is not None and dyn.lam > 0 and not dyn.noisy:
        raise ValueError(f"options: lam = {dyn.lam:g} without beta has no radial PDE reference (the noiseless "
                         "scheme of solve_radial_pde has no ridge term); pass reference=None, or a beta")
    return options


def _check_reference(reference, model):
    if reference is None:
        return None
    if not isinstance(reference, Mapping) or set(reference) - {"cells", "iid_draws"}:
        raise ValueError(f"reference: expected None or {{'cells': int, 'iid_draws': int}}, got {reference!r}")
    if model["kind"] != RADIAL_KIND:
        raise ValueError(f"reference: the radial PDE reference needs a {RADIAL_KIND!r} model, got kind "
                         f"{model['kind']!r}; pass reference=None")
    return {"cells": check_int(reference.get("cells", 1000), "reference['cells']", 10),
            "iid_draws": check_int(reference.get("iid_draws", 0), "reference['iid_draws']", 0)}


@dataclasses.dataclass(frozen=True)
class SweepTask:
    """One particle run: the model, the dynamics, N, ε, seed and snapshot times.

    Plain, picklable data, validated and normalised on construction (``times`` become a tuple of
    floats, ``model`` and ``options`` plain dicts), so that equal tasks have equal keys and a
    task that cannot run as described is refused before any work.

    Attributes
    ----------
    model : dict
        Plain-data model spec (see :func:`model_from_spec`); its kind is checked here, the rest
        when the worker builds it.
    N : int
        Number of particles, ≥ 1; rows of W0 iid N(0, κ²/d I_d) from ``seed``.
    seed : int
        ≥ 0; seeds the initial particles and the dynamics' random streams.
    times : tuple of float
        Snapshot times (non-decreasing, ≥ 0).
    dynamics : {"sgd", "flow"}
        "sgd": one-pass SGD, step size ``eps``; "flow": the particle flow on the exact
        population risk, time step ``dt`` (None = adaptive).
    eps : float or None
        SGD step size ε > 0 (required for "sgd"; recorded but unused by "flow").
    dt : float or None
        Time step > 0 of the flow (unused by "sgd").
    kappa : float
        Initial scale κ > 0.
    options : dict
        Extra keyword arguments of the integrator as plain data: ``xi`` (a number), ``beta``,
        ``lam`` for both; ``batch``, ``dtype``, ``threads`` for "sgd"; ``method``, ``rtol``,
        ``check_energy``, ``energy_tol``, ``origin``, ``accuracy_tol`` for "flow" (``OPTIONS``).
    reference : dict or None
        None, or {"cells": int ≥ 10, "iid_draws": int ≥ 0} (defaults 1000, 0): compare with the
        radial PDE solved on that many cells (same model, κ, times, ξ, β, λ); only for an
        "isotropic_gaussians" model.

    Raises
    ------
    ValueError
        On an invalid field (the message names it): an unknown model kind, an option that is
        unknown or set by a field (``seed``, ``record``, …), a bad ξ, β, λ or batch, a
        reference for a model without a radial PDE, or λ > 0 without β with a reference.

    Examples
    --------
    >>> spec = {"kind": "isotropic_gaussians", "delta": 0.8, "d": 10,
    ...         "activation": {"kind": "piecewise_linear", "knots": [0.5, 1.5], "values": [-2.5, 7.5]}}
    >>> task = SweepTask(model=spec, N=20, seed=1, times=[0, 0.1], eps=1e-3)
    >>> task.times, task.dynamics, task.kappa
    ((0.0, 0.1), 'sgd', 0.8)
    >>> SweepTask(model=spec, N=20, seed=1, times=[0, 0.1], eps=1e-3, options={"seed": 2})
    Traceback (most recent call last):
    ...
    ValueError: options: ['seed'] are set by the task's own fields (N, seed, eps, dt, times, kappa, model), not by options
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
        if self.model["kind"] not in MODEL_KINDS:
            raise ValueError(f"model: unknown kind {self.model['kind']!r}; known kinds: {sorted(MODEL_KINDS)}")
        set_("model", plain(dict(self.model), "model"))
        set_("N", check_int(self.N, "N", 1))
        set_("seed", check_int(self.seed, "seed", 0))
        set_("times", tuple(float(t) for t in check_times(self.times)))
        if self.dynamics not in DYNAMICS:
            raise ValueError(f"dynamics: must be one of {sorted(DYNAMICS)}, got {self.dynamics!r}")
        for name in ("eps", "dt", "kappa"):
            set_(name, check_positive(getattr(self, name), name, allow_none=name != "kappa"))
        if self.dynamics == "sgd" and self.eps is None:
            raise ValueError("eps: the 'sgd' dynamics needs a step size eps > 0")
        set_("reference", _check_reference(self.reference, self.model))
        set_("options", _check_options(self.options, self.dynamics, self.reference))


def _run_sgd(model, W0, task):
    return run_sgd(model, W0, task.eps, task.times, seed=task.seed, record=("radii", "risk"), progress=False,
                   **task.options)


def _run_flow(model, W0, task):
    return run_particle_flow(model, W0, task.times, dt=task.dt, seed=task.seed, record=("radii", "risk"),
                             progress=False, **task.options)


#: dynamics name → runner(model, W0, task) -> ParticleResult.
DYNAMICS = {"sgd": _run_sgd, "flow": _run_flow}


def radial_pde_reference(model_spec, kappa, times, cells, beta=None, lam=0.0, xi=None):
    """The radial PDE from the Gaussian init of scale κ at ``times`` as plain arrays.

    Solves ∂_t ρ = 2ξ ∇·(ρ ∇Ψ_λ) + (2ξ/β) Δρ (:func:`solve_radial_pde`, automatic domain).

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
        L2 regularisation λ ≥ 0 (noisy dynamics).
    xi : float, optional
        Constant time scale ξ > 0 (None: ξ ≡ 1).

    Returns
    -------
    dict
        {"edges": (M+1,), "density": (S, M) per unit length, "risk": (S,) R(ρ̄_t)}.

    Raises
    ------
    ValueError
        On an invalid argument (as raised by :func:`solve_radial_pde`).
    KeyboardInterrupt
        If the solver was interrupted (a partial reference is never returned).

    Examples
    --------
    >>> spec = {"kind": "isotropic_gaussians", "delta": 0.8, "d": 10,
    ...         "activation": {"kind": "piecewise_linear", "knots": [0.5, 1.5], "values": [-2.5, 7.5]}}
    >>> ref = radial_pde_reference(spec, 0.8, [0, 0.1], cells=50, xi=0.5)
    >>> ref["density"].shape[0], ref["risk"].shape
    (2, (2,))
    """
    sol = solve_radial_pde(model_from_spec(model_spec), init="gaussian", kappa=kappa, times=list(times),
                           cells=cells, beta=beta, lam=lam, xi=xi, progress=False)
    if sol.status != "finished":  # Ctrl-C: a partial reference must not be used (nor cached)
        raise KeyboardInterrupt(sol.message)
    return {"edges": np.asarray(sol.edges), "density": np.asarray(sol.density), "risk": np.asarray(sol.risk)}


@functools.lru_cache(maxsize=4)
def _cached_reference(model_json, kappa, times, cells, beta, lam, xi):
    # A worker solves each reference PDE once, not once per task (pure function of its key).
    return radial_pde_reference(json.loads(model_json), kappa, times, cells, beta, lam, xi)


def _compare(out, res, task):
    """Add the distances of the particles' radii to the PDE reference of ``task`` to ``out``."""
    opts = task.options
    ref = _cached_reference(canonical(task.model), task.kappa, task.times, task.reference["cells"],
                            opts.get("beta"), float(opts.get("lam", 0.0)), opts.get("xi"))
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


def run_task(task):
    """Run one :class:`SweepTask` (or a dict of its fields) and return its record.

    Record (lists, one entry per snapshot): ``times`` reached, ``risk`` = exact R_N,
    ``mean_radius`` = (1/N)Σ‖w_i‖, and ``steps``. With a ``reference``, also: ``w2``, ``w1``
    = W_p(ρ̂^N_t, ρ̄_t) between the particles' radii and the PDE law of the same ξ, β, λ
    (exact quantile integrals), ``pde_risk`` = R(ρ̄_t), ``risk_err`` = |R_N − R(ρ̄_t)|, and
    ``iid_w2``, ``iid_w1`` = the same distances for N iid draws from ρ̄_t (mean over
    ``iid_draws`` samples, RNG seeded by (seed, N, 2018); NaN when ``iid_draws`` = 0): the
    sampling error at that N.

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
    if res.status == "interrupted":  # Ctrl-C inside the integrator: never store a truncated run
        raise KeyboardInterrupt("task interrupted")
    out = {"times": res.times.tolist(), "risk": np.asarray(res.risk, float).tolist(),
           "mean_radius": res.radii.mean(axis=1).tolist(), "steps": int(res.steps)}
    return out if task.reference is None else _compare(out, res, task)
