"""Numba kernels of one-pass (noisy) SGD for the isotropic Gaussians model.

Random numbers come from the explicit streams of :mod:`solvers._sgd_streams`, advanced
in place: the data (y, x) from a xoshiro256** generator, the Langevin noise from one
stream per chunk of NOISE_CHUNK particles, so that the noise of a chunk does not depend on
which thread draws it.  Each
stream is consumed in a fixed order, so a run is a pure function of
(W0, state, noise states): splitting it into blocks (snapshots, progress,
checkpoints) never changes a bit, and :func:`draw_step` replays exactly what a
step of :func:`sgd_block` drew.  Separate streams let the kernel draw the next
data point before the current update is finished (see :func:`sgd_block`)
without changing the noise.

Per step k (all b samples see the same current θ):
    y_j = ±1 (prob ½),  x_j = s_{y_j} g_j,  g_j ~ N(0, I_d)                j = 1..b
    z_ji = ⟨w_i, x_j⟩,   ŷ_j = (1/N) Σ_i σ(z_ji)
    w_i ← (1 − 2λ s_k) w_i + (2 s_k / b) Σ_j (y_j − ŷ_j) σ'(z_ji+) x_j + √(4 s_k/β) ξ_i
with ξ_i ~ N(0, I_d) only for noisy SGD (β given).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from meanfield.activations import KIND_PIECEWISE_LINEAR, KIND_PIECEWISE_LINEAR_TAILS, act_value_deriv

from ._normal_rng import fill_normals
from ._sgd_streams import (NOISE_CHUNK, NOISE_GROUP, _draw_batch, draw_sample, draw_step, fill_normal,  # noqa: F401
                           initial_noise_states, initial_rng_state, next_uint64, next_uniform, noise_chunks,
                           replay_weight_noise)

#: Divergence is looked for every this many steps (and at the end of a block).
DIVERGENCE_CHECK_EVERY = 256


@njit(cache=True)
def activation_and_slope(kind, p, t, values, slopes):
    """values[i] = σ(t_i), slopes[i] = σ'(t_i+), as :func:`act_value`, :func:`act_deriv` define them.

    Piecewise-linear σ = y₀ + l t + Σ_q c_q (t − t_q)₊ (l = 0 for the bounded kind) is
    evaluated knot by knot over all i with max/select instead of branches: the loop
    vectorises and no branch is mispredicted per neuron and knot (the SGD step is ≈ 2×
    faster). The knot terms see τ = min(t, t_Q), the last segment is added separately:

        σ(t) = y₀ + l τ + Σ_q c_q (τ − t_q)₊ + s_Q (t − τ),   s_Q = l + Σ_q c_q

    (s_Q = 0 for bounded σ), so no two terms of size |t| cancel (the plain sum lost
    everything at |t| ≳ 1e15; issue 31). σ'(t+) is bitwise act_deriv's (the right limit at
    every knot, which defines the drift at w = 0); σ agrees to rounding (tested). Smooth σ
    point by point (one tanh for both)."""
    if kind == KIND_PIECEWISE_LINEAR or kind == KIND_PIECEWISE_LINEAR_TAILS:
        start = 1 if kind == KIND_PIECEWISE_LINEAR else 2
        left = 0.0 if kind == KIND_PIECEWISE_LINEAR else p[1]
        last = p[p.shape[0] - 2]
        for i in range(t.shape[0]):
            tau = last if t[i] > last else t[i]  # NaN stays NaN
            values[i] = p[0] + left * tau
            slopes[i] = left
        for q in range(start, p.shape[0], 2):
            knot, change = p[q], p[q + 1]
            for i in range(t.shape[0]):
                tau = last if t[i] > last else t[i]
                values[i] += change * max(tau - knot, 0.0)
                slopes[i] += change if t[i] >= knot else 0.0
        if kind == KIND_PIECEWISE_LINEAR_TAILS:
            for i in range(t.shape[0]):
                if t[i] > last:
                    values[i] += slopes[i] * (t[i] - last)  # slopes[i] = s_Q beyond the last knot
    else:
        for i in range(t.shape[0]):
            values[i], slopes[i] = act_value_deriv(kind, p, t[i])


@njit(cache=True)
def add_squares_transposed(WT, norms):
    """norms[i] += Σ_k w_ik² for WT = Wᵀ (d, N) (in float64, whatever WT's dtype)."""
    d, n = WT.shape
    for k in range(d):
        for i in range(n):
            w = np.float64(WT[k, i])
            norms[i] += w * w


@njit(cache=True)
def largest_norm_or_inf(norms):
    """max_i √norms[i] for squared norms, or inf if some is NaN or inf (a non-finite θ_i or a
    square beyond the float64 range: ‖θ_i‖ > 1.3e154)."""
    largest = 0.0
    for i in range(norms.shape[0]):
        x = norms[i]
        if not x <= 1.7e308:
            return math.inf
        largest = max(largest, x)
    return math.sqrt(largest)


@njit(cache=True)
def max_norm_or_inf(WT, norms):
    """max_i ‖w_i‖ over the particles (the columns of WT = Wᵀ), or inf if some w_i is not
    finite; ``norms`` (N,) is scratch."""
    for i in range(norms.shape[0]):
        norms[i] = 0.0
    add_squares_transposed(WT, norms)
    return largest_norm_or_inf(norms)


# The transposed-layout loops below run over the neurons i (contiguous in
# WT = Wᵀ), so they vectorise without fast-math: every sum is evaluated exactly
# as written, and the fused and the plain passes give the same bits.  Each works
# on the neurons lo ≤ i < hi (the threaded kernel gives every thread its own
# range); every value is computed by the same expression whatever the range, so
# splitting the neurons never changes a bit.  The neuron index runs over uint64
# (:func:`_neurons`): an unsigned index needs no wrap-around select, so the loops
# vectorise for any (lo, hi), not only for lo = 0 known at compile time.
@njit(cache=True, inline="always")
def _neurons(lo, hi):
    """range(lo, hi) over uint64 (lo, hi clipped at 0)."""
    return range(np.uint64(max(lo, 0)), np.uint64(max(hi, 0)))


@njit(cache=True, inline="always")
def forward_range(WT, x, z, lo, hi):
    """z_i = ⟨w_i, x⟩ for lo ≤ i < hi, W stored transposed (WT = Wᵀ, shape (d, N)),
    four coordinates per pass over i: z_i += (w_ik x_k + w_ik+1 x_k+1) + (… + …)."""
    d = WT.shape[0]
    for i in _neurons(lo, hi):
        z[i] = 0.0
    k = 0
    while k + 4 <= d:
        x0, x1, x2, x3 = x[k], x[k + 1], x[k + 2], x[k + 3]
        for i in _neurons(lo, hi):
            z[i] += (WT[k, i] * x0 + WT[k + 1, i] * x1) + (WT[k + 2, i] * x2 + WT[k + 3, i] * x3)
        k += 4
    while k < d:
        xk = x[k]
        for i in _neurons(lo, hi):
            z[i] += WT[k, i] * xk
        k += 1


@njit(cache=True, inline="always")
def forward_transposed(WT, x, z):
    """z_i = ⟨w_i, x⟩ for every i (:func:`forward_range` over all neurons)."""
    forward_range(WT, x, z, 0, WT.shape[1])


@njit(cache=True, inline="always")
def axpy_range(WT, decay, c, x, lo, hi):
    """w_i ← decay · w_i + c_i x for lo ≤ i < hi (WT = Wᵀ)."""
    d = WT.shape[0]
    k = 0
    while k + 4 <= d:
        x0, x1, x2, x3 = x[k], x[k + 1], x[k + 2], x[k + 3]
        for i in _neurons(lo, hi):
            ci = c[i]
            WT[k, i] = decay * WT[k, i] + ci * x0
            WT[k + 1, i] = decay * WT[k + 1, i] + ci * x1
            WT[k + 2, i] = decay * WT[k + 2, i] + ci * x2
            WT[k + 3, i] = decay * WT[k + 3, i] + ci * x3
        k += 4
    while k < d:
        xk = x[k]
        for i in _neurons(lo, hi):
            WT[k, i] = decay * WT[k, i] + c[i] * xk
        k += 1


@njit(cache=True, inline="always")
def axpy_transposed(WT, decay, c, x):
    """w_i ← decay · w_i + c_i x for every i (WT = Wᵀ)."""
    axpy_range(WT, decay, c, x, 0, WT.shape[1])


@njit(cache=True)
def axpy_noise_transposed(WT, decay, c, x, noise_scale, noise_state, noise):
    """The baseline noise (before the vectorised generator; kept for the benchmark):
    w_i ← (decay · w_i + c_i x) + noise_scale ξ_i, ξ_i ~ N(0, I_d) drawn particle by
    particle (i = 0, 1, …) by :func:`fill_normal` (Marsaglia polar on the xoshiro256**
    ``noise_state``): NOISE_GROUP particles are drawn into ``noise`` (d, NOISE_GROUP)
    and then added along k, contiguously in WT = Wᵀ."""
    d, n = WT.shape
    for g0 in range(0, n, NOISE_GROUP):
        m = min(n - g0, NOISE_GROUP)
        for g in range(m):
            fill_normal(noise_state, noise[:, g])  # noise is (d, NOISE_GROUP): ξ_i is a column
        cg = c[g0:g0 + m]
        for k in range(d):
            xk = x[k]
            row = WT[k, g0:g0 + m]
            xi = noise[k, :m]
            for g in range(m):
                row[g] = (decay * row[g] + cg[g] * xk) + noise_scale * xi[g]


@njit(cache=True)
def axpy_noise_range(WT, decay, c, x, noise_scale, noise_state, noise, lo, hi):
    """w_i ← (decay · w_i + c_i x) + noise_scale ξ_i for lo ≤ i < hi, ξ_i ~ N(0, I_d) from
    the vectorised generator (:func:`fill_normals` on ``noise_state``): group by group of
    m ≤ NOISE_GROUP particles, m·d normals are drawn into ``noise`` (1-D, ≥ d·NOISE_GROUP),
    read as a (d, m) array (ξ_{g0+g, k} = noise[k·m + g]) and added along k."""
    d = WT.shape[0]
    for g0 in range(lo, hi, NOISE_GROUP):
        m = min(hi - g0, NOISE_GROUP)
        drawn = noise[:d * m]
        fill_normals(noise_state, drawn)
        cg = c[g0:g0 + m]
        for k in range(d):
            xk = x[k]
            row = WT[k, g0:g0 + m]
            xi = drawn[k * m:(k + 1) * m]
            for g in range(m):
                row[g] = (decay * row[g] + cg[g] * xk) + noise_scale * xi[g]


@njit(cache=True, inline="always")
def axpy_forward_range(WT, decay, c, x, x_next, z, lo, hi):
    """One pass doing :func:`axpy_range` (w_i ← decay · w_i + c_i x) and then
    :func:`forward_range` on the new weights (z_i = ⟨w_i, x_next⟩) for lo ≤ i < hi,
    bitwise equal to the two calls in sequence: W is read and written once instead
    of read twice and written once, which is most of an SGD step's time."""
    d = WT.shape[0]
    for i in _neurons(lo, hi):
        z[i] = 0.0
    k = 0
    while k + 4 <= d:
        x0, x1, x2, x3 = x[k], x[k + 1], x[k + 2], x[k + 3]
        v0, v1, v2, v3 = x_next[k], x_next[k + 1], x_next[k + 2], x_next[k + 3]
        for i in _neurons(lo, hi):
            ci = c[i]
            w0 = decay * WT[k, i] + ci * x0
            w1 = decay * WT[k + 1, i] + ci * x1
            w2 = decay * WT[k + 2, i] + ci * x2
            w3 = decay * WT[k + 3, i] + ci * x3
            WT[k, i] = w0
            WT[k + 1, i] = w1
            WT[k + 2, i] = w2
            WT[k + 3, i] = w3
            z[i] += (w0 * v0 + w1 * v1) + (w2 * v2 + w3 * v3)
        k += 4
    while k < d:
        xk, vk = x[k], x_next[k]
        for i in _neurons(lo, hi):
            w = decay * WT[k, i] + c[i] * xk
            WT[k, i] = w
            z[i] += w * vk
        k += 1


@njit(cache=True, inline="always")
def axpy_forward_transposed(WT, decay, c, x, x_next, z):
    """:func:`axpy_forward_range` over all neurons."""
    axpy_forward_range(WT, decay, c, x, x_next, z, 0, WT.shape[1])


@njit(cache=True, fastmath={"reassoc"})
def _total(values):
    """Σ_i values_i, re-associated so that it vectorises (a fixed order: the same bits on
    every run on one machine; another CPU may use another vector width)."""
    total = 0.0
    for i in range(values.shape[0]):
        total += values[i]
    return total


def sgd_block(WT, state, noise_states, step_counter, step_sizes, batch, lam, inv_beta, noisy, scales, kind, p,
              threshold, polar_noise=False):
    """Run len(step_sizes) SGD steps in place on WT = Wᵀ (shape (d, N); see module docstring).

    ``step_sizes[k]`` is s for the k-th step of the block; ``state`` (uint64 (2, 4):
    data stream, noise seed words), ``noise_states`` (:func:`initial_noise_states`)
    and ``step_counter`` (int64[1], the global step index) are advanced in place, so
    an interruption between calls always leaves (W, states, counter) consistent.
    Returns −1, or the global step index after which some particle was found non-finite or
    with ‖w_i‖ > ``threshold`` (checked every DIVERGENCE_CHECK_EVERY steps and at the end of
    the block; :func:`solvers.sgd.run_sgd` replays the steps since the last check one by
    one to find the first such step).

    Noiseless with b = 1, the update of step k and the forward pass of step k+1
    share one pass over W (:func:`axpy_forward_transposed`): the data point of
    step k+1 is drawn first, which separate streams make harmless. A block never
    draws beyond its last step, and every pass evaluates the same expressions,
    so the result does not depend on where blocks end.

    ``polar_noise=True`` draws the noise as before the vectorised generator
    (Marsaglia polar on the xoshiro256** stream ``state[1]``, which it advances;
    ``noise_states`` unused): the baseline of benchmarks/sgd_throughput.py.

    Noisy and noiseless runs take two kernels with one body (:func:`_sgd_steps`, inlined with
    ``noisy`` a constant, so Numba prunes the noise branches): a noiseless run never compiles
    the normal generator (issue 28).
    """
    if noisy:
        return _sgd_block_noisy(WT, state, noise_states, step_counter, step_sizes, batch, lam, inv_beta, scales, kind,
                                p, threshold, polar_noise)
    return _sgd_block_noiseless(WT, state, noise_states, step_counter, step_sizes, batch, lam, scales, kind, p,
                                threshold)


@njit(cache=True)
def _sgd_block_noisy(WT, state, noise_states, step_counter, step_sizes, batch, lam, inv_beta, scales, kind, p,
                     threshold, polar_noise):
    return _sgd_steps(WT, state, noise_states, step_counter, step_sizes, batch, lam, inv_beta, True, scales, kind, p,
                      threshold, polar_noise)


@njit(cache=True)
def _sgd_block_noiseless(WT, state, noise_states, step_counter, step_sizes, batch, lam, scales, kind, p, threshold):
    return _sgd_steps(WT, state, noise_states, step_counter, step_sizes, batch, lam, 0.0, False, scales, kind, p,
                      threshold, False)


@njit(inline="always")
def _sgd_steps(WT, state, noise_states, step_counter, step_sizes, batch, lam, inv_beta, noisy, scales, kind, p,
               threshold, polar_noise):
    """The body of :func:`sgd_block` (the same arguments), inlined into its two kernels."""
    d, n = WT.shape
    data_state = state[0]
    x = np.empty((batch, d), WT.dtype)
    x_next = np.empty((batch, d), WT.dtype)
    x64 = np.empty(d)
    noise = np.empty(d * NOISE_GROUP)  # Langevin noise of a group of particles
    polar = np.empty((d, NOISE_GROUP))  # the same for polar_noise, one particle per column
    y = np.empty(batch)
    y_next = np.empty(batch)
    z = np.empty((batch, n), WT.dtype)  # pre-activations ⟨w_i, x_j⟩ at the current θ
    z64 = np.empty(n)
    values = np.empty(n)  # σ(z_ji)
    slopes = np.empty(n)  # σ'(z_ji+)
    norms = np.empty(n)  # ‖w_i‖² at a divergence check
    # per-step coefficients in W's dtype so the float32 update runs in float32
    coef = np.empty((batch, n), WT.dtype)  # (2s/b)(y_j − ŷ_j) σ'(z_ji+)
    factors = np.empty(2, WT.dtype)  # (1 − 2λs, 1)
    factors[1] = 1.0
    n_steps = step_sizes.shape[0]
    ready = False  # z holds the forward pass of the current step's data
    for step in range(n_steps):
        s = step_sizes[step]
        if not ready:
            _draw_batch(data_state, scales, x64, x, y)
            for j in range(batch):
                forward_transposed(WT, x[j], z[j])
        for j in range(batch):
            for i in range(n):
                z64[i] = z[j, i]
            activation_and_slope(kind, p, z64, values, slopes)
            step_coef = 2.0 * s * (y[j] - _total(values) / n) / batch
            for i in range(n):
                coef[j, i] = step_coef * slopes[i]
        # ---- update: w_i ← (1 − 2λs) w_i + Σ_j coef_ji x_j + √(4s/β) ξ_i
        factors[0] = 1.0 - 2.0 * lam * s
        check = (step_counter[0] + 1) % DIVERGENCE_CHECK_EVERY == 0 or step == n_steps - 1
        if batch == 1 and not noisy and not check:
            _draw_batch(data_state, scales, x64, x_next, y_next)
            axpy_forward_transposed(WT, factors[0], coef[0], x[0], x_next[0], z[0])
            for k in range(d):
                x[0, k] = x_next[0, k]
            y[0] = y_next[0]
            ready = True
        else:
            last = batch - 1 if noisy else batch
            for j in range(last):
                axpy_transposed(WT, factors[min(j, 1)], coef[j], x[j])
            if noisy:  # the last sample's term and the noise in one pass
                scale = math.sqrt(4.0 * s * inv_beta)
                if polar_noise:
                    axpy_noise_transposed(WT, factors[min(last, 1)], coef[last], x[last], scale, state[1], polar)
                else:
                    for c in range(noise_states.shape[0]):  # chunk c: its own stream
                        lo = c * NOISE_CHUNK
                        axpy_noise_range(WT, factors[min(last, 1)], coef[last], x[last], scale,
                                         noise_states[c], noise, lo, min(n, lo + NOISE_CHUNK))
            ready = False
        step_counter[0] += 1
        if check and not max_norm_or_inf(WT, norms) <= threshold:
            return step_counter[0]
    return -1


# Work items of sgd_block_threaded: the neurons lo ≤ i < hi. Plain (not inlined)
# functions, so each is optimised and vectorised on its own, not inside the parallel loop.
@njit(cache=True)
def _chunk_forward(WT, x, z, z64, values, slopes, kind, p, lo, hi):
    """z_i = ⟨w_i, x⟩, values_i = σ(z_i), slopes_i = σ'(z_i+) for lo ≤ i < hi."""
    forward_range(WT, x, z, lo, hi)
    for i in _neurons(lo, hi):
        z64[i] = z[i]
    activation_and_slope(kind, p, z64[lo:hi], values[lo:hi], slopes[lo:hi])


@njit(cache=True)
def _chunk_fused(WT, decay, step_coef, coef, x, x_next, z, z64, values, slopes, kind, p, lo, hi):
    """coef_i = step_coef σ'(z_i+), then the fused update + next forward pass, then σ, σ'."""
    for i in _neurons(lo, hi):
        coef[i] = step_coef * slopes[i]
    axpy_forward_range(WT, decay, coef, x, x_next, z, lo, hi)
    for i in _neurons(lo, hi):
        z64[i] = z[i]
    activation_and_slope(kind, p, z64[lo:hi], values[lo:hi], slopes[lo:hi])


@njit(cache=True)
def _chunk_update(WT, factors, step_coef, coef, x, slopes, last, noise_scale, noise_states, lo, hi):
    """coef_ji = step_coef_j σ'(z_ji+); w_i ← … + Σ_{j<last} coef_ji x_j (plain passes), and the
    last sample's term with the noise if last < b (lo, hi on noise-chunk boundaries: each
    chunk's noise from its own stream)."""
    batch = x.shape[0]
    for j in range(batch):
        sc = step_coef[j]
        cj = coef[j]
        sj = slopes[j]
        for i in _neurons(lo, hi):
            cj[i] = sc * sj[i]
    for j in range(last):
        axpy_range(WT, factors[min(j, 1)], coef[j], x[j], lo, hi)
    if last < batch:
        noise = np.empty(WT.shape[0] * NOISE_GROUP)
        for c in range(lo // NOISE_CHUNK, -(-hi // NOISE_CHUNK)):
            axpy_noise_range(WT, factors[min(last, 1)], coef[last], x[last], noise_scale, noise_states[c],
                             noise, c * NOISE_CHUNK, min(hi, (c + 1) * NOISE_CHUNK))


@njit(cache=True, parallel=True)
def sgd_block_threaded(WT, state, noise_states, step_counter, step_sizes, batch, lam, inv_beta, noisy,
                       scales, kind, p, threshold, n_items):
    """:func:`sgd_block` with the neurons split across threads inside every step.

    The neurons are split into ``n_items`` contiguous ranges (work items, one per
    thread; boundaries on multiples of NOISE_CHUNK, the noise chunks) handed to
    the threads by ``prange``. Noiseless with b = 1, a step is one parallel pass
    (each range: its coefficients, the fused update + forward pass z_i = ⟨w_i, x_next⟩,
    then σ(z_i), σ'(z_i+)); otherwise two (forward pass and σ, σ' of the b samples;
    then the update, each noise chunk's noise drawn from its own stream). Between
    passes one thread reduces ŷ_j = (1/N) Σ_i σ(z_ji) over all neurons with the
    same code and order as sgd_block: an O(N) serial part, 1/d of the O(N d) pass.

    Guarantee: every per-neuron value is computed by the same expression as in
    sgd_block, whatever range or thread computes it, each noise chunk always
    draws from its own stream in the same order, and the only sum over neurons
    is the serial one above. So on a given machine the result is bitwise
    identical to sgd_block's, for every number of threads and any scheduling
    (noisy or not, float32 or float64, any batch).
    """
    d, n = WT.shape
    data_state = state[0]
    n_chunks = noise_states.shape[0]
    n_items = max(1, min(n_items, n_chunks))
    bounds = np.empty(n_items + 1, np.int64)  # item t: neurons bounds[t] ≤ i < bounds[t + 1]
    for t in range(n_items + 1):
        bounds[t] = min(n, (t * n_chunks // n_items) * NOISE_CHUNK)
    x = np.empty((batch, d), WT.dtype)
    x_next = np.empty((batch, d), WT.dtype)
    x64 = np.empty(d)
    y = np.empty(batch)
    y_next = np.empty(batch)
    z = np.empty((batch, n), WT.dtype)
    z64 = np.empty(n)
    values = np.empty((batch, n))
    slopes = np.empty((batch, n))
    coef = np.empty((batch, n), WT.dtype)
    step_coef = np.empty(batch)
    norms = np.empty(n)  # ‖w_i‖² at a divergence check
    factors = np.empty(2, WT.dtype)
    factors[1] = 1.0
    n_steps = step_sizes.shape[0]
    ready = False  # z, values, slopes hold the current step's forward pass
    for step in range(n_steps):
        s = step_sizes[step]
        if not ready:
            _draw_batch(data_state, scales, x64, x, y)
            for t in prange(n_items):
                for j in range(batch):
                    _chunk_forward(WT, x[j], z[j], z64, values[j], slopes[j], kind, p, bounds[t], bounds[t + 1])
        for j in range(batch):
            step_coef[j] = 2.0 * s * (y[j] - _total(values[j]) / n) / batch
        factors[0] = 1.0 - 2.0 * lam * s
        check = (step_counter[0] + 1) % DIVERGENCE_CHECK_EVERY == 0 or step == n_steps - 1
        if batch == 1 and not noisy and not check:
            _draw_batch(data_state, scales, x64, x_next, y_next)
            for t in prange(n_items):
                _chunk_fused(WT, factors[0], step_coef[0], coef[0], x[0], x_next[0], z[0], z64, values[0],
                             slopes[0], kind, p, bounds[t], bounds[t + 1])
            for k in range(d):
                x[0, k] = x_next[0, k]
            y[0] = y_next[0]
            ready = True
        else:
            last = batch - 1 if noisy else batch
            scale = math.sqrt(4.0 * s * inv_beta)
            for t in prange(n_items):
                _chunk_update(WT, factors, step_coef, coef, x, slopes, last, scale, noise_states,
                              bounds[t], bounds[t + 1])
            ready = False
        step_counter[0] += 1
        if check and not max_norm_or_inf(WT, norms) <= threshold:
            return step_counter[0]
    return -1


@njit(cache=True)
def streaming_bound_block(WT, x, n_steps, fused):
    """Memory-traffic floors of a dense SGD step, with the loops of :func:`sgd_block`
    on WT = Wᵀ in W's dtype (c tiny, so W barely moves). Per step:
    fused=False: read W (z = W x), then read and write it (w_i ← w_i + c z_i x);
    fused=True: one pass that reads and writes W once (the kernel's own traffic).
    Returns a checksum (keeps the work alive)."""
    d, n = WT.shape
    z = np.zeros(n, WT.dtype)
    c = np.empty(n, WT.dtype)
    one = np.ones(1, WT.dtype)[0]
    total = 0.0
    for _ in range(n_steps):
        for i in range(n):
            c[i] = 1e-12 * z[i]
        if fused:
            axpy_forward_transposed(WT, one, c, x, x, z)
        else:
            forward_transposed(WT, x, z)
            axpy_transposed(WT, one, c, x)
        total += z[0]
    return total
