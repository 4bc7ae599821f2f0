"""Tests of the vectorised Gaussian generator (solvers._normal_rng)."""
import math

import numpy as np
import pytest
from numba import njit
from scipy.stats import kstest, norm

from solvers._normal_rng import (_JUMP, _LONG_JUMP, NOISE_LANES, NOISE_STATE_WORDS, _advance, fill_normals,
                                 init_noise_state, init_noise_streams, log_fast, next_raw, sin_cos_small)

L = NOISE_LANES


def seed_words(seed):
    return np.random.SeedSequence(seed).generate_state(4, np.uint64)


def normals(seed, n):
    out = np.empty(n)
    fill_normals(init_noise_state(seed_words(seed)), out)
    return out


@pytest.fixture(scope="module")
def ten_million():
    return normals(2024, 10_000_000)


# ------------------------------------------------------------- the transform
@njit(cache=True)
def _log_many(x):
    out = np.empty_like(x)
    for i in range(x.size):
        out[i] = log_fast(x[i])
    return out


@njit(cache=True)
def _sin_cos_many(x):
    s, c = np.empty_like(x), np.empty_like(x)
    for i in range(x.size):
        s[i], c[i] = sin_cos_small(x[i])
    return s, c


def test_log_sin_cos_within_one_ulp_of_libm():
    """The branch-free fdlibm kernels agree with numpy's log/sin/cos to ≤ 1 ulp on the
    arguments the generator uses: u ∈ [2^-54, 1), |φ| ≤ π/4."""
    rng = np.random.default_rng(0)
    u = rng.random(200_000) * 2.0 ** rng.integers(-54, 1, 200_000)
    u = u[u > 0]
    ref = np.log(u)
    assert np.max(np.abs(_log_many(u) - ref) / np.spacing(np.abs(ref))) <= 1.0
    phi = (rng.random(200_000) - 0.5) * (math.pi / 2)
    s, c = _sin_cos_many(phi)
    assert np.max(np.abs(s - np.sin(phi)) / np.spacing(np.abs(np.sin(phi)))) <= 1.0
    assert np.max(np.abs(c - np.cos(phi)) / np.spacing(np.cos(phi))) <= 1.0


# ---------------------------------------------------------------- the law
def test_moments(ten_million):
    """Mean 0, variance 1, E g⁴ = 3 within 4 standard errors (sd of g⁴ is √96)."""
    g = ten_million
    n = g.size
    assert abs(g.mean()) < 4 / math.sqrt(n)
    assert abs(np.mean(g**2) - 1) < 4 * math.sqrt(2 / n)
    assert abs(np.mean(g**4) - 3) < 4 * math.sqrt(96 / n)
    assert abs(np.mean(g**3)) < 4 * math.sqrt(15 / n)


def test_kolmogorov_smirnov(ten_million):
    """KS test against N(0, 1) on 1e7 draws (resolution ≈ 1/√n = 3e-4 in the CDF)."""
    result = kstest(ten_million, "norm")
    assert result.pvalue > 1e-3, result


def test_tails():
    """P(|g| > 4) and P(|g| > 5) on 1e8 draws within 4 binomial standard errors; and the
    largest |g| is below the generator's bound √(−2 log 2^-54) = 8.65."""
    state = init_noise_state(seed_words(7))
    chunk = np.empty(10_000_000)
    n, beyond4, beyond5, largest = 0, 0, 0, 0.0
    for _ in range(10):
        fill_normals(state, chunk)
        a = np.abs(chunk)
        beyond4 += int(np.count_nonzero(a > 4))
        beyond5 += int(np.count_nonzero(a > 5))
        largest = max(largest, a.max())
        n += chunk.size
    for count, x in ((beyond4, 4.0), (beyond5, 5.0)):
        p = 2 * norm.sf(x)
        assert abs(count - n * p) < 4 * math.sqrt(n * p * (1 - p)), (x, count, n * p)
    assert largest < math.sqrt(-2 * math.log(2.0**-54))


# ------------------------------------------------------------- independence
def test_no_correlation_between_lanes_and_blocks(ten_million):
    """The 2L normals of a block come from L lanes (cos and sin halves): across 3e5 blocks
    every pair of block positions, and each position with the next block's, has
    |correlation| < 5/√blocks."""
    blocks = ten_million[: (ten_million.size // (2 * L)) * 2 * L].reshape(-1, 2 * L)
    m = blocks.shape[0]
    within = np.corrcoef(blocks, rowvar=False)
    np.fill_diagonal(within, 0.0)
    across = np.corrcoef(blocks[:-1], blocks[1:], rowvar=False)[: 2 * L, 2 * L:]
    bound = 5 / math.sqrt(m)
    assert np.max(np.abs(within)) < bound
    assert np.max(np.abs(across)) < bound
    # squares too (Box–Muller pairs share a radius: cos², sin² must still be uncorrelated)
    sq = np.corrcoef(blocks**2, rowvar=False)
    np.fill_diagonal(sq, 0.0)
    assert np.max(np.abs(sq)) < bound


def test_streams_are_uncorrelated_and_distinct():
    """Streams from init_noise_streams (2^192 steps apart): pairwise correlations of their
    normals < 5/√n, and their raw lane outputs never coincide."""
    states = init_noise_streams(seed_words(3), 4)
    n = 1_000_000
    draws = np.empty((4, n))
    for c in range(4):
        fill_normals(states[c], draws[c])
    corr = np.corrcoef(draws)
    np.fill_diagonal(corr, 0.0)
    assert np.max(np.abs(corr)) < 5 / math.sqrt(n)
    raw = np.concatenate([next_raw(states[c]) for c in range(4)])
    assert np.unique(raw).size == raw.size


def test_seeds_give_different_streams():
    a, b = normals(1, 1000), normals(2, 1000)
    assert not np.allclose(a, b) and abs(np.corrcoef(a, b)[0, 1]) < 0.2


# ------------------------------------------------------------- reproducibility
def test_splits_do_not_change_bits():
    """Filling in pieces of random sizes (partial blocks included), or a 2-D buffer,
    gives the same numbers and the same final state as one call."""
    n = 50_000
    one = init_noise_state(seed_words(11))
    whole = np.empty(n)
    fill_normals(one, whole)
    pieces = init_noise_state(seed_words(11))
    rng = np.random.default_rng(0)
    parts, done = [], 0
    while done < n:
        k = min(int(rng.integers(0, 3 * 2 * L)), n - done)
        part = np.empty(k)
        fill_normals(pieces, part)
        parts.append(part)
        done += k
    assert np.array_equal(np.concatenate(parts), whole)
    assert np.array_equal(pieces, one)
    grid = np.empty((250, 200))
    fill_normals(init_noise_state(seed_words(11)), grid)
    assert np.array_equal(grid.ravel(), whole)
    assert np.array_equal(normals(11, n), whole)  # same seed, same bits


def test_state_layout_and_bad_seeds():
    state = init_noise_state(seed_words(5))
    assert state.dtype == np.uint64 and state.shape == (NOISE_STATE_WORDS,)
    assert state[6 * L] == 2 * L  # no buffered normals yet
    assert np.array_equal(state[0:4 * L:L], seed_words(5))  # lane 0 = the seed words
    with pytest.raises(ValueError, match="seed_words"):
        init_noise_state(np.zeros(4, np.uint64))
    with pytest.raises(ValueError, match="seed_words"):
        init_noise_state(np.ones(3, np.uint64))


# ------------------------------------------------------------- jump polynomials
def _berlekamp_massey(bits):
    """Minimal polynomial over GF(2) (bit k = coefficient of x^k, Python int) of the sequence."""
    c, b = 1, 1
    length, shift = 0, 1
    for n, bit in enumerate(bits):
        d = bit
        for i in range(1, length + 1):
            d ^= ((c >> i) & 1) & bits[n - i]
        if d == 0:
            shift += 1
        elif 2 * length <= n:
            c, b, length, shift = c ^ (b << shift), c, n + 1 - length, 1
        else:
            c ^= b << shift
            shift += 1
    # c is the connection polynomial C(x) = 1 + c_1 x + …; the characteristic one is its reversal
    return int(format(c, f"0{length + 1}b")[::-1], 2), length


def _mulmod(a, b, p, degree):
    result = 0
    while b:
        if b & 1:
            result ^= a
        b >>= 1
        a <<= 1
        if (a >> degree) & 1:
            a ^= p
    return result


@njit(cache=True)
def _low_bits(words, count):
    s0, s1, s2, s3 = words[0], words[1], words[2], words[3]
    out = np.empty(count, np.int64)
    for k in range(count):
        out[k] = np.int64(s0 & np.uint64(1))
        s0, s1, s2, s3 = _advance(s0, s1, s2, s3)
    return out


@pytest.mark.parametrize("poly, power", [(_JUMP, 128), (_LONG_JUMP, 192)])
def test_jump_polynomials(poly, power):
    """The jump constants are x^(2^power) mod P(x), P the characteristic polynomial of the
    xoshiro256 linear map (found by Berlekamp–Massey on 512 output bits): jumping is exactly
    2^power steps, so lanes and streams are non-overlapping pieces of one sequence."""
    bits = [int(b) for b in _low_bits(seed_words(1), 512)]
    p, degree = _berlekamp_massey(bits)
    assert degree == 256
    x_power = 2  # x
    for _ in range(power):
        x_power = _mulmod(x_power, x_power, p, degree)
    expected = sum(int(w) << (64 * i) for i, w in enumerate(poly))
    assert x_power == expected
