"""Inputs that make no sense raise a ValueError naming the argument and the accepted range
(issue 16, classes 6 and 7): no silent acceptance, no raw numpy/Attribute/TypeError."""
import numpy as np
import pytest

from meanfield import angle_quadrature, sphere_moments
from meanfield._validation import as_finite_array, check_int, check_real
from meanfield.activations import Erf, PiecewiseLinear, Tanh, ramp
from meanfield.gaussian_integrals import gaussian_mean
from meanfield.pair_kernel import pair_kernel, pair_kernel_gradient
from meanfield.wasserstein import w2_particles, w2_radial


@pytest.mark.parametrize("value", [[1 + 2j], np.array([1.0, 2.0], dtype=complex), 1j, np.complex128(3)])
def test_as_finite_array_rejects_complex(value):
    # numpy's float conversion of a complex array silently drops the imaginary part
    with pytest.raises(ValueError, match=r"W0: must be real"):
        as_finite_array(value, "W0")


@pytest.mark.parametrize("value", [None, "abc", ["1", "x"], object()])
def test_as_finite_array_names_non_numeric(value):
    with pytest.raises(ValueError, match=r"^W: expected a real numeric array"):
        as_finite_array(value, "W")


def test_check_int_and_real():
    assert check_int(3.0, "n", minimum=1) == 3
    for bad in (2.5, True, "3", None, float("nan")):
        with pytest.raises(ValueError, match=r"^n: must be an integer"):
            check_int(bad, "n", minimum=1)
    with pytest.raises(ValueError, match=r"n: must be an integer in \[1, 4\], got 5"):
        check_int(5, "n", minimum=1, maximum=4)
    for bad in ("1.0", None, 1j, True, float("inf")):
        with pytest.raises(ValueError, match=r"^x: must be"):
            check_real(bad, "x")


@pytest.mark.parametrize("panels", [0, -3, 2.5, "8", None, True])
def test_tanh_and_erf_panels(panels):
    # Tanh(panels=0) used to give all-zero Hermite tables (risk 1.0) without a word
    with pytest.raises(ValueError, match=r"^panels: must be an integer"):
        Tanh(panels=panels)
    with pytest.raises(ValueError, match=r"^panels: must be an integer"):
        Erf(panels=panels)


def test_tanh_parameters_named():
    with pytest.raises(ValueError, match=r"^slope: must be a real number"):
        Tanh(slope="steep")
    with pytest.raises(ValueError, match=r"^center: must be finite"):
        Tanh(center=np.inf)


@pytest.mark.parametrize("knots, values, match", [
    ([0.0, 1.0], [-1e308, 1e308], r"^values: entries must lie in \[-1e\+100, 1e\+100\]"),
    ([0.0, 1e-300], [0.0, 1.0], r"^values: slopes .* must lie in \[-1e\+100, 1e\+100\]"),
    ([-1e200, 1e200], [0.0, 1.0], r"^knots: entries must lie in"),
    ([0.0, 1.0], [0.0, 1.0j], r"^values: must be real"),
])
def test_piecewise_linear_overflowing_definitions(knots, values, match):
    with pytest.raises(ValueError, match=match):
        PiecewiseLinear(knots, values)
    with pytest.raises(ValueError, match=r"^left_slope: must lie in"):
        PiecewiseLinear([0.0, 1.0], [0.0, 1.0], left_slope=1e300)


def test_piecewise_linear_near_limits_still_accepted():
    act = PiecewiseLinear([0.0, 1e-90], [0.0, 1e10])  # slope 1e100: the largest accepted
    assert act(np.array([5e-91]))[0] == pytest.approx(5e9, rel=1e-12)


@pytest.mark.parametrize("d", [0, -1, 2.5, "3", None])
def test_angle_quadrature_d(d):
    with pytest.raises(ValueError, match=r"^d: must be an integer"):
        angle_quadrature(d, 8)


def test_angle_quadrature_and_moments_counts():
    with pytest.raises(ValueError, match=r"^n: must be an integer in \[1, inf\]"):
        angle_quadrature(3, 0)
    with pytest.raises(ValueError, match=r"^kmax: must be an integer in \[0, inf\]"):
        sphere_moments(3, -1)
    with pytest.raises(ValueError, match=r"^d: must be an integer"):
        sphere_moments(0.5, 4)
    assert sphere_moments(np.inf, 4).tolist() == [1.0, 0, 0, 0, 0]


def test_pair_kernel_arguments_named():
    with pytest.raises(ValueError, match=r"^activation: expected Activation, got NoneType"):
        pair_kernel(None, 1.0, 1.0, 0.5)
    with pytest.raises(ValueError, match=r"^activation: expected Activation"):
        pair_kernel_gradient("ramp", 1.0, 1.0, 0.5)
    with pytest.raises(ValueError, match=r"^b: expected a real numeric array"):
        pair_kernel(ramp(), 1.0, "x", 0.5)
    with pytest.raises(ValueError, match=r"^c: must be real"):
        pair_kernel(ramp(), 1.0, 1.0, 0.5 + 0.1j)
    with pytest.raises(ValueError, match=r"^scale: must be real"):
        gaussian_mean(ramp(), 1j, 0.0)


def test_wasserstein_arguments_named():
    edges = np.linspace(0.0, 1.0, 3)
    snaps = np.ones((2, 2))
    for index in (2.5, -1, 2, "0"):
        with pytest.raises(ValueError, match=r"^index: must be an integer"):
            w2_radial([0.5], snaps, edges, index=index)
    with pytest.raises(ValueError, match=r"^radii: must be real"):
        w2_radial(np.array([0.5 + 1j]), np.ones(2), edges)
    with pytest.raises(ValueError, match=r"^n_projections: must be an integer in \[1, inf\]"):
        w2_particles(np.zeros((3, 2)), np.ones((3, 2)), method="sliced", n_projections=0)
    with pytest.raises(ValueError, match=r"^W_a: must be real"):
        w2_particles(np.zeros((3, 2), dtype=complex), np.ones((3, 2)))


def test_hermite_kmax_is_checked_for_every_activation():
    """A negative kmax returned empty tables (PL, tanh) or raised IndexError (erf); a float kmax TypeError."""
    from meanfield import Erf, Tanh, relu
    for act in (relu(), Tanh(), Erf()):
        for bad in (-1, 2.5, "3", None):
            with pytest.raises(ValueError, match="kmax"):
                act.hermite([1.0], bad)
            with pytest.raises(ValueError, match="kmax"):
                act.hermite_table([1.0], bad)
        # an integral float is accepted and gives the int's table
        np.testing.assert_array_equal(act.hermite([1.0], 3.0), act.hermite([1.0], 3))


def test_dpsi_with_no_atoms_names_radii():
    from meanfield import IsotropicGaussians, ramp
    model = IsotropicGaussians(delta=0.8, d=40, activation=ramp())
    for method in (model.psi, model.dpsi):
        with pytest.raises(ValueError, match="radii: empty"):
            method([1.0], [])


def test_teacher_noise_std_must_be_a_scalar():
    from meanfield import TeacherStudent, relu
    with pytest.raises(ValueError, match="noise_std"):
        TeacherStudent(np.ones((1, 3)), relu(), noise_std=[0.1, 0.2])
    with pytest.raises(ValueError, match="noise_std: must be non-negative"):
        TeacherStudent(np.ones((1, 3)), relu(), noise_std=-0.1)


def test_params_compare_by_value():
    """``==`` on Params raised 'truth value of an array is ambiguous'."""
    from meanfield import Params
    p = Params(a=[1.0, 2.0], W=[[0.5, 0.0], [0.0, 2.0]], b=[0.0, 0.1])
    assert p == p.copy()
    q = p.copy()
    q.W[1, 1] = 3.0
    assert p != q
    assert p != Params(a=[1.0], W=[[0.5, 0.0]], b=[0.0])
    assert (p == "not params") is False


def test_solver_settings_that_were_silently_reinterpreted():
    """κ < 0 ran as |κ| and κ = 0 'failed' with non-finite masses; a NaN or negative energy_tol
    disabled the energy check; check_energy=True with beta was ignored; velocity took any ξ."""
    from meanfield import AnisotropicGaussians, IsotropicGaussians, relu
    from solvers import run_particle_flow, solve_anisotropic_pde
    aniso = AnisotropicGaussians(0.5, d=20, s0=4, activation=relu(), train=("w",), kmax=10)
    for kappa in (-0.8, 0.0, float("nan")):
        with pytest.raises(ValueError, match="kappa"):
            solve_anisotropic_pde(aniso, kappa=kappa, times=[0, 0.1], cells=10, progress=False)
    X = aniso.init(5, seed=0)
    for xi in (-1.0, float("inf")):
        with pytest.raises(ValueError, match="xi"):
            aniso.velocity(X, xi=xi)
    np.testing.assert_allclose(aniso.velocity(X, xi=0.5), 0.5 * aniso.velocity(X, xi=1.0), rtol=1e-15)
    model = IsotropicGaussians(0.8, 40, ramp())
    W0 = np.random.default_rng(0).standard_normal((4, 40)) * 0.8 / np.sqrt(40)
    for tol in (float("nan"), -1e-3):
        with pytest.raises(ValueError, match="energy_tol"):
            run_particle_flow(model, W0, times=[0, 0.1], dt=0.05, energy_tol=tol, progress=False)
    with pytest.raises(ValueError, match="check_energy"):
        run_particle_flow(model, W0, times=[0, 0.1], dt=0.05, beta=10.0, check_energy=True, progress=False)
