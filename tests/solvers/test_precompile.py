"""The warm-up command ``python -m solvers.precompile``: its interface and the calls it makes
(not how long they take)."""
import subprocess
import sys
from pathlib import Path

import pytest

import solvers
import solvers.precompile as warm

ROOT = Path(__file__).resolve().parents[2]
SOLVER_NAMES = ("run_sgd", "run_particle_flow", "solve_radial_pde", "solve_reduced_lagrangian",
                "solve_anisotropic_pde")


@pytest.fixture
def spied(monkeypatch):
    """Every solver precompile calls, wrapped to log (name, keyword arguments) and then run."""
    log = []
    for name in SOLVER_NAMES:
        real = getattr(solvers, name)

        def spy(*args, _real=real, _name=name, **kwargs):
            log.append((_name, kwargs))
            return _real(*args, **kwargs)

        monkeypatch.setattr(warm, name, spy)
    return log


def test_help_lists_the_options():
    out = subprocess.run([sys.executable, "-m", "solvers.precompile", "--help"], cwd=ROOT, capture_output=True,
                         text=True, check=True, timeout=300)
    for option in ("--family", "--model", "--all", "--list"):
        assert option in out.stdout


def test_isotropic_family_makes_the_documented_first_calls(spied):
    done = warm.precompile(families=["isotropic"])
    assert [(c["family"], c["call"]) for c in done] == [
        ("isotropic", "run_sgd(eps=1e-3, default record)"),
        ("isotropic", "run_particle_flow(default method and record)"),
        ("isotropic", "solve_radial_pde(cells=50)")]
    assert [name for name, _ in spied] == ["run_sgd", "run_particle_flow", "solve_radial_pde"]
    for name, kwargs in spied[:2]:
        assert "record" not in kwargs and "method" not in kwargs   # the defaults a first run uses
    assert all(c["seconds"] >= 0 for c in done)


def test_a_model_spec_gets_sgd_and_the_flow(spied):
    spec = {"kind": "isotropic_gaussians", "delta": 0.8, "d": 6,
            "activation": {"kind": "piecewise_linear", "knots": [0.5, 1.5], "values": [-2.5, 7.5]}}
    lines = []
    done = warm.precompile(families=[], models=[spec], echo=lines.append)
    assert [c["call"] for c in done] == ["run_sgd(eps=1e-3, default record)",
                                         "run_particle_flow(default method and record)"]
    assert [name for name, _ in spied] == ["run_sgd", "run_particle_flow"] and len(lines) == 2


def test_unknown_family_is_refused():
    with pytest.raises(ValueError, match="family"):
        warm.precompile(families=["nope"])
