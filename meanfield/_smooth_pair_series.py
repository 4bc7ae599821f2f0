"""The exact pair sums of :class:`meanfield.MeanFieldModel`, with Mehler's series for smooth σ.

    rows[i] = Σ_j a2_j Σ_k π_k E σ₁(u_i)σ₂(v_j)   (and dm, dw: see :mod:`meanfield._kernels.pair_sums`)

For smooth σ₁, σ₂ other than the erf–erf pair (which has a closed form) the Hermite tables of
:mod:`meanfield._kernels.smooth_series` are computed once per neuron and class, and every pair whose truncation
bound holds costs a dot product over Hermite degrees instead of a 2-D quadrature (issue 31: 0.3
ms a pair for tanh with biases). The sum runs over row blocks (:mod:`meanfield._row_blocks`): a
progress bar on a terminal, Ctrl-C between blocks.
"""
from __future__ import annotations

import numpy as np

from ._kernels.activation import KIND_ERF, KIND_PIECEWISE_LINEAR, KIND_PIECEWISE_LINEAR_TAILS
from ._kernels.pair_sums import class_moments, pair_sums
from ._kernels.smooth_series import KMAX, TOL, class_tables, no_tables
from ._row_blocks import row_blocks

_PIECEWISE = (KIND_PIECEWISE_LINEAR, KIND_PIECEWISE_LINEAR_TAILS)


def _tables(activation, W, b, means, variances, series, kmax):
    if not series:
        return no_tables(means.shape[0], W.shape[0])
    m, s = class_moments(W, b, means, variances)
    return class_tables(activation, m, s, kmax)


def pair_rows(act1, act2, classes, W1, b1, a2, W2, b2, same, grad=False, series=None, kmax=KMAX, tol=TOL,
              progress=None):
    """rows (and with ``grad`` dm, dw) of the module docstring.

    Parameters
    ----------
    act1, act2 : Activation
        σ₁, σ₂.
    classes : tuple
        (weights π_k, labels, means μ_k (K, d), stds (K, d)) of the Gaussian classes.
    W1, b1 : ndarray
        The first set of neurons (N₁, d), (N₁,).
    a2, W2, b2 : ndarray
        The second set (N₂,), (N₂, d), (N₂,).
    same : bool
        The first N₁ neurons of the second set are the first set, with σ₁ = σ₂ (c_ii = 1 exactly).
    grad : bool
        Also dm (N₁,) and dw (N₁, d).
    series : bool or None
        Use Mehler's series where it converges (None: for smooth pairs other than erf–erf).
    kmax : int
        Highest Hermite degree K of the series.
    tol : float
        Largest truncation bound accepted per pair.
    progress : bool or None
        A tqdm bar over the rows (None: on a terminal for large sums).

    Returns
    -------
    ndarray, shape (N₁,), or (rows, dm, dw) with ``grad``
    """
    weights, _, means, stds = classes
    variances = stds**2
    (k1, p1), (k2, p2) = act1.kernel_spec(), act2.kernel_spec()
    if series is None:
        series = not (k1 in _PIECEWISE or k2 in _PIECEWISE or k1 == k2 == KIND_ERF)
    tab1 = _tables(act1, W1, b1, means, variances, series, kmax)
    one_set = act2 is act1 and W2 is W1 and b2 is b1
    tab2 = tab1 if one_set else _tables(act2, W2, b2, means, variances, series, kmax)
    n, d = W1.shape
    rows, dm, dw = np.empty(n), np.empty(n), np.empty((n, d) if grad else (n, 0))
    for lo, hi in row_blocks(n, W2.shape[0] * weights.size, progress):
        pair_sums(k1, p1, k2, p2, weights, means, variances, W1, b1, a2, W2, b2, bool(same), bool(grad), rows, dm, dw,
                  lo, hi, tab1, tab2, float(tol))
    return (rows, dm, dw) if grad else rows
