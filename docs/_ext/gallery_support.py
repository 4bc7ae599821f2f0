"""sphinx-gallery support for the scripts of ``examples/``.

The examples are command-line programs: they parse ``sys.argv``, save their figures as PNG
files in ``--out`` and close them. For the documentation each runs as
``example.py --quick --out docs/_build/gallery_out/<name>`` (:func:`quick_argv`), and
:func:`saved_figure_scraper` puts the PNG files it wrote into the rendered page.
"""
from __future__ import annotations

import shutil
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "_build" / "gallery_out"


def _out_dir(src_file):
    return OUT / Path(src_file).stem


def quick_argv(gallery_conf, script_vars):
    """The command line of an example in the docs build: its quick variant."""
    out = _out_dir(script_vars["src_file"])
    shutil.rmtree(out, ignore_errors=True)
    return ["--quick", "--out", str(out)]


def saved_figure_scraper(block, block_vars, gallery_conf, **kwargs):
    """sphinx-gallery scraper: the PNG files the example saved in its ``--out`` folder
    since the previous code block."""
    from sphinx_gallery.scrapers import figure_rst

    seen = block_vars.setdefault("saved_figures", set())
    out = _out_dir(block_vars["src_file"])
    new = sorted(p for p in out.glob("*.png") if p not in seen) if out.is_dir() else []
    seen.update(new)
    paths = []
    for png, target in zip(new, block_vars["image_path_iterator"]):
        shutil.copyfile(png, target)
        paths.append(target)
    return figure_rst(paths, gallery_conf["src_dir"]) if paths else ""
