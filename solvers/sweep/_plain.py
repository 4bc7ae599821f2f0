"""Plain data: what a sweep task, a record and a result file are made of.

A task crosses process and machine boundaries (pickled to a worker, hashed into a file
key, written as JSON), so it must be made of dicts, lists, strings, numbers, booleans and
None. :func:`plain` turns dataclasses, tuples and NumPy values into that form (raising on
anything else) and :func:`canonical` writes it as the one JSON text that is hashed.
"""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping

import numpy as np


def plain(value, name="task"):
    """``value`` as JSON-ready Python data (dicts, lists, str, int, float, bool, None).

    Raises ValueError naming ``name`` (and the position inside it) on anything else."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): plain(v, f"{name}[{k!r}]") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v, f"{name}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, np.ndarray):
        return plain(value.tolist(), name)
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise ValueError(f"{name}: expected plain data (numbers, strings, lists, dicts), got {type(value).__name__}")


def canonical(params):
    """The canonical JSON text of plain data (sorted keys, no spaces): equal data, equal text."""
    return json.dumps(params, sort_keys=True, separators=(",", ":"))
