"""Numba kernels of the model, one idea per module; they import only numpy, numba, math and each other.

activation (σ kinds and scalar σ, σ', σ''), gaussian (φ, Φ, bivariate normal), ramps and ramp_pairs
(Gaussian integrals of unit ramps, orthant moments), pl_hermite (Hermite coefficients of
piecewise-linear σ), wide_smooth (smooth σ at wide scales), gauss_moments (E σ(m + sG) and pair
moments), pair_direct (K(a, b, c) pair by pair), mehler and isotropic_pairs (the finite-N pair
passes of the isotropic model), pair_sums (the pair sums of MeanFieldModel), anisotropic (reduced
anisotropic features). The public classes and functions above validate and call them.
"""
