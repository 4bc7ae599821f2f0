"""The quadrature orders of the η² term E[δ_i δ_j] (meanfield.overlap_noise.ORDERS): each order within
its stated relative error, against Saad & Solla's closed form (erf, biases 0) and against a
higher-order rule (60 nodes on panels 4 wide; ReLU and leaky ReLU with biases), on overlaps not
used to measure the bounds."""
import math

import numpy as np
import pytest

from meanfield import OrderParameters, erf, leaky_relu, relu, sgd_noise_overlaps
from meanfield import overlap_noise


def _overlaps(bias, seed=7):
    """Random overlaps (K = 2, 3 students, M = 2 teachers), a nearly symmetric plateau state and a small start."""
    rng = np.random.default_rng(seed)
    out = []
    for k in (2, 3):
        W = rng.standard_normal((k + 2, 9)) / math.sqrt(9) * 1.3
        C = W @ W.T
        b, bt = (0.4 * rng.standard_normal(k), 0.4 * rng.standard_normal(2)) if bias else (np.zeros(k), np.zeros(2))
        out.append(OrderParameters(Q=C[:k, :k], R=C[:k, k:], T=C[k:, k:], a=rng.uniform(0.5, 2.0, k), b=b,
                                   a_teacher=[1.5, -1.0], b_teacher=bt))
    out.append(OrderParameters(Q=[[0.5, 0.489], [0.489, 0.5]], R=[[0.3, 0.3], [0.3, 0.3005]], T=np.eye(2),
                               a=[2.0, 2.0], b=np.zeros(2), a_teacher=[2.0, 2.0], b_teacher=np.zeros(2)))
    out.append(OrderParameters(Q=0.25 * np.eye(2), R=[[2e-3, 6e-4], [5e-4, 1.5e-3]], T=np.eye(2), a=[2.0, 2.0],
                               b=np.zeros(2), a_teacher=[2.0, 2.0], b_teacher=np.zeros(2)))   # a small start
    return out


def _relative_error(got, ref):
    return max(np.max(np.abs(g - r)) / np.max(np.abs(r)) for g, r in zip(got, ref))


@pytest.mark.parametrize("nodes,bound", overlap_noise.ORDERS)
def test_erf_quadrature_order_against_the_closed_form(nodes, bound, monkeypatch):
    ops = _overlaps(bias=False)
    closed = [sgd_noise_overlaps(op, erf(), erf(), noise=0.3, scale=1.2) for op in ops]
    monkeypatch.setattr(overlap_noise, "_erf_form", lambda act: None)
    quad = [sgd_noise_overlaps(op, erf(), erf(), noise=0.3, scale=1.2, rtol=bound) for op in ops]
    assert overlap_noise._order(bound) == nodes
    assert _relative_error(quad, closed) <= bound


PIECEWISE = {"relu": relu(), "leaky_relu": leaky_relu(0.2)}


@pytest.fixture(scope="module")
def finer_rule():
    """Per activation: E[δδ] on the biased overlaps by 60 nodes on panels 4 wide."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(overlap_noise, "PANEL", 4.0)
        mp.setitem(overlap_noise._RULES, 60, np.polynomial.legendre.leggauss(60))
        mp.setattr(overlap_noise, "_order", lambda rtol: 60)
        return {name: [sgd_noise_overlaps(op, act, act, noise=0.3, scale=1.2) for op in _overlaps(bias=True)]
                for name, act in PIECEWISE.items()}


@pytest.mark.parametrize("act", list(PIECEWISE))
@pytest.mark.parametrize("nodes,bound", overlap_noise.ORDERS)
def test_piecewise_linear_quadrature_order_against_a_finer_rule(act, nodes, bound, finer_rule):
    got = [sgd_noise_overlaps(op, PIECEWISE[act], PIECEWISE[act], noise=0.3, scale=1.2, rtol=bound)
           for op in _overlaps(bias=True)]
    assert _relative_error(got, finer_rule[act]) <= bound


def test_rtol_picks_the_fewest_nodes_within_it():
    assert [overlap_noise._order(r) for r in (0.1, 1e-4, 1e-6, 1e-8, 1e-10, 1e-12)] == [16, 20, 24, 30, 40, 40]


def test_nearly_parallel_units_take_the_full_order():
    """Students correlated at 0.995 (beyond PARALLEL): the fewer nodes would be off by 1e-4, so any rtol
    gives the full rule's value."""
    op = OrderParameters(Q=[[0.5, 0.4975], [0.4975, 0.5]], R=[[0.3, 0.3], [0.3, 0.301]], T=np.eye(2), a=[2.0, 2.0],
                         b=np.zeros(2), a_teacher=[2.0, 2.0], b_teacher=np.zeros(2))
    full = sgd_noise_overlaps(op, relu(), relu())
    assert np.array_equal(sgd_noise_overlaps(op, relu(), relu(), rtol=1e-3), full)


@pytest.mark.parametrize("rtol", [0.0, 0.5, 1e-14, float("nan"), "1e-4"])
def test_bad_rtol_is_named(rtol):
    op = _overlaps(bias=False)[0]
    with pytest.raises(ValueError, match="rtol"):
        sgd_noise_overlaps(op, relu(), relu(), rtol=rtol)
