"""The interface between models and solvers.

Solvers (``solvers``) talk to a model only through these names (a structural protocol:
:class:`MeanFieldModel` and :class:`IsotropicGaussians` both provide them):

* ``d`` — input dimension; ``train`` — the trained coordinates, a subset of ("a", "w", "b");
  ``output_scale`` — α (the flow moves with −2ξ(∇Ψ/α + λθ));
* ``as_params(theta, name)`` — θ as :class:`Params` (an (N, d) array means a ≡ 1, b ≡ 0);
* ``sgd_spec()`` — the :class:`SGDSpec` the fused SGD kernel reads;
* ``risk(theta)`` and ``risk_kind`` — the risk solvers record ("population": exact R_N;
  "empirical": on held-out arrays; None: no rule, so solvers refuse to record "risk");
* ``population_risk(theta)``, ``potential_gradient(theta)`` (Params in, Params out) — the
  exact functional where it is known (the particle flow needs them).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from .data import DataSpec
from .params import Params


@dataclass(frozen=True)
class SGDSpec:
    """What the SGD kernel needs from a model.

    Parameters
    ----------
    act_kind : int
        σ's kind (see :mod:`meanfield.activations`).
    act_params : ndarray
        σ's parameters in the layout of that kind.
    train_a, train_w, train_b : bool
        The trained coordinates.
    data : DataSpec
        The data law's arrays.
    isotropic_scales : ndarray or None
        (1 + Δ, 1 − Δ) when the isotropic w-only fast kernel applies.
    output_scale : float
        α, > 0.
    offset : Params or None
        The frozen neurons the network is centred at.

    Examples
    --------
    >>> from meanfield import IsotropicGaussians, ramp
    >>> spec = IsotropicGaussians(0.8, 40, ramp()).sgd_spec()
    >>> spec.train_w, spec.output_scale
    (True, 1.0)
    """

    act_kind: int
    act_params: np.ndarray
    train_a: bool
    train_w: bool
    train_b: bool
    data: DataSpec
    isotropic_scales: np.ndarray | None = None
    output_scale: float = 1.0
    offset: Params | None = None


@runtime_checkable
class ParticleModel(Protocol):
    """The structural type of a model the solvers accept (see the module docstring).

    :class:`MeanFieldModel` and :class:`IsotropicGaussians` both satisfy it.

    Attributes
    ----------
    d : int
        Input dimension.
    train : tuple of str
        The trained coordinates, a subset of ("a", "w", "b").
    output_scale : float
        α.
    risk_kind : {"population", "empirical"} or None
        What ``risk`` returns (None: no risk rule).
    activation : Activation
        σ.

    Raises
    ------
    TypeError
        On ``ParticleModel()`` itself (a Protocol, only checked against).

    Examples
    --------
    >>> from meanfield import IsotropicGaussians, ramp
    >>> isinstance(IsotropicGaussians(0.8, 4, ramp()), ParticleModel)
    True
    """

    d: int
    train: tuple
    output_scale: float
    risk_kind: object
    activation: object

    def as_params(self, theta, name: str = "theta") -> Params:
        """θ as :class:`Params` (an (N, d) array means a ≡ 1, b ≡ 0).

        Parameters
        ----------
        theta : Params or ndarray, shape (N, d)
        name : str
            The argument name used in error messages.

        Returns
        -------
        Params
        """

    def sgd_spec(self) -> SGDSpec:
        """The :class:`SGDSpec` the fused SGD kernel reads.

        Returns
        -------
        SGDSpec
        """

    def risk(self, theta) -> float:
        """The risk solvers record (exact R_N, or empirical on held-out arrays).

        Parameters
        ----------
        theta : Params or ndarray, shape (N, d)

        Returns
        -------
        float
        """

    def population_risk(self, theta) -> float:
        """The exact R_N.

        Parameters
        ----------
        theta : Params or ndarray, shape (N, d)

        Returns
        -------
        float
        """

    def potential_gradient(self, theta) -> Params:
        """∇_θΨ(θ_i; ρ̂) for every neuron, as Params.

        Parameters
        ----------
        theta : Params or ndarray, shape (N, d)

        Returns
        -------
        Params
            Zero in the untrained coordinates.
        """
