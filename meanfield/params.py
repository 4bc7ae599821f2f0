"""Parameters θ_i = (a_i, w_i, b_i) of the N neurons of a two-layer network, as a struct of arrays."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validation import as_finite_array


@dataclass(eq=False)
class Params:
    """θ_i = (a_i, w_i, b_i), i = 1..N, of σ*(x; θ_i) = a_i σ(⟨w_i, x⟩ + b_i).

    Construction checks shapes and finiteness and stores float64 copies.

    Attributes
    ----------
    a : ndarray, shape (N,)
        Output weights.
    W : ndarray, shape (N, d)
        Input weights, one row per neuron (N, d ≥ 1).
    b : ndarray, shape (N,)
        Biases.

    Raises
    ------
    ValueError
        If a field is not finite or not of the shapes above (the message names the field).

    Examples
    --------
    >>> theta = Params(a=[1.0, 1.0], W=[[0.5, 0.0], [0.0, 2.0]], b=[0.0, 0.1])
    >>> theta.n, theta.d
    (2, 2)
    """

    a: np.ndarray
    W: np.ndarray
    b: np.ndarray

    def __post_init__(self):
        W = as_finite_array(self.W, "W", ndim=2)
        if W.shape[0] < 1 or W.shape[1] < 1:
            raise ValueError(f"W: expected shape (N, d) with N, d >= 1, got {W.shape}")
        a = as_finite_array(self.a, "a", ndim=1)
        b = as_finite_array(self.b, "b", ndim=1)
        for name, v in (("a", a), ("b", b)):
            if v.shape != (W.shape[0],):
                raise ValueError(f"{name}: expected shape ({W.shape[0]},) (one per row of W), got {v.shape}")
        self.a, self.W, self.b = a.copy(), np.array(W, dtype=float, order="C"), b.copy()

    def __eq__(self, other):
        """Equal when a, W and b are equal entry by entry (shapes included)."""
        if not isinstance(other, Params):
            return NotImplemented
        return all(np.array_equal(x, y) for x, y in ((self.a, other.a), (self.W, other.W), (self.b, other.b)))

    __hash__ = None  # mutable arrays

    @classmethod
    def from_weights(cls, W, name="W"):
        """The network with input weights W, a ≡ 1 and b ≡ 0 (the isotropic example's).

        Parameters
        ----------
        W : ndarray, shape (N, d)
        name : str
            The argument name used in error messages.

        Returns
        -------
        Params
        """
        W = as_finite_array(W, name, ndim=2)
        return cls(np.ones(W.shape[0]), W, np.zeros(W.shape[0]))

    @property
    def n(self):
        """Number of neurons N."""
        return self.W.shape[0]

    @property
    def d(self):
        """Input dimension d."""
        return self.W.shape[1]

    def copy(self):
        """A deep copy.

        Returns
        -------
        Params
        """
        return Params(self.a.copy(), self.W.copy(), self.b.copy())

    def flat(self, train):
        """The trained coordinates as one (N, D) array: the columns [a | W | b] restricted to ``train``.

        Parameters
        ----------
        train : tuple of str
            The trained coordinates, a subset of ("a", "w", "b").

        Returns
        -------
        ndarray, shape (N, D)
            D = [a in train] + d [w in train] + [b in train] columns.

        Examples
        --------
        >>> theta = Params(a=[1.0, 2.0], W=[[0.5, 0.0], [0.0, 2.0]], b=[0.0, 0.1])
        >>> theta.flat(("a", "b")).tolist()
        [[1.0, 0.0], [2.0, 0.1]]
        >>> back = theta.with_flat(("a", "b"), theta.flat(("a", "b")))   # the inverse of flat
        >>> back.a.tolist(), back.b.tolist(), back.W.tolist() == theta.W.tolist()
        ([1.0, 2.0], [0.0, 0.1], True)
        """
        parts = []
        if "a" in train:
            parts.append(self.a[:, None])
        if "w" in train:
            parts.append(self.W)
        if "b" in train:
            parts.append(self.b[:, None])
        return np.concatenate(parts, axis=1)

    def with_flat(self, train, X):
        """Params with the trained coordinates replaced by X (the inverse of :meth:`flat`).

        Parameters
        ----------
        train : tuple of str
            The trained coordinates, a subset of ("a", "w", "b").
        X : ndarray, shape (N, D)
            Columns as :meth:`flat` returns them.

        Returns
        -------
        Params
        """
        a, W, b = self.a, self.W, self.b
        col = 0
        if "a" in train:
            a = X[:, col]
            col += 1
        if "w" in train:
            W = X[:, col:col + self.d]
            col += self.d
        if "b" in train:
            b = X[:, col]
        return Params(a, W, b)
