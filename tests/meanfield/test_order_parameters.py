"""Teacher–student order parameters against direct products, the exact risk of MeanFieldModel
and its exact ∇Ψ, and prescribed initial overlaps."""
import math

import numpy as np
import pytest

from meanfield import (MeanFieldModel, OrderParameters, Params, Tanh, TeacherStudent, TwoLayerNetwork, erf,
                       init_from_overlaps, order_parameters, overlap_gradient, relu, risk_from_overlaps)

D = 9
ACTS = {"erf": erf(), "relu": relu(), "tanh": Tanh(amplitude=1.2, slope=0.9, center=0.1)}


def _model(act, train=("a", "w", "b"), noise=0.3, scale=1.0, m=3, d=D):
    rng = np.random.default_rng(5)
    law = TeacherStudent(rng.standard_normal((m, d)) / math.sqrt(d), ACTS[act], a=[1.0, -0.5, 2.0][:m],
                         b=[0.1, 0.0, -0.2][:m], noise_std=noise)
    return MeanFieldModel(law, TwoLayerNetwork(ACTS[act], train=train, scale=scale))


def test_order_parameters_are_the_products():
    model = _model("erf")
    theta = model.init(4, seed=1, a_std=0.5, b_std=0.3)
    op = order_parameters(theta, model)
    Ws = model.data.W
    np.testing.assert_array_equal(op.R, theta.W @ Ws.T)
    np.testing.assert_allclose(op.Q, theta.W @ theta.W.T, rtol=0, atol=1e-16)
    np.testing.assert_array_equal(op.T, Ws @ Ws.T)
    np.testing.assert_array_equal(op.a, theta.a)
    np.testing.assert_array_equal(op.b_teacher, model.data.b)
    assert (op.K, op.M) == (4, 3)
    with pytest.raises(ValueError):
        op.Q[0, 0] = 1.0            # frozen


@pytest.mark.parametrize("act", list(ACTS))
@pytest.mark.parametrize("scale", [1.0, 2.5])
def test_risk_from_overlaps_is_the_models_exact_risk(act, scale):
    model = _model(act, scale=scale)
    theta = model.init(5, kappa=0.9, seed=2, a_std=0.5, b_std=0.3)
    op = order_parameters(theta, model.data)
    risk = risk_from_overlaps(op, model.activation, model.data.activation, noise=model.data.noise_std, scale=scale)
    assert risk == pytest.approx(model.population_risk(theta), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("act", list(ACTS))
def test_overlap_gradient_is_the_models_exact_gradient(act):
    model = _model(act, scale=1.5)
    theta = model.init(5, kappa=1.1, seed=3, a_std=0.5, b_std=0.3)
    g = overlap_gradient(order_parameters(theta, model), model.activation, model.data.activation, scale=1.5)
    exact = model.potential_gradient(theta)
    np.testing.assert_allclose(g.P @ theta.W + g.S @ model.data.W, exact.W, rtol=0, atol=1e-10)
    np.testing.assert_allclose(g.grad_a, exact.a, rtol=0, atol=1e-10)
    np.testing.assert_allclose(g.grad_b, exact.b, rtol=0, atol=1e-10)


@pytest.mark.parametrize("d", [50, 2000])
def test_init_from_overlaps_reproduces_the_overlaps(d):
    rng = np.random.default_rng(0)
    law = TeacherStudent(rng.standard_normal((2, d)) / math.sqrt(d), erf())
    T = law.W @ law.W.T
    B = rng.standard_normal((5, 5))
    gram = B @ B.T / 5                      # a random valid joint Gram matrix, rescaled to this teacher
    L = np.linalg.cholesky(T)
    Lg = np.linalg.cholesky(gram[3:, 3:])
    A = np.eye(5)
    A[3:, 3:] = L @ np.linalg.inv(Lg)
    gram = A @ gram @ A.T
    Q0, R0 = gram[:3, :3], gram[:3, 3:]
    theta = init_from_overlaps(law, Q0, R0, a0=[1.0, 2.0, 3.0], seed=4)
    np.testing.assert_allclose(theta.W @ theta.W.T, Q0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(theta.W @ law.W.T, R0, rtol=0, atol=1e-12)
    assert theta.a.tolist() == [1.0, 2.0, 3.0] and theta.b.tolist() == [0.0] * 3
    other = init_from_overlaps(law, Q0, R0, seed=5)
    assert np.abs(other.W - theta.W).max() > 1e-3
    np.testing.assert_allclose(other.W @ other.W.T, Q0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(other.W @ law.W.T, R0, rtol=0, atol=1e-12)


def test_init_from_overlaps_semidefinite_and_refusals():
    law = TeacherStudent(np.eye(2, 6), erf())
    theta = init_from_overlaps(law, [[1.0, 0.0], [0.0, 0.0]], [[1.0, 0.0], [0.0, 0.0]])   # w_1 = w*_1, w_2 = 0
    np.testing.assert_allclose(theta.W, np.eye(2, 6) * [[1.0], [0.0]], atol=1e-15)
    with pytest.raises(ValueError, match="smallest eigenvalue is -"):
        init_from_overlaps(law, [[0.5, 0.0], [0.0, 0.5]], [[1.0, 0.0], [0.0, 0.0]])   # |R| > √(Q T)
    with pytest.raises(ValueError, match="Q0: must be symmetric"):
        init_from_overlaps(law, [[1.0, 0.5], [0.0, 1.0]], np.zeros((2, 2)))
    with pytest.raises(ValueError, match="R0: expected shape"):
        init_from_overlaps(law, np.eye(2), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="d >= K"):
        init_from_overlaps(law, np.eye(5), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="linearly independent"):
        init_from_overlaps(TeacherStudent([[1.0, 0, 0, 0], [2.0, 0, 0, 0]], erf()), np.eye(1), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="teacher"):
        init_from_overlaps(np.eye(2), np.eye(1), np.zeros((1, 2)))


def test_order_parameters_refusals():
    with pytest.raises(ValueError, match="positive semidefinite"):
        OrderParameters(Q=[[1.0]], R=[[2.0]], T=[[1.0]], a=[1.0], b=[0.0], a_teacher=[1.0], b_teacher=[0.0])
    with pytest.raises(ValueError, match="a_teacher"):
        OrderParameters(Q=[[1.0]], R=[[0.5]], T=[[1.0]], a=[1.0], b=[0.0], a_teacher=[1.0, 2.0], b_teacher=[0.0])
    law = TeacherStudent(np.eye(1, 3), erf())
    with pytest.raises(ValueError, match="params: expected d = 3"):
        order_parameters(Params.from_weights(np.ones((2, 4))), law)
    op = order_parameters(Params.from_weights(np.ones((2, 3))), law)
    with pytest.raises(ValueError, match="piecewise"):
        risk_from_overlaps(op, relu(), erf())
    with pytest.raises(ValueError, match="noise"):
        risk_from_overlaps(op, erf(), erf(), noise=-1.0)
