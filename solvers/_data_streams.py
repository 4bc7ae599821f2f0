"""Numba draws of one data point (x, y) from a :class:`meanfield.DataSpec`, on the data stream.

Each law consumes the xoshiro256** data stream in a fixed order, so a run is a pure function
of its seed whatever the blocks:
* mixture: one uniform picks the class k (first k with u < Σ_{l≤k} π_l), then d normals g,
  x = μ_k + s_k ∘ g, y = y_k;
* teacher: d normals x, y = (1/M) Σ_t a*_t σ*(⟨w*_t, x⟩ + b*_t) (+ noise_std · one more normal),
  all from the data normal stream (the vectorised generator of :mod:`solvers._normal_rng`, seeded
  by the data stream's words 2^192 steps on: :func:`solvers._sgd_streams.initial_data_normals`),
  so that a step at large d costs about d fast normals and M dot products;
* arrays: with replacement, one uniform u and row ⌊u n⌋; epoch-wise, the rows in the order of
  a permutation redrawn (Fisher–Yates, n − 1 uniforms) at the start of every epoch.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from meanfield.activations import act_value
from meanfield.data import DATA_ARRAYS, DATA_MIXTURE, DATA_TEACHER

from ._normal_rng import fill_normals
from ._sgd_streams import fill_normal, next_uniform


def initial_order(spec):
    """The epoch state of an arrays law (int64 (n + 1,): a permutation and the position in it);
    a one-entry dummy for the other laws."""
    if spec.kind == DATA_ARRAYS:
        order = np.zeros(spec.rows.shape[0] + 1, dtype=np.int64)
        order[:-1] = np.arange(spec.rows.shape[0])
        return order
    return np.zeros(1, dtype=np.int64)


@njit(cache=True)
def draw_point(state, normals, kind, rows, scales, values, extra, params, act_kind, act_params, order, scratch, x):
    """Fill x (d,) and return y, for the law (kind, rows, …) of :class:`meanfield.DataSpec`;
    ``state`` is the xoshiro256** data stream, ``normals`` the data normal stream (a noise state)."""
    d = x.shape[0]
    if kind == DATA_MIXTURE:
        u = next_uniform(state)
        k = 0
        while k < extra.shape[0] - 1 and u >= extra[k]:
            k += 1
        fill_normal(state, x)
        for l in range(d):
            x[l] = rows[k, l] + scales[k, l] * x[l]
        return values[k]
    if kind == DATA_TEACHER:
        fill_normals(normals, x)
        y = 0.0
        for t in range(rows.shape[0]):
            z = extra[t]
            for l in range(d):
                z += rows[t, l] * x[l]
            y += values[t] * act_value(act_kind, act_params, z)
        y /= rows.shape[0]
        if params[0] > 0.0:
            fill_normals(normals, scratch[:1])
            y += params[0] * scratch[0]
        return y
    if kind == DATA_ARRAYS:
        n = rows.shape[0]
        if params[0] == 0.0:
            row = min(int(next_uniform(state) * n), n - 1)
        else:
            pos = order[n]
            if pos == 0:  # a new epoch: Fisher–Yates on the current order
                for i in range(n - 1, 0, -1):
                    j = min(int(next_uniform(state) * (i + 1)), i)
                    order[i], order[j] = order[j], order[i]
            row = order[pos]
            order[n] = pos + 1 if pos + 1 < n else 0
        for l in range(d):
            x[l] = rows[row, l]
        return values[row]
    raise ValueError("data kind: unknown")
