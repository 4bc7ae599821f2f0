"""Teacher–student data: x ~ N(0, I_d), y = a teacher two-layer network plus label noise."""
from __future__ import annotations

import numpy as np

from .._validation import as_finite_array, check_magnitude, check_real
from ..activations import Activation
from ._law import DATA_TEACHER, DataLaw, DataSpec, as_generator, check_count


class TeacherStudent(DataLaw):
    """x ~ N(0, I_d), y = (1/M) Σ_t a*_t σ*(⟨w*_t, x⟩ + b*_t) + noise_std · ξ, ξ ~ N(0, 1).

    E y² = (1/M²) Σ_tu a*_t a*_u E σ*(u_t)σ*(u_u) + noise_std² is computed exactly by
    :class:`~meanfield.MeanFieldModel` (``r_sharp`` here is None until a model computes it).

    Parameters
    ----------
    W : array_like, shape (M, d)
        Teacher input weights w*_t, one row per teacher neuron.
    activation : Activation
        The teacher's σ*.
    a : array_like, shape (M,), optional
        Teacher output weights a*_t (default 1).
    b : array_like, shape (M,), optional
        Teacher biases b*_t (default 0).
    noise_std : float
        Label noise standard deviation, ≥ 0.

    Raises
    ------
    ValueError
        If an array is not finite or not of the shapes above, ``activation`` is not an
        :class:`Activation`, ``noise_std`` is negative or not finite, or an entry exceeds 1e150
        in magnitude (its square would overflow).

    Examples
    --------
    >>> import numpy as np
    >>> from meanfield import erf
    >>> law = TeacherStudent(W=[[1.0, 0.0], [0.0, 1.0]], activation=erf(), a=[1.0, -1.0])
    >>> X, y = law.sample(3, rng=0)
    >>> X.shape, bool(np.allclose(y, law.teacher_output(X)))   # noise_std = 0: y is the teacher's output
    ((3, 2), True)
    """

    def __init__(self, W, activation, a=None, b=None, noise_std=0.0):
        W = check_magnitude(as_finite_array(W, "W", ndim=2), "W")
        if W.shape[0] < 1 or W.shape[1] < 1:
            raise ValueError(f"W: expected shape (M, d) with M, d >= 1, got {W.shape}")
        if not isinstance(activation, Activation):
            raise ValueError(f"activation: expected an Activation, got {type(activation).__name__}")
        m = W.shape[0]
        a = np.ones(m) if a is None else as_finite_array(a, "a", ndim=1)
        b = np.zeros(m) if b is None else as_finite_array(b, "b", ndim=1)
        for name, v in (("a", a), ("b", b)):
            if v.shape != (m,):
                raise ValueError(f"{name}: expected shape ({m},) (one per teacher neuron), got {v.shape}")
            check_magnitude(v, name)
        noise_std = check_magnitude(check_real(noise_std, "noise_std"), "noise_std")
        if noise_std < 0:
            raise ValueError(f"noise_std: must be non-negative, got {noise_std!r}")
        self.W, self.a, self.b = np.ascontiguousarray(W), a, b
        self.activation = activation
        self.noise_std = noise_std
        self.d = W.shape[1]

    def __repr__(self):
        return f"TeacherStudent(M={self.W.shape[0]}, d={self.d}, {self.activation!r}, noise_std={self.noise_std})"

    def teacher_output(self, X):
        """(1/M) Σ_t a*_t σ*(⟨w*_t, x⟩ + b*_t) for the rows of X.

        Parameters
        ----------
        X : ndarray, shape (n, d)

        Returns
        -------
        ndarray, shape (n,)
        """
        return self.activation(X @ self.W.T + self.b) @ self.a / self.a.size

    def sample(self, n, rng=None):
        """n iid pairs: x ~ N(0, I_d), y = the teacher's output plus noise_std · N(0, 1).

        Parameters
        ----------
        n : int
            Number of pairs, ≥ 1.
        rng : int, Generator or None
            Seed or generator (``numpy.random.default_rng(rng)``); X is drawn first, then the noise.

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
        X = rng.standard_normal((n, self.d))
        y = self.teacher_output(X)
        if self.noise_std > 0:
            y = y + self.noise_std * rng.standard_normal(n)
        return X, y

    def kernel_spec(self):
        """The :class:`DataSpec` the SGD kernel draws from (the teacher's weights and σ, the noise).

        Returns
        -------
        DataSpec
        """
        kind, p = self.activation.kernel_spec()
        return DataSpec(DATA_TEACHER, self.W, np.zeros((0, self.d)), self.a.copy(), self.b.copy(),
                        np.array([self.noise_std]), kind, np.asarray(p, dtype=float))

    def gaussian_classes(self):
        """One class N(0, I_d); the labels come from the teacher (None here).

        Returns
        -------
        weights : ndarray, shape (1,)
        labels : None
        means : ndarray, shape (1, d)
        stds : ndarray, shape (1, d)
        """
        return np.ones(1), None, np.zeros((1, self.d)), np.ones((1, self.d))
