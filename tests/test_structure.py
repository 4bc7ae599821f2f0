"""The package's shape (issue 27): solvers never probe a model for attributes (they check its
protocol once, :func:`meanfield._validation.check_model`, then call what the protocol lists), and
no module of either package is over 600 lines."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 600


def _modules(*packages):
    return sorted(p for pkg in packages for p in (ROOT / pkg).rglob("*.py"))


def _is_model(node):
    """``model``, ``self.model``, ``self._model``, … : an expression naming a model."""
    if isinstance(node, ast.Name):
        return "model" in node.id
    if isinstance(node, ast.Attribute):
        return "model" in node.attr
    return False


def model_probes(source):
    """(line, text) of every hasattr/getattr whose first argument names a model."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("hasattr", "getattr")
                and node.args and _is_model(node.args[0])):
            found.append((node.lineno, ast.unparse(node)))
    return found


def test_the_probe_finder_finds_probes():
    src = "hasattr(model, 'x')\ngetattr(self.model, 'y', None)\ngetattr(options, 'z')\nhasattr(my_model, 'w')\n"
    assert [line for line, _ in model_probes(src)] == [1, 2, 4]


def test_solvers_do_not_probe_models():
    probes = {str(p.relative_to(ROOT)): model_probes(p.read_text()) for p in _modules("solvers")}
    assert not {k: v for k, v in probes.items() if v}


@pytest.mark.parametrize("package", ["meanfield", "solvers"])
def test_no_module_is_over_600_lines(package):
    long = {str(p.relative_to(ROOT)): n for p in _modules(package)
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long


def test_test_files_mirror_the_packages_with_unique_basenames():
    """tests/meanfield and tests/solvers have no ``__init__.py``: pytest imports each test file by
    its basename, so two files of one name in different folders would collide."""
    names = [p.name for p in (ROOT / "tests").rglob("*.py")]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    assert not list((ROOT / "tests").rglob("__init__.py"))
