"""List the public docstrings that lack numpydoc sections.

    python docs/docstring_coverage.py            # a table: name, missing sections
    python docs/docstring_coverage.py --strict   # exit status 1 if anything is missing or misstyled

Covers every name in ``meanfield.__all__`` and ``solvers.__all__`` and the public methods and
properties of those classes. A section is required when it applies: Parameters when the
callable takes arguments (besides self), Returns for functions and methods that return
something (not for classes, properties or ``__init__``), Raises when the source raises
directly, Examples for every public function and class.

Style: numpydoc renders the text after ``name :`` as the entry's TYPE. An entry of
Parameters, Returns, Yields or Attributes whose type field reads like prose (it contains
``;``, has more than MAX_TYPE_WORDS words or ends with ``.``) is reported as
``style (name, ...)``: the description belongs on the indented lines below.
"""
from __future__ import annotations

import argparse
import ast
import inspect
import re
import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from numpydoc.docscrape import FunctionDoc, NumpyDocString  # noqa: E402

import meanfield  # noqa: E402
import solvers  # noqa: E402


def _source_tree(obj):
    try:
        return ast.parse(textwrap.dedent(inspect.getsource(obj)))
    except (OSError, TypeError, SyntaxError):
        return None


def _raises_directly(tree):
    """True if the function body (not nested functions) has a raise statement."""
    if tree is None or not tree.body:
        return False
    func = tree.body[0]
    stack = list(getattr(func, "body", []))
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Raise):
            return True
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        stack.extend(ast.iter_child_nodes(node))
    return False


def _returns_value(tree):
    if tree is None or not tree.body:
        return False
    func = tree.body[0]
    stack = list(getattr(func, "body", []))
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Return) and node.value is not None:
            return True
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        stack.extend(ast.iter_child_nodes(node))
    return False


def _has_args(func, skip_self):
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return False
    return len(params) > (1 if skip_self else 0)


#: Most words a type field may have (``Params, (N', d) array or None`` has six).
MAX_TYPE_WORDS = 6
_TYPED_SECTIONS = ("Parameters", "Other Parameters", "Returns", "Yields", "Attributes")


def prose_type(type_text):
    """Whether a type field reads like prose: contains ';', has more than MAX_TYPE_WORDS words
    (a parenthesised shape such as ``(steps + 1, 2)`` counts as one), or ends with '.' (an
    ellipsis '...' excepted)."""
    text = type_text.strip()
    if not text:
        return False
    words = re.sub(r"\([^()]*\)", "(shape)", text).split()
    return (";" in text or len(words) > MAX_TYPE_WORDS
            or (text.endswith(".") and not text.endswith("...")))


def style_defects(obj, kind):
    """Names of the Parameters/Returns/Yields/Attributes entries of ``obj`` whose type field
    reads like prose (:func:`prose_type`); an unnamed Returns entry is named by its position."""
    doc = inspect.getdoc(obj) or ""
    if not doc:
        return []
    parsed = NumpyDocString(doc) if kind != "function" else FunctionDoc(obj)
    bad = []
    for section in _TYPED_SECTIONS:
        for i, entry in enumerate(parsed[section]):
            if prose_type(entry.type):
                bad.append(entry.name or f"{section} #{i + 1}")
    return bad


def missing_sections(obj, kind):
    """The numpydoc sections that ``obj`` (kind: function, class, method, property) lacks."""
    doc = inspect.getdoc(obj) or ""
    if not doc:
        return ["docstring"]
    parsed = NumpyDocString(doc) if kind != "function" else FunctionDoc(obj)
    missing = []
    target = obj.__init__ if kind == "class" else obj
    if kind == "class" and "__init__" in vars(obj):
        args = _has_args(obj.__init__, skip_self=True)
    elif kind == "class":
        args = bool([f for f in getattr(obj, "__dataclass_fields__", {})])
    else:
        args = kind != "property" and _has_args(obj, skip_self=kind == "method")
    documented = parsed["Parameters"] or (kind == "class" and parsed["Attributes"])
    if args and not documented:
        missing.append("Parameters")
    tree = _source_tree(target if kind != "property" else obj.fget)
    if kind in ("function", "method") and _returns_value(tree) and not (parsed["Returns"] or parsed["Yields"]):
        missing.append("Returns")
    if _raises_directly(tree) and not parsed["Raises"]:
        missing.append("Raises")
    if kind in ("function", "class") and not parsed["Examples"]:
        missing.append("Examples")
    return missing


def _gaps(obj, kind):
    """Missing sections, then ``style (names)`` if some type fields read like prose."""
    gaps = missing_sections(obj, kind)
    bad = style_defects(obj, kind)
    return gaps + [f"style ({', '.join(bad)})"] if bad else gaps


def report():
    """(qualified name, kind, gaps) for every public object with a missing section or a
    prose type field (see :func:`missing_sections`, :func:`style_defects`)."""
    rows = []
    for package in (meanfield, solvers):
        for name in package.__all__:
            obj = getattr(package, name)
            qual = f"{package.__name__}.{name}"
            kind = "class" if inspect.isclass(obj) else "function"
            gaps = _gaps(obj, kind)
            if gaps:
                rows.append((qual, kind, gaps))
            if kind != "class":
                continue
            for attr, member in vars(obj).items():
                if attr.startswith("_"):
                    continue
                if isinstance(member, property):
                    gaps, mkind = _gaps(member, "property"), "property"
                elif isinstance(member, (staticmethod, classmethod)):
                    gaps, mkind = _gaps(member.__func__, "method"), "method"
                elif inspect.isfunction(member):
                    gaps, mkind = _gaps(member, "method"), "method"
                else:
                    continue
                if gaps:
                    rows.append((f"{qual}.{attr}", mkind, gaps))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--strict", action="store_true",
                        help="exit with status 1 if any section is missing or any type field reads like prose")
    args = parser.parse_args(argv)
    rows = report()
    width = max((len(r[0]) for r in rows), default=10)
    for qual, kind, gaps in rows:
        print(f"{qual:<{width}}  {kind:<8}  {', '.join(gaps)}")
    styled = sum(any(g.startswith("style") for g in gaps) for _, _, gaps in rows)
    print(f"{len(rows)} public objects lack sections or have prose type fields ({styled} with style defects)",
          file=sys.stderr)
    return 1 if (args.strict and rows) else 0


if __name__ == "__main__":
    sys.exit(main())
