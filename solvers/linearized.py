"""The linearised (neural-tangent-kernel) model: kernel gradient flow with the tangent kernel
frozen at initialisation, on a finite training set.

With the time convention of :class:`meanfield.TwoLayerNetwork` (dθ_i/dt = (2ξ/α) E[(y − f)∇σ*]),
the network's output on the training rows x_1..x_n obeys ∂_t f(x) = (2ξ/n) Σ_m K_t(x, x_m)
(y_m − f(x_m)) with K_t = (1/N) Σ_i ⟨∇_θσ*(x; θ_i), ∇_θσ*(x'; θ_i)⟩. Freezing K_t = K₀ gives the
lazy (NTK) limit, α → ∞; with K₀ = V Λ Vᵀ on the training rows, τ = ∫_0^t ξ and u = y − f:

    u(t) = V e^{−2τΛ/n} Vᵀ u(0),
    f(x, t) = f(x, 0) + (2/n) K₀(x, X) V diag(g(λ_k)) Vᵀ u(0),   g(λ) = (1 − e^{−2τλ/n})/(2λ/n)  (τ at λ = 0)

exactly (no time stepping), on the training rows and on any probe inputs.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from meanfield.data import ArrayData
from meanfield._validation import check_model, check_probes, check_times
from meanfield.interface import OutputModel

from ._dynamics import Dynamics
from ._result import SolverResult


@dataclass
class LinearizedResult(SolverResult):
    """Outputs of the linearised model at ``times``.

    Attributes
    ----------
    times : ndarray, shape (S,)
        The times.
    train_output : ndarray, shape (S, n)
        f_lin on the training rows.
    train_risk : ndarray, shape (S,)
        (1/n) Σ_m (y_m − f_lin(x_m))².
    output : ndarray, shape (S, P), or None
        f_lin on the probe inputs.
    test_risk : ndarray, shape (S,), or None
        The empirical risk on the model's held-out arrays (ArrayData).
    kernel : ndarray, shape (n, n)
        The frozen tangent kernel K₀ on the training rows.
    status : str
        Keyword-only. "finished" (the solution is closed-form: nothing to interrupt or fail).
    message : str
        Keyword-only. A sentence saying how it was computed, and the last time.
    stats : dict
        Keyword-only. ``steps`` (1: one eigen-decomposition) and ``wall_time`` (seconds).

    Examples
    --------
    >>> import numpy as np
    >>> res = LinearizedResult(np.array([0.0]), np.zeros((1, 2)), np.array([1.0]), None, None, np.eye(2))
    >>> res.status, res.train_risk.tolist()
    ('finished', [1.0])
    """

    times: np.ndarray
    train_output: np.ndarray
    train_risk: np.ndarray
    output: np.ndarray | None
    test_risk: np.ndarray | None
    kernel: np.ndarray


def _elapsed(dyn, times):
    """τ(t) = ∫_0^t ξ(s) ds at every time (exact for a constant ξ, adaptive quadrature otherwise)."""
    if dyn.constant_xi is not None:
        return dyn.constant_xi * times
    from scipy.integrate import quad  # deferred: import time (see tests/test_import_time.py)

    out = np.empty_like(times)
    previous, total = 0.0, 0.0
    for k, t in enumerate(times):
        if t > previous:
            total += quad(dyn.xi_at, previous, t, limit=200)[0]
            previous = t
        out[k] = total
    if np.any(out < 0) or not np.all(np.isfinite(out)):
        raise ValueError("xi: must be finite and non-negative")
    return out


def solve_linearized(model, init, times, X=None, y=None, xi=None, probes=None):
    """Kernel gradient flow of the network linearised at ``init`` (see the module docstring).

    Parameters
    ----------
    model : OutputModel
        A :class:`meanfield.MeanFieldModel`: its output scale α and centring apply to f(x, 0).
    init : Params or ndarray, shape (N, d)
        θ₀ (an array W₀ means a ≡ 1, b ≡ 0).
    times : array_like of float
        Non-decreasing times ≥ 0.
    X : ndarray, shape (n, d), optional
        The training rows; default (with ``y`` None): the model's ArrayData training set.
    y : ndarray, shape (n,), optional
        The finite training labels, given with ``X``.
    xi : callable or float, optional
        None (ξ ≡ 1), a positive number or a callable ξ(t) ≥ 0 (τ = ∫_0^t ξ by quadrature).
    probes : ndarray, shape (P, d), optional
        Inputs at which to report f_lin as well.

    Returns
    -------
    LinearizedResult
        The closed-form outputs at ``times`` (status "finished", ``stats``).

    Raises
    ------
    ValueError
        If ``model`` lacks the :class:`meanfield.OutputModel` methods, no training set is given and the model's data is
        not an ArrayData, ``y`` does not match ``X``, or on other bad input (the message names it).

    Examples
    --------
    With a centred network f(x, 0) = 0, so the risk starts at E y² = 1 and decreases:

    >>> import numpy as np
    >>> from meanfield import ArrayData, MeanFieldModel, TwoLayerNetwork, erf
    >>> X = np.random.default_rng(0).standard_normal((20, 3)); y = np.sign(X[:, 0])
    >>> model = MeanFieldModel(ArrayData(X, y), TwoLayerNetwork(erf(), train=("a", "w"), scale=100.0))
    >>> theta0 = model.init(30, seed=0)
    >>> lin = solve_linearized(model.centered(theta0), theta0, times=[0.0, 1.0])
    >>> round(float(lin.train_risk[0]), 12), bool(lin.train_risk[1] < lin.train_risk[0])
    (1.0, True)
    """
    check_model(model, OutputModel)
    start = time.perf_counter()
    times = check_times(times)
    dyn = Dynamics(xi)
    theta = model.as_params(init, "init")
    if X is None and y is None:
        if not isinstance(model.data, ArrayData):
            raise ValueError("X, y: give the training rows (the model's data law is not a finite data set)")
        X, y = model.data.X, model.data.y
    X = check_probes(model, ("output",), X, OutputModel)
    y = np.asarray(y, dtype=float)
    if y.shape != (X.shape[0],) or not np.all(np.isfinite(y)):
        raise ValueError(f"y: expected {X.shape[0]} finite labels (one per row of X), got shape {y.shape}")
    probes = None if probes is None else check_probes(model, ("output",), probes, OutputModel)
    n = X.shape[0]
    K = model.tangent_kernel(theta, X)
    lam, V = np.linalg.eigh(0.5 * (K + K.T))
    lam = np.maximum(lam, 0.0)  # K₀ is a Gram matrix: negative eigenvalues are rounding
    f0 = model.output(theta, X)
    coef0 = V.T @ (y - f0)
    tau = _elapsed(dyn, times)
    rate = 2.0 * lam / n
    decay = np.exp(-np.outer(tau, rate))  # (S, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        integral = np.where(rate > 0, (1.0 - decay) / np.where(rate > 0, rate, 1.0), tau[:, None])
    train_output = y - (decay * coef0) @ V.T
    weights = (integral * coef0) @ V.T  # (S, n): ∫_0^t u(s) ds on the rows, in the original basis

    def predict(points):
        base = model.output(theta, points)
        return base + (2.0 / n) * weights @ model.tangent_kernel(theta, points, X).T

    output = None if probes is None else predict(probes)
    test_risk = None
    data = model.data
    if isinstance(data, ArrayData) and data.held_out:
        test_risk = np.mean((data.y_test - predict(data.X_test)) ** 2, axis=1)
    return LinearizedResult(times, train_output, np.mean((y - train_output) ** 2, axis=1), output, test_risk, K,
                            message=("finished: closed-form solution by the eigen-decomposition of K₀, last time "
                                     f"t = {times[-1]:.6g}"),
                            stats={"steps": 1, "wall_time": time.perf_counter() - start})
