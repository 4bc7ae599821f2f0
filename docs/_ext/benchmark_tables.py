"""Sphinx directive ``benchmark-table``: render a benchmark's JSON result file as tables.

    .. benchmark-table:: sgd_throughput.json
       :exclude: runs

reads ``<benchmark_results_dir>/sgd_throughput.json`` at build time and renders it generically
after the first paragraph of the script's own docstring (``benchmarks/sgd_throughput.py``, or
``:script:``) and the figure the script saved next to the JSON file, if any:
the scalar entries of each object as a two-column table, parallel lists of one length as one
table with a column each, lists of records as one table with a column per field, nested objects under their own caption (dotted path). Numbers are printed
to four significant digits; nothing is retyped. A file that is absent is not an error: the
page says which script writes it.
"""
from __future__ import annotations

import ast
import json
import math
import os
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective

MAX_LIST = 8  # lists of scalars longer than this are summarised as "n values, a … b"


def fmt(value):
    """A cell: numbers to four significant digits, lists shortened, the rest as text."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return f"{value:.4g}"
    if isinstance(value, list):
        if all(not isinstance(v, (list, dict)) for v in value):
            if len(value) <= MAX_LIST:
                return "[" + ", ".join(fmt(v) for v in value) + "]"
            return f"{len(value)} values, {fmt(value[0])} … {fmt(value[-1])}"
        return f"{len(value)} entries"
    if isinstance(value, dict):
        return f"{len(value)} fields"
    return str(value)


def is_scalar(value):
    return not isinstance(value, (dict, list)) or (
        isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value))


def column_groups(obj, exclude):
    """Keys of ``obj`` whose values are lists of scalars of one common length > 2, grouped by
    that length (groups of at least two keys, in the object's order)."""
    by_length = {}
    for key, value in obj.items():
        if (key not in exclude and isinstance(value, list) and 2 < len(value) <= 1000
                and all(not isinstance(v, (list, dict)) for v in value)):
            by_length.setdefault(len(value), []).append(key)
    return [keys for keys in by_length.values() if len(keys) >= 2]


def flatten(record, prefix=""):
    """A record's scalar fields, nested objects' fields under dotted names."""
    out = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def table(header, rows, caption=None):
    """A docutils table node with a header row."""
    ncols = len(header)
    tab = nodes.table(classes=["benchmark-table"])
    if caption:
        tab += nodes.title(text=caption)
    group = nodes.tgroup(cols=ncols)
    tab += group
    for _ in header:
        group += nodes.colspec(colwidth=1)

    def row(cells, literal_first):
        r = nodes.row()
        for i, cell in enumerate(cells):
            entry = nodes.entry()
            text = nodes.literal(text=cell) if (literal_first and i == 0) else nodes.Text(cell)
            entry += nodes.paragraph("", "", text)
            r += entry
        return r

    head = nodes.thead()
    head += row(header, False)
    group += head
    body = nodes.tbody()
    for cells in rows:
        body += row(cells, True)
    group += body
    return tab


def render(obj, path, exclude):
    """Tables for one JSON value at ``path`` (a dotted caption)."""
    out = []
    if isinstance(obj, list) and obj and all(isinstance(v, dict) for v in obj):
        records = [flatten(v) for v in obj]
        columns = []
        for rec in records:
            columns += [k for k in rec if k not in columns and k.split(".")[-1] not in exclude]
        rows = [[fmt(rec.get(c, "")) for c in columns] for rec in records]
        out.append(table(columns, rows, caption=path or None))
        return out
    if isinstance(obj, dict):
        columns = column_groups(obj, exclude)
        in_columns = {k for group in columns for k in group}
        scalars = [(k, v) for k, v in obj.items() if k not in exclude and k not in in_columns and is_scalar(v)]
        for group in columns:  # parallel lists (one value per N, say): one column each
            rows = [[fmt(obj[k][i]) for k in group] for i in range(len(obj[group[0]]))]
            out.append(table(group, rows, caption=path or None))
        if scalars:
            out.append(table(["quantity", "value"], [[k, fmt(v)] for k, v in scalars], caption=path or None))
        for key, value in obj.items():
            if key in exclude or is_scalar(value):
                continue
            out += render(value, f"{path}.{key}" if path else key, exclude)
        return out
    if isinstance(obj, list):  # a list of lists (or mixed): one row per item
        out.append(table(["index", "value"], [[str(i), fmt(v)] for i, v in enumerate(obj)], caption=path or None))
    return out


def script_summary(path):
    """The first paragraph of a script's module docstring, on one line ("" if none)."""
    try:
        doc = ast.get_docstring(ast.parse(Path(path).read_text()))
    except (OSError, SyntaxError, ValueError):
        return ""
    return " ".join((doc or "").split("\n\n")[0].split())


class BenchmarkTable(SphinxDirective):
    """Render ``<benchmark_results_dir>/<file>`` (see the module docstring)."""

    required_arguments = 1
    option_spec = {"exclude": directives.unchanged, "script": directives.unchanged}

    def run(self):
        name = self.arguments[0]
        folder = Path(self.config.benchmark_results_dir)
        path = folder / name
        script = self.options.get("script", f"benchmarks/{Path(name).stem}.py")
        exclude = set(self.options.get("exclude", "").split())
        root = Path(self.env.srcdir).parent
        # a dependency that does not exist marks the page outdated: it is re-read at every build
        # until the file appears, and again whenever the file changes
        self.env.note_dependency(str(path))
        self.env.note_dependency(str(path.with_suffix(".png")))
        out = []
        summary = script_summary(root / script)
        if summary:
            out.append(nodes.paragraph(text=summary))
        if not path.is_file():
            para = nodes.paragraph()
            para += nodes.Text(f"No {name} in this build: run ")
            para += nodes.literal(text=f"python {script}")
            para += nodes.Text(" to write it into benchmarks/results/, then rebuild.")
            return out + [nodes.note("", para)]
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            para = nodes.paragraph(text=f"{name} could not be read ({exc}); run python {script} again.")
            return out + [nodes.note("", para)]
        intro = nodes.paragraph()
        intro += nodes.Text("Generated at build time from ")
        intro += nodes.literal(text=f"benchmarks/results/{name}")
        intro += nodes.Text(" (written by ")
        intro += nodes.literal(text=f"python {script}")
        intro += nodes.Text(").")
        out.append(intro)
        figure = path.with_suffix(".png")
        if figure.is_file():
            uri = os.path.relpath(figure, self.env.srcdir)
            out.append(nodes.image(uri=uri, candidates={"*": uri}, alt=f"figure of {name}"))
        return out + render(data, "", exclude)


def setup(app):
    app.add_config_value("benchmark_results_dir", "benchmarks/results", "env")
    app.add_directive("benchmark-table", BenchmarkTable)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
