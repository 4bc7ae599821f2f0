"""The contract every solver keeps, checked on one table of small problems.

* a finished run returns a :class:`SolverResult` subclass: status "finished", ``success``, a
  message naming the last time, ``stats`` with ``steps`` ≥ 1 and ``wall_time``, the ``times``
  asked for, and every per-snapshot field with one row per time;
* a Ctrl-C (a KeyboardInterrupt raised in-process from a callback — ξ(t) at a given time, or a
  model wrapper on its k-th evaluation: no signals, no timing) returns status "interrupted":
  the snapshots before it, bitwise those of an uninterrupted run, plus the state at the
  interruption;
* a run that cannot go on raises a :class:`SolverError` subclass whose ``result`` has status
  "failed" and the snapshots before the failure;
* the same seed gives the same result (where a solver takes one).

* every quantity a particle run is asked to record is there, one row per snapshot.

To add a solver, add a :class:`Case` to ``CASES``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest

from meanfield import (AnisotropicGaussians, ArrayData, GaussianMixture, IsotropicGaussians, MeanFieldModel,
                       ParticleModel, RadialModel, ReducedModel, TeacherStudent, TwoLayerNetwork, erf,
                       init_from_overlaps, ramp, relu)
from meanfield._validation import check_model
from solvers import (AccuracyError, ConvergenceError, DivergenceError, DomainError, SolverError, SolverResult,
                     gibbs_fixed_point, init_gaussian, run_particle_flow, run_sgd, solve_anisotropic_pde,
                     solve_linearized, solve_order_parameters, solve_radial_lagrangian, solve_radial_pde,
                     solve_reduced_lagrangian)
from solvers.particle_flow import EnergyIncreaseError

TIMES = (0.0, 0.05, 0.1)
#: ξ raises KeyboardInterrupt from this time on: between the second and the third snapshot
T_INTERRUPT = 0.07


def xi_one(t):
    """ξ ≡ 1 as a callable (the interrupted and the full runs then evaluate the same code)."""
    return 1.0


def xi_interrupting(t):
    """ξ ≡ 1 until T_INTERRUPT, then a Ctrl-C."""
    if t >= T_INTERRUPT:
        raise KeyboardInterrupt
    return 1.0


def xi_one_vectorised(t):
    """ξ ≡ 1 for scalar t and for the arrays of step times SGD evaluates."""
    return np.ones_like(t, dtype=float) if np.ndim(t) else 1.0


def xi_interrupting_vectorised(t):
    """xi_interrupting for scalar t and arrays of step times (a Ctrl-C once any t ≥ T_INTERRUPT)."""
    if np.max(t) >= T_INTERRUPT:
        raise KeyboardInterrupt
    return xi_one_vectorised(t)


class _InterruptingFeatures:
    """The radial kernel's features, raising KeyboardInterrupt on the k-th potential (once)."""

    def __init__(self, feats, k):
        self.feats, self.k, self.calls = feats, k, 0

    def potential(self, masses):
        self.calls += 1
        if self.calls == self.k:
            raise KeyboardInterrupt
        return self.feats.potential(masses)


class InterruptingRadialModel:
    """A RadialModel that delegates to ``model`` and is interrupted on the k-th ψ evaluation."""

    def __init__(self, model, k):
        self.model, self.k = model, k
        self.d, self.r_sharp = model.d, model.r_sharp

    def v(self, r):
        return self.model.v(r)

    def dv(self, r):
        return self.model.dv(r)

    def radial_kernel(self, r, derivatives=False):
        return _InterruptingFeatures(self.model.radial_kernel(r, derivatives), self.k)

    def dense_kernel(self, r, rp, values=True, derivatives=False):
        return self.model.dense_kernel(r, rp, values, derivatives)

    def kernel_features(self, r, allow_inexact=False):
        return self.model.kernel_features(r, allow_inexact)


@dataclass
class Case:
    """One solver on a small problem.

    ``run(**overrides)`` returns its result; ``times`` the snapshot times it asks for (None: no
    time axis, e.g. a fixed point); ``snapshots`` the fields with one row per snapshot;
    ``interrupt()`` runs it with a Ctrl-C injected (None: nothing to interrupt, e.g. a closed
    form); ``fail()`` provokes a failure, which must raise ``failure``; ``seed`` the name of its
    seed keyword, if any."""

    name: str
    run: Callable
    times: tuple | None
    snapshots: tuple
    interrupt: Callable | None
    fail: Callable | None
    failure: type = SolverError
    seed: str | None = None
    #: the interruption is noticed between steps after the last snapshot (False: it may be noticed at
    #: that snapshot — SGD's kernel blocks end at snapshots, an adaptive step may reach past
    #: T_INTERRUPT in one step — and the state at the interruption is then that snapshot)
    stops_between_snapshots: bool = True


def _isotropic():
    return IsotropicGaussians(0.8, 10, ramp())


def _anisotropic(train=("a", "w", "b")):
    return AnisotropicGaussians(0.8, 12, 4, ramp(), train=train, kmax=4)


def _radial_pde(**kw):
    return solve_radial_pde(_isotropic(), **{"times": TIMES, "cells": 50, "xi": xi_one, "progress": False, **kw})


def _radial_lagrangian(**kw):
    return solve_radial_lagrangian(_isotropic(), **{"times": TIMES, "n": 50, "dt": 0.01, "xi": xi_one,
                                                    "progress": False, **kw})


def _reduced(**kw):
    model = _anisotropic()
    return solve_reduced_lagrangian(model, model.init(40, seed=0), **{"times": TIMES, "dt": 0.01, "xi": xi_one,
                                                                      "progress": False, **kw})


def _anisotropic_pde(**kw):
    return solve_anisotropic_pde(_anisotropic(("w",)), **{"times": TIMES, "cells": 10, "r_max": 2.5, "xi": xi_one,
                                                          "progress": False, **kw})


def _gibbs(model=None, **kw):
    return gibbs_fixed_point(model or IsotropicGaussians(0.8, 6, ramp()), **{"beta": 10.0, "lam": 1.0, "cells": 50,
                                                                             "r_max": 4.0, **kw})


def _linearized(**kw):
    X = np.random.default_rng(0).standard_normal((12, 3))
    model = MeanFieldModel(ArrayData(X, np.sign(X[:, 0])), TwoLayerNetwork(erf(), train=("a", "w"), scale=10.0))
    theta0 = model.init(20, seed=0)
    return solve_linearized(model.centered(theta0), theta0, **{"times": TIMES, **kw})


#: Every key a particle run can record (kernel and output at the probes).
PARTICLE_RECORDS = ("radii", "risk", "weights", "params", "kernel", "output", "movement")
PARTICLE_SNAPSHOTS = ("radii", "risk", "weights", "kernel", "output", "movement")  # arrays (params: a list)


def _particle_model():
    return MeanFieldModel(GaussianMixture.anisotropic(0.5, 6, 3), TwoLayerNetwork(relu(), train=("a", "w", "b")))


def _particles(solver, **kw):
    """run_sgd or run_particle_flow on 30 neurons, recording everything."""
    model = _particle_model()
    probes = np.random.default_rng(0).standard_normal((3, 6))
    args = {"times": TIMES, "xi": xi_one_vectorised, "record": PARTICLE_RECORDS, "probes": probes,
            "progress": False, **kw}
    return solver(model, model.init(30, seed=0), **args)


def _sgd(**kw):
    return _particles(run_sgd, **{"eps": 1e-3, **kw})


def _flow(**kw):
    return _particles(run_particle_flow, **kw)


def _order_parameters(**kw):
    model = MeanFieldModel(TeacherStudent(np.eye(2, 8), erf()), TwoLayerNetwork(erf()))
    theta = init_from_overlaps(model, Q0=0.2 * np.eye(2), R0=0.01 * np.eye(2))
    return solve_order_parameters(model, theta, **{"times": TIMES, "xi": xi_one, "progress": False, **kw})


CASES = [
    Case("radial_pde", _radial_pde, TIMES, ("mass", "density", "risk", "free_energy"),
         lambda: _radial_pde(xi=xi_interrupting),
         lambda: _radial_pde(times=(0.0, 0.5, 3.0), cells=100, r_max=2.8), DomainError),
    Case("radial_lagrangian", _radial_lagrangian, TIMES, ("radii",),
         lambda: _radial_lagrangian(xi=xi_interrupting),
         lambda: _radial_lagrangian(times=(0.0, 10.0), dt=5.0), AccuracyError),
    Case("reduced_lagrangian", _reduced, TIMES, ("points", "risk"),
         lambda: _reduced(xi=xi_interrupting),
         lambda: _reduced(times=(0.0, 10.0), dt=5.0), AccuracyError),
    Case("anisotropic_pde", _anisotropic_pde, TIMES, ("mass", "risk", "free_energy"),
         lambda: _anisotropic_pde(xi=xi_interrupting),
         lambda: _anisotropic_pde(times=(0.0, 0.2, 5.0), r_max=2.2, beta=1.0), DomainError),
    Case("gibbs", _gibbs, None, (),
         lambda: _gibbs(InterruptingRadialModel(IsotropicGaussians(0.8, 6, ramp()), k=6)),
         lambda: _gibbs(max_iter=3), ConvergenceError),
    Case("linearized", _linearized, TIMES, ("train_output", "train_risk"), None, None),
    Case("sgd", _sgd, TIMES, PARTICLE_SNAPSHOTS + ("params",),
         lambda: _sgd(xi=xi_interrupting_vectorised),
         lambda: _sgd(eps=1.0, lam=10.0, times=(0.0, 1.0, 100.0)), DivergenceError, seed="seed",
         stops_between_snapshots=False),
    Case("flow_rk4", lambda **kw: _flow(**{"method": "rk4", "dt": 0.01, **kw}), TIMES,
         PARTICLE_SNAPSHOTS + ("params",),
         lambda: _flow(method="rk4", dt=0.01, xi=xi_interrupting_vectorised),
         lambda: _flow(method="rk4", dt=5.0, times=(0.0, 10.0)), EnergyIncreaseError),
    Case("flow_dopri5", lambda **kw: _flow(**{"method": "dopri5", **kw}), TIMES, PARTICLE_SNAPSHOTS + ("params",),
         lambda: _flow(method="dopri5", xi=xi_interrupting_vectorised), None, stops_between_snapshots=False),
    Case("flow_euler_maruyama", lambda **kw: _flow(**{"method": "euler", "dt": 0.005, "beta": 10.0, **kw}), TIMES,
         PARTICLE_SNAPSHOTS + ("params",),
         lambda: _flow(method="euler", dt=0.005, beta=10.0, xi=xi_interrupting_vectorised),
         lambda: _flow(method="euler", dt=5.0, beta=10.0, times=(0.0, 10.0)), AccuracyError, seed="seed"),
    Case("order_parameters", _order_parameters, TIMES, ("Q", "R", "a", "b", "risk"),
         lambda: _order_parameters(xi=xi_interrupting), None, stops_between_snapshots=False),
]
IDS = [case.name for case in CASES]


@pytest.fixture(scope="module", params=CASES, ids=IDS)
def finished(request):
    """(case, its finished result)."""
    return request.param, request.param.run()


def test_a_finished_run_keeps_the_contract(finished):
    case, res = finished
    assert isinstance(res, SolverResult)
    assert res.status == "finished" and res.success and res.message.startswith("finished"), res.message
    assert res.stats["steps"] >= 1 and res.stats["wall_time"] >= 0.0
    if case.times is not None:
        np.testing.assert_array_equal(res.times, case.times)
        assert f"t = {case.times[-1]:.6g}" in res.message, res.message
    for name in case.snapshots:
        assert len(getattr(res, name)) == len(case.times), name
        assert np.all(np.isfinite(_rows(getattr(res, name)))), name


@pytest.mark.parametrize("case", [c for c in CASES if c.interrupt is not None],
                         ids=[c.name for c in CASES if c.interrupt is not None])
def test_a_ctrl_c_returns_the_snapshots_reached_and_the_state_at_the_interruption(case):
    res = case.interrupt()
    assert isinstance(res, SolverResult)
    assert res.status == "interrupted" and not res.success
    assert res.message.startswith("interrupted (Ctrl-C)"), res.message
    if case.times is None:
        return
    full = case.run()
    reached = [t for t in case.times if t < T_INTERRUPT]
    extra = len(res.times) - len(reached)  # 1: the state at the interruption, after the snapshots
    assert res.times[:len(reached)].tolist() == reached and extra in ((1,) if case.stops_between_snapshots else (0, 1))
    if extra:
        assert reached[-1] < res.times[-1] <= T_INTERRUPT      # where it stopped, the last snapshot
    assert f"t = {res.times[-1]:.6g}" in res.message
    for name in case.snapshots:
        got, want = _rows(getattr(res, name)), _rows(getattr(full, name))
        assert len(got) == len(reached) + extra, name
        np.testing.assert_array_equal(got[:len(reached)], want[:len(reached)], err_msg=name)
        assert np.all(np.isfinite(got[-1])), name


def _rows(field):
    """A snapshot field as an array with one row per snapshot (a list of Params: their (a, W, b))."""
    if isinstance(field, list):
        return np.array([np.concatenate([p.a.ravel(), p.W.ravel(), p.b.ravel()]) for p in field])
    return np.asarray(field)


def test_gibbs_interrupted_state_is_a_normalised_iterate():
    res = CASES[IDS.index("gibbs")].interrupt()
    assert res.iterations >= 1 and res.mass.sum() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("case", [c for c in CASES if c.fail is not None],
                         ids=[c.name for c in CASES if c.fail is not None])
def test_a_run_that_cannot_go_on_raises_with_the_partial_result(case):
    with pytest.raises(case.failure) as exc:
        case.fail()
    err = exc.value
    assert isinstance(err, SolverError) and isinstance(err, RuntimeError)
    res = err.result
    assert isinstance(res, SolverResult) and res.status == "failed" and not res.success
    assert res.message.startswith("failed") and str(err)
    if case.times is not None:
        assert len(res.times) >= 1 and res.times[0] == 0.0    # the snapshots before the failure
        for name in case.snapshots:
            assert len(getattr(res, name)) == len(res.times), name


@pytest.mark.parametrize("case", [c for c in CASES if c.seed is not None],
                         ids=[c.name for c in CASES if c.seed is not None])
def test_the_same_seed_gives_the_same_result(case):
    a, b, other = case.run(**{case.seed: 1}), case.run(**{case.seed: 1}), case.run(**{case.seed: 2})
    for name in case.snapshots:
        np.testing.assert_array_equal(_rows(getattr(a, name)), _rows(getattr(b, name)))
    assert not np.array_equal(_rows(a.params)[-1], _rows(other.params)[-1])  # the seed is used


def test_the_models_satisfy_their_protocols():
    """The protocols are the contract: each model provides what its solvers call."""
    iso = _isotropic()
    full = MeanFieldModel(ArrayData(np.ones((3, 2)), np.ones(3)), TwoLayerNetwork(erf()))
    assert isinstance(iso, ParticleModel) and isinstance(full, ParticleModel)
    assert isinstance(iso, RadialModel) and isinstance(_anisotropic(), ReducedModel)
    assert isinstance(InterruptingRadialModel(iso, 1), RadialModel)
    assert check_model(iso, RadialModel) is iso


def test_a_model_without_the_protocol_is_refused_naming_what_it_lacks():
    with pytest.raises(ValueError, match=r"^model: expected a ReducedModel .* lacks s0, lam, class_features"):
        solve_anisotropic_pde(_isotropic())
    with pytest.raises(ValueError, match=r"^model: expected a RadialModel .* lacks v, dv, radial_kernel"):
        solve_radial_pde(_anisotropic(("w",)).full_model())
    with pytest.raises(ValueError, match=r"^model: expected an OutputModel .* lacks data, output, tangent_kernel"):
        solve_linearized(_isotropic(), np.ones((3, 10)), times=[0.0])
