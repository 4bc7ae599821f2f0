"""The base class of activations: σ, σ'(t+), and its Gaussian (Hermite) coefficients."""
from __future__ import annotations

import numpy as np

from .._validation import as_finite_array


class Activation:
    """Base class: a bounded activation σ with Gaussian coefficients."""

    name = "activation"

    def __call__(self, t):  # pragma: no cover - abstract
        """σ(t), vectorised."""
        raise NotImplementedError

    def derivative(self, t):  # pragma: no cover - abstract
        """σ'(t+): the right derivative (equal to σ' away from kinks)."""
        raise NotImplementedError

    def kernel_spec(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def sup_norm(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def hermite(self, a, kmax, derivative=False):  # pragma: no cover - abstract
        """h_k(a) (or dh_k/da) for k = 0..kmax, shape a.shape + (kmax+1,)."""
        raise NotImplementedError

    def hermite_table(self, a, kmax, second_moment=False, derivatives=True):
        """(h, dh) with h[k, m] = h_k(a_m), dh[k, m] = dh_k/da(a_m), k = 0..kmax, for 1-D ``a``
        (k-major, C-contiguous: the layout of the pair kernels; dh None unless ``derivatives``);
        with ``second_moment``, (h, dh, E σ(a_m G)²), from the same samples where σ is sampled."""
        a = as_finite_array(a, "a", nonnegative=True, ndim=1)
        tables = (np.ascontiguousarray(self.hermite(a, kmax).T),
                  np.ascontiguousarray(self.hermite(a, kmax, derivative=True).T) if derivatives else None)
        return tables + (self.gaussian_second_moment(a),) if second_moment else tables

    def gaussian_mean(self, a):
        """m(a) = E σ(aG)."""
        return self.hermite(a, 0)[..., 0]

    def gaussian_mean_derivative(self, a):
        """m'(a) = E[σ'(aG) G]."""
        return self.hermite(a, 0, derivative=True)[..., 0]

    def gaussian_second_moment(self, a):
        """E σ(aG)² (for a ≥ 0)."""
        raise NotImplementedError  # pragma: no cover - abstract
