"""The interface between models and solvers.

Solvers (``solvers``) talk to a model only through these names (a structural protocol:
:class:`MeanFieldModel` and :class:`IsotropicGaussians` both provide them):

* ``d`` — input dimension; ``train`` — the trained coordinates, a subset of ("a", "w", "b");
  ``output_scale`` — α (the flow moves with −2ξ(∇Ψ/α + λθ));
* ``as_params(theta, name)`` — θ as :class:`Params` (an (N, d) array means a ≡ 1, b ≡ 0);
* ``sgd_spec()`` — the :class:`SGDSpec` the fused SGD kernel reads;
* ``risk(theta)`` and ``risk_kind`` — the risk solvers record ("population": exact R_N;
  "empirical": on held-out arrays);
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
    """What the SGD kernel needs from a model: σ as (kind, params) (see
    :mod:`meanfield.activations`), the trained coordinates, the data law's arrays, when the
    isotropic w-only fast kernel applies its data scales (1 + Δ, 1 − Δ), the output scale α
    and the frozen neurons the network is centred at (or None)."""

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
    """The structural type of a model the solvers accept (see the module docstring)."""

    d: int
    train: tuple
    output_scale: float

    def as_params(self, theta, name: str = "theta") -> Params: ...

    def sgd_spec(self) -> SGDSpec: ...

    def risk(self, theta) -> float: ...

    def population_risk(self, theta) -> float: ...

    def potential_gradient(self, theta) -> Params: ...
