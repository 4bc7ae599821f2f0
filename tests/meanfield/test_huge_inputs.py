"""Huge finite inputs are refused with their range, never turned into inf/NaN results.

Beyond 1e150 in magnitude the squares the risks and Gaussian integrals form overflow (1e300 is
the largest square below the float maximum ~1.8e308): labels, inputs, weights, scales there were
silently turned into inf (R_N = inf for labels of 1e200) or, downstream, into a misleading
"W: contains NaN or inf" about an argument the user passed finite. Each case here was reproduced
first; ground truth at the limit is the closed form (E relu(aG)² = a²/2, R_# = Σ π_k y_k²).
"""
import numpy as np
import pytest

from meanfield import (AnisotropicGaussians, ArrayData, GaussianMixture, MeanFieldModel, Params, TeacherStudent,
                       TwoLayerNetwork, erf, gaussian_pair, relu)
from solvers import init_gaussian

HUGE = 1e200
RANGE = r"(entries )?must lie in \[-1e\+150, 1e\+150\]"


def _model(data=None, scale=1.0):
    data = GaussianMixture.isotropic(0.5, 2) if data is None else data
    return MeanFieldModel(data, TwoLayerNetwork(relu(), train=("a", "w", "b"), scale=scale))


@pytest.mark.parametrize("field", ["labels", "means", "stds"])
def test_gaussian_mixture_refuses_huge_entries(field):
    args = {"weights": [0.5, 0.5], "labels": [1.0, -1.0], "means": [[1.0], [-1.0]], "stds": [[1.0], [1.0]]}
    args[field] = np.asarray(args[field]) * HUGE
    with pytest.raises(ValueError, match=f"{field}: {RANGE}"):
        GaussianMixture(**args)


def test_labels_at_the_limit_give_the_closed_form():
    law = GaussianMixture([0.25, 0.75], [1e150, -2e149], [[1.0], [-1.0]], [[1.0], [1.0]])
    assert law.r_sharp == pytest.approx(0.25 * 1e300 + 0.75 * 4e298, rel=1e-15)


@pytest.mark.parametrize("field", ["X", "y", "X_test", "y_test"])
def test_array_data_refuses_huge_entries(field):
    args = {"X": np.ones((3, 2)), "y": np.ones(3), "X_test": np.ones((2, 2)), "y_test": np.ones(2)}
    args[field] = args[field] * HUGE
    with pytest.raises(ValueError, match=f"{field}: {RANGE}"):
        ArrayData(**args)


@pytest.mark.parametrize("field", ["W", "a", "b", "noise_std"])
def test_teacher_student_refuses_huge_entries(field):
    args = {"W": np.ones((2, 3)), "a": np.ones(2), "b": np.zeros(2) + 1.0, "noise_std": 1.0}
    args[field] = args[field] * HUGE
    with pytest.raises(ValueError, match=f"{field}: {RANGE}"):
        TeacherStudent(activation=relu(), **args)


@pytest.mark.parametrize("field", ["a", "W", "b"])
def test_exact_functional_refuses_huge_parameters(field):
    """Params a = 1e200 gave R_N = inf (W, b: a message about pre-activations)."""
    model = _model()
    parts = {"a": np.ones(2), "W": np.ones((2, 2)), "b": np.zeros(2)}
    parts[field] = parts[field] * HUGE + HUGE
    theta = Params(**parts)
    for call in (model.population_risk, model.potential_gradient, lambda t: model.output(t, np.ones((1, 2)))):
        with pytest.raises(ValueError, match=rf"theta\.{field}: {RANGE}"):
            call(theta)


@pytest.mark.parametrize("name", ["kappa", "a", "b", "a_std", "b_std"])
def test_model_init_refuses_huge_arguments(name):
    """init(a=1e200) returned Params whose risk was inf; init(kappa=1e308) W rows near the float maximum."""
    with pytest.raises(ValueError, match=f"{name}: {RANGE}"):
        _model().init(3, seed=0, **{name: 1e308 if name == "kappa" else HUGE})


def test_init_gaussian_refuses_huge_kappa():
    """init_gaussian(1000, 1, 1e308) returned rows of inf (κ·G overflows for |G| > 1.8)."""
    with pytest.raises(ValueError, match=f"kappa: {RANGE}"):
        init_gaussian(1000, 1, 1e308)
    W = init_gaussian(1000, 1, 1e150, seed=0)
    assert np.all(np.isfinite(W)) and np.mean(W**2) == pytest.approx(1e300, rel=0.15)  # E w² = κ², 1000 draws


def test_network_scale_refused_beyond_the_limit():
    """scale = 1e200 raised a raw OverflowError (α²) in population_risk."""
    with pytest.raises(ValueError, match=f"scale: {RANGE}"):
        TwoLayerNetwork(relu(), scale=HUGE)


def test_relu_second_moment_refuses_huge_scales_and_is_exact_at_the_limit():
    """relu().gaussian_second_moment(1e200) was inf; E relu(aG)² = a²/2."""
    with pytest.raises(ValueError, match=f"a: {RANGE}"):
        relu().gaussian_second_moment(HUGE)
    assert float(relu().gaussian_second_moment(1e150)) == pytest.approx(0.5e300, rel=1e-14)
    with pytest.raises(ValueError, match=f"scale1: {RANGE}"):
        gaussian_pair(relu(), HUGE, 0.0, 1.0, 0.0, 0.5)
    # bounded σ stay exact at every finite scale: E erf(aG/√2)² → E sgn(G)² = 1
    assert float(erf().gaussian_second_moment(HUGE)) == pytest.approx(1.0, rel=1e-14)


def test_overflow_from_finite_inputs_is_named_as_such():
    """Inputs within the range whose products overflow (α a = 1e300, a² α² ~ 1e600): the error says
    the value overflowed from finite arguments (it was "W: contains NaN or inf" for the gradient,
    a W the user passed finite; the risk was inf)."""
    theta = Params([1e150], [[1e100, 0.0]], [0.0])
    for data in (None, ArrayData(np.ones((2, 2)), np.ones(2))):
        model = _model(data, scale=1e150)
        with pytest.raises(ValueError, match=r"population_risk: overflowed to inf/NaN although every argument is "
                                             r"finite|empirical_risk: overflowed"):
            model.population_risk(theta)
        with pytest.raises(ValueError, match="potential_gradient: overflowed to inf/NaN although every argument"):
            model.potential_gradient(theta)


def test_anisotropic_init_refuses_nan_output_weight():
    """init(2, a=nan) returned NaN points."""
    model = AnisotropicGaussians(0.5, 4, 2, relu())
    with pytest.raises(ValueError, match="a: must be finite"):
        model.init(2, a=float("nan"))
    with pytest.raises(ValueError, match=f"b: {RANGE}"):
        model.init(2, b=HUGE)
    assert model.init(2, a=2.0, seed=0)[:, 0].tolist() == [2.0, 2.0]
