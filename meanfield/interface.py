"""The interface between models and solvers: the structural protocols a solver checks once at
entry (:func:`meanfield._validation.check_model`) and then relies on, calling nothing else.

* :class:`ParticleModel` — what :func:`solvers.run_sgd` and :func:`solvers.run_particle_flow`
  call (:class:`MeanFieldModel` and :class:`IsotropicGaussians` both provide it): ``d``;
  ``train`` (a subset of ("a", "w", "b")); ``output_scale`` α (the flow moves with
  −2ξ(∇Ψ/α + λθ)); ``activation`` σ; ``risk_kind`` ("population": exact R_N; "empirical": on
  held-out arrays; None: no rule, so solvers refuse to record "risk"); ``as_params(theta, name)``;
  ``sgd_spec()``; ``risk(theta)``; ``population_risk(theta)``; ``potential_gradient(theta)``.
* :class:`OutputModel` — a ParticleModel that also gives the network's ``output(theta, X)``, its
  ``tangent_kernel(theta, X, X2)`` and its ``data`` law (:class:`MeanFieldModel`): the probes'
  records and :func:`solvers.solve_linearized`.
* :class:`RadialModel` — the radial reduction (:class:`IsotropicGaussians`): ``d``, ``r_sharp``,
  ``v(r)``, ``dv(r)``, ``radial_kernel``, ``dense_kernel``, ``kernel_features`` (the radial PDE,
  the radial Lagrangian solver, the Gibbs fixed point).
* :class:`ReducedModel` — the (a, b, r₁, r₂) reduction (:class:`AnisotropicGaussians`): ``d``,
  ``s0``, ``train``, ``r_sharp``, ``scales``, ``lam``, ``v``, ``class_features``,
  ``check_points``, ``check_weights``, ``velocity``, ``risk`` (the anisotropic PDE and the
  reduced Lagrangian solver).
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
    """What the particle solvers (SGD, the particle flow) call on a model.

    :class:`MeanFieldModel` and :class:`IsotropicGaussians` both satisfy it.

    Attributes
    ----------
    d : int
        Input dimension.
    train : tuple of str
        The trained coordinates, a subset of ("a", "w", "b").
    output_scale : float
        α.
    activation : Activation
        σ (the particle flow asks it whether σ has a kink at 0).
    risk_kind : {"population", "empirical", None}
        The rule of :meth:`risk` (None: no exact risk, "risk" cannot be recorded).

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
    activation: object
    risk_kind: str | None

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


@runtime_checkable
class OutputModel(ParticleModel, Protocol):
    """A :class:`ParticleModel` whose network output and tangent kernel are known.

    What the probes' records ("output", "kernel") and :func:`solvers.solve_linearized` call:
    :class:`MeanFieldModel` satisfies it.

    Attributes
    ----------
    data : DataLaw
        The data law (an :class:`ArrayData` gives the training rows of the linearised model).

    Raises
    ------
    TypeError
        On ``OutputModel()`` itself (a Protocol, only checked against).

    Examples
    --------
    >>> from meanfield import GaussianMixture, IsotropicGaussians, MeanFieldModel, TwoLayerNetwork, ramp
    >>> model = MeanFieldModel(GaussianMixture.isotropic(0.8, 4), TwoLayerNetwork(ramp()))
    >>> isinstance(model, OutputModel), isinstance(IsotropicGaussians(0.8, 4, ramp()), OutputModel)
    (True, False)
    """

    data: object

    def output(self, theta, X) -> np.ndarray:
        """f(x; θ) at the rows of X.

        Parameters
        ----------
        theta : Params or ndarray, shape (N, d)
        X : ndarray, shape (P, d)

        Returns
        -------
        ndarray, shape (P,)
        """

    def tangent_kernel(self, theta, X, X2=None) -> np.ndarray:
        """K(x, x') = (1/N) Σ_i ⟨∇_θσ*(x; θ_i), ∇_θσ*(x'; θ_i)⟩ on the rows of X and X2.

        Parameters
        ----------
        theta : Params or ndarray, shape (N, d)
        X : ndarray, shape (P, d)
        X2 : ndarray, shape (Q, d), optional
            Default X.

        Returns
        -------
        ndarray, shape (P, Q)
        """


@runtime_checkable
class RadialModel(Protocol):
    """What the radial solvers call on a model (:class:`IsotropicGaussians`).

    ψ(r; ρ̄) = v(r) + ∫ u(r, r') ρ̄(dr') and R(ρ̄) = R# + 2∫v dρ̄ + ∬u dρ̄dρ̄.

    Attributes
    ----------
    d : int
        Input dimension (the radial solvers need d ≥ 2).
    r_sharp : float
        R#.

    Raises
    ------
    TypeError
        On ``RadialModel()`` itself (a Protocol, only checked against).

    Examples
    --------
    >>> from meanfield import IsotropicGaussians, ramp
    >>> isinstance(IsotropicGaussians(0.8, 4, ramp()), RadialModel)
    True
    """

    d: int
    r_sharp: float

    def v(self, r) -> np.ndarray:
        """v(r).

        Parameters
        ----------
        r : ndarray

        Returns
        -------
        ndarray
        """

    def dv(self, r) -> np.ndarray:
        """v'(r).

        Parameters
        ----------
        r : ndarray

        Returns
        -------
        ndarray
        """

    def radial_kernel(self, r, derivatives=False):
        """u(r_i, r_j) on the points r, low rank (KernelFeatures) or dense (KernelMatrix).

        Parameters
        ----------
        r : ndarray, shape (M,)
        derivatives : bool

        Returns
        -------
        KernelFeatures or KernelMatrix
        """

    def dense_kernel(self, r, rp, values=True, derivatives=False):
        """The dense table u(r_i, r'_j) and/or ∂_r u.

        Parameters
        ----------
        r, rp : ndarray
        values, derivatives : bool

        Returns
        -------
        tuple of ndarray or None
        """

    def kernel_features(self, r, allow_inexact=False):
        """The Mehler features of u at the points r.

        Parameters
        ----------
        r : ndarray
        allow_inexact : bool

        Returns
        -------
        KernelFeatures
        """


@runtime_checkable
class ReducedModel(Protocol):
    """What the anisotropic (a, b, r₁, r₂) solvers call on a model (:class:`AnisotropicGaussians`).

    Attributes
    ----------
    d, s0 : int or inf
        Input dimension and signal dimension.
    train : tuple of str
        The trained coordinates.
    r_sharp : float
        R#.
    scales : tuple of float
        (1 + Δ, 1 − Δ), the class scales.
    lam : ndarray
        The weights of the low-rank kernel's features.

    Raises
    ------
    TypeError
        On ``ReducedModel()`` itself (a Protocol, only checked against).

    Examples
    --------
    >>> from meanfield import AnisotropicGaussians, IsotropicGaussians, ramp
    >>> isinstance(AnisotropicGaussians(0.8, 12, 4, ramp(), kmax=4), ReducedModel)
    True
    >>> isinstance(IsotropicGaussians(0.8, 4, ramp()), ReducedModel)
    False
    """

    d: object
    s0: object
    train: tuple
    r_sharp: float
    scales: tuple
    lam: np.ndarray

    def v(self, X) -> np.ndarray:
        """v at the reduced points X (M, 4).

        Parameters
        ----------
        X : ndarray, shape (M, 4)

        Returns
        -------
        ndarray, shape (M,)
        """

    def class_features(self, X, c):
        """The features of class scale c at the reduced points.

        Parameters
        ----------
        X : ndarray, shape (M, 4)
        c : float

        Returns
        -------
        tuple of ndarray
        """

    def check_points(self, X, name="X") -> np.ndarray:
        """X checked as reduced points (M, 4).

        Parameters
        ----------
        X : array_like
        name : str

        Returns
        -------
        ndarray, shape (M, 4)
        """

    def check_weights(self, weights, n) -> np.ndarray:
        """Particle weights checked and normalised (uniform if None).

        Parameters
        ----------
        weights : array_like or None
        n : int

        Returns
        -------
        ndarray, shape (n,)
        """

    def velocity(self, X, weights=None, xi=1.0) -> np.ndarray:
        """−2ξ∇ψ(X_m; Σ w δ_X) (zero in the untrained coordinates).

        Parameters
        ----------
        X : ndarray, shape (M, 4)
        weights : ndarray, optional
        xi : float

        Returns
        -------
        ndarray, shape (M, 4)
        """

    def risk(self, X, weights=None) -> float:
        """R(Σ w δ_X).

        Parameters
        ----------
        X : ndarray, shape (M, 4)
        weights : ndarray, optional

        Returns
        -------
        float
        """
