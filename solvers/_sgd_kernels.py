"""Numba kernels of one-pass (noisy) SGD for the isotropic Gaussians model.

Random numbers come from an explicit-state xoshiro256** generator whose
state (four uint64 words) is passed in and advanced in place.  Every draw of
a step happens in a fixed order, so a run is a pure function of (W0, state):
splitting it into blocks (snapshots, progress, checkpoints) never changes a
bit, and :func:`draw_step` replays exactly what a step of
:func:`sgd_block` drew.

Per step k (all b samples see the same current θ):
    y_j = ±1 (prob ½),  x_j = s_{y_j} g_j,  g_j ~ N(0, I_d)                j = 1..b
    z_ji = ⟨w_i, x_j⟩,   ŷ_j = (1/N) Σ_i σ(z_ji)
    w_i ← (1 − 2λ s_k) w_i + (2 s_k / b) Σ_j (y_j − ŷ_j) σ'(z_ji+) x_j + √(4 s_k/β) ξ_i
with ξ_i ~ N(0, I_d) only for noisy SGD (β given).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from meanfield.activations import KIND_PIECEWISE_LINEAR, act_deriv, act_value

#: LLVM flags that allow vectorised dot products; no 'nnan'/'ninf', so the
#: divergence check keeps seeing NaN and inf.
_VECTORISE = {"reassoc", "contract", "nsz", "arcp"}
#: Divergence is looked for every this many steps (and at the end of a block).
DIVERGENCE_CHECK_EVERY = 256

_U53 = 1.0 / 9007199254740992.0  # 2^-53


def initial_rng_state(seed):
    """xoshiro256** state (uint64[4]) from ``seed`` via numpy's SeedSequence."""
    state = np.random.SeedSequence(seed).generate_state(4, np.uint64)
    if not state.any():  # the one forbidden state; probability 2^-256
        state[0] = np.uint64(1)
    return state


@njit(cache=True, inline="always")
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@njit(cache=True)
def next_uint64(state):
    """xoshiro256** (Blackman & Vigna): next 64-bit output, state advanced in place."""
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    result = _rotl(s1 * np.uint64(5), 7) * np.uint64(9)
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3
    return result


@njit(cache=True)
def next_uniform(state):
    """Uniform double in [0, 1) from the top 53 bits."""
    return float(next_uint64(state) >> np.uint64(11)) * _U53


@njit(cache=True)
def fill_normal(state, out):
    """Fill the 1-D ``out`` with iid N(0, 1) (Marsaglia polar method, pairs;
    the second value of the last pair is discarded when len(out) is odd)."""
    n = out.shape[0]
    for k in range(0, n, 2):
        while True:
            u = 2.0 * next_uniform(state) - 1.0
            v = 2.0 * next_uniform(state) - 1.0
            q = u * u + v * v
            if 0.0 < q < 1.0:
                break
        f = math.sqrt(-2.0 * math.log(q) / q)
        out[k] = u * f
        if k + 1 < n:
            out[k + 1] = v * f


@njit(cache=True)
def draw_sample(state, scales, x):
    """One data point: returns y = ±1 (prob ½) and fills x = s_y g, g ~ N(0, I_d)."""
    y = 1.0 if (next_uint64(state) >> np.uint64(63)) == np.uint64(0) else -1.0
    fill_normal(state, x)
    s = scales[0] if y > 0 else scales[1]
    for k in range(x.shape[0]):
        x[k] *= s
    return y


@njit(cache=True)
def draw_step(state, scales, n_particles, d, batch, noisy):
    """Replay the draws of one :func:`sgd_block` step (state advanced in place):
    labels y (b,), inputs x (b, d) and the Langevin noise g (N, d) (zeros if not noisy)."""
    y = np.empty(batch)
    x = np.empty((batch, d))
    g = np.zeros((n_particles, d))
    for j in range(batch):
        y[j] = draw_sample(state, scales, x[j])
    if noisy:
        for i in range(n_particles):
            fill_normal(state, g[i])
    return y, x, g


@njit(cache=True)
def activation_and_slope(kind, p, t, values, slopes):
    """values[i] = σ(t_i), slopes[i] = σ'(t_i+), as :func:`act_value`, :func:`act_deriv` define them.

    For piecewise-linear σ = y₀ + Σ_q c_q (t − t_q)₊ the same terms are added,
    knot by knot over all i with max/select instead of branches: the loop
    vectorises and no branch is mispredicted per neuron and knot (the SGD step
    is ≈ 2× faster). σ'(t+) is bitwise act_deriv's (the right limit at every
    knot, which defines the drift at w = 0); σ agrees to rounding (tested)."""
    if kind == KIND_PIECEWISE_LINEAR:
        for i in range(t.shape[0]):
            values[i] = p[0]
            slopes[i] = 0.0
        for q in range(1, p.shape[0], 2):
            knot, change = p[q], p[q + 1]
            for i in range(t.shape[0]):
                values[i] += change * max(t[i] - knot, 0.0)
                slopes[i] += change if t[i] >= knot else 0.0
    else:
        for i in range(t.shape[0]):
            values[i] = act_value(kind, p, t[i])
            slopes[i] = act_deriv(kind, p, t[i])


@njit(cache=True, fastmath={"reassoc"})
def max_abs_or_inf(W):
    """max |w_ik|, or inf if any entry is NaN or inf (detected through the sum of
    |w_ik|, which NaN/inf poison; only re-association is allowed, so it vectorises)."""
    largest = 0.0
    total = 0.0
    for i in range(W.shape[0]):
        for k in range(W.shape[1]):
            a = abs(W[i, k])
            total += a
            largest = a if a > largest else largest
    return largest if total <= 1.7e308 else math.inf


@njit(cache=True, fastmath=_VECTORISE)
def sgd_block(W, state, step_counter, step_sizes, batch, lam, inv_beta, noisy,
              scales, kind, p, threshold):
    """Run len(step_sizes) SGD steps on W (N, d) in place (see module docstring).

    ``step_sizes[k]`` is s for the k-th step of the block; ``state`` (uint64[4])
    and ``step_counter`` (int64[1], the global step index) are advanced in place,
    so an interruption between calls always leaves (W, state, counter) consistent.
    Returns −1, or the global step index after which W was found non-finite or
    beyond ``threshold`` in absolute value (checked every DIVERGENCE_CHECK_EVERY steps).
    """
    n, d = W.shape
    zero = np.zeros(1, W.dtype)[0]
    x = np.empty((batch, d), W.dtype)
    x64 = np.empty(d)
    noise64 = np.empty(d)
    y = np.empty(batch)
    z = np.empty(n)  # pre-activations ⟨w_i, x_j⟩ of the current sample
    values = np.empty(n)  # σ(z_i)
    slopes64 = np.empty(n)  # σ'(z_i+)
    # per-step coefficients kept in W's dtype so the float32 update runs in float32
    slopes = np.empty((batch, n), W.dtype)  # σ'(z_ji+)
    step_coef = np.empty(batch, W.dtype)  # (2s/b)(y_j − ŷ_j)
    decay = np.empty(1, W.dtype)  # 1 − 2λs
    for step in range(step_sizes.shape[0]):
        s = step_sizes[step]
        # ---- draw the batch and evaluate the network at the current θ
        for j in range(batch):
            y[j] = draw_sample(state, scales, x64)
            for k in range(d):
                x[j, k] = x64[k]
        for j in range(batch):
            for i in range(n):
                acc = zero
                for k in range(d):
                    acc += W[i, k] * x[j, k]
                z[i] = acc
            activation_and_slope(kind, p, z, values, slopes64)
            yhat = 0.0
            for i in range(n):
                yhat += values[i]
                slopes[j, i] = slopes64[i]
            step_coef[j] = 2.0 * s * (y[j] - yhat / n) / batch
        # ---- update: w_i ← (1 − 2λs) w_i + Σ_j step_coef_j σ'(z_ji+) x_j + √(4s/β) ξ_i
        decay[0] = 1.0 - 2.0 * lam * s
        noise_scale = math.sqrt(4.0 * s * inv_beta)
        for i in range(n):
            c = step_coef[0] * slopes[0, i]
            for k in range(d):
                W[i, k] = decay[0] * W[i, k] + c * x[0, k]
            for j in range(1, batch):
                c = step_coef[j] * slopes[j, i]
                for k in range(d):
                    W[i, k] += c * x[j, k]
            if noisy:
                fill_normal(state, noise64)
                for k in range(d):
                    W[i, k] += noise_scale * noise64[k]
        step_counter[0] += 1
        if step_counter[0] % DIVERGENCE_CHECK_EVERY == 0 or step == step_sizes.shape[0] - 1:
            if not max_abs_or_inf(W) <= threshold:
                return step_counter[0]
    return -1


@njit(cache=True, fastmath=_VECTORISE)
def streaming_bound_block(W, x, n_steps):
    """Memory-traffic floor of an SGD step: per step read W once (z = W x) and
    read + write it once (w_i += c z_i x, c tiny), all in W's dtype.
    Returns a checksum (keeps the work alive)."""
    n, d = W.shape
    z = np.empty(n, W.dtype)
    tiny = np.full(1, 1e-12, W.dtype)[0]
    total = 0.0
    for _ in range(n_steps):
        for i in range(n):
            acc = tiny - tiny
            for k in range(d):
                acc += W[i, k] * x[k]
            z[i] = acc
        for i in range(n):
            c = tiny * z[i]
            for k in range(d):
                W[i, k] += c * x[k]
        total += z[0]
    return total
