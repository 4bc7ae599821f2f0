"""One-pass (noisy) SGD on the two-layer network ŷ(x) = (1/N) Σ_i a_i σ(⟨w_i, x⟩ + b_i).

Step k (time t = kε, s_k = ε ξ(kε), a fresh batch of b samples, all seeing the same current θ),
for each trained coordinate of θ_i = (a_i, w_i, b_i):

    θ_i ← (1 − 2λ s_k) θ_i + (2 s_k / b) Σ_j (y_j − ŷ(x_j)) ∇_θ σ*(x_j; θ_i) + √(4 s_k/β) g_i

with g_i ~ N(0, I) only when β is given. The noise is √(4 s_k/β), not the √(2 s_k/β) printed
in the slides of Mei–Montanari–Nguyen: with this factor the N → ∞, ε → 0 limit is
∂_t ρ = 2ξ ∇·(ρ ∇Ψ_λ) + (2ξ/β) Δρ, whose fixed point is ρ ∝ exp(−β Ψ_λ).
σ' is the right derivative σ'(t+), which defines the drift at w = 0.

Two fused Numba kernels: the isotropic w-only kernel (:mod:`solvers._sgd_kernels`) for the
isotropic Gaussians model with a ≡ 1, b ≡ 0, and the general kernel
(:mod:`solvers._general_sgd_kernels`) for every other (data law × trained set × activation).
"""
from __future__ import annotations

import hashlib
import os
import sys

import numba
import numpy as np
from ._progress import tqdm
from meanfield._compile_notice import announces_compilation

from meanfield import Params
from meanfield._validation import (RECORD_KEYS, check_dtype, check_int, check_noise, check_probes, check_real,
                                   check_record, check_risk_recordable, check_times)

from ._data_streams import initial_order
from ._interrupt import deferred_interrupt
from ._general_sgd_kernels import general_sgd_block
from ._sgd_kernels import DIVERGENCE_CHECK_EVERY, initial_noise_states, initial_rng_state, noise_chunks, sgd_block, sgd_block_threaded
from .result import ParticleResult

#: A particle with ‖θ_i‖ = √(a_i² + ‖w_i‖² + b_i²) beyond this (or non-finite) is reported as divergence.
DIVERGENCE_THRESHOLD = 1e8
#: Upper bound on the steps of one kernel call (progress / Ctrl-C / checkpoint granularity).
MAX_BLOCK_STEPS = 100_000
#: Target multiply-adds per kernel call (≈ 0.1 s): blocks are shorter for big N·d·b.
BLOCK_WORK = 2e8


class DivergenceError(FloatingPointError):
    """The iterates became non-finite or exceeded DIVERGENCE_THRESHOLD.

    A ``FloatingPointError``; raised by :func:`run_sgd` (some particle's norm
    ‖θ_i‖ = √(a_i² + ‖w_i‖² + b_i²)) and :func:`run_particle_flow`.

    Parameters
    ----------
    step : int
        The first step (or drift evaluation) after which the iterates were beyond the threshold
        or non-finite.
    time : float
        The corresponding time t.

    Examples
    --------
    >>> err = DivergenceError(120, 0.12)
    >>> err.step, err.time, isinstance(err, FloatingPointError)
    (120, 0.12, True)
    """

    def __init__(self, step, time):
        self.step, self.time = int(step), float(time)
        super().__init__(f"diverged: iterates beyond {DIVERGENCE_THRESHOLD:g} (run_sgd: a particle's norm) or non-finite, first "
                         f"after step {self.step} (t = {self.time:g}); reduce eps or lam")


def _step_size_function(xi, eps):
    """s(k) = ε ξ(kε) for an integer array k, vectorised when ξ accepts arrays."""
    if xi is None:
        xi = 1.0
    if not callable(xi):
        value = check_real(xi, "xi")
        if value <= 0:
            raise ValueError(f"xi: must be positive, got {xi!r}")
        return lambda k: np.full(k.shape, eps * value)

    def step_sizes(k):
        t = k * eps
        try:
            values = np.asarray(xi(t), dtype=float)
            if values.shape != t.shape:
                raise ValueError
        except Exception:  # ξ not vectorised: evaluate point by point
            values = np.array([float(xi(tk)) for tk in t])
        if not np.all(np.isfinite(values)) or np.any(values < 0):
            raise ValueError("xi: must return finite non-negative values")
        return eps * values

    return step_sizes


# ------------------------------------------------------------- checkpointing
def _checkpoint_key(seed, eps, W, batch, beta, lam):
    """The run parameters a checkpoint must match to be resumed."""
    return np.array([seed, eps, W.shape[0], W.shape[1], np.dtype(W.dtype).itemsize, batch,
                     -1.0 if beta is None else beta, lam], dtype=float)


def _problem_digest(model, params, spec, xi):
    """SHA-256 of what else defines the run: θ₀, the model, its kernel spec and a constant ξ."""
    digest = hashlib.sha256(repr(model).encode())
    for arr in (params.a, params.W, params.b, spec.act_params, spec.data.rows, spec.data.scales,
                spec.data.values, spec.data.extra, spec.data.params, spec.data.act_params):
        digest.update(np.ascontiguousarray(arr, dtype=float).tobytes())
    digest.update(repr((spec.act_kind, spec.train_a, spec.train_w, spec.train_b, spec.data.kind,
                        xi if not callable(xi) else getattr(xi, "__qualname__", "callable"))).encode())
    return np.frombuffer(digest.digest(), dtype=np.uint8)


def _save_checkpoint(path, key, digest, WT, a, b, order, state, noise_states, step, snapshots):
    arrays = dict(key=key, digest=digest, W=WT.T, a=a, b=b, order=order, rng_state=state,
                  noise_states=noise_states, step=np.int64(step),
                  snap_steps=np.array([snap["step"] for snap in snapshots], dtype=np.int64))
    for name in RECORD_KEYS:
        if snapshots and name in snapshots[0]:
            if name == "params":
                for field in ("a", "W", "b"):
                    arrays["snap_params_" + field] = np.stack([getattr(snap[name], field) for snap in snapshots])
            else:
                arrays["snap_" + name] = np.stack([snap[name] for snap in snapshots])
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    os.replace(tmp, path)


def _load_checkpoint(path, key, digest, record, target_steps):
    try:
        data = np.load(path)
    except Exception as exc:  # truncated, corrupt or foreign file
        raise ValueError(f"checkpoint: {path} cannot be read as a checkpoint ({type(exc).__name__}: {exc}); "
                         "delete it or pass another path") from None
    with data:
        missing_fields = [name for name in ("key", "rng_state", "W", "step", "snap_steps") if name not in data]
        if missing_fields:
            raise ValueError(f"checkpoint: {path} is not an SGD checkpoint (no {missing_fields})")
        if data["key"].shape != key.shape or not np.array_equal(data["key"], key):
            raise ValueError(f"checkpoint: {path} belongs to a different run "
                             "(seed, eps, N, d, dtype, batch, beta or lam differ); delete it or pass another path")
        if data["rng_state"].shape != (2, 4) or "noise_states" not in data:
            raise ValueError(f"checkpoint: {path} holds a random state of shape {data['rng_state'].shape}, "
                             "not (2, 4) and noise streams (written by an older version); delete it to start afresh")
        if "digest" not in data or not np.array_equal(data["digest"], digest):
            raise ValueError(f"checkpoint: {path} belongs to a different problem (initial parameters, model, "
                             "activation, data law or xi differ, or it was written by an older version); "
                             "delete it or pass another path")
        snap_steps = data["snap_steps"]
        step = int(data["step"])
        if step > target_steps[-1] or not np.array_equal(snap_steps, target_steps[:snap_steps.size]) or (
                snap_steps.size and step < snap_steps[-1]):
            raise ValueError(f"checkpoint: {path} is at step {step} with snapshots at steps {snap_steps.tolist()}, "
                             f"which do not fit the requested steps {target_steps.tolist()}")
        snapshots = []
        for idx, snap_step in enumerate(snap_steps):
            snap = {"step": int(snap_step)}
            for name in record:
                if name == "params":
                    fields = ["snap_params_" + f for f in ("a", "W", "b")]
                    if any(f not in data for f in fields):
                        raise ValueError(f"checkpoint: {path} did not record 'params'; use the same record")
                    snap[name] = Params(*(data[f][idx] for f in fields))
                elif "snap_" + name not in data:
                    raise ValueError(f"checkpoint: {path} did not record {name!r}; use the same record")
                else:
                    snap[name] = data["snap_" + name][idx]
            snapshots.append(snap)
        return (data["W"].copy(), data["a"].copy(), data["b"].copy(), data["order"].copy(),
                data["rng_state"].copy(), data["noise_states"].copy(), step, snapshots)


# ------------------------------------------------------------------- threads
#: N·d from which run_sgd uses all threads by default (noiseless). A step then takes ≳ 1 ms, which
#: dwarfs the per-step fork-join of the threads (~10 µs on idle cores, far more when they are busy).
THREADS_MIN_WORK = 4_000_000
#: A noisy step costs about this many noiseless ones per neuron and coordinate (the normals).
NOISY_WORK_FACTOR = 8


def _check_threads(threads, work, n_chunks):
    """Threads for the kernel: an int in [1, numba.config.NUMBA_NUM_THREADS], or automatic."""
    available = numba.config.NUMBA_NUM_THREADS
    if threads is None:  # numba's current thread count (numba.set_num_threads), for big steps only
        return numba.get_num_threads() if work >= THREADS_MIN_WORK and n_chunks >= 2 else 1
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or not 1 <= threads <= available:
        raise ValueError(f"threads: must be None or an integer in [1, {available}], got {threads!r}")
    return int(threads)


def _run_block(threads, *args):
    """sgd_block (threads = 1) or sgd_block_threaded on ``threads`` threads."""
    if threads == 1:
        return sgd_block(*args)
    previous = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        return sgd_block_threaded(*args, threads)
    finally:
        numba.set_num_threads(previous)


# ------------------------------------------------------------------- driver
def snapshot(model, params, step, record, weights=None, probes=None, initial=None):
    """The recorded quantities of ``params`` (Params, float64 copies) at ``step``; ``weights``
    (default params.W) is what "weights" records (SGD: W in the kernel's dtype); ``probes``
    the inputs of "kernel" (the tangent kernel) and "output"; ``initial`` the θ(0) of
    "movement" = (1/N) Σ_i ‖θ_i − θ_i(0)‖ over the trained coordinates."""
    snap = {"step": step}
    if "radii" in record:
        snap["radii"] = np.linalg.norm(params.W, axis=1)
    if "risk" in record:
        snap["risk"] = np.float64(model.risk(params))
    if "weights" in record:
        snap["weights"] = np.array(params.W if weights is None else weights, order="C")
    if "params" in record:
        snap["params"] = params.copy()
    if "kernel" in record:
        snap["kernel"] = model.tangent_kernel(params, probes)
    if "output" in record:
        snap["output"] = model.output(params, probes)
    if "movement" in record:
        moved = params.flat(model.train) - initial.flat(model.train)
        snap["movement"] = np.float64(np.mean(np.linalg.norm(moved, axis=1)))
    return snap


@announces_compilation
def run_sgd(model, init, eps, times, seed=0, batch=1, xi=None, beta=None, lam=0.0, dtype="float64",
            record=("radii", "risk"), progress=None, checkpoint=None, probes=None, threads=None):
    """Run (noisy) one-pass SGD from ``init`` and record snapshots at ``times``.

    Parameters
    ----------
    model : MeanFieldModel or IsotropicGaussians
        A model of the solver interface: ``as_params``, ``sgd_spec``, ``risk``.
    init : Params or ndarray, shape (N, d)
        θ₀ as :class:`meanfield.Params`, or an (N, d) array W₀ (then a ≡ 1, b ≡ 0); not modified.
    eps : float
        Step size ε > 0; time t is reached after round(t/ε) steps.
    times : array_like of float
        Non-decreasing snapshot times ≥ 0. The random streams do not depend
        on them: the state at a given step is bitwise the same for any ``times``.
    seed : int
        Non-negative; SeedSequence(seed) seeds the data stream (y, x; xoshiro256**)
        and the Langevin noise (the vectorised generator of solvers._normal_rng, one
        stream per 256 particles), independent of each other and of ``threads``.
    batch : int
        Samples per step b ≥ 1 (their gradient terms are averaged).
    xi : callable or float, optional
        Step-size schedule ξ: None (ξ ≡ 1), a positive number, or a callable ξ(t) ≥ 0
        (called on arrays of times when it accepts them); s_k = ε ξ(kε).
    beta : float, optional
        Inverse temperature β > 0 of the Langevin noise √(4 s_k/β) g, or None (no noise).
    lam : float
        ℓ2 regularisation λ ≥ 0 (the factor 1 − 2λ s_k on every trained coordinate).
    dtype : {"float64", "float32"}
        Precision of W inside the kernel (a, b stay float64).
    record : tuple of str
        Subset of ("radii", "risk", "weights", "params", "kernel", "output", "movement"); risk
        is ``model.risk``: the exact R_N, or for a finite data set the empirical risk on its
        held-out arrays; "kernel" the tangent kernel K(x_p, x_q) and "output" f(x_p) on ``probes``;
        "movement" (1/N) Σ_i ‖θ_i − θ_i(0)‖ over the trained coordinates.
    progress : bool, optional
        Show a tqdm bar; None = only if stderr is a terminal.
    checkpoint : str or pathlib.Path, optional
        Path of an .npz file saved after every block; if it exists and matches the
        run (seed, eps, N, d, dtype, batch, beta, lam and a digest of θ₀, the model and ξ)
        the run resumes from it; any mismatch or unreadable file raises ValueError("checkpoint: …").
    probes : ndarray, shape (P, d), optional
        Inputs for the "kernel" and "output" records.
    threads : int, optional
        Threads splitting the neurons inside every step of the isotropic w-only kernel
        (1 = the serial kernel; the general kernel is serial); None = automatic: numba.get_num_threads()
        threads when N·d (×NOISY_WORK_FACTOR if noisy) ≥ THREADS_MIN_WORK and N spans ≥ 2
        noise chunks, else 1. The result is bitwise the same for every thread count (see
        ``sgd_block_threaded``).

    Returns
    -------
    ParticleResult
        dynamics "sgd"; ``status`` "finished" or "interrupted" (Ctrl-C stops between blocks and
        returns what was computed, the last snapshot being the state at the interruption).

    Raises
    ------
    DivergenceError
        If some particle's ‖θ_i‖ (over a, w, b) exceeds DIVERGENCE_THRESHOLD or becomes
        non-finite; ``.step`` is the first such step exactly (the kernels check every
        DIVERGENCE_CHECK_EVERY steps; on a failed check the steps since the last passed one
        are replayed one by one, bitwise as in the run).
    ValueError
        On an invalid argument (the message names it), and for "risk" in ``record`` when the
        model has no risk rule (``model.risk_kind`` is None).

    Examples
    --------
    >>> from meanfield import GaussianMixture, MeanFieldModel, TwoLayerNetwork, relu
    >>> model = MeanFieldModel(GaussianMixture.anisotropic(0.5, d=10, s0=3),
    ...                        TwoLayerNetwork(relu(), train=("a", "w", "b")))
    >>> res = run_sgd(model, model.init(50, seed=0), eps=1e-3, times=[0, 0.5], seed=0,
    ...               record=("params", "risk"), progress=False)
    >>> res.status, res.steps, res.params[-1].W.shape
    ('finished', 500, (50, 10))
    """
    eps = check_real(eps, "eps")
    if eps <= 0:
        raise ValueError(f"eps: must be positive, got {eps!r}")
    times = check_times(times)
    seed = check_int(seed, "seed", 0)
    batch = check_int(batch, "batch", 1)
    beta, lam = check_noise(beta, lam)
    dtype = check_dtype(dtype)
    record = check_record(record)
    if not hasattr(model, "sgd_spec"):
        raise ValueError(f"model: expected a MeanFieldModel or IsotropicGaussians, got {type(model).__name__}")
    check_risk_recordable(model, record)
    params = model.as_params(init, "init")
    probes = check_probes(model, record, probes)
    spec = model.sgd_spec()
    step_sizes = _step_size_function(xi, eps)
    if progress is None:
        progress = sys.stderr.isatty()
    if times[-1] / eps >= 2.0**62:
        raise ValueError(f"times: t/eps = {times[-1] / eps:.3g} steps exceeds the step counter (2^62)")

    target_steps = np.rint(times / eps).astype(np.int64)
    inv_beta = 0.0 if beta is None else 1.0 / beta
    # the isotropic w-only kernel: its own data draw, a ≡ 1 and b ≡ 0 (not trained)
    isotropic = spec.isotropic_scales is not None and np.all(params.a == 1.0) and np.all(params.b == 0.0)
    n, d = params.W.shape
    block_steps = int(max(1, min(MAX_BLOCK_STEPS, BLOCK_WORK // (n * d * batch))))

    threads = _check_threads(threads, n * d * (1 if beta is None else NOISY_WORK_FACTOR), noise_chunks(n))
    state = initial_rng_state(seed)
    noise_states = initial_noise_states(state, n)
    counter = np.zeros(1, dtype=np.int64)
    W, a, b, order = params.W.astype(dtype), params.a.copy(), params.b.copy(), initial_order(spec.data)
    snapshots = []
    key = _checkpoint_key(seed, eps, W, batch, beta, lam)
    digest = _problem_digest(model, params, spec, xi)
    if checkpoint is not None and os.path.exists(checkpoint):
        W, a, b, order, state, noise_states, counter[0], snapshots = _load_checkpoint(checkpoint, key, digest, record,
                                                                                      target_steps)

    WT = np.ascontiguousarray(W.T)  # the kernels' layout (d, N): vectorises over neurons
    if spec.offset is None:  # no centring: an empty set of frozen neurons
        offset_WT, offset_a, offset_b = np.zeros((d, 0), dtype), np.zeros(0), np.zeros(0)
    else:
        offset_WT = np.ascontiguousarray(spec.offset.W.T, dtype=dtype)
        offset_a, offset_b = spec.offset.a, spec.offset.b
    data = spec.data
    data_tuple = (data.kind, data.rows, data.scales, data.values, data.extra, data.params, data.act_kind,
                  data.act_params)

    def current():
        return Params(a, WT.T.astype(np.float64), b)

    def save():
        if checkpoint is not None:
            _save_checkpoint(checkpoint, key, digest, WT, a, b, order, state, noise_states, int(counter[0]), snapshots)

    def kernel_block(start, count):
        """One compiled block of ``count`` steps from step ``start``; −1 or the diverging step."""
        sizes = step_sizes(np.arange(start, start + count))
        if isotropic:
            return _run_block(threads, WT, state, noise_states, counter, sizes, batch, lam, inv_beta,
                              beta is not None, spec.isotropic_scales, spec.act_kind, spec.act_params,
                              DIVERGENCE_THRESHOLD)
        return general_sgd_block(WT, a, b, state, noise_states, order, counter, sizes, batch, lam, inv_beta,
                                 beta is not None,
                                 spec.train_a, spec.train_w, spec.train_b, spec.act_kind, spec.act_params,
                                 data_tuple, spec.output_scale, offset_WT, offset_a, offset_b,
                                 DIVERGENCE_THRESHOLD)

    def saved_state():
        return WT.copy(), a.copy(), b.copy(), order.copy(), state.copy(), noise_states.copy()

    def first_bad_step(start, failed, saved):
        """The first step after which some ‖θ_i‖ > DIVERGENCE_THRESHOLD or θ_i is non-finite, given
        that the check after step ``failed`` failed and the state ``saved`` at ``start`` passed:
        the kernels are bitwise block-invariant, so the steps up to the last passed check
        (a multiple of DIVERGENCE_CHECK_EVERY) are replayed in one call, the rest one by one."""
        for target, source in zip((WT, a, b, order, state, noise_states), saved):
            target[...] = source
        counter[0] = start
        last_passed = max(start, (failed - 1) // DIVERGENCE_CHECK_EVERY * DIVERGENCE_CHECK_EVERY)
        if last_passed > start and kernel_block(start, last_passed - start) >= 0:
            return int(counter[0])  # not reached: that check passed before
        for step in range(last_passed, failed):
            if kernel_block(step, 1) >= 0:
                return step + 1
        return failed

    interrupted = False
    bar = tqdm(total=int(target_steps[-1]), initial=int(counter[0]), disable=not progress,
               unit="step", desc="sgd")
    try:
        for target in target_steps[len(snapshots):]:
            while counter[0] < target:
                start = int(counter[0])
                count = min(block_steps, int(target) - start)
                saved = saved_state()
                with deferred_interrupt():
                    failed = kernel_block(start, count)
                    if failed >= 0:
                        failed = first_bad_step(start, failed, saved)
                if failed >= 0:
                    raise DivergenceError(failed, failed * eps)
                bar.update(int(counter[0]) - start)
                save()
            snapshots.append(snapshot(model, current(), int(target), record, WT.T, probes, params))
            save()
    except KeyboardInterrupt:
        interrupted = True
        save()
        if not snapshots or snapshots[-1]["step"] != counter[0]:
            snapshots.append(snapshot(model, current(), int(counter[0]), record, WT.T, probes, params))
    finally:
        bar.close()

    def collect(name):
        if name not in record or not snapshots:
            return None
        values = [snap[name] for snap in snapshots]
        return values if name == "params" else np.stack(values)

    return ParticleResult(
        times=np.array([snap["step"] for snap in snapshots], dtype=float) * eps,
        radii=collect("radii"), risk=collect("risk"), weights=collect("weights"), params=collect("params"),
        kernel=collect("kernel"), output=collect("output"), movement=collect("movement"),
        steps=int(counter[0]), interrupted=interrupted, eps=eps, seed=seed, dynamics="sgd",
        risk_kind=getattr(model, "risk_kind", "population"))
