"""Vectorised N(0, 1) generator for Numba kernels: interleaved xoshiro256++ lanes + Box–Muller.

A *noise state* is a 1-D uint64 array of NOISE_STATE_WORDS words (L = NOISE_LANES):

    words [0, 4L)      lane states, word-major: word w of lane l at index w·L + l
    words [4L, 6L)     the last generated block of 2L normals (float64 bit patterns)
    word  6L           position of the next unread normal of that block (2L: block used up)

Lane l starts at the seed words jumped l·2^128 steps (xoshiro256 ``jump``), so the
L lanes are non-overlapping pieces of one xoshiro256 sequence.  One *block* advances
every lane twice, (a_l, b_l) = two outputs of lane l, and gives 2L normals:

    u_l = (⌊a_l / 2^11⌋ + ½) 2^-53 ∈ (0, 1),   ρ_l = √(−2 log u_l)
    θ_l = q_l π/2 + φ_l,   q_l = ⌊b_l / 2^62⌋ ∈ {0..3},   φ_l = (π/2)(v_l − ½),
    v_l = (bits 9..61 of b_l) 2^-53 ∈ [0, 1)
    block[l] = ρ_l cos θ_l,   block[L + l] = ρ_l sin θ_l                    (Box–Muller)

log, sin and cos are fdlibm's kernels (argument reduction by the exponent bits, resp.
the quadrant q; polynomials on |f| ≤ √2 − 1, |φ| ≤ π/4, errors ≲ 1 ulp), written without
calls or branches so that LLVM vectorises the loop over lanes.  ρ ≤ √(108 log 2) = 8.65:
the law is N(0, 1) up to the 53-bit uniforms (tail mass beyond 8.65 is 1e-17).

:func:`fill_normals` hands out the normals block after block, in order, keeping the
unused rest of a block in the state: the values depend only on the seed words and on
how many normals were drawn before, never on how the draws are split into calls.
Independent streams (one per chunk of particles, for threads) come from
:func:`init_noise_streams`, stream c starting c·2^192 steps (``long_jump``) further.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

#: Interleaved xoshiro256++ lanes (a block is 2·NOISE_LANES normals).
NOISE_LANES = 16
_L = NOISE_LANES
_CACHE = 4 * _L
_POS = 6 * _L
#: Length of a noise state (uint64 words); see the module docstring for the layout.
NOISE_STATE_WORDS = 6 * _L + 1

# xoshiro256 jump polynomials: 2^128 and 2^192 steps (Blackman & Vigna).
_JUMP = np.array([0x180ec6d33cfd0aba, 0xd5a61266f0c9392c, 0xa9582618e03fc9aa, 0x39abdc4529b1661c],
                 dtype=np.uint64)
_LONG_JUMP = np.array([0x76e15d3efefdcbbf, 0xc5004e441c522fb3, 0x77710069854ee241, 0x39109bb02acbe635],
                      dtype=np.uint64)

_U53 = 1.0 / 9007199254740992.0  # 2^-53
_MASK53 = np.uint64((1 << 53) - 1)
_MANTISSA = np.uint64((1 << 52) - 1)
_ONE_BITS = np.uint64(0x3FF0000000000000)
_SQRT2 = 1.4142135623730951
_HALF_PI = 1.5707963267948966
# fdlibm e_log.c
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_LG1, _LG2, _LG3 = 6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01
_LG4, _LG5, _LG6 = 2.222219843214978396e-01, 1.818357216161805012e-01, 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01
# fdlibm k_sin.c, k_cos.c
_S1, _S2, _S3 = -1.66666666666666324348e-01, 8.33333333332248946124e-03, -1.98412698298579493134e-04
_S4, _S5, _S6 = 2.75573137070700676789e-06, -2.50507602534068634195e-08, 1.58969099521155010221e-10
_C1, _C2, _C3 = 4.16666666666666019037e-02, -1.38888888888741095749e-03, 2.48015872894767294178e-05
_C4, _C5, _C6 = -2.75573143513906633035e-07, 2.08757232129817482790e-09, -1.13596475577881948265e-11


@intrinsic
def _as_bits(typingctx, x):
    """float64 → its uint64 bit pattern (a free register reinterpretation)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return types.uint64(types.float64), codegen


@intrinsic
def _from_bits(typingctx, x):
    """uint64 bit pattern → float64."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.uint64), codegen


@intrinsic
def _sqrt(typingctx, x):
    """IEEE √x as the llvm.sqrt intrinsic (numba's math.sqrt calls libm, which blocks vectorisation)."""
    def codegen(context, builder, signature, args):
        fn = builder.module.declare_intrinsic("llvm.sqrt", [ir.DoubleType()])
        return builder.call(fn, args)
    return types.float64(types.float64), codegen


@njit(cache=True, inline="always", error_model="numpy")
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@njit(cache=True, inline="always", error_model="numpy")
def _advance(s0, s1, s2, s3):
    """The xoshiro256 linear step (shared by +, ++, **)."""
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    return s0, s1, s2, s3


@njit(cache=True, inline="always", error_model="numpy")
def log_fast(x):
    """log x for normal positive finite x (fdlibm's algorithm, no special cases, branch-free)."""
    bits = _as_bits(x)
    k = np.int64(bits >> np.uint64(52)) - 1023
    m = _from_bits((bits & _MANTISSA) | _ONE_BITS)  # x = m 2^k, m ∈ [1, 2)
    big = m > _SQRT2
    m = 0.5 * m if big else m
    k = k + 1 if big else k
    f = m - 1.0  # |f| ≤ √2 − 1
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (_LG2 + w * (_LG4 + w * _LG6))
    t2 = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7)))
    hfsq = 0.5 * f * f
    dk = float(k)
    return dk * _LN2_HI - ((hfsq - (s * (hfsq + t2 + t1) + dk * _LN2_LO)) - f)


@njit(cache=True, inline="always", error_model="numpy")
def sin_cos_small(x):
    """(sin x, cos x) for |x| ≤ π/4 (fdlibm's kernel polynomials)."""
    z = x * x
    r = _S2 + z * (_S3 + z * (_S4 + z * (_S5 + z * _S6)))
    sin = x + (z * x) * (_S1 + z * r)
    rc = z * (_C1 + z * (_C2 + z * (_C3 + z * (_C4 + z * (_C5 + z * _C6)))))
    hz = 0.5 * z
    w = 1.0 - hz
    cos = w + (((1.0 - w) - hz) + z * rc)
    return sin, cos


@njit(cache=True, inline="always", error_model="numpy")
def _lane_pair(state, l):
    """Advance lane l twice; its two normals (ρ cos θ, ρ sin θ)."""
    s0, s1, s2, s3 = state[l], state[_L + l], state[2 * _L + l], state[3 * _L + l]
    a = _rotl(s0 + s3, 23) + s0
    s0, s1, s2, s3 = _advance(s0, s1, s2, s3)
    b = _rotl(s0 + s3, 23) + s0
    s0, s1, s2, s3 = _advance(s0, s1, s2, s3)
    state[l], state[_L + l], state[2 * _L + l], state[3 * _L + l] = s0, s1, s2, s3
    u = (float(np.int64(a >> np.uint64(11))) + 0.5) * _U53
    rho = _sqrt(-2.0 * log_fast(u))
    q = b >> np.uint64(62)
    v = float(np.int64((b >> np.uint64(9)) & _MASK53)) * _U53
    sin, cos = sin_cos_small(_HALF_PI * (v - 0.5))
    odd = (q & np.uint64(1)) != np.uint64(0)
    c = sin if odd else cos  # rotate (cos φ, sin φ) by q quarter turns
    s = cos if odd else sin
    c = -c if (q == np.uint64(1)) | (q == np.uint64(2)) else c
    s = -s if q >= np.uint64(2) else s
    return rho * c, rho * s


@njit(cache=True, error_model="numpy")
def _blocks_into(state, out, j, n_blocks):
    """The next ``n_blocks`` blocks of 2L normals into out[j : j + 2L n_blocks].

    Vectorised over the lanes: the lane count is read from the state's length (not
    the constant L, which LLVM would unroll instead of vectorise), and each block
    is written through a slice (a non-negative index: no wrap-around select)."""
    lanes = (state.shape[0] - 1) // 6
    for _ in range(n_blocks):
        dst = out[j:j + 2 * lanes]
        for l in range(lanes):
            c, s = _lane_pair(state, l)
            dst[l] = c
            dst[lanes + l] = s
        j += 2 * lanes


@njit(cache=True, error_model="numpy")
def _block_into_state(state):
    """The next block of 2L normals into the state's own buffer (words 4L..6L)."""
    for l in range(_L):
        c, s = _lane_pair(state, l)
        state[_CACHE + l] = _as_bits(c)
        state[_CACHE + _L + l] = _as_bits(s)


@njit(cache=True, error_model="numpy")
def fill_normals(noise_state, out):
    """Fill the C-contiguous float64 array ``out`` (any shape, in memory order) with iid
    N(0, 1), advancing ``noise_state`` (see the module docstring) in place.

    Consumes the stream in order: filling a then b equals filling a + b at once."""
    flat = out.reshape(out.size)
    n = flat.size
    pos = np.int64(noise_state[_POS])
    j = 0
    while pos < 2 * _L and j < n:  # the rest of the current block
        flat[j] = _from_bits(noise_state[_CACHE + pos])
        pos += 1
        j += 1
    n_blocks = (n - j) // (2 * _L)  # whole blocks straight into out
    _blocks_into(noise_state, flat, j, n_blocks)
    j += 2 * _L * n_blocks
    if j < n:  # a last partial block: keep what is left over
        _block_into_state(noise_state)
        pos = 0
        while j < n:
            flat[j] = _from_bits(noise_state[_CACHE + pos])
            pos += 1
            j += 1
    noise_state[_POS] = np.uint64(pos)


@njit(cache=True, error_model="numpy")
def next_raw(noise_state):
    """Advance every lane once; returns lane l's xoshiro256++ output in element l
    (for tests of the bit streams; :func:`fill_normals` uses two per lane and block)."""
    out = np.empty(_L, np.uint64)
    for l in range(_L):
        s0, s1, s2, s3 = noise_state[l], noise_state[_L + l], noise_state[2 * _L + l], noise_state[3 * _L + l]
        out[l] = _rotl(s0 + s3, 23) + s0
        s0, s1, s2, s3 = _advance(s0, s1, s2, s3)
        noise_state[l], noise_state[_L + l], noise_state[2 * _L + l], noise_state[3 * _L + l] = s0, s1, s2, s3
    return out


@njit(cache=True, error_model="numpy")
def _jump(words, poly):
    """words (4 uint64) ← the xoshiro256 state ``poly`` steps ahead (jump polynomial)."""
    s0, s1, s2, s3 = words[0], words[1], words[2], words[3]
    j0 = j1 = j2 = j3 = np.uint64(0)
    for w in range(4):
        for b in range(64):
            if (poly[w] >> np.uint64(b)) & np.uint64(1):
                j0 ^= s0
                j1 ^= s1
                j2 ^= s2
                j3 ^= s3
            s0, s1, s2, s3 = _advance(s0, s1, s2, s3)
    words[0], words[1], words[2], words[3] = j0, j1, j2, j3


@njit(cache=True, error_model="numpy")
def _init_into(words, noise_state):
    lane = words.copy()
    for l in range(_L):
        for w in range(4):
            noise_state[w * _L + l] = lane[w]
        _jump(lane, _JUMP)
    for k in range(2 * _L):
        noise_state[_CACHE + k] = np.uint64(0)
    noise_state[_POS] = np.uint64(2 * _L)


@njit(cache=True, error_model="numpy")
def init_noise_streams(seed_words, n_streams):
    """``n_streams`` independent noise states, shape (n_streams, NOISE_STATE_WORDS).

    ``seed_words``: 4 uint64, not all zero (e.g. from numpy's SeedSequence). Stream c,
    lane l starts (c·2^64 + l)·2^128 steps along the xoshiro256 sequence from the seed
    words: no two lanes or streams overlap before 2^128 draws."""
    if seed_words.shape[0] != 4:
        raise ValueError("seed_words: need 4 uint64 words")
    if seed_words[0] == 0 and seed_words[1] == 0 and seed_words[2] == 0 and seed_words[3] == 0:
        raise ValueError("seed_words: must not be all zero (the fixed point of xoshiro256)")
    if n_streams < 1:
        raise ValueError("n_streams: must be >= 1")
    states = np.empty((n_streams, NOISE_STATE_WORDS), np.uint64)
    base = seed_words.copy()
    for c in range(n_streams):
        _init_into(base, states[c])
        _jump(base, _LONG_JUMP)
    return states


@njit(cache=True, error_model="numpy")
def init_noise_state(seed_words):
    """One noise state (1-D uint64, NOISE_STATE_WORDS words) from 4 seed words (not all
    zero); row 0 of :func:`init_noise_streams`."""
    return init_noise_streams(seed_words, 1)[0].copy()
