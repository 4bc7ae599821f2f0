"""Warm Numba's kernel cache: the first call of each model family, at tiny sizes, once.

Every kernel of ``meanfield`` and ``solvers`` is compiled on its first call for a new model
family and cached on disk afterwards (``meanfield/_numba_cache.py``); a cold first call takes
tens of seconds, a warm one (cache loads) about a second. ::

    python -m solvers.precompile                  # every family
    python -m solvers.precompile --family isotropic --family mixture
    python -m solvers.precompile --model '{"kind": "isotropic_gaussians", "delta": 0.8, "d": 40,
        "activation": {"kind": "piecewise_linear", "knots": [0.5, 1.5], "values": [-2.5, 7.5]}}'

makes, through the public API only, the calls a first run makes: ``run_sgd`` with its default
``record`` (the SGD kernel and the exact-risk pair sums R_N), ``run_particle_flow`` (the exact
drift ∇Ψ(θ_i; ρ̂)), and the PDE solvers of the isotropic and anisotropic examples. Sizes are
tiny but above the thresholds at which the O(N²) kernels switch to threads (N ≥ 256), so the
kernels a reference run uses are the ones compiled. It lives in ``solvers`` because it calls
the solvers (``meanfield`` never imports ``solvers``). Run it once per machine or worker image
(with the same NUMBA_CACHE_DIR, if set, as the runs).
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from meanfield import (AnisotropicGaussians, ArrayData, GaussianMixture, IsotropicGaussians, MeanFieldModel,
                       TeacherStudent, TwoLayerNetwork, ramp, relu)
from . import (init_gaussian, model_from_spec, run_particle_flow, run_sgd, solve_anisotropic_pde,  # public API only
               solve_radial_pde, solve_reduced_lagrangian)

#: Particles of the warm-up runs: at least isotropic_gaussians.PARALLEL_MIN, so the threaded pair kernels compile.
N_WARM = 300
#: Dimension and signal coordinates of the warm-up models.
D_WARM, S0_WARM = 12, 4
#: Final time of the warm-up runs (a few steps each).
T_WARM = 0.002


def _particle_calls(model, init):
    """run_sgd with its default record and run_particle_flow with its defaults."""
    return [("run_sgd(eps=1e-3, default record)",
             lambda: run_sgd(model, init, eps=1e-3, times=[0.0, T_WARM], progress=False)),
            ("run_particle_flow(default method and record)",
             lambda: run_particle_flow(model, init, times=[0.0, T_WARM], progress=False))]


def _isotropic():
    model = IsotropicGaussians(0.8, D_WARM, ramp())
    return _particle_calls(model, init_gaussian(N_WARM, D_WARM, 0.8, seed=0)) + [
        ("solve_radial_pde(cells=50)",
         lambda: solve_radial_pde(model, kappa=0.8, times=[0.0, T_WARM], cells=50, progress=False))]


def _abw(data):
    model = MeanFieldModel(data, TwoLayerNetwork(relu(), train=("a", "w", "b")))
    return _particle_calls(model, model.init(N_WARM, kappa=0.8, seed=0))


def _mixture():
    return _abw(GaussianMixture.anisotropic(0.5, D_WARM, S0_WARM))


def _teacher_student():
    teacher = np.random.default_rng(0).standard_normal((2, D_WARM)) / np.sqrt(D_WARM)
    return _abw(TeacherStudent(teacher, relu()))


def _arrays():
    X, y = GaussianMixture.anisotropic(0.5, D_WARM, S0_WARM).sample(200, rng=0)
    return _abw(ArrayData(X[:150], y[:150], X_test=X[150:], y_test=y[150:]))


def _anisotropic():
    abw = AnisotropicGaussians(0.5, D_WARM, S0_WARM, relu(), train=("a", "w", "b"), kmax=8)
    w_only = AnisotropicGaussians(0.5, D_WARM, S0_WARM, relu(), train=("w",), kmax=8)
    X0 = abw.init(N_WARM, kappa=0.8, seed=0)
    return [("solve_reduced_lagrangian(dt=1e-3)",
             lambda: solve_reduced_lagrangian(abw, X0, [0.0, T_WARM], dt=1e-3, progress=False)),
            ("solve_anisotropic_pde(cells=20)",
             lambda: solve_anisotropic_pde(w_only, times=[0.0, T_WARM], cells=20, progress=False))]


#: The model families: name → (what it is, its calls).
FAMILIES = {
    "isotropic": ("IsotropicGaussians, ramp σ, w only", _isotropic),
    "mixture": ("MeanFieldModel (a, w, b), ReLU, anisotropic Gaussian mixture", _mixture),
    "teacher_student": ("MeanFieldModel (a, w, b), ReLU, teacher–student", _teacher_student),
    "arrays": ("MeanFieldModel (a, w, b), ReLU, ArrayData", _arrays),
    "anisotropic": ("AnisotropicGaussians reduction: reduced particles (a, w, b), (r₁, r₂) PDE (w only)",
                    _anisotropic),
}


def family_calls(family):
    """The warm-up calls of one model family, as (label, zero-argument callable) pairs.

    Parameters
    ----------
    family : str
        A key of ``FAMILIES``.

    Returns
    -------
    list of (str, callable)
        The calls; each returns its solver's result.

    Raises
    ------
    ValueError
        On an unknown family.

    Examples
    --------
    >>> [label for label, _ in family_calls("anisotropic")]
    ['solve_reduced_lagrangian(dt=1e-3)', 'solve_anisotropic_pde(cells=20)']
    """
    if family not in FAMILIES:
        raise ValueError(f"family: must be one of {sorted(FAMILIES)}, got {family!r}")
    return FAMILIES[family][1]()


def precompile(families=None, models=(), echo=None):
    """Make the first call of each model family (and of each model spec) so Numba compiles and caches its kernels.

    Parameters
    ----------
    families : sequence of str, optional
        Keys of ``FAMILIES``; None = all of them.
    models : sequence of dict
        Model specs of :func:`solvers.model_from_spec`; each gets ``run_sgd`` (default record)
        and ``run_particle_flow`` on ``N_WARM`` particles.
    echo : callable, optional
        Called with one line per call made (e.g. ``print``); None = silent.

    Returns
    -------
    list of dict
        One record per call, in order: "family", "call" (its label) and "seconds" (wall time,
        compilation included; near zero once the cache is warm).

    Raises
    ------
    ValueError
        On an unknown family or an invalid model spec.

    Examples
    --------
    >>> calls = precompile(["anisotropic"])
    >>> [(c["family"], c["call"]) for c in calls]
    [('anisotropic', 'solve_reduced_lagrangian(dt=1e-3)'), ('anisotropic', 'solve_anisotropic_pde(cells=20)')]
    """
    names = list(FAMILIES) if families is None else list(families)
    plan = [(name, family_calls(name)) for name in names]
    for k, spec in enumerate(models):
        model = model_from_spec(spec)
        init = (init_gaussian(N_WARM, model.d, 0.8, seed=0) if isinstance(model, IsotropicGaussians)
                else model.init(N_WARM, kappa=0.8, seed=0))
        plan.append((f"model {k}", _particle_calls(model, init)))
    done = []
    for family, calls in plan:
        for label, call in calls:
            start = time.perf_counter()
            call()
            done.append(dict(family=family, call=label, seconds=time.perf_counter() - start))
            if echo is not None:
                echo(f"{family:<16} {label:<48} {done[-1]['seconds']:7.2f} s")
    return done


def main(argv=None):
    """The command ``python -m solvers.precompile``: parse ``argv`` and run :func:`precompile`.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments (None = ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status, 0.

    Examples
    --------
    >>> main(["--list"])   # doctest: +NORMALIZE_WHITESPACE
    isotropic        IsotropicGaussians, ramp σ, w only
    mixture          MeanFieldModel (a, w, b), ReLU, anisotropic Gaussian mixture
    teacher_student  MeanFieldModel (a, w, b), ReLU, teacher–student
    arrays           MeanFieldModel (a, w, b), ReLU, ArrayData
    anisotropic      AnisotropicGaussians reduction: reduced particles (a, w, b), (r₁, r₂) PDE (w only)
    0
    """
    parser = argparse.ArgumentParser(prog="python -m solvers.precompile",
                                     description="Compile and cache the Numba kernels of each model family's first call.")
    parser.add_argument("--family", action="append", choices=sorted(FAMILIES),
                        help="a model family (repeatable); default: all families (unless --model is given)")
    parser.add_argument("--model", action="append", default=[], metavar="SPEC",
                        help="a model spec as JSON (solvers.model_from_spec); repeatable")
    parser.add_argument("--all", action="store_true", help="every family (the default)")
    parser.add_argument("--list", action="store_true", help="list the families and exit")
    args = parser.parse_args(argv)
    if args.list:
        for name, (what, _) in FAMILIES.items():
            print(f"{name:<16} {what}")
        return 0
    models = []
    for text in args.model:
        try:
            models.append(json.loads(text))
        except json.JSONDecodeError as exc:
            parser.error(f"--model: not valid JSON ({exc})")
    families = None if args.all or not (args.family or models) else (args.family or [])
    start = time.perf_counter()
    done = precompile(families, models, echo=lambda line: print(line, flush=True))
    print(f"{len(done)} calls in {time.perf_counter() - start:.1f} s; the kernels are cached for the next runs",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
