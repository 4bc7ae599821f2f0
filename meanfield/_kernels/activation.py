"""Activation kinds of the Numba kernels and the scalar σ, σ', σ'' they dispatch to.

Every activation exposes ``kernel_spec()`` = (kind, params), the plain arrays Numba kernels
use to evaluate σ (:func:`act_value`), σ'(t+) (:func:`act_deriv`, the right limit at kinks)
and σ'' (:func:`act_deriv2`, smooth kinds). Dispatch on an unknown kind raises.
"""
from __future__ import annotations

import math

from numba import njit

#: Activation kinds of the Numba kernels; ``params`` layouts:
#: bounded piecewise linear [y₀, t₁, c₁, …, t_Q, c_Q] (σ = y₀ + Σ_q c_q (t − t_q)₊, Σ_q c_q = 0);
#: tanh and erf [amplitude, slope, center, shift];
#: piecewise linear with linear tails [y₀, l, t₁, c₁, …] (σ = y₀ + l t + Σ_q c_q (t − t_q)₊).
KIND_PIECEWISE_LINEAR = 0
KIND_TANH = 1
KIND_ERF = 2
KIND_PIECEWISE_LINEAR_TAILS = 3
_SQRT_HALF = math.sqrt(0.5)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


@njit(cache=True, inline="always")
def _pl_start(kind):
    """Index of the first knot in the params of a piecewise-linear kind (after y₀, or y₀ and l)."""
    return 1 if kind == KIND_PIECEWISE_LINEAR else 2


@njit(cache=True, inline="always")
def _pl_value(kind, p, t):
    """Piecewise-linear σ(t) segment by segment: σ(t_q) + slope_q (t − t_q) from the last knot
    t_q < t (σ(t_q) and slope_q accumulated knot by knot), y₀ + l t at or below t_1, and the
    constant σ(t_Q) beyond t_Q for bounded σ: no two terms of size |t| cancel (the sum
    y₀ + Σ_q c_q (t − t_q)₊ lost everything at |t| ≳ 1e15)."""
    start = _pl_start(kind)
    slope = p[1] if start == 2 else 0.0
    if t <= p[start]:
        return p[0] + slope * t
    value = p[0] + slope * p[start]  # σ(t_1)
    for i in range(start, p.shape[0] - 2, 2):
        slope += p[i + 1]
        if t <= p[i + 2]:
            return value + slope * (t - p[i])
        value += slope * (p[i + 2] - p[i])  # σ at the next knot
    if kind == KIND_PIECEWISE_LINEAR:
        return value  # Σ_q c_q = 0: constant beyond the last knot
    return value + (slope + p[p.shape[0] - 1]) * (t - p[p.shape[0] - 2])


@njit(cache=True)
def act_value(kind, p, t):
    """σ(t) for the activation encoded by (kind, p); an unknown kind raises."""
    if kind == KIND_PIECEWISE_LINEAR or kind == KIND_PIECEWISE_LINEAR_TAILS:
        return _pl_value(kind, p, t)
    if kind == KIND_TANH:
        return p[3] + p[0] * math.tanh(p[1] * (t - p[2]))
    if kind == KIND_ERF:
        return p[3] + p[0] * math.erf(_SQRT_HALF * p[1] * (t - p[2]))
    raise ValueError("activation kind: unknown")


@njit(cache=True)
def act_value_deriv(kind, p, t):
    """(σ(t), σ'(t+)) as :func:`act_value`, :func:`act_deriv` (one tanh for tanh)."""
    if kind == KIND_TANH:
        th = math.tanh(p[1] * (t - p[2]))
        return p[3] + p[0] * th, p[0] * p[1] * (1.0 - th * th)
    return act_value(kind, p, t), act_deriv(kind, p, t)


@njit(cache=True)
def act_strip(kind, p):
    """Half-width of the strip |Im t| < width where the smooth σ is analytic (tanh(slope
    (t − center)) has its poles at Im t = ±π/(2 slope)); inf for piecewise-linear σ.
    erf is entire but grows like exp(slope² (Im t)²/2): 2/slope bounds that growth by e²."""
    if kind == KIND_PIECEWISE_LINEAR or kind == KIND_PIECEWISE_LINEAR_TAILS:
        return math.inf
    if kind == KIND_TANH:
        return 0.5 * math.pi / p[1]
    if kind == KIND_ERF:
        return 2.0 / p[1]
    raise ValueError("activation kind: unknown")


@njit(cache=True)
def act_deriv(kind, p, t):
    """σ'(t+) (right limit at kinks) for the activation encoded by (kind, p)."""
    if kind == KIND_PIECEWISE_LINEAR or kind == KIND_PIECEWISE_LINEAR_TAILS:
        start = _pl_start(kind)
        out = p[1] if start == 2 else 0.0
        for i in range(start, p.shape[0], 2):
            if t >= p[i]:
                out += p[i + 1]
        return out
    if kind == KIND_TANH:
        th = math.tanh(p[1] * (t - p[2]))
        return p[0] * p[1] * (1.0 - th * th)
    if kind == KIND_ERF:
        x = p[1] * (t - p[2])
        return p[0] * p[1] * _SQRT_2_OVER_PI * math.exp(-0.5 * x * x)
    raise ValueError("activation kind: unknown")


@njit(cache=True)
def act_deriv2(kind, p, t):
    """σ''(t) of a smooth activation (tanh, erf); piecewise-linear kinds raise (σ'' is a sum of deltas)."""
    if kind == KIND_TANH:
        th = math.tanh(p[1] * (t - p[2]))
        return -2.0 * p[0] * p[1] * p[1] * th * (1.0 - th * th)
    if kind == KIND_ERF:
        x = p[1] * (t - p[2])
        return -p[0] * p[1] * p[1] * _SQRT_2_OVER_PI * x * math.exp(-0.5 * x * x)
    raise ValueError("act_deriv2: needs a smooth activation kind")
