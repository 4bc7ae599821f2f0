"""Sphinx configuration of the meanfield documentation.

Build (warnings are errors):

    python -m sphinx -W -b html docs docs/_build/html

The gallery of ``examples/`` is rendered without running the scripts unless asked:
``MEANFIELD_DOCS_GALLERY=1`` (or ``-D plot_gallery=1``) runs each example with ``--quick``
and shows the figures it writes. Benchmark tables are read from ``benchmarks/results/*.json``
(or the folder in ``MEANFIELD_BENCHMARK_RESULTS``) at build time; absent files are skipped.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(DOCS / "_ext"))

import meanfield  # noqa: E402
import solvers  # noqa: E402
from api_pages import write_api_pages  # noqa: E402

# -- project -----------------------------------------------------------------------------
project = "meanfield"
author = "the meanfield developers"
copyright = "the meanfield developers"
try:
    from importlib.metadata import version as _version

    release = _version("meanfield")
except Exception:  # not installed: a source checkout
    release = "0.1.0"
version = release

# -- extensions --------------------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "benchmark_tables",
    "plain_docstrings",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
root_doc = "index"
default_role = "math"
highlight_language = "none"  # literal blocks are shell commands and plain-text tables

# -- API reference: one autosummary page per package, from its __all__ --------------------
write_api_pages(DOCS / "api", {"meanfield": meanfield, "solvers": solvers})
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "none"
autoclass_content = "class"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_attributes_as_param_list = True

# -- maths ---------------------------------------------------------------------------------
mathjax3_config = {
    "tex": {
        "macros": {
            "R": r"\mathbb{R}",
            "E": r"\mathbb{E}",
            "rhobar": r"\bar\rho",
        }
    }
}

# -- gallery of examples/ ------------------------------------------------------------------
_run_gallery = os.environ.get("MEANFIELD_DOCS_GALLERY", "0").lower() in ("1", "true", "yes", "run")
sphinx_gallery_conf = {
    "examples_dirs": [str(ROOT / "examples")],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": r".*\.py$",  # every example is run when the gallery is run at all
    "plot_gallery": _run_gallery,
    "reset_argv": "gallery_support.quick_argv",
    "image_scrapers": ("matplotlib", "gallery_support.saved_figure_scraper"),
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "abort_on_example_error": True,
    "show_signature": False,
    "min_reported_time": 1e9,
    "write_computation_times": False,
}

# -- HTML ----------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = "meanfield"
html_static_path = []
html_theme_options = {
    "navigation_depth": 2,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_sidebars = {"**": ["sidebar-nav-bs"]}
html_show_sourcelink = False

# -- benchmark tables ----------------------------------------------------------------------
benchmark_results_dir = os.environ.get("MEANFIELD_BENCHMARK_RESULTS", str(ROOT / "benchmarks" / "results"))
