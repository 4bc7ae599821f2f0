"""meanfield: the model layer of the mean-field theory of two-layer networks.

Activations, the isotropic Gaussians data model with its exact radial
potentials v, u, ψ and risks, and Wasserstein distances (POT).  Integrators
and the PDE solver live in the sibling package ``solvers``.
"""
from . import _numba_cache  # noqa: F401  (first: caches keyed by all sources)
from .activations import Activation, PiecewiseLinear, Tanh, nonmonotone, ramp
from .isotropic_gaussians import IsotropicGaussians, KernelFeatures
from .pair_kernel import pair_kernel, pair_kernel_gradient
from .sphere import angle_quadrature, sphere_moments
from .wasserstein import W2Result, w1_empirical_1d, w1_radial, w2_empirical_1d, w2_particles, w2_radial

__all__ = [
    "Activation",
    "PiecewiseLinear",
    "Tanh",
    "ramp",
    "nonmonotone",
    "IsotropicGaussians",
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
    "W2Result",
]
