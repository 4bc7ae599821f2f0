"""The random streams of SGD, consumed in a fixed order so that a run is a pure function of
(θ₀, seed) and splitting it into blocks never changes a bit.

* Data: a xoshiro256** generator (Blackman & Vigna; row 0 of a uint64 (2, 4) state), uniforms
  from the top 53 bits, normals by the Marsaglia polar method; a sample of the isotropic model
  is y = ±1 (prob ½), x = s_y g, g ~ N(0, I_d).
* Data normals of the general kernel's teacher–student law: one stream of the vectorised generator
  of :mod:`solvers._normal_rng`, started 2^192 xoshiro256 steps after row 0 (far beyond what the
  data stream ever consumes), :func:`initial_data_normals`.
* Langevin noise: the vectorised generator of :mod:`solvers._normal_rng` (row 1 seeds it), one
  stream per chunk of NOISE_CHUNK particles, drawn group by group of NOISE_GROUP particles
  (m·d normals read as a (d, m) array), so that a chunk's noise does not depend on the thread
  that draws it.

:func:`draw_step` and :func:`replay_weight_noise` replay what one kernel step drew.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._normal_rng import _advance, _rotl, fill_normals, init_noise_streams

#: Particles whose Langevin noise is drawn before it is added (along k, i.e. contiguously in Wᵀ).
NOISE_GROUP = 64
#: Particles per noise stream, and per work item of the threaded kernel (a multiple of NOISE_GROUP).
NOISE_CHUNK = 256

_U53 = 1.0 / 9007199254740992.0  # 2^-53


def initial_rng_state(seed):
    """States of the data stream (row 0) and the noise stream (row 1), uint64 (2, 4),
    from ``seed`` via numpy's SeedSequence (8 words, so the streams are independent)."""
    state = np.random.SeedSequence(seed).generate_state(8, np.uint64).reshape(2, 4)
    for row in state:
        if not row.any():  # the one forbidden xoshiro state; probability 2^-256
            row[0] = np.uint64(1)
    return state


def initial_data_normals(state):
    """The data normal stream (a noise state, uint64 (NOISE_STATE_WORDS,)): the vectorised generator
    seeded by the data stream's words ``state[0]`` long-jumped once (2^192 steps)."""
    return init_noise_streams(np.ascontiguousarray(state[0]), 2)[1].copy()


def noise_chunks(n_particles):
    """Number of noise streams (chunks of NOISE_CHUNK particles) for N particles."""
    return -(-int(n_particles) // NOISE_CHUNK)


def initial_noise_states(state, n_particles):
    """The Langevin noise streams of N particles, uint64 (noise_chunks(N), NOISE_STATE_WORDS):
    particles [c·NOISE_CHUNK, (c+1)·NOISE_CHUNK) draw from row c, seeded by ``state[1]``
    (rows are 2^192 xoshiro256 steps apart, see :func:`init_noise_streams`)."""
    return init_noise_streams(np.ascontiguousarray(state[1]), noise_chunks(n_particles))


@njit(cache=True)
def next_uint64(state):
    """xoshiro256** (Blackman & Vigna): next 64-bit output, state advanced in place."""
    result = _rotl(state[1] * np.uint64(5), 7) * np.uint64(9)
    state[0], state[1], state[2], state[3] = _advance(state[0], state[1], state[2], state[3])
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
def _draw_batch(data_state, scales, x64, x, y):
    """Draw the b data points of one step into x (W's dtype) and y."""
    for j in range(y.shape[0]):
        y[j] = draw_sample(data_state, scales, x64)
        for k in range(x64.shape[0]):
            x[j, k] = x64[k]


@njit(cache=True)
def draw_step(state, noise_states, scales, n_particles, d, batch, noisy):
    """Replay the draws of one :func:`sgd_block` step (all streams advanced in place):
    labels y (b,), inputs x (b, d) and the Langevin noise g (N, d) (zeros if not noisy).

    Noise order: chunk c (particles [c·NOISE_CHUNK, …), stream noise_states[c]), group by
    group of m ≤ NOISE_GROUP particles, m·d normals each read as a (d, m) array: ξ_{g0+g, k}
    is normal number k·m + g of its group."""
    y = np.empty(batch)
    x = np.empty((batch, d))
    g = np.zeros((n_particles, d))
    _draw_batch(state[0], scales, np.empty(d), x, y)
    if noisy:
        replay_weight_noise(noise_states, g)
    return y, x, g


@njit(cache=True)
def replay_weight_noise(noise_states, g):
    """Fill g (N, d) with the Langevin noise of the weights of one step, in the kernels' order:
    chunk by chunk of NOISE_CHUNK particles (stream noise_states[c]), group by group of
    m ≤ NOISE_GROUP particles, m·d normals read as a (d, m) array (ξ_{g0+j, k} = normal k·m + j)."""
    n_particles, d = g.shape
    buffer = np.empty(d * NOISE_GROUP)
    for g0 in range(0, n_particles, NOISE_GROUP):
        m = min(n_particles - g0, NOISE_GROUP)
        xi = buffer[:d * m]
        fill_normals(noise_states[g0 // NOISE_CHUNK], xi)
        for k in range(d):
            for j in range(m):
                g[g0 + j, k] = xi[k * m + j]
