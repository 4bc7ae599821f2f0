"""The JSON store of a sweep: one file per finished task, so that a sweep resumes.

``out/<key>.json`` holds ``{"format", "function", "key", "task", "record", "wall_time"}`` of a
finished task, ``out/<key>.failed.json`` the error and traceback of a failed one (removed when
the task later succeeds). Files are written atomically (a temporary file, then
``os.replace``): a file is complete or absent. A stored record is reused only if its file
parses and names the same function and the same task parameters; anything else (a damaged
file, a hash collision, another function) runs the task again.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ["TaskStore", "FILE_FORMAT"]

#: Stored with every result file; bump when the file layout changes.
FILE_FORMAT = 1


def _write_json(path, data):
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)  # atomic: a file is either complete or absent


class TaskStore:
    """The result files of one task function in the directory ``out`` (None: store nothing).

    Parameters
    ----------
    out : str or pathlib.Path or None
        The directory (created); None keeps nothing.
    function_name : str
        "module:qualname" of the task function, stored in and checked against every file.

    Examples
    --------
    >>> store = TaskStore(None, "m:f")
    >>> store.load("abc", {"x": 1}) is None
    True
    """

    def __init__(self, out, function_name):
        self.out = None if out is None else Path(out)
        self.function_name = function_name
        if self.out is not None:
            self.out.mkdir(parents=True, exist_ok=True)

    def _header(self, key, params):
        return {"format": FILE_FORMAT, "function": self.function_name, "key": key, "task": params}

    def load(self, key, params):
        """The stored (record, wall_time) of the task ``params`` with this key, or None."""
        if self.out is None:
            return None
        try:
            data = json.loads((self.out / f"{key}.json").read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("task") != params or data.get("function") != self.function_name \
                or "record" not in data:
            return None
        return data["record"], data.get("wall_time")

    def save_record(self, key, params, record, wall_time):
        """Write the record of a finished task (and drop an earlier failure file)."""
        if self.out is not None:
            _write_json(self.out / f"{key}.json", {**self._header(key, params), "record": record,
                                                   "wall_time": wall_time})
            (self.out / f"{key}.failed.json").unlink(missing_ok=True)

    def save_failure(self, key, params, error, traceback):
        """Write the error and traceback of a failed task."""
        if self.out is not None:
            _write_json(self.out / f"{key}.failed.json", {**self._header(key, params), "error": error,
                                                          "traceback": traceback})
