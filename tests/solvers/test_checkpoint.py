"""An SGD checkpoint resumes only its own problem, and a damaged one says so (issue 31)."""
import numpy as np
import pytest

from meanfield import ArrayData, GaussianMixture, IsotropicGaussians, MeanFieldModel, TwoLayerNetwork, ramp, relu
from solvers import init_gaussian, run_sgd

KW = dict(eps=1e-3, times=[0.005, 0.01], seed=3, progress=False)


@pytest.fixture(scope="module")
def isotropic():
    return IsotropicGaussians(delta=0.8, d=10, activation=ramp())


def _finished_checkpoint(path, model, init, **kw):
    return run_sgd(model, init, checkpoint=str(path), **{**KW, **kw})


def test_a_callable_xi_resumes_only_the_same_schedule(isotropic, tmp_path):
    W0 = init_gaussian(20, 10, 0.8, seed=1)
    path = tmp_path / "ck.npz"
    first = _finished_checkpoint(path, isotropic, W0, xi=lambda t: 1.0 / (1.0 + t), record=("weights",))
    same = _finished_checkpoint(path, isotropic, W0, xi=lambda t: 1.0 / (1.0 + t), record=("weights",))
    np.testing.assert_array_equal(same.weights, first.weights)
    with pytest.raises(ValueError, match="checkpoint: .* another xi"):
        _finished_checkpoint(path, isotropic, W0, xi=lambda t: 2.0 / (1.0 + t), record=("weights",))
    with pytest.raises(ValueError, match="checkpoint: .* another xi"):  # differs only late in the run
        _finished_checkpoint(path, isotropic, W0, xi=lambda t: 1.0 / (1.0 + t) + (t > 0.009), record=("weights",))


def test_held_out_rows_enter_the_identity(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((30, 5)), np.sign(rng.standard_normal(30))
    net = TwoLayerNetwork(relu(), train=("a", "w"))

    def model(seed):
        Xt = np.random.default_rng(seed).standard_normal((10, 5))
        return MeanFieldModel(ArrayData(X, y, Xt, np.sign(Xt[:, 0])), net)
    theta = model(1).init(15, seed=2)
    path = tmp_path / "ck.npz"
    _finished_checkpoint(path, model(1), theta, record=("risk",))
    with pytest.raises(ValueError, match="checkpoint: .* different problem"):
        _finished_checkpoint(path, model(2), theta, record=("risk",))


def test_probes_and_centring_enter_the_identity(tmp_path):
    base = MeanFieldModel(GaussianMixture.anisotropic(0.5, d=6, s0=2), TwoLayerNetwork(relu(), train=("a", "w")))
    theta = base.init(12, seed=0)
    probes = np.random.default_rng(1).standard_normal((4, 6))
    path = tmp_path / "ck.npz"
    _finished_checkpoint(path, base, theta, record=("output",), probes=probes)
    with pytest.raises(ValueError, match="checkpoint: .* different problem"):
        _finished_checkpoint(path, base, theta, record=("output",), probes=probes + 1.0)
    path = tmp_path / "centred.npz"
    _finished_checkpoint(path, base.centered(theta), theta, record=("radii",))
    other = base.init(12, seed=5)
    with pytest.raises(ValueError, match="checkpoint: .* different problem"):
        _finished_checkpoint(path, base.centered(other), theta, record=("radii",))


def test_a_corrupt_checkpoint_is_a_value_error(isotropic, tmp_path):
    W0 = init_gaussian(20, 10, 0.8, seed=1)
    path = tmp_path / "ck.npz"
    _finished_checkpoint(path, isotropic, W0, record=("weights",))
    raw = bytearray(path.read_bytes())
    middle = len(raw) // 2
    raw[middle:middle + 64] = bytes(64)  # zeros inside a member's data: its CRC fails
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="checkpoint: .*corrupt"):
        _finished_checkpoint(path, isotropic, W0, record=("weights",))
    path.write_bytes(bytes(raw[:middle]))  # truncated
    with pytest.raises(ValueError, match="checkpoint: .*corrupt"):
        _finished_checkpoint(path, isotropic, W0, record=("weights",))


def test_a_non_finite_checkpoint_is_called_corrupt(isotropic, tmp_path):
    W0 = init_gaussian(20, 10, 0.8, seed=1)
    path = tmp_path / "ck.npz"
    run_sgd(isotropic, W0, checkpoint=str(path), **{**KW, "times": [0.005]}, record=("weights",))
    with np.load(path) as data:
        arrays = dict(data)
    arrays["W"][3, 2] = np.nan
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match="checkpoint: .*corrupt") as info:
        _finished_checkpoint(path, isotropic, W0, record=("weights",))
    assert "reduce eps" not in str(info.value)
