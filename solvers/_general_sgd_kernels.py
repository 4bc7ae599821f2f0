"""The fused Numba SGD kernel for any (data law × trained set × activation).

Per step k (s = s_k, a fresh batch (x_j, y_j), j = 1..b, from the data stream; all samples
see the same current θ; σ' is the right derivative σ'(t+); α the output scale; the frozen
neurons θ⁰ (N⁰ of them, possibly none) centre the network):

    z_ji = ⟨w_i, x_j⟩ + b_i,   ŷ_j = (α/N) [Σ_i a_i σ(z_ji) − Σ_i a⁰_i σ(z⁰_ji)],   e_j = (y_j − ŷ_j)/α
    a_i ← (1 − 2λs) a_i + (2s/b) Σ_j e_j σ(z_ji)                + √(4s/β) g^a_i   (if a is trained)
    w_i ← (1 − 2λs) w_i + (2s/b) Σ_j e_j a_i σ'(z_ji+) x_j      + √(4s/β) g^w_i   (if w is trained)
    b_i ← (1 − 2λs) b_i + (2s/b) Σ_j e_j a_i σ'(z_ji+)          + √(4s/β) g^b_i   (if b is trained)

Noise (β given): the neurons are split in chunks of NOISE_CHUNK, each with its own stream of
the vectorised generator (:mod:`solvers._normal_rng`); per step a chunk's stream gives g^w of
its neurons (group by group of m ≤ NOISE_GROUP neurons, m·d normals read as a (d, m) array, as
in the isotropic kernel), then g^a and g^b of its neurons (those trained). The data stream and the
data normal stream (``normals``) are consumed by :func:`solvers._data_streams.draw_point`. As in
:mod:`solvers._sgd_kernels` (whose transposed-layout primitives this kernel reuses), W is stored
transposed and, noiseless with b = 1, the update of step k shares one pass over W with the forward pass of step k + 1.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._data_streams import draw_point
from ._normal_rng import fill_normals
from ._sgd_kernels import (DIVERGENCE_CHECK_EVERY, _total, activation_and_slope, add_squares_transposed,
                           axpy_forward_transposed, axpy_noise_range, axpy_transposed, forward_transposed,
                           largest_norm_or_inf)
from ._sgd_streams import NOISE_CHUNK, NOISE_GROUP, replay_weight_noise


@njit(cache=True)
def _draw_batch(state, normals, data, order, scratch, x64, x, y):
    """Draw the b points of one step into x (W's dtype) and y."""
    kind, rows, scales, values, extra, params, act_kind, act_params = data
    for j in range(y.shape[0]):
        y[j] = draw_point(state, normals, kind, rows, scales, values, extra, params, act_kind, act_params, order,
                          scratch, x64)
        for k in range(x64.shape[0]):
            x[j, k] = x64[k]


@njit(cache=True)
def draw_general_step(state, normals, noise_states, data, order, n_particles, d, batch, noisy, train_a, train_w,
                      train_b):
    """Replay the draws of one :func:`general_sgd_block` step (all streams advanced in place):
    y (b,), x (b, d), and the noise g^w (N, d), g^a (N,), g^b (N,) (zeros where not drawn)."""
    y = np.empty(batch)
    x = np.empty((batch, d))
    gw = np.zeros((n_particles, d))
    ga = np.zeros(n_particles)
    gb = np.zeros(n_particles)
    _draw_batch(state[0], normals, data, order, np.empty(2), np.empty(d), x, y)
    if noisy:
        if train_w:
            replay_weight_noise(noise_states, gw)
        for c in range(noise_states.shape[0]):
            lo, hi = c * NOISE_CHUNK, min(n_particles, (c + 1) * NOISE_CHUNK)
            if train_a:
                fill_normals(noise_states[c], ga[lo:hi])
            if train_b:
                fill_normals(noise_states[c], gb[lo:hi])
    return y, x, gw, ga, gb


@njit(cache=True)
def _max_norm(WT, a, b, norms):
    """max_i ‖θ_i‖ = max_i √(a_i² + ‖w_i‖² + b_i²), or inf if some θ_i is not finite."""
    for i in range(norms.shape[0]):
        norms[i] = a[i] * a[i] + b[i] * b[i]
    add_squares_transposed(WT, norms)
    return largest_norm_or_inf(norms)


@njit(cache=True)
def general_sgd_block(WT, a, b, state, normals, noise_states, order, step_counter, step_sizes, batch, lam, inv_beta,
                      noisy, train_a, train_w, train_b, kind, p, data, alpha, offset_WT, offset_a, offset_b, threshold):
    """Run len(step_sizes) SGD steps in place on (WT = Wᵀ (d, N), a (N,), b (N,)) (module docstring).

    ``data`` is the tuple (kind, rows, scales, values, extra, params, act_kind, act_params) of a
    :class:`meanfield.DataSpec`; ``order`` its epoch state; ``normals`` the data normal stream
    (:func:`solvers._sgd_streams.initial_data_normals`); ``noise_states`` the noise streams
    (:func:`solvers._sgd_kernels.initial_noise_states`); ``alpha`` the output scale and
    (offset_WT (d, N⁰), offset_a, offset_b) the frozen centring neurons (N⁰ = 0: none); ``state`` (uint64 (2, 4): data and
    noise streams) and ``step_counter`` (int64[1]) advance in place. Returns −1, or the global
    step after which some particle had ‖θ_i‖ = √(a_i² + ‖w_i‖² + b_i²) > ``threshold`` or was not
    finite (checked every DIVERGENCE_CHECK_EVERY steps and at the end of the block; run_sgd replays
    the steps since the last check one by one to find the first such step)."""
    d, n = WT.shape
    data_state = state[0]
    x = np.empty((batch, d), WT.dtype)
    x_next = np.empty((batch, d), WT.dtype)
    x64 = np.empty(d)
    scratch = np.empty(2)
    noise = np.empty(d * NOISE_GROUP)
    noise_a = np.empty(n)
    noise_b = np.empty(n)
    y = np.empty(batch)
    y_next = np.empty(batch)
    z = np.empty((batch, n), WT.dtype)  # ⟨w_i, x_j⟩ (without b_i)
    t = np.empty(n)
    values = np.empty(n)
    slopes = np.empty(n)
    weighted = np.empty(n)  # a_i σ(z_ji)
    n0 = offset_a.shape[0]
    z0 = np.empty(n0, WT.dtype)
    t0 = np.empty(n0)
    values0 = np.empty(n0)
    slopes0 = np.empty(n0)
    coef = np.empty((batch, n), WT.dtype)  # (2s/b) e_j a_i σ'(z_ji+)
    step_a = np.empty(n)
    step_b = np.empty(n)
    norms = np.empty(n)  # ‖θ_i‖² at a divergence check
    n_steps = step_sizes.shape[0]
    ready = False
    for step in range(n_steps):
        s = step_sizes[step]
        if not ready:
            _draw_batch(data_state, normals, data, order, scratch, x64, x, y)
            for j in range(batch):
                forward_transposed(WT, x[j], z[j])
        for i in range(n):
            step_a[i] = 0.0
            step_b[i] = 0.0
        for j in range(batch):
            for i in range(n):
                t[i] = z[j, i] + b[i]
            activation_and_slope(kind, p, t, values, slopes)
            for i in range(n):
                weighted[i] = a[i] * values[i]
            total = _total(weighted)
            if n0 > 0:  # the centring network at x_j
                forward_transposed(offset_WT, x[j], z0)
                for i in range(n0):
                    t0[i] = z0[i] + offset_b[i]
                activation_and_slope(kind, p, t0, values0, slopes0)
                for i in range(n0):
                    values0[i] *= offset_a[i]
                total -= _total(values0)
            err = 2.0 * s * (y[j] - alpha * total / n) / (alpha * batch)
            for i in range(n):
                g = err * a[i] * slopes[i]
                coef[j, i] = g
                step_b[i] += g
                step_a[i] += err * values[i]
        decay = 1.0 - 2.0 * lam * s
        noise_scale = math.sqrt(4.0 * s * inv_beta)
        check = (step_counter[0] + 1) % DIVERGENCE_CHECK_EVERY == 0 or step == n_steps - 1
        if train_w:
            if batch == 1 and not noisy and not check:
                _draw_batch(data_state, normals, data, order, scratch, x64, x_next, y_next)
                axpy_forward_transposed(WT, decay, coef[0], x[0], x_next[0], z[0])
                for k in range(d):
                    x[0, k] = x_next[0, k]
                y[0] = y_next[0]
                ready = True
            else:
                last = batch - 1 if noisy else batch
                for j in range(last):
                    axpy_transposed(WT, decay if j == 0 else 1.0, coef[j], x[j])
                if noisy:
                    for c in range(noise_states.shape[0]):  # chunk c: its own stream
                        lo = c * NOISE_CHUNK
                        axpy_noise_range(WT, decay if last == 0 else 1.0, coef[last], x[last], noise_scale,
                                         noise_states[c], noise, lo, min(n, lo + NOISE_CHUNK))
                ready = False
        else:
            ready = False
        if noisy and (train_a or train_b):
            for c in range(noise_states.shape[0]):
                lo, hi = c * NOISE_CHUNK, min(n, (c + 1) * NOISE_CHUNK)
                if train_a:
                    fill_normals(noise_states[c], noise_a[lo:hi])
                if train_b:
                    fill_normals(noise_states[c], noise_b[lo:hi])
        if train_a:
            for i in range(n):
                a[i] = decay * a[i] + step_a[i] + (noise_scale * noise_a[i] if noisy else 0.0)
        if train_b:
            for i in range(n):
                b[i] = decay * b[i] + step_b[i] + (noise_scale * noise_b[i] if noisy else 0.0)
        step_counter[0] += 1
        if check and not _max_norm(WT, a, b, norms) <= threshold:
            return step_counter[0]
    return -1

