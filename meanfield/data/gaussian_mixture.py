"""Gaussian mixtures with one label per class: y = y_k, x ~ N(μ_k, diag(σ_k²)) w.p. π_k."""
from __future__ import annotations

import numpy as np

from .._validation import as_finite_array, check_magnitude, check_positive
from ._law import DATA_MIXTURE, DataLaw, DataSpec, as_generator, check_count, check_dimension


class GaussianMixture(DataLaw):
    """K classes: with probability π_k, y = y_k and x ~ N(μ_k, diag(s_k²)).

    Instances: :meth:`isotropic` (the isotropic Gaussians example) and :meth:`anisotropic`
    (the "variable selection" law of Mei–Montanari–Nguyen 2018).

    Parameters
    ----------
    weights : array_like, shape (K,)
        Non-negative class probabilities π_k with a positive sum (normalised to sum 1).
    labels : array_like, shape (K,)
        The label y_k of each class.
    means : array_like, shape (K, d)
        Class means μ_k.
    stds : array_like, shape (K, d)
        Positive standard deviations s_k (diagonal covariances).
    name : str, optional
        The name shown by ``repr``.

    Attributes
    ----------
    r_sharp : float
        R# = E y² = Σ_k π_k y_k².
    d : int
        Input dimension.

    Raises
    ------
    ValueError
        If an array is not finite or not of the shapes above, a std is ≤ 0, a weight is
        negative or the weights sum to 0, or a mean, std or label exceeds 1e150 in magnitude
        (its square would overflow).

    Examples
    --------
    >>> law = GaussianMixture([1.0, 3.0], [2.0, 0.0], [[0.0], [1.0]], [[1.0], [1.0]])
    >>> law.weights.tolist(), law.r_sharp                   # E y² = ¼ · 2²
    ([0.25, 0.75], 1.0)
    >>> X, y = GaussianMixture.anisotropic(delta=0.5, d=10, s0=3).sample(4, rng=0)
    >>> X.shape, sorted(set(y.tolist()))
    ((4, 10), [-1.0, 1.0])
    """

    def __init__(self, weights, labels, means, stds, name="mixture"):
        means = as_finite_array(means, "means", ndim=2)
        stds = as_finite_array(stds, "stds", ndim=2)
        weights = as_finite_array(weights, "weights", ndim=1, nonnegative=True)
        labels = as_finite_array(labels, "labels", ndim=1)
        for name_, v in (("means", means), ("stds", stds), ("labels", labels)):
            check_magnitude(v, name_)  # y², ‖μ‖², s² are formed
        k, d = means.shape
        if k < 1 or d < 1:
            raise ValueError(f"means: expected shape (K, d) with K, d >= 1, got {means.shape}")
        if stds.shape != means.shape:
            raise ValueError(f"stds: expected shape {means.shape} (as means), got {stds.shape}")
        if np.any(stds <= 0):
            raise ValueError("stds: must be positive")
        for name_, v in (("weights", weights), ("labels", labels)):
            if v.shape != (k,):
                raise ValueError(f"{name_}: expected {k} entries (one per class), got {v.shape}")
        if weights.sum() <= 0:
            raise ValueError("weights: must have a positive sum")
        self.weights = weights / weights.sum()
        self.labels, self.means, self.stds = labels, means, stds
        self.d = d
        self.name = name
        self.r_sharp = float(self.weights @ labels**2)
        self.isotropic_delta = None  # set by isotropic(): the law of the radial example

    def __repr__(self):
        return f"GaussianMixture({self.name}, K={self.weights.size}, d={self.d})"

    @classmethod
    def isotropic(cls, delta, d):
        """y = ±1 w.p. ½, x ~ N(0, (1 ± Δ)² I_d): the isotropic Gaussians example.

        Parameters
        ----------
        delta : float
            Δ, in (0, 1).
        d : int
            Input dimension, ≥ 1.

        Returns
        -------
        GaussianMixture
            With ``isotropic_delta`` = Δ (what :class:`MeanFieldModel` recognises).

        Raises
        ------
        ValueError
            If ``delta`` is not in (0, 1) or ``d`` is not an integer ≥ 1.

        Examples
        --------
        >>> law = GaussianMixture.isotropic(0.5, 3)
        >>> law.stds[:, 0].tolist(), law.r_sharp
        ([1.5, 0.5], 1.0)
        """
        delta = check_positive(delta, "delta")
        if not delta < 1:
            raise ValueError(f"delta: must lie in (0, 1), got {delta}")
        d = check_dimension(d)
        stds = np.array([[1.0 + delta] * d, [1.0 - delta] * d])
        law = cls([0.5, 0.5], [1.0, -1.0], np.zeros((2, d)), stds, name=f"isotropic(delta={delta}, d={d})")
        law.isotropic_delta = delta
        return law

    @classmethod
    def anisotropic(cls, delta, d, s0):
        """y = ±1 w.p. ½, x ~ N(0, Σ±), Σ± = diag((1 ± Δ)² on coordinates 1..s0, 1 on the others).

        The "variable selection" law of Mei–Montanari–Nguyen (2018): only the first s0 coordinates
        carry the signal.

        Parameters
        ----------
        delta : float
            Δ, in (0, 1).
        d : int
            Input dimension, ≥ 1.
        s0 : int
            Number of signal coordinates, in [1, d].

        Returns
        -------
        GaussianMixture

        Raises
        ------
        ValueError
            If ``delta`` is not in (0, 1), ``d`` is not an integer ≥ 1 or ``s0`` not an integer
            in [1, d].

        Examples
        --------
        >>> GaussianMixture.anisotropic(0.5, d=4, s0=1).stds.tolist()
        [[1.5, 1.0, 1.0, 1.0], [0.5, 1.0, 1.0, 1.0]]
        """
        delta = check_positive(delta, "delta")
        if not delta < 1:
            raise ValueError(f"delta: must lie in (0, 1), got {delta}")
        d = check_dimension(d)
        if isinstance(s0, bool) or not isinstance(s0, (int, np.integer)) or not 1 <= s0 <= d:
            raise ValueError(f"s0: must be an integer in [1, d={d}], got {s0!r}")
        stds = np.ones((2, d))
        stds[0, :s0] = 1.0 + delta
        stds[1, :s0] = 1.0 - delta
        return cls([0.5, 0.5], [1.0, -1.0], np.zeros((2, d)), stds,
                   name=f"anisotropic(delta={delta}, d={d}, s0={int(s0)})")

    def sample(self, n, rng=None):
        """n iid pairs: the class k ~ π, then x = μ_k + s_k ∘ g, y = y_k.

        Parameters
        ----------
        n : int
            Number of pairs, ≥ 1.
        rng : int, Generator or None
            Seed or generator (``numpy.random.default_rng(rng)``).

        Returns
        -------
        X : ndarray, shape (n, d)
        y : ndarray, shape (n,)

        Raises
        ------
        ValueError
            If ``n`` is not a positive integer.
        """
        n = check_count(n)
        rng = as_generator(rng)
        k = rng.choice(self.weights.size, size=n, p=self.weights)
        X = self.means[k] + self.stds[k] * rng.standard_normal((n, self.d))
        return X, self.labels[k].copy()

    def kernel_spec(self):
        """The :class:`DataSpec` the SGD kernel draws from (means, std devs, labels, cumulative weights).

        Returns
        -------
        DataSpec
            Kind ``DATA_MIXTURE``; the last cumulative weight is exactly 1.
        """
        cumulative = np.cumsum(self.weights)
        cumulative[-1] = 1.0
        return DataSpec(DATA_MIXTURE, np.ascontiguousarray(self.means), np.ascontiguousarray(self.stds),
                        self.labels.copy(), cumulative, np.zeros(0))

    def gaussian_classes(self):
        """The Gaussian classes behind the exact functional.

        Returns
        -------
        weights : ndarray, shape (K,)
        labels : ndarray, shape (K,)
        means : ndarray, shape (K, d)
        stds : ndarray, shape (K, d)
        """
        return self.weights, self.labels, self.means, self.stds
