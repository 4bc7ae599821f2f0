"""The base class of activations: σ, σ'(t+), and its Gaussian (Hermite) coefficients."""
from __future__ import annotations

import numpy as np

from .._validation import as_finite_array, check_int


class Activation:
    """Base class: an activation σ with Gaussian coefficients.

    Subclasses (:class:`PiecewiseLinear`, :class:`Tanh`, :class:`Erf`) give σ(t), the right
    derivative σ'(t+), the Numba encoding :meth:`kernel_spec`, and for G standard normal and
    a ≥ 0 the Hermite coefficients h_k(a) = E[σ(aG) He_k(G)]/√k!, their derivatives dh_k/da
    and E σ(aG)² (closed forms or quadrature).

    Examples
    --------
    >>> from meanfield import relu
    >>> sigma = relu()
    >>> isinstance(sigma, Activation)
    True
    >>> round(float(sigma.gaussian_mean(1.0)), 6)   # E max(G, 0) = 1/√(2π)
    0.398942
    """

    name = "activation"

    def __call__(self, t):  # pragma: no cover - abstract
        """σ(t), vectorised."""
        raise NotImplementedError

    def derivative(self, t):  # pragma: no cover - abstract
        """σ'(t+): the right derivative (equal to σ' away from kinks).

        Parameters
        ----------
        t : array_like
            Points (any shape).

        Returns
        -------
        ndarray
            σ'(t+), the shape of ``t``.

        Raises
        ------
        NotImplementedError
            In the base class (every subclass implements it).
        """
        raise NotImplementedError

    def kernel_spec(self):  # pragma: no cover - abstract
        """The encoding (kind, params) of σ read by the Numba kernels.

        Returns
        -------
        kind : int
            ``KIND_PIECEWISE_LINEAR``, ``KIND_PIECEWISE_LINEAR_TAILS``, ``KIND_TANH`` or ``KIND_ERF``.
        params : ndarray, shape (P,)
            The layout of that kind (see :mod:`meanfield.activations`).

        Raises
        ------
        NotImplementedError
            In the base class (every subclass implements it).
        """
        raise NotImplementedError

    def sup_norm(self) -> float:  # pragma: no cover - abstract
        """sup_t |σ(t)|.

        Returns
        -------
        float
            ``inf`` for an unbounded σ (ReLU, leaky ReLU).

        Raises
        ------
        NotImplementedError
            In the base class (every subclass implements it).
        """
        raise NotImplementedError

    def hermite(self, a, kmax, derivative=False):  # pragma: no cover - abstract
        """h_k(a) (or dh_k/da) for k = 0..kmax.

        h_k(a) = E[σ(aG) He_k(G)]/√k! (G standard normal, probabilists' Hermite He_k);
        dh_k/da = E[σ'(aG) G He_k(G)]/√k!. At a = 0, the right limit a → 0+.

        Parameters
        ----------
        a : array_like
            Non-negative, finite scales (any shape).
        kmax : int
            Highest index k, ≥ 0.
        derivative : bool, optional
            Return dh_k/da instead of h_k.

        Returns
        -------
        ndarray, shape (..., kmax + 1)
            ``out[..., k]`` = h_k(a) (or dh_k/da); the leading axes are those of ``a``.

        Raises
        ------
        ValueError
            If ``a`` has a negative, NaN or infinite entry.
        NotImplementedError
            In the base class (every subclass implements it).

        Examples
        --------
        >>> from meanfield import relu
        >>> [round(float(x), 6) for x in relu().hermite(2.0, 2)]   # a/√(2π), a/2, a/(2√π)
        [0.797885, 1.0, 0.56419]
        """
        raise NotImplementedError

    def hermite_table(self, a, kmax, second_moment=False, derivatives=True):
        """The Hermite tables of 1-D ``a`` in the layout of the pair kernels.

        h[k, m] = h_k(a_m), dh[k, m] = dh_k/da(a_m), k = 0..kmax (k-major, C-contiguous);
        with ``second_moment`` also E σ(a_m G)², from the same samples where σ is sampled.

        Parameters
        ----------
        a : array_like, shape (M,)
            Non-negative, finite scales.
        kmax : int
            Highest index k, ≥ 0.
        second_moment : bool, optional
            Also return E σ(a_m G)².
        derivatives : bool, optional
            Compute dh (else dh is None).

        Returns
        -------
        h : ndarray, shape (kmax + 1, M)
        dh : ndarray or None
            Shape (kmax + 1, M); None unless ``derivatives``.
        m2 : ndarray, shape (M,)
            E σ(a_m G)²; only with ``second_moment`` (a 3-tuple then, else a 2-tuple).

        Raises
        ------
        ValueError
            If ``a`` is not 1-D or has a negative, NaN or infinite entry.

        Examples
        --------
        >>> from meanfield import relu
        >>> h, dh = relu().hermite_table([0.0, 1.0, 2.0], 3)
        >>> h.shape, h[1].tolist()                # h_1(a) = a/2 for ReLU
        ((4, 3), [0.0, 0.5, 1.0])
        """
        a = as_finite_array(a, "a", nonnegative=True, ndim=1)
        kmax = check_int(kmax, "kmax", minimum=0)
        tables = (np.ascontiguousarray(self.hermite(a, kmax).T),
                  np.ascontiguousarray(self.hermite(a, kmax, derivative=True).T) if derivatives else None)
        return tables + (self.gaussian_second_moment(a),) if second_moment else tables

    def gaussian_mean(self, a):
        """m(a) = E σ(aG) = h_0(a).

        Parameters
        ----------
        a : array_like
            Non-negative, finite scales (any shape).

        Returns
        -------
        ndarray
            m(a), the shape of ``a``.

        Examples
        --------
        >>> from meanfield import sigmoid
        >>> round(float(sigmoid().gaussian_mean(3.0)), 12)   # σ − ½ is odd
        0.5
        """
        return self.hermite(a, 0)[..., 0]

    def gaussian_mean_derivative(self, a):
        """m'(a) = E[σ'(aG) G] = dh_0/da.

        Parameters
        ----------
        a : array_like
            Non-negative, finite scales (any shape).

        Returns
        -------
        ndarray
            m'(a), the shape of ``a`` (right limit at a = 0).

        Examples
        --------
        >>> from meanfield import relu
        >>> round(float(relu().gaussian_mean_derivative(5.0)), 6)   # m(a) = a/√(2π)
        0.398942
        """
        return self.hermite(a, 0, derivative=True)[..., 0]

    def gaussian_second_moment(self, a):
        """E σ(aG)² (for a ≥ 0).

        Parameters
        ----------
        a : array_like
            Non-negative, finite scales (any shape).

        Returns
        -------
        ndarray
            E σ(aG)², the shape of ``a``.

        Raises
        ------
        NotImplementedError
            In the base class (every subclass implements it).

        Examples
        --------
        >>> from meanfield import relu
        >>> float(relu().gaussian_second_moment(2.0))   # a²/2
        2.0
        """
        raise NotImplementedError  # pragma: no cover - abstract
