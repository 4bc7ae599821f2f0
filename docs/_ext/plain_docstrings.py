"""Read the package's docstrings as the plain text they are written in.

The docstrings state their equations in Unicode plain text (|x|, ‖w‖, ρ̄), not in
reStructuredText: a bar would start a substitution reference. Before numpydoc parses a
docstring, this hook escapes every ``|`` outside inline literals, literal blocks and
doctest blocks, so |c| renders as |c| instead of failing the build.
"""
from __future__ import annotations

import re

_INLINE = re.compile(r"(``.+?``|`[^`]+`)")


def escape_bars(text):
    """``text`` with each | outside `...` and ``...`` spans escaped as \\|."""
    parts = _INLINE.split(text)
    return "".join(part if i % 2 else part.replace("|", r"\|") for i, part in enumerate(parts))


def _indent(line):
    return len(line) - len(line.lstrip())


def escape_docstring(lines):
    """Escape the bars of a docstring's lines in place (see the module docstring)."""
    literal_indent = None  # indentation of the paragraph that opened a literal block
    doctest = False
    for i, line in enumerate(lines):
        stripped = line.strip()
        if literal_indent is not None:
            if not stripped or _indent(line) > literal_indent:
                continue
            literal_indent = None
        if stripped.startswith(">>>"):
            doctest = True
        elif not stripped:
            doctest = False
        if doctest:
            continue
        lines[i] = escape_bars(line)
        if stripped.endswith("::"):
            literal_indent = _indent(line)


def _process(app, what, name, obj, options, lines):
    escape_docstring(lines)


def setup(app):
    app.connect("autodoc-process-docstring", _process, priority=100)  # before numpydoc (500)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
