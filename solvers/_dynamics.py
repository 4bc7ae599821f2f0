"""The dynamics every solver integrates, and the one place ξ, β and λ are parsed.

    ∂_t ρ_t = 2ξ(t) ∇_θ·(ρ_t ∇_θ Ψ_λ(θ; ρ_t)) + (2ξ(t)/β) Δ_θ ρ_t,   Ψ_λ = Ψ + (λ/2)‖θ‖²,

whose particles move by dθ = −2ξ(t) ∇Ψ_λ dt + √(4ξ(t)/β) dB_t (β = None: no noise). SGD's
step k has size ε ξ(kε).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from meanfield._validation import check_noise, xi_function


@dataclass(frozen=True, init=False)
class Dynamics:
    """The time scale ξ(t), inverse temperature β and ridge λ of a run, checked once.

    Parameters
    ----------
    xi : float or callable, optional
        ξ > 0, or a function t ↦ ξ(t) ≥ 0 (None: ξ ≡ 1).
    beta : float, optional
        Inverse temperature β > 0; None means no noise.
    lam : float, optional
        Ridge λ ≥ 0.

    Raises
    ------
    ValueError
        If ξ is not positive (or not callable), β not positive, λ negative; a callable ξ
        that returns a negative or non-finite value raises when it is evaluated.

    Examples
    --------
    >>> dyn = Dynamics(xi=0.5, beta=None, lam=0.1)
    >>> dyn.xi_at(3.0), dyn.noisy, dyn.constant_xi
    (0.5, False, 0.5)
    >>> Dynamics(xi=lambda t: 1 / (1 + t)).step_sizes(np.array([0, 1]), eps=0.5).tolist()
    [0.5, 0.3333333333333333]
    """

    xi: object
    beta: float | None
    lam: float

    def __init__(self, xi=None, beta=None, lam=0.0):
        beta, lam = check_noise(beta, lam)
        checked = xi_function(xi)   # raises on a bad constant
        object.__setattr__(self, "xi", xi if callable(xi) else checked(0.0))
        object.__setattr__(self, "beta", beta)
        object.__setattr__(self, "lam", lam)
        object.__setattr__(self, "_xi_checked", checked)

    @property
    def noisy(self):
        """True if β is given (Langevin noise)."""
        return self.beta is not None

    @property
    def constant_xi(self):
        """ξ as a float when it is constant, else None."""
        return None if callable(self.xi) else float(self.xi)

    def xi_at(self, t):
        """ξ(t) as a float, checked finite and non-negative.

        Parameters
        ----------
        t : float
            The time.

        Returns
        -------
        float

        Examples
        --------
        >>> Dynamics(xi=lambda t: 2.0 + t).xi_at(1.0)
        3.0
        """
        return self._xi_checked(float(t))

    def xi_values(self, t):
        """ξ at every entry of the array ``t`` (vectorised when ξ accepts arrays).

        Parameters
        ----------
        t : array_like
            Times.

        Returns
        -------
        ndarray
            ξ(t), of the shape of ``t``.

        Raises
        ------
        ValueError
            If ξ returns a negative or non-finite value.

        Examples
        --------
        >>> Dynamics(xi=0.5).xi_values([0.0, 1.0]).tolist()
        [0.5, 0.5]
        """
        t = np.asarray(t, dtype=float)
        if not callable(self.xi):
            return np.full(t.shape, float(self.xi))
        try:
            values = np.asarray(self.xi(t), dtype=float)
            if values.shape != t.shape:
                raise ValueError
        except Exception:  # ξ not vectorised: evaluate point by point
            values = np.array([float(self.xi(tk)) for tk in t.reshape(-1)]).reshape(t.shape)
        if not np.all(np.isfinite(values)) or np.any(values < 0):
            raise ValueError("xi: must return finite non-negative values")
        return values

    def step_sizes(self, k, eps):
        """SGD's step sizes s(k) = ε ξ(kε) for the integer array ``k``.

        Parameters
        ----------
        k : ndarray of int
            Step indices.
        eps : float
            The step size ε.

        Returns
        -------
        ndarray
            ε ξ(kε), of the shape of ``k``.

        Examples
        --------
        >>> Dynamics(xi=2.0).step_sizes(np.arange(3), eps=0.1).tolist()
        [0.2, 0.2, 0.2]
        """
        k = np.asarray(k)
        return eps * self.xi_values(k * eps)
