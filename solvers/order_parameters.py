"""The order-parameter ODE of teacher–student learning: the flow (and online SGD) in high dimension.

For a :class:`~meanfield.MeanFieldModel` on :class:`~meanfield.TeacherStudent` data the flow
dw_i/dt = −2ξ(t)[∇_{w_i}Ψ/α + λ w_i] stays in span{w_j, w*_t}: with ∇_{w_i}Ψ = Σ_j P_ij w_j + Σ_t S_it w*_t
(:func:`meanfield.overlap_gradient`, exact Gaussian integrals of (Q, R, T)), Ẇ = A W + B W* with
A = −2ξ(P/α + λI), B = −2ξS/α, so the overlaps obey the closed ODE

    dQ/dt = A Q + B Rᵀ + (A Q + B Rᵀ)ᵀ,   dR/dt = A R + B T,
    da_i/dt = −2ξ(∂_{a_i}Ψ/α + λ a_i),    db_i/dt = −2ξ(∂_{b_i}Ψ/α + λ b_i)   (trained coordinates only),

exact at every d for the flow. Online SGD with step ε (time t = kε, steps s = εξ(kε), batch B) adds
in the limit d → ∞ at fixed K, M and εd (the committee-machine scaling) the η² term

    dQ_ij/dt += (4 ε d ξ² / (α² B)) E[δ_i δ_j],   δ_i = (y − f(x)) a_i σ'(λ_i + b_i)

(:func:`meanfield.sgd_noise_overlaps`), from E‖x‖² = d in the square of the step; R, a and b get no
such term, and the fluctuations around the ODE are O(1/√d). Integrated by scipy's DOP853 between
snapshots; a Ctrl-C returns the snapshots reached (status "interrupted").
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import numpy as np
from ._progress import tqdm

from meanfield import (MeanFieldModel, OrderParameters, Params, TeacherStudent, order_parameters, overlap_gradient,
                       risk_from_overlaps, sgd_noise_overlaps)
from meanfield._validation import check_instance, check_int, check_positive, check_rtol, check_times

from ._dynamics import Dynamics
from ._interrupt import deferred_interrupt
from ._result import SolverError, SolverResult


@dataclass(kw_only=True)
class OrderParameterSolution(SolverResult):
    """Snapshots of the order parameters of :func:`solve_order_parameters`.

    Attributes
    ----------
    times : ndarray, shape (S,)
    Q : ndarray, shape (S, K, K)
        Q = W Wᵀ per snapshot.
    R : ndarray, shape (S, K, M)
        R = W W*ᵀ per snapshot.
    T : ndarray, shape (M, M)
        The teacher's overlaps (constant).
    a, b : ndarray, shape (S, K)
        Output weights and biases per snapshot (constant when not trained).
    risk : ndarray, shape (S,)
        The exact population risk R_N from the overlaps.
    eps : float or None
        The SGD step whose η² term was included (None: the flow).

    Examples
    --------
    >>> import numpy as np
    >>> res = OrderParameterSolution(times=np.zeros(1), Q=np.ones((1, 1, 1)), R=np.zeros((1, 1, 1)),
    ...                              T=np.ones((1, 1)), a=np.ones((1, 1)), b=np.zeros((1, 1)), risk=np.ones(1))
    >>> res.success, res.at(0).Q.tolist()
    (True, [[1.0]])
    """

    times: np.ndarray
    Q: np.ndarray
    R: np.ndarray
    T: np.ndarray
    a: np.ndarray
    b: np.ndarray
    risk: np.ndarray
    a_teacher: np.ndarray | None = None
    b_teacher: np.ndarray | None = None
    eps: float | None = None

    def __post_init__(self):
        super().__post_init__()
        self.times = np.asarray(self.times, dtype=float).reshape(-1)
        s = self.times.size
        m = np.shape(self.T)[0]
        self.a_teacher = np.ones(m) if self.a_teacher is None else np.asarray(self.a_teacher, dtype=float)
        self.b_teacher = np.zeros(m) if self.b_teacher is None else np.asarray(self.b_teacher, dtype=float)
        for name in ("Q", "R", "a", "b", "risk"):
            value = np.asarray(getattr(self, name), dtype=float)
            if value.shape[:1] != (s,):
                raise ValueError(f"{name}: expected one entry per snapshot time ({s}), got shape {value.shape}")
            setattr(self, name, value)

    def at(self, index):
        """The :class:`~meanfield.OrderParameters` of snapshot ``index`` (not re-checked: the joint Gram
        matrix is semidefinite to the integration tolerance).

        Parameters
        ----------
        index : int

        Returns
        -------
        OrderParameters

        Raises
        ------
        IndexError
            If there is no snapshot ``index``.
        """
        return _unchecked(self.Q[index], self.R[index], self, self.a[index], self.b[index])


class OrderParameterError(SolverError):
    """The order-parameter ODE could not go on (the integrator failed or the state left the finite
    range); ``result`` holds the snapshots before the failure.

    Examples
    --------
    >>> issubclass(OrderParameterError, SolverError)
    True
    """


#: An overlap beyond this (|w| ~ 1e6) is a divergence: the run fails instead of integrating to overflow.
DIVERGENCE = 1e12


class _NonFinite(ArithmeticError):
    """Raised inside the right-hand side when the state or its velocity is not finite."""


def _unchecked(Q, R, op0, a, b):
    """OrderParameters with the teacher of ``op0`` at a state of the integrator, without the Gram check
    (a trial stage, or a state near w_i = w*_t where the Gram matrix is singular, may lie outside the
    semidefinite cone by the integration error; the pair integrals clip correlations)."""
    op = object.__new__(OrderParameters)
    for name, value in (("Q", 0.5 * (Q + Q.T)), ("R", R), ("T", op0.T), ("a", a), ("b", b),
                        ("a_teacher", op0.a_teacher), ("b_teacher", op0.b_teacher)):
        object.__setattr__(op, name, value)
    return op


def _check_model(model):
    check_instance(model, MeanFieldModel, "model")
    if not isinstance(model.data, TeacherStudent):
        raise ValueError(f"model: expected a model on TeacherStudent data, got {model.data!r}")
    if model.offset is not None:
        raise ValueError("model: a centred model (offset) has no order-parameter ODE here; use an uncentred one")
    if not model.exact:
        raise ValueError(f"model: {model!r} has no exact functional (model.exact is False: one σ piecewise linear, "
                         "the other smooth), so its overlaps have no closed ODE here")
    if "w" not in model.train:
        raise ValueError(f"model: the order-parameter ODE needs trained input weights ('w' in train), "
                         f"got train={model.train!r}")
    return model


def _initial(model, init):
    if isinstance(init, OrderParameters):
        law = model.data
        if (init.T.shape != (law.W.shape[0],) * 2 or not np.allclose(init.T, law.W @ law.W.T, rtol=1e-12, atol=1e-14)
                or not np.array_equal(init.a_teacher, law.a) or not np.array_equal(init.b_teacher, law.b)):
            raise ValueError("init: its teacher (T, a_teacher, b_teacher) is not the model's")
        return init
    if isinstance(init, Params) or isinstance(init, np.ndarray):
        return order_parameters(model.as_params(init, "init"), model.data)
    raise ValueError(f"init: expected OrderParameters, Params or an (N, d) array, got {type(init).__name__}")


def overlap_velocity(op, activation, teacher_activation, scale, train, xi, lam, noise=0.0, noise_coef=None,
                     noise_rtol=1e-12):
    """(dQ/dt, dR/dt, da/dt, db/dt) at ``op`` (module docstring); ``noise_coef`` = 4εdξ²/(α²B) adds the η² term,
    to the relative accuracy ``noise_rtol`` (its quadrature's order: :func:`meanfield.sgd_noise_overlaps`)."""
    k = op.K
    g = overlap_gradient(op, activation, teacher_activation, scale)
    A = -2.0 * xi * (g.P / scale + lam * np.eye(k))
    B = -2.0 * xi * g.S / scale
    dQ = A @ op.Q + B @ op.R.T
    dQ = dQ + dQ.T
    if noise_coef is not None:
        dQ = dQ + noise_coef * sgd_noise_overlaps(op, activation, teacher_activation, noise, scale, noise_rtol)
    dR = A @ op.R + B @ op.T
    da = -2.0 * xi * (g.grad_a / scale + lam * op.a) if "a" in train else np.zeros(k)
    db = -2.0 * xi * (g.grad_b / scale + lam * op.b) if "b" in train else np.zeros(k)
    return dQ, dR, da, db


def solve_order_parameters(model, init, times, xi=None, lam=0.0, eps=None, batch=1, rtol=1e-10, atol=1e-12,
                           progress=None):
    """Integrate the order-parameter ODE (flow, or online SGD in the high-d limit) from ``init``.

    Parameters
    ----------
    model : MeanFieldModel
        A model on :class:`~meanfield.TeacherStudent` data with an exact functional (σ and σ* both
        piecewise linear or both smooth), input weights trained, not centred.
    init : OrderParameters, Params or ndarray, shape (K, d)
        The initial student (its overlaps with the model's teacher are taken).
    times : array_like of float
        Non-decreasing snapshot times ≥ 0.
    xi : float or callable, optional
        The time scale ξ (None: 1), as for :func:`~solvers.run_particle_flow`.
    lam : float
        Ridge λ ≥ 0.
    eps : float, optional
        None: the flow. A step ε > 0 of :func:`~solvers.run_sgd`: adds the η² term (module docstring)
        of online SGD at this step and the model's d.
    batch : int
        SGD's batch size B ≥ 1 (divides the η² term).
    rtol, atol : float
        Tolerances of DOP853, rtol in [1e-13, 0.1], atol > 0. The η² term's quadrature (σ other than
        erf, or biases) is computed to rtol (fewer nodes at a loose rtol: :data:`meanfield.overlap_noise.ORDERS`).
    progress : bool, optional
        A tqdm bar over the snapshots; None = only if stderr is a terminal.

    Returns
    -------
    OrderParameterSolution
        status "finished", or "interrupted" (Ctrl-C: the snapshots reached).

    Raises
    ------
    OrderParameterError
        If the integrator fails or the state becomes non-finite (``.result``: the snapshots before).
    ValueError
        On an invalid argument (the message names it).

    Examples
    --------
    >>> import numpy as np
    >>> from meanfield import MeanFieldModel, TeacherStudent, TwoLayerNetwork, erf, init_from_overlaps
    >>> model = MeanFieldModel(TeacherStudent(np.eye(2, 8), erf()), TwoLayerNetwork(erf()))
    >>> theta = init_from_overlaps(model, Q0=0.2 * np.eye(2), R0=0.01 * np.eye(2))
    >>> res = solve_order_parameters(model, theta, times=[0.0, 5.0], progress=False)
    >>> res.status, bool(res.risk[1] < res.risk[0])
    ('finished', True)
    """
    from scipy.integrate import solve_ivp  # deferred: import time (see tests/test_import_time.py)

    model = _check_model(model)
    op0 = _initial(model, init)
    times = check_times(times)
    dyn = Dynamics(xi, None, lam)
    eps = check_positive(eps, "eps", allow_none=True)
    batch = check_int(batch, "batch", 1)
    rtol, atol = check_rtol(rtol), check_positive(atol, "atol")
    if progress is None:
        progress = sys.stderr.isatty()
    act, tact = model.activation, model.data.activation
    alpha, noise, train = model.output_scale, model.data.noise_std, model.train
    k, m = op0.K, op0.M
    T = op0.T
    noise_coef = None if eps is None else 4.0 * eps * model.d / (alpha**2 * batch)
    counters = {"evaluations": 0}

    def unpack(y):
        Q = y[:k * k].reshape(k, k)
        R = y[k * k:k * k + k * m].reshape(k, m)
        return Q, R, y[k * k + k * m:k * k + k * m + k], y[k * k + k * m + k:]

    def rhs(t, y):
        counters["evaluations"] += 1
        if not np.all(np.abs(y) <= DIVERGENCE):
            raise _NonFinite(t)
        Q, R, a, b = unpack(y)
        xi_t = dyn.xi_at(t)
        with deferred_interrupt():  # a Ctrl-C waits for the compiled pair integrals to return
            parts = overlap_velocity(_unchecked(Q, R, op0, a, b), act, tact, alpha, train, xi_t, dyn.lam, noise,
                                     None if noise_coef is None else noise_coef * xi_t**2, rtol)
        out = np.concatenate([v.ravel() for v in parts])
        if not np.all(np.isfinite(out)):
            raise _NonFinite(t)
        return out

    snaps = {"Q": [], "R": [], "a": [], "b": [], "risk": []}
    reached = []

    def record(t, y):
        Q, R, a, b = unpack(y)
        op = _unchecked(Q, R, op0, a, b)   # semidefinite to the integration tolerance (singular at w = w*)
        for name in ("Q", "R", "a", "b"):
            snaps[name].append(np.array(getattr(op, name)))
        snaps["risk"].append(risk_from_overlaps(op, act, tact, noise, alpha))
        reached.append(t)

    def result(status, message):
        s = len(reached)
        shapes = {"Q": (0, k, k), "R": (0, k, m), "a": (0, k), "b": (0, k), "risk": (0,)}
        arrays = {name: np.array(v) if s else np.zeros(shapes[name]) for name, v in snaps.items()}
        return OrderParameterSolution(times=np.array(reached), T=np.array(T), a_teacher=np.array(op0.a_teacher),
                                      b_teacher=np.array(op0.b_teacher), eps=eps, status=status, message=message,
                                      stats={"evaluations": counters["evaluations"], "steps": counters.get("steps", 0),
                                             "wall_time": time.perf_counter() - start}, **arrays)

    start = time.perf_counter()
    y = np.concatenate([op0.Q.ravel(), op0.R.ravel(), op0.a, op0.b])
    t = 0.0
    bar = tqdm(total=len(times), disable=not progress, desc="order parameters")
    try:
        for target in times:
            if target > t:
                try:
                    with np.errstate(over="ignore", invalid="ignore"):
                        sol = solve_ivp(rhs, (t, target), y, method="DOP853", rtol=rtol, atol=atol)
                    reason = None if sol.status == 0 else sol.message
                except _NonFinite as exc:
                    reason = (f"the state diverged (an overlap beyond {DIVERGENCE:g}, or a non-finite velocity) "
                              f"near t = {exc.args[0]:.6g}" + ("; the η² term of this eps may be too large for "
                                                                "SGD to converge" if eps is not None else ""))
                if reason is not None:
                    msg = f"failed between t = {t:.6g} and t = {target:.6g}: {reason}"
                    raise OrderParameterError(msg, result("failed", msg))
                counters["steps"] = counters.get("steps", 0) + max(sol.t.size - 1, 0)
                y, t = sol.y[:, -1], float(target)
            record(t, y)
            bar.update(1)
    except KeyboardInterrupt:
        return result("interrupted", f"interrupted (Ctrl-C) after {len(reached)} snapshots, "
                                     f"last at t = {reached[-1] if reached else float('nan'):.6g}")
    finally:
        bar.close()
    return result("finished", f"finished: {counters['evaluations']} evaluations, last snapshot at t = {t:.6g}")


__all__ = ["solve_order_parameters", "OrderParameterSolution", "OrderParameterError"]
