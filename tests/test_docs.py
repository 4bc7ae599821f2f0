"""The documentation builds with warnings as errors, and its generated parts are right.

Skipped where Sphinx and its extensions are not installed (``pip install -e ".[docs]"``).
The gallery is rendered without running the examples (the default of docs/conf.py), so the
build takes well under a minute.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
sys.path.insert(0, str(DOCS / "_ext"))

import plain_docstrings  # noqa: E402  (no Sphinx needed)
from api_pages import package_page  # noqa: E402

import meanfield  # noqa: E402
import solvers  # noqa: E402

DOC_PACKAGES = ("sphinx", "numpydoc", "sphinx_gallery", "pydata_sphinx_theme")


def _need_sphinx():
    for name in DOC_PACKAGES:
        pytest.importorskip(name, reason='the docs extra is not installed: pip install -e ".[docs]"')


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Build the HTML docs once with -W, against a results folder holding one known JSON file."""
    _need_sphinx()
    out = tmp_path_factory.mktemp("html")
    results = tmp_path_factory.mktemp("results")
    (results / "pde_speed.json").write_text(json.dumps(
        {"model": "reference", "rows": [{"cells": 500, "w2_t5": 0.0123456, "seconds_t5": 1.5e-3},
                                         {"cells": 1000, "w2_t5": 0.00481, "seconds_t5": 2.25}]}))
    env = dict(os.environ, MEANFIELD_BENCHMARK_RESULTS=str(results), MEANFIELD_DOCS_GALLERY="0")
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-E", "-b", "html",
                           str(DOCS), str(out)], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-5000:]
    assert proc.stderr.strip() == "", proc.stderr[-5000:]
    return out


def test_every_public_name_has_a_reference_page(built):
    for package in (meanfield, solvers):
        for name in package.__all__:
            page = built / "api" / "generated" / f"{package.__name__}.{name}.html"
            assert page.is_file(), f"no API page for {package.__name__}.{name}"


def test_benchmark_tables_come_from_the_json_present(built):
    html = (built / "benchmarks.html").read_text()
    # the file that exists is rendered, its numbers to 4 significant digits ...
    assert "0.01235" in html and "0.00481" in html and "0.0015" in html
    # ... and the absent ones are notes that name the script to run
    assert "benchmarks/sgd_throughput.py" in html
    assert "No sgd_throughput.json in this build" in html


def test_theory_links_each_equation_to_its_function(built):
    html = (built / "theory.html").read_text()
    for target in ("meanfield.IsotropicGaussians.kernel_features", "solvers.run_sgd",
                   "solvers.gibbs_fixed_point", "meanfield.w2_radial", "meanfield.gaussian_pair",
                   "solvers.solve_radial_pde", "meanfield.sphere_moments"):
        assert re.search(rf'href="api/generated/[^"]*#{re.escape(target)}"', html), target


def test_nothing_in_the_project_refers_to_files_outside_it():
    forbidden = ("SPEC" + ".md", "../" + "shared")
    hits = []
    for path in ROOT.rglob("*"):
        if any(part in (".git", "_build", "__pycache__", ".pytest_cache") for part in path.parts):
            continue
        if path.is_file() and path.suffix in (".py", ".md", ".rst", ".toml", ".txt", ""):
            text = path.read_text(errors="ignore")
            hits += [f"{path.relative_to(ROOT)}: {word}" for word in forbidden if word in text]
    assert not hits, hits


def test_api_page_lists_all_names_by_kind():
    text = package_page("solvers", solvers)
    assert "   :template: exception.rst" in text
    listed = re.findall(r"^   ([A-Za-z_]\w*)$", text, flags=re.M)
    assert sorted(listed) == sorted(solvers.__all__)


def test_bars_escaped_outside_literals_only():
    lines = ["|c| ≤ ½ and ``|x|`` kept", "", "Table::", "", "    |a| literal", "", ">>> abs(-1) | 0", "1",
             "", "after |b|"]
    plain_docstrings.escape_docstring(lines)
    assert lines[0] == r"\|c\| ≤ ½ and ``|x|`` kept"
    assert lines[4] == "    |a| literal" and lines[6] == ">>> abs(-1) | 0"
    assert lines[9] == r"after \|b\|"


def test_benchmark_cells_are_formatted_not_retyped():
    _need_sphinx()
    import benchmark_tables

    assert benchmark_tables.fmt(0.012345678) == "0.01235"
    assert benchmark_tables.fmt(float("nan")) == "nan"
    assert benchmark_tables.fmt(list(range(20))) == "20 values, 0 … 19"
    assert benchmark_tables.flatten({"a": {"b": 1}, "c": 2}) == {"a.b": 1, "c": 2}
    sweep = {"N": [100, 200, 400], "w2": [0.1, 0.07, 0.05], "ci": [-0.6, -0.4], "note": "x", "one": [1, 2, 3]}
    assert benchmark_tables.column_groups(sweep, exclude={"one"}) == [["N", "w2"]]


def test_docstring_coverage_report_finds_gaps_and_sections():
    pytest.importorskip("numpydoc")
    sys.path.insert(0, str(DOCS))
    import docstring_coverage

    def documented(x):
        """Add one.

        Parameters
        ----------
        x : float

        Returns
        -------
        float

        Raises
        ------
        ValueError
            if x is negative.

        Examples
        --------
        >>> documented(1)
        2
        """
        if x < 0:
            raise ValueError("x")
        return x + 1

    def bare(x):
        """Add one."""
        if x < 0:
            raise ValueError("x")
        return x + 1

    assert docstring_coverage.missing_sections(documented, "function") == []
    assert docstring_coverage.missing_sections(bare, "function") == ["Parameters", "Returns", "Raises", "Examples"]
    rows = docstring_coverage.report()
    assert all(name.split(".")[0] in ("meanfield", "solvers") for name, _, _ in rows)
    # MeanFieldModel has an Examples section: never reported as lacking one
    assert not any(name == "meanfield.MeanFieldModel" and "Examples" in gaps for name, _, gaps in rows)


def test_every_public_docstring_is_complete_and_well_formed():
    """docs/docstring_coverage.py --strict: every public function, class and method has the
    numpydoc sections that apply (Parameters, Returns, Raises, Examples) and short type fields."""
    pytest.importorskip("numpydoc")
    sys.path.insert(0, str(DOCS))
    import docstring_coverage
    rows = docstring_coverage.report()
    assert rows == [], "\n".join(f"{name}: {', '.join(gaps)}" for name, _, gaps in rows)
