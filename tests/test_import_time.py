"""``import meanfield, solvers`` loads no heavy optional library (issue 28).

POT's backend imports torch and jax whenever they are installed (2.75 s of a 3.3 s import was
``ot.backend``), tqdm.auto loads the notebook bar under Jupyter, and scipy.stats, scipy.optimize,
scipy.interpolate, scipy.integrate and scipy.special cost 0.15–0.45 s each; all of them are
imported by the functions that use them, on first use. The check reads which modules
``python -X importtime`` reports, so it does not depend on how fast the machine is.
"""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

DEFERRED = ("ot", "torch", "jax", "matplotlib", "dask", "distributed", "tqdm.notebook", "IPython",
            "scipy.stats", "scipy.optimize", "scipy.interpolate", "scipy.integrate", "scipy.special")


def imported_modules(code):
    """Names of the modules a fresh interpreter imports while running ``code``, from the
    ``import time: self | cumulative | name`` lines of ``-X importtime``."""
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True, timeout=300)
    names = [line.split("|")[-1].strip() for line in out.stderr.splitlines() if line.startswith("import time:")]
    return set(names[1:])   # the first line is the header "self [us] | cumulative | imported package"


def loaded(modules, name):
    return any(m == name or m.startswith(name + ".") for m in modules)


@pytest.fixture(scope="module")
def package_imports():
    return imported_modules("import meanfield, solvers")


def test_the_parser_sees_the_imports(package_imports):
    for name in ("meanfield", "meanfield.wasserstein", "solvers", "solvers.sgd", "numpy", "numba"):
        assert name in package_imports


@pytest.mark.parametrize("name", DEFERRED)
def test_import_loads_no_heavy_library(package_imports, name):
    assert not loaded(package_imports, name), f"import meanfield, solvers imports {name}"


def test_first_use_imports_pot():
    modules = imported_modules("import meanfield; meanfield.w2_particles([[0.0]], [[1.0]])")
    assert loaded(modules, "ot")
