"""One-pass (noisy) SGD on the two-layer network ŷ(x) = (1/N) Σ_i σ(⟨w_i, x⟩).

Step k (time t = kε, s_k = ε ξ(kε), a fresh batch of b samples, all seeing the
same current θ):

    w_i ← (1 − 2λ s_k) w_i + (2 s_k / b) Σ_j (y_j − ŷ(x_j)) σ'(⟨w_i, x_j⟩+) x_j + √(4 s_k/β) g_i

with g_i ~ N(0, I_d) only when β is given.  The noise is √(4 s_k/β), not the
√(2 s_k/β) printed in the slides: with this factor the N → ∞, ε → 0 limit is
∂_t ρ = 2ξ ∇·(ρ ∇Ψ_λ) + (2ξ/β) Δρ, whose fixed point is ρ ∝ exp(−β Ψ_λ) (SPEC.md).
σ' is the right derivative σ'(t+), which defines the drift at w = 0.
"""
from __future__ import annotations

import os
import sys

import numba
import numpy as np
from tqdm.auto import tqdm

from ._checks import (RECORD_KEYS, check_dtype, check_int, check_noise, check_record, check_times, check_weights,
                      finite_float)
from ._sgd_kernels import initial_noise_states, initial_rng_state, noise_chunks, sgd_block, sgd_block_threaded
from .result import ParticleResult

#: |w| beyond this (or NaN/inf) is reported as divergence.
DIVERGENCE_THRESHOLD = 1e8
#: Upper bound on the steps of one kernel call (progress / Ctrl-C / checkpoint granularity).
MAX_BLOCK_STEPS = 100_000
#: Target multiply-adds per kernel call (≈ 0.1 s): blocks are shorter for big N·d·b.
BLOCK_WORK = 2e8


class DivergenceError(FloatingPointError):
    """SGD iterates became non-finite or exceeded DIVERGENCE_THRESHOLD."""

    def __init__(self, step, time):
        self.step, self.time = int(step), float(time)
        super().__init__(f"SGD diverged: |w| > {DIVERGENCE_THRESHOLD:g} or non-finite, detected at step "
                         f"{self.step} (t = {self.time:g}); reduce eps or lam")


def _step_size_function(xi, eps):
    """s(k) = ε ξ(kε) for an integer array k, vectorised when ξ accepts arrays."""
    if xi is None:
        xi = 1.0
    if not callable(xi):
        value = finite_float(xi, "xi")
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


def _save_checkpoint(path, key, W, state, noise_states, step, snapshots):
    arrays = dict(key=key, W=W, rng_state=state, noise_states=noise_states, step=np.int64(step),
                  snap_steps=np.array([snap["step"] for snap in snapshots], dtype=np.int64))
    for name in RECORD_KEYS:
        if snapshots and name in snapshots[0]:
            arrays["snap_" + name] = np.stack([snap[name] for snap in snapshots])
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    os.replace(tmp, path)


def _load_checkpoint(path, key, record, target_steps):
    with np.load(path) as data:
        if data["key"].shape != key.shape or not np.array_equal(data["key"], key):
            raise ValueError(f"checkpoint: {path} belongs to a different run "
                             "(seed, eps, N, d, dtype, batch, beta or lam differ); delete it or pass another path")
        if data["rng_state"].shape != (2, 4) or "noise_states" not in data:
            raise ValueError(f"checkpoint: {path} holds a random state of shape {data['rng_state'].shape}, "
                             "not (2, 4) and noise streams (written by an older version); delete it to start afresh")
        snap_steps = data["snap_steps"]
        if not np.array_equal(snap_steps, target_steps[:snap_steps.size]):
            raise ValueError(f"checkpoint: {path} has snapshots at steps {snap_steps.tolist()}, "
                             "which do not start the requested times")
        missing = [name for name in record if snap_steps.size and "snap_" + name not in data]
        if missing:
            raise ValueError(f"checkpoint: {path} did not record {missing}; use the same record")
        snapshots = []
        for idx, step in enumerate(snap_steps):
            snap = {"step": int(step)}
            for name in record:
                snap[name] = data["snap_" + name][idx]
            snapshots.append(snap)
        return (data["W"].copy(), data["rng_state"].copy(), data["noise_states"].copy(), int(data["step"]),
                snapshots)


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
def _snapshot(model, W, step, record):
    snap = {"step": step}
    if "radii" in record:
        snap["radii"] = np.linalg.norm(W.astype(np.float64), axis=1)
    if "risk" in record:
        snap["risk"] = np.float64(model.population_risk(W.astype(np.float64)))
    if "weights" in record:
        snap["weights"] = np.array(W, order="C")
    return snap


def run_sgd(model, W0, eps, times, seed=0, batch=1, xi=None, beta=None, lam=0.0, dtype="float64",
            record=("radii", "risk"), progress=None, checkpoint=None, threads=None):
    """Run (noisy) one-pass SGD from W0 and record snapshots at ``times``.

    Parameters
    ----------
    model : IsotropicGaussians (uses ``d``, ``scales``, ``activation``, ``population_risk``).
    W0 : (N, d) initial weights (not modified).
    eps : step size ε > 0; time t is reached after round(t/ε) steps.
    times : non-decreasing snapshot times ≥ 0. The random streams do not depend
        on them: the state at a given step is bitwise the same for any ``times``.
    seed : non-negative int; SeedSequence(seed) seeds the data stream (y, x; xoshiro256**)
        and the Langevin noise (the vectorised generator of solvers._normal_rng, one
        stream per 256 particles), independent of each other and of ``threads``.
    batch : samples per step b ≥ 1 (their gradient terms are averaged).
    xi : step-size schedule ξ: None (ξ ≡ 1), a positive number, or a callable ξ(t)
        (called on arrays of times when it accepts them); s_k = ε ξ(kε).
    beta : inverse temperature β > 0 of the Langevin noise √(4 s_k/β) g, or None (no noise).
    lam : ℓ2 regularisation λ ≥ 0 (the factor 1 − 2λ s_k).
    dtype : "float64" or "float32" for the weights inside the kernel.
    record : subset of ("radii", "risk", "weights"); risk is the exact R_N.
    progress : show a tqdm bar; None = only if stderr is a terminal.
    checkpoint : path of an .npz file saved after every block; if it exists and
        matches (seed, eps, N, d, dtype, batch, beta, lam) the run resumes from it.
    threads : threads splitting the neurons inside every step (1 = the serial kernel);
        None = automatic: numba.get_num_threads() threads when N·d (×NOISY_WORK_FACTOR if
        noisy) ≥ THREADS_MIN_WORK and N spans ≥ 2 noise chunks, else 1. The result is
        bitwise the same for every thread count (see ``sgd_block_threaded``).

    Returns a :class:`ParticleResult` (dynamics "sgd"). Ctrl-C stops between blocks
    and returns what was computed, with ``interrupted=True``. Raises
    :class:`DivergenceError` if |w| exceeds DIVERGENCE_THRESHOLD or becomes non-finite.
    """
    eps = finite_float(eps, "eps")
    if eps <= 0:
        raise ValueError(f"eps: must be positive, got {eps!r}")
    times = check_times(times)
    seed = check_int(seed, "seed", 0)
    batch = check_int(batch, "batch", 1)
    beta, lam = check_noise(beta, lam)
    dtype = check_dtype(dtype)
    record = check_record(record)
    W = check_weights(W0, model.d, dtype)
    step_sizes = _step_size_function(xi, eps)
    if progress is None:
        progress = sys.stderr.isatty()

    target_steps = np.rint(times / eps).astype(np.int64)
    kind, params = model.activation.kernel_spec()
    scales = np.ascontiguousarray(model.scales, dtype=np.float64)
    inv_beta = 0.0 if beta is None else 1.0 / beta
    n, d = W.shape
    block_steps = int(max(1, min(MAX_BLOCK_STEPS, BLOCK_WORK // (n * d * batch))))

    threads = _check_threads(threads, n * d * (1 if beta is None else NOISY_WORK_FACTOR), noise_chunks(n))

    state = initial_rng_state(seed)
    noise_states = initial_noise_states(state, n)
    counter = np.zeros(1, dtype=np.int64)
    snapshots = []
    key = _checkpoint_key(seed, eps, W, batch, beta, lam)
    if checkpoint is not None and os.path.exists(checkpoint):
        W, state, noise_states, counter[0], snapshots = _load_checkpoint(checkpoint, key, record, target_steps)

    WT = np.ascontiguousarray(W.T)  # the kernel's layout (d, N): vectorises over neurons
    interrupted = False
    bar = tqdm(total=int(target_steps[-1]), initial=int(counter[0]), disable=not progress,
               unit="step", desc="sgd")
    try:
        for target in target_steps[len(snapshots):]:
            while counter[0] < target:
                start = int(counter[0])
                count = min(block_steps, int(target) - start)
                failed = _run_block(threads, WT, state, noise_states, counter,
                                    step_sizes(np.arange(start, start + count)), batch, lam, inv_beta,
                                    beta is not None, scales, kind, params, DIVERGENCE_THRESHOLD)
                if failed >= 0:
                    raise DivergenceError(failed, failed * eps)
                bar.update(int(counter[0]) - start)
                if checkpoint is not None:
                    _save_checkpoint(checkpoint, key, WT.T, state, noise_states, int(counter[0]), snapshots)
            snapshots.append(_snapshot(model, WT.T, int(target), record))
            if checkpoint is not None:
                _save_checkpoint(checkpoint, key, WT.T, state, noise_states, int(counter[0]), snapshots)
    except KeyboardInterrupt:
        interrupted = True
        if checkpoint is not None:
            _save_checkpoint(checkpoint, key, WT.T, state, noise_states, int(counter[0]), snapshots)
        if not snapshots or snapshots[-1]["step"] != counter[0]:
            snapshots.append(_snapshot(model, WT.T, int(counter[0]), record))
    finally:
        bar.close()

    def collect(name):
        return np.stack([snap[name] for snap in snapshots]) if name in record and snapshots else None

    return ParticleResult(
        times=np.array([snap["step"] for snap in snapshots], dtype=float) * eps,
        radii=collect("radii"), risk=collect("risk"), weights=collect("weights"),
        steps=int(counter[0]), interrupted=interrupted, eps=eps, seed=seed, dynamics="sgd")
