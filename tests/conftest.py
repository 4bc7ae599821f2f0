"""Shared test set-up: the helpers of this folder (``_pairwise``, ``_sgd_replay``) are imported as
top-level modules (``from _pairwise import ...``) by the tests in ``tests/meanfield`` and
``tests/solvers``, so this folder goes on ``sys.path``. Test files have no ``__init__.py``:
their basenames must stay unique across the subfolders (``tests/test_structure.py`` checks it)."""
import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
