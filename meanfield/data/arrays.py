"""A user's finite data set, sampled by the SGD kernel's data stream."""
from __future__ import annotations

import numpy as np

from .._validation import as_finite_array, check_magnitude
from ._law import DATA_ARRAYS, DataLaw, DataSpec, as_generator, check_count


def _pair(X, y, name_x, name_y):
    X = check_magnitude(as_finite_array(X, name_x, ndim=2), name_x)  # ⟨w, x⟩² and y² are formed
    y = check_magnitude(as_finite_array(y, name_y, ndim=1), name_y)
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"{name_x}: expected shape (n, d) with n, d >= 1, got {X.shape}")
    if y.shape != (X.shape[0],):
        raise ValueError(f"{name_y}: expected shape ({X.shape[0]},) (one label per row of {name_x}), got {y.shape}")
    return np.ascontiguousarray(X), y.copy()


class ArrayData(DataLaw):
    """The empirical law of a finite data set (X, y).

    SGD draws rows uniformly with replacement from its data stream (bitwise reproducible), or
    with ``epochs=True`` in epochs, each a uniformly random permutation of the rows. The risk the
    solvers record is the **empirical** risk (1/n') Σ (y' − f(x'))² on the held-out arrays
    ``X_test``, ``y_test`` (on the training arrays if none are given); the exact functional of
    :class:`MeanFieldModel` (R_N, ∇Ψ) is that of the training rows (full-batch gradient flow).

    Parameters
    ----------
    X : array_like, shape (n, d)
        Training inputs, n, d ≥ 1.
    y : array_like, shape (n,)
        Training labels.
    X_test, y_test : array_like or None
        Held-out rows (shapes (n', d), (n',)) for the recorded risk (both or neither).
    epochs : bool
        Draw without replacement, epoch by epoch.

    Attributes
    ----------
    r_sharp : float
        Mean of y² over the training rows.
    held_out : bool
        Whether held-out arrays were given.

    Raises
    ------
    ValueError
        On non-finite values or values beyond 1e150 in magnitude (their squares would overflow),
        mismatched shapes, or only one of ``X_test``, ``y_test``.

    Examples
    --------
    >>> import numpy as np
    >>> data = ArrayData(np.eye(3), [1.0, -1.0, 1.0])
    >>> data.d, data.r_sharp, data.held_out
    (3, 1.0, False)
    """

    def __init__(self, X, y, X_test=None, y_test=None, epochs=False):
        self.X, self.y = _pair(X, y, "X", "y")
        if (X_test is None) != (y_test is None):
            raise ValueError("X_test, y_test: give both or neither")
        if X_test is not None:
            self.X_test, self.y_test = _pair(X_test, y_test, "X_test", "y_test")
            if self.X_test.shape[1] != self.X.shape[1]:
                raise ValueError(f"X_test: expected {self.X.shape[1]} columns (as X), got {self.X_test.shape[1]}")
            self.held_out = True
        else:
            self.X_test, self.y_test, self.held_out = self.X, self.y, False
        self.epochs = bool(epochs)
        self.d = self.X.shape[1]
        self.r_sharp = float(np.mean(self.y**2))

    def __repr__(self):
        return f"ArrayData(n={self.X.shape[0]}, d={self.d}, held_out={self.held_out}, epochs={self.epochs})"

    def sample(self, n, rng=None):
        """n rows drawn uniformly with replacement.

        Parameters
        ----------
        n : int
            Number of rows, ≥ 1.
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
        idx = as_generator(rng).integers(0, self.X.shape[0], size=n)
        return self.X[idx], self.y[idx]

    def kernel_spec(self):
        """The :class:`DataSpec` the SGD kernel draws from (the rows, the labels, the epoch flag).

        Returns
        -------
        DataSpec
        """
        return DataSpec(DATA_ARRAYS, self.X, np.zeros((0, self.d)), self.y, np.zeros(0),
                        np.array([1.0 if self.epochs else 0.0]))
