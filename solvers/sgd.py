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

import os
import time

import numba
import numpy as np
from meanfield._compile_notice import announces_compilation

from meanfield import Params, TeacherStudent
from meanfield._validation import (check_dtype, check_int, check_model, check_overlaps_recordable, check_probes,
                                   check_real, check_record, check_risk_recordable, check_times)
from meanfield.interface import OutputModel, ParticleModel

from ._checkpoint import load_checkpoint, problem_digest, run_key, save_checkpoint, xi_sample_steps
from ._data_streams import initial_order
from ._divergence import DIVERGENCE_THRESHOLD, DivergenceError
from ._dynamics import Dynamics
from ._general_sgd_kernels import general_sgd_block
from ._recorders import Recording
from ._sgd_kernels import DIVERGENCE_CHECK_EVERY, sgd_block, sgd_block_threaded
from ._sgd_streams import initial_data_normals, initial_noise_states, initial_rng_state, noise_chunks
from ._time_stepping import march
from .result import ParticleResult

#: Upper bound on the steps of one kernel call (progress / Ctrl-C / checkpoint granularity).
MAX_BLOCK_STEPS = 100_000
#: Target multiply-adds per kernel call (≈ 0.1 s): blocks are shorter for big N·d·b.
BLOCK_WORK = 2e8


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
@announces_compilation
def run_sgd(model, init, eps, times, seed=0, batch=1, xi=None, beta=None, lam=0.0, dtype="float64",
            record=("radii", "risk"), progress=None, checkpoint=None, probes=None, threads=None):
    """Run (noisy) one-pass SGD from ``init`` and record snapshots at ``times``.

    Parameters
    ----------
    model : MeanFieldModel or IsotropicGaussians
        A :class:`meanfield.interface.ParticleModel` (``as_params``, ``sgd_spec``, ``risk``, …).
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
        (called on arrays of times when it accepts them); s_k = ε ξ(kε) (:class:`~solvers.Dynamics`).
    beta : float, optional
        Inverse temperature β > 0 of the Langevin noise √(4 s_k/β) g, or None (no noise).
    lam : float
        ℓ2 regularisation λ ≥ 0 (the factor 1 − 2λ s_k on every trained coordinate).
    dtype : {"float64", "float32"}
        Precision of W inside the kernel (a, b stay float64).
    record : tuple of str
        Subset of ("radii", "risk", "weights", "params", "kernel", "output", "movement", "overlaps"); risk
        is ``model.risk``: the exact R_N, or for a finite data set the empirical risk on its
        held-out arrays; "kernel" the tangent kernel K(x_p, x_q) and "output" f(x_p) on ``probes``;
        "movement" (1/N) Σ_i ‖θ_i − θ_i(0)‖ over the trained coordinates; "overlaps" (a model on
        :class:`~meanfield.TeacherStudent` data) the order parameters into ``Q``, ``R``, ``T``, ``a``,
        ``b`` (:func:`meanfield.order_parameters`, as in :class:`~solvers.OrderParameterSolution`).
    progress : bool, optional
        Show a tqdm bar; None = only if stderr is a terminal.
    checkpoint : str or pathlib.Path, optional
        Path of an .npz file saved after every block; if it exists and belongs to this run
        the run resumes from it. It belongs to it when seed, eps, N, d, dtype, batch, beta, lam
        and a digest of θ₀, the model, its kernel spec, the centring offset, the probes and (for
        "risk") the risk of θ₀ (held-out rows) agree, and ξ agrees on a sample of the steps
        (:mod:`solvers._checkpoint`). Any mismatch, or a corrupt or unreadable file, raises
        ValueError("checkpoint: …").
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
        returns what was computed, the last snapshot being the state at the interruption; a
        second Ctrl-C while that snapshot is taken is ignored, a third aborts).

    Raises
    ------
    DivergenceError
        If some particle's ‖θ_i‖ (over a, w, b) exceeds DIVERGENCE_THRESHOLD or becomes
        non-finite; ``.step`` is the first such step exactly (the kernels check every
        DIVERGENCE_CHECK_EVERY steps; on a failed check the steps since the last passed one
        are replayed one by one, bitwise as in the run). ``.result`` holds the partial result
        (the snapshots before the divergence, ``status`` "failed").
    ValueError
        On an invalid argument (the message names it), a model that is not a
        :class:`meanfield.interface.ParticleModel`, for "risk" in ``record`` when the model has no
        risk rule (``model.risk_kind`` is None), for "overlaps" when its data law is not
        teacher–student, and for a checkpoint of another run.

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
    wall_start = time.perf_counter()
    eps = check_real(eps, "eps")
    if eps <= 0:
        raise ValueError(f"eps: must be positive, got {eps!r}")
    times = check_times(times)
    seed = check_int(seed, "seed", 0)
    batch = check_int(batch, "batch", 1)
    dynamics = Dynamics(xi, beta, lam)
    dtype = check_dtype(dtype)
    record = check_record(record)
    check_model(model, ParticleModel)
    check_risk_recordable(model, record)
    check_overlaps_recordable(model, record, TeacherStudent)
    params = model.as_params(init, "init")
    probes = check_probes(model, record, probes, OutputModel)
    spec = model.sgd_spec()
    if times[-1] / eps >= 2.0**62:
        raise ValueError(f"times: t/eps = {times[-1] / eps:.3g} steps exceeds the step counter (2^62)")

    target_steps = np.rint(times / eps).astype(np.int64)
    beta, lam, noisy = dynamics.beta, dynamics.lam, dynamics.noisy
    inv_beta = 1.0 / beta if noisy else 0.0
    # the isotropic w-only kernel: its own data draw, a ≡ 1 and b ≡ 0 (not trained)
    isotropic = spec.isotropic_scales is not None and np.all(params.a == 1.0) and np.all(params.b == 0.0)
    n, d = params.W.shape
    block_steps = int(max(1, min(MAX_BLOCK_STEPS, BLOCK_WORK // (n * d * batch))))

    threads = _check_threads(threads, n * d * (NOISY_WORK_FACTOR if noisy else 1), noise_chunks(n))
    state = initial_rng_state(seed)
    noise_states = initial_noise_states(state, n)
    normals = initial_data_normals(state)
    counter = np.zeros(1, dtype=np.int64)
    W, a, b, order = params.W.astype(dtype), params.a.copy(), params.b.copy(), initial_order(spec.data)
    recording = Recording(model, record, probes, params)
    resumed = []   # the snapshots read from the checkpoint
    taken = []     # the checkpoint's snapshots: those at target_steps[:len(taken)]
    if checkpoint is not None:
        key = run_key(seed, eps, W, batch, beta, lam)
        digest = problem_digest(model, params, spec, probes, record)
        xi_steps = xi_sample_steps(target_steps)
        xi_values = dynamics.xi_values(xi_steps * eps)
        if os.path.exists(checkpoint):
            (W, a, b, order, state, normals, noise_states), counter[0], resumed = load_checkpoint(
                checkpoint, key, digest, lambda steps: dynamics.xi_values(steps * eps), record, target_steps)
            taken = list(resumed)

    WT = np.ascontiguousarray(W.T)  # the kernels' layout (d, N): vectorises over neurons
    if spec.offset is None:  # no centring: an empty set of frozen neurons
        offset_WT, offset_a, offset_b = np.zeros((d, 0), dtype), np.zeros(0), np.zeros(0)
    else:
        offset_WT = np.ascontiguousarray(spec.offset.W.T, dtype=dtype)
        offset_a, offset_b = spec.offset.a, spec.offset.b
    data = spec.data
    data_tuple = (data.kind, data.rows, data.scales, data.values, data.extra, data.params, data.act_kind,
                  data.act_params)
    arrays = (WT, a, b, order, state, normals, noise_states)  # the state, updated in place by the kernels

    def save():
        if checkpoint is not None:
            save_checkpoint(checkpoint, key, digest, xi_steps, xi_values,
                            (WT.T, a, b, order, state, normals, noise_states),
                            int(counter[0]), target_steps[:len(taken)], taken)

    def kernel_block(start, count):
        """One compiled block of ``count`` steps from step ``start``; −1 or the diverging step."""
        sizes = dynamics.step_sizes(np.arange(start, start + count), eps)
        if isotropic:
            return _run_block(threads, WT, state, noise_states, counter, sizes, batch, lam, inv_beta, noisy,
                              spec.isotropic_scales, spec.act_kind, spec.act_params, DIVERGENCE_THRESHOLD)
        return general_sgd_block(WT, a, b, state, normals, noise_states, order, counter, sizes, batch, lam, inv_beta,
                                 noisy, spec.train_a, spec.train_w, spec.train_b, spec.act_kind, spec.act_params,
                                 data_tuple, spec.output_scale, offset_WT, offset_a, offset_b,
                                 DIVERGENCE_THRESHOLD)

    def first_bad_step(start, failed, saved):
        """The first step after which some ‖θ_i‖ > DIVERGENCE_THRESHOLD or θ_i is non-finite, given
        that the check after step ``failed`` failed and the state ``saved`` at ``start`` passed:
        the kernels are bitwise block-invariant, so the steps up to the last passed check
        (a multiple of DIVERGENCE_CHECK_EVERY) are replayed in one call, the rest one by one."""
        for target, source in zip(arrays, saved):
            target[...] = source
        counter[0] = start
        last_passed = max(start, (failed - 1) // DIVERGENCE_CHECK_EVERY * DIVERGENCE_CHECK_EVERY)
        if last_passed > start and kernel_block(start, last_passed - start) >= 0:
            return int(counter[0])  # not reached: that check passed before
        for step in range(last_passed, failed):
            if kernel_block(step, 1) >= 0:
                return step + 1
        return failed

    def step(run, t, t_left):
        """One kernel block towards the next snapshot step; h lands t on counter·ε."""
        start = int(counter[0])
        count = min(block_steps, int(np.rint((t + t_left) / eps)) - start)
        saved = tuple(arr.copy() for arr in arrays)
        failed = kernel_block(start, count)
        if failed >= 0:
            failed = first_bad_step(start, failed, saved)
            raise DivergenceError(failed, failed * eps)
        return run, int(counter[0]) * eps - t

    def after(run, t):
        save()
        return run

    def record(run, t):
        snap = recording.take(Params(a, WT.T.astype(np.float64), b), WT.T)
        if len(taken) < target_steps.size and counter[0] == target_steps[len(taken)]:  # not an interruption's
            taken.append(snap)
            save()
        return snap

    run = march(arrays, target_steps[len(resumed):] * eps, step, record, after, progress=progress, desc="sgd",
                failures=(DivergenceError,), snap_tol=0.25 * eps / max(1.0, float(times[-1])), step_name="blocks",
                t0=int(counter[0]) * eps, check_finite=False)
    snapshots = resumed + run.snapshots
    result = ParticleResult(
        times=np.concatenate([target_steps[:len(resumed)], np.rint(run.reached / eps)]) * eps, **recording.fields(snapshots),
        steps=int(counter[0]), eps=eps, seed=seed, dynamics="sgd", risk_kind=model.risk_kind, status=run.status,
        message=run.message if run.error is not None else "",
        stats={"steps": int(counter[0]), "wall_time": time.perf_counter() - wall_start})
    if run.error is not None:
        run.error.result = result
        raise run.error
    return result
