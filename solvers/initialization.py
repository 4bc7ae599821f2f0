"""Initial particle clouds."""
from __future__ import annotations

import math

import numpy as np

from meanfield._validation import check_magnitude


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}: must be an integer >= 1, got {value!r}")
    return int(value)


def init_gaussian(N, d, kappa, seed=None):
    """N iid rows w_i ~ N(0, κ²/d · I_d), shape (N, d), float64 (numpy default_rng(seed)).

    Then E‖w_i‖² = κ² and ‖w_i‖ ~ (κ/√d) χ_d.

    Parameters
    ----------
    N : int
        Number of particles, ≥ 1.
    d : int
        Dimension, ≥ 1.
    kappa : float
        κ ∈ (0, 1e150] (beyond, ‖w‖² overflows).
    seed : int, numpy.random.Generator or None
        Passed to ``np.random.default_rng``.

    Returns
    -------
    ndarray, shape (N, d)
        The rows w_i.

    Raises
    ------
    ValueError
        If ``N`` or ``d`` is not an integer ≥ 1, or ``kappa`` is not a positive number ≤ 1e150.

    Examples
    --------
    >>> W = init_gaussian(2000, 10, 0.8, seed=0)
    >>> W.shape, bool(abs((W ** 2).sum(axis=1).mean() - 0.8 ** 2) < 0.03)     # E‖w‖² = κ²
    ((2000, 10), True)
    """
    N = _positive_int(N, "N")
    d = _positive_int(d, "d")
    try:
        kappa = float(kappa)
    except (TypeError, ValueError):
        raise ValueError(f"kappa: must be a number, got {kappa!r}") from None
    if not (math.isfinite(kappa) and kappa > 0):
        raise ValueError(f"kappa: must be positive and finite, got {kappa!r}")
    check_magnitude(kappa, "kappa")  # ‖w‖² is formed (and κ·G overflows near the float maximum)
    rng = np.random.default_rng(seed)
    return rng.standard_normal((N, d)) * (kappa / math.sqrt(d))
