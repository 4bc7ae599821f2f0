"""Piecewise-linear σ far out on the real line (issue 31, item 1).

The sum form σ(t) = y₀ + l t + Σ_q c_q (t − t_q)₊ cancels terms of size |t|: at |t| ≳ 1e15 it
lost every digit (ramp()(1e17) gave −2.5 instead of 7.5, hard_tanh()(1e16) −1 instead of 1).
Ground truth: σ(t) = σ(t_q) + slope (t − t_q) from the nearest knot, in exact rational
arithmetic on the same double inputs, rounded once.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from numba import njit

from meanfield import GaussianMixture, MeanFieldModel, Params, TeacherStudent, TwoLayerNetwork
from meanfield import hard_tanh, leaky_relu, nonmonotone, ramp, relu
from meanfield._kernels.activation import act_value

ACTIVATIONS = {"ramp": ramp, "nonmonotone": nonmonotone, "relu": relu, "leaky_relu": leaky_relu,
               "hard_tanh": hard_tanh}
FAR = [s * m for m in (1e15, 1e16, 1e17, 1e200) for s in (1.0, -1.0)]


@njit
def _act_value(kind, p, t):
    return act_value(kind, p, t)


def exact(sigma, t):
    """σ(t) rounded once from exact rational arithmetic on the knots, values and tail slopes."""
    knots, values = [Fraction(x) for x in sigma.knots], [Fraction(x) for x in sigma.values]
    t = Fraction(t)
    if t <= knots[0]:
        return float(values[0] + Fraction(sigma.left_slope) * (t - knots[0]))
    if t >= knots[-1]:
        return float(values[-1] + Fraction(sigma.right_slope) * (t - knots[-1]))
    q = max(i for i, k in enumerate(knots) if k <= t)
    slope = (values[q + 1] - values[q]) / (knots[q + 1] - knots[q])
    return float(values[q] + slope * (t - knots[q]))


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_far_arguments_are_exact_in_python_and_numba(name):
    sigma = ACTIVATIONS[name]()
    kind, p = sigma.kernel_spec()
    expected = np.array([exact(sigma, t) for t in FAR])
    np.testing.assert_allclose(sigma(np.array(FAR)), expected, rtol=1e-15, atol=0)
    np.testing.assert_allclose([_act_value(kind, p, t) for t in FAR], expected, rtol=1e-15, atol=0)


def test_the_reported_values():
    assert ramp()(1e17) == 7.5 and hard_tanh()(1e16) == 1.0
    assert ramp()(-1e17) == -2.5 and hard_tanh()(-1e16) == -1.0


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_ordinary_arguments_to_rounding(name):
    """Near the knots both paths give σ within 1e-15 of the exact value (the sum form was off by
    up to a few ulp of max |σ| there); NaN stays NaN."""
    sigma = ACTIVATIONS[name]()
    kind, p = sigma.kernel_spec()
    ts = np.concatenate([np.linspace(-3.0, 3.0, 601), sigma.knots, np.nextafter(sigma.knots, -np.inf)])
    expected = np.array([exact(sigma, t) for t in ts])
    np.testing.assert_allclose(sigma(ts), expected, rtol=0, atol=1e-15)
    np.testing.assert_allclose([_act_value(kind, p, t) for t in ts], expected, rtol=0, atol=1e-15)
    assert np.isnan(sigma(np.nan))


def test_teacher_labels_and_empirical_risk_at_far_inputs():
    """A ramp teacher on inputs of size 1e17: labels are σ's saturation value, and a student equal
    to the teacher has zero empirical risk (the sum form gave labels −2.5 and risk 100)."""
    X = np.array([[1e17, 0.0], [-1e17, 0.0], [0.0, 1e16]])
    teacher = TeacherStudent(np.array([[1.0, 0.0], [0.0, 1.0]]), ramp())
    labels = teacher.teacher_output(X)
    np.testing.assert_array_equal(labels, [0.5 * (7.5 - 2.5), -2.5, 0.5 * (-2.5 + 7.5)])  # σ(0) = −2.5
    model = MeanFieldModel(GaussianMixture.isotropic(0.5, 2), TwoLayerNetwork(ramp(), train=("w",)))
    theta = Params(np.ones(2), np.array([[1.0, 0.0], [0.0, 1.0]]), np.zeros(2))
    assert model.empirical_risk(theta, X, labels) == 0.0
