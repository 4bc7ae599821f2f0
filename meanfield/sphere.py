"""Moments of the cosine between two independent uniform directions in R^d.

If c is the first coordinate of a uniform unit vector in R^d, its density is
∝ (1 − c²)^{(d−3)/2} on [−1, 1] (two atoms ±1 at d = 1) and

    μ_k(d) = E[c^k]:  μ_odd = 0,  μ_0 = 1,  μ_k = μ_{k−2} (k − 1)/(d + k − 2).

As d → ∞, μ_k → δ_{k0} (``d=np.inf``).
"""
import math

import numpy as np

from ._validation import check_int


def sphere_moments(d, kmax):
    """μ_k(d) = E[c^k] for k = 0..kmax (``d`` ≥ 1 or ``np.inf``).

    c is the cosine between two independent uniform directions in R^d:
    μ_odd = 0, μ_0 = 1, μ_k = μ_{k−2} (k − 1)/(d + k − 2); at d = ∞, μ_k = δ_{k0}.

    Parameters
    ----------
    d : int or float
        Dimension, an integer ≥ 1, or ``np.inf`` for the limit d → ∞.
    kmax : int
        Highest moment order, ≥ 0.

    Returns
    -------
    ndarray, shape (kmax + 1,)
        μ_0, ..., μ_kmax.

    Raises
    ------
    ValueError
        If ``d`` is not an integer ≥ 1 nor ``np.inf``, or ``kmax`` is not an integer ≥ 0.

    Examples
    --------
    >>> import numpy as np
    >>> sphere_moments(3, 4)            # E c² = 1/d, E c⁴ = 3/(d(d+2))
    array([1.        , 0.        , 0.33333333, 0.        , 0.2       ])
    >>> sphere_moments(np.inf, 2)
    array([1., 0., 0.])
    """
    if not (isinstance(d, (int, float, np.integer, np.floating)) and d == np.inf):
        d = check_int(d, "d", minimum=1)
    kmax = check_int(kmax, "kmax", minimum=0)
    mu = np.zeros(kmax + 1)
    mu[0] = 1.0
    if d == np.inf:
        return mu
    for k in range(2, kmax + 1, 2):
        mu[k] = mu[k - 2] * (k - 1) / (d + k - 2)
    return mu


def angle_quadrature(d, n):
    """Nodes θ_j ∈ (0, π) and weights for E f(cos θ), θ the angle between two
    uniform directions in R^d (density ∝ sin^{d−2} θ), by n-point Gauss-Legendre.

    At d = 1 the angle is 0 or π with probability ½ each.

    Parameters
    ----------
    d : int
        Dimension, ≥ 1.
    n : int
        Number of Gauss-Legendre nodes on (0, π), ≥ 1 (ignored at d = 1).

    Returns
    -------
    theta : ndarray, shape (n,)
        Nodes in (0, π); at d = 1, ``[0, π]`` (shape (2,)).
    weights : ndarray, shape (n,)
        Non-negative weights summing to 1, so E f(cos θ) ≈ Σ_j w_j f(cos θ_j).

    Raises
    ------
    ValueError
        If ``d`` or ``n`` is not an integer ≥ 1.

    Examples
    --------
    >>> import numpy as np
    >>> theta, w = angle_quadrature(3, 8)
    >>> round(float(w @ np.cos(theta) ** 2), 6)      # E cos²θ = 1/d
    0.333333
    """
    d = check_int(d, "d", minimum=1)
    n = check_int(n, "n", minimum=1)
    if d == 1:
        return np.array([0.0, math.pi]), np.array([0.5, 0.5])
    x, w = np.polynomial.legendre.leggauss(n)
    theta = 0.5 * math.pi * (x + 1.0)
    w = w * np.sin(theta) ** (d - 2)
    return theta, w / w.sum()
