"""meanfield: the model layer of the mean-field theory of two-layer networks.

Activations, data laws (Gaussian mixtures, teacher–student, a user's arrays), the network
σ*(x; θ) = a σ(⟨w, x⟩ + b), the exact mean-field functional (V, U, R_N, ∇Ψ) where the inputs
are Gaussian, the isotropic Gaussians example with its exact radial potentials, and
Wasserstein distances (POT). Integrators and PDE solvers live in the sibling package
``solvers``.
"""
from . import _numba_cache  # noqa: F401  (first: caches keyed by all sources)
from .anisotropic import AnisotropicGaussians
from .activations import (Activation, Erf, PiecewiseLinear, Tanh, erf, hard_tanh, leaky_relu, nonmonotone, ramp,
                          relu, sigmoid)
from .data import ArrayData, DataLaw, DataSpec, GaussianMixture, TeacherStudent
from .gaussian_integrals import gaussian_mean, gaussian_pair
from .isotropic_gaussians import IsotropicGaussians, KernelFeatures
from .interface import OutputModel, ParticleModel, RadialModel, ReducedModel, SGDSpec
from .mean_field_model import MeanFieldModel, isotropic_model
from .network import TwoLayerNetwork
from .order_parameters import (OrderParameters, OverlapGradient, init_from_overlaps, order_parameters,
                               overlap_gradient, risk_from_overlaps)
from .overlap_noise import sgd_noise_overlaps
from .pair_kernel import pair_kernel, pair_kernel_gradient
from .params import Params
from .sphere import angle_quadrature, sphere_moments
from .wasserstein import W2Result, w1_empirical_1d, w1_radial, w2_empirical_1d, w2_particles, w2_radial
from .wasserstein import w2_marginals

__all__ = [
    "Activation",
    "PiecewiseLinear",
    "Tanh",
    "Erf",
    "ramp",
    "nonmonotone",
    "relu",
    "leaky_relu",
    "hard_tanh",
    "sigmoid",
    "erf",
    "DataLaw",
    "DataSpec",
    "GaussianMixture",
    "TeacherStudent",
    "ArrayData",
    "TwoLayerNetwork",
    "Params",
    "MeanFieldModel",
    "SGDSpec",
    "ParticleModel",
    "OutputModel",
    "RadialModel",
    "ReducedModel",
    "isotropic_model",
    "gaussian_mean",
    "gaussian_pair",
    "IsotropicGaussians",
    "AnisotropicGaussians",
    "KernelFeatures",
    "pair_kernel",
    "pair_kernel_gradient",
    "sphere_moments",
    "angle_quadrature",
    "w2_radial",
    "w1_radial",
    "w2_empirical_1d",
    "w1_empirical_1d",
    "w2_particles",
    "w2_marginals",
    "W2Result",
    "OrderParameters",
    "OverlapGradient",
    "order_parameters",
    "init_from_overlaps",
    "risk_from_overlaps",
    "overlap_gradient",
    "sgd_noise_overlaps",
]
