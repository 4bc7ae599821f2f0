"""Both reductions speak one vocabulary for a law ρ̄ (N → ∞): v, u, psi, psi_gradient, law_risk.

R(ρ̄) = 1 + 2∫v dρ̄ + ∫∫u dρ̄ dρ̄ and ψ(θ; ρ̄) = v(θ) + ∫u(θ, θ')ρ̄(dθ') are rebuilt here from v and
u, and ∇ψ from central differences of ψ; the old names are aliases that return the same numbers.
"""
from __future__ import annotations

import numpy as np
import pytest

from meanfield import AnisotropicGaussians, IsotropicGaussians, ramp, relu

NAMES = ("v", "u", "psi", "psi_gradient", "law_risk")


@pytest.mark.parametrize("cls", [IsotropicGaussians, AnisotropicGaussians])
def test_both_reductions_offer_the_five_names(cls):
    assert all(callable(getattr(cls, name, None)) for name in NAMES)


def test_isotropic_law_quantities_from_v_and_u():
    model = IsotropicGaussians(0.5, 10, ramp())
    radii, w = np.array([0.3, 1.0, 2.2]), np.array([0.2, 0.5, 0.3])
    U = model.u(radii[:, None], radii[None, :])
    expected = 1.0 + 2.0 * w @ model.v(radii) + w @ U @ w
    assert model.law_risk(radii, w) == pytest.approx(expected, abs=1e-12)
    assert model.radial_risk(radii, w) == model.law_risk(radii, w)
    r = np.array([0.5, 1.7])
    np.testing.assert_allclose(model.psi(r, radii, w), model.v(r) + model.u(r[:, None], radii[None, :]) @ w,
                               rtol=0, atol=1e-12)
    h = 1e-5
    fd = (model.psi(r + h, radii, w) - model.psi(r - h, radii, w)) / (2 * h)
    np.testing.assert_allclose(model.psi_gradient(r, radii, w), fd, rtol=0, atol=1e-8)
    np.testing.assert_array_equal(model.dpsi(r, radii, w), model.psi_gradient(r, radii, w))


def test_anisotropic_law_risk_from_v_and_u():
    model = AnisotropicGaussians(0.5, d=20, s0=4, activation=relu())
    X = np.array([[1.0, 0.1, 0.6, 0.3], [0.5, 0.0, 0.2, 0.8], [-0.7, 0.3, 0.4, 0.4]])
    w = np.array([0.5, 0.3, 0.2])
    expected = 1.0 + 2.0 * w @ model.v(X) + w @ model.u(X, X) @ w
    assert model.law_risk(X, w) == pytest.approx(expected, abs=1e-12)
    assert model.risk(X, w) == model.law_risk(X, w)
