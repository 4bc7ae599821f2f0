"""Activations σ and their Gaussian (Hermite) coefficients.

h_k(a) = E[σ(aG) He_k(G)]/√k! (probabilists' Hermite He_k, G standard normal, a ≥ 0) and
dh_k/da; h_0(a) = m(a) = E σ(aG). Piecewise-linear σ (:mod:`.piecewise_linear`) in closed
form; smooth σ (:mod:`.smooth`: tanh, sigmoid, erf) by quadrature. Derivatives are right
limits σ'(t+) everywhere. The Numba kinds and scalar evaluators live in
:mod:`meanfield._kernels.activation` (re-exported here for compatibility).
"""
from .._kernels.activation import (KIND_ERF, KIND_PIECEWISE_LINEAR, KIND_PIECEWISE_LINEAR_TAILS, KIND_TANH,
                                   act_deriv, act_deriv2, act_strip, act_value, act_value_deriv)
from .base import Activation
from .piecewise_linear import PiecewiseLinear, hard_tanh, leaky_relu, nonmonotone, ramp, relu
from .smooth import Erf, Tanh, erf, sigmoid

__all__ = ["Activation", "PiecewiseLinear", "Tanh", "Erf", "ramp", "nonmonotone", "relu", "leaky_relu",
           "hard_tanh", "sigmoid", "erf", "KIND_PIECEWISE_LINEAR", "KIND_PIECEWISE_LINEAR_TAILS", "KIND_TANH",
           "KIND_ERF", "act_value", "act_deriv", "act_deriv2", "act_value_deriv", "act_strip"]
