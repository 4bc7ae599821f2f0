"""Fresh processes with an empty (or a given) Numba cache, shared by the cold-start benchmarks.

NUMBA_CACHE_DIR takes precedence over the package's in-tree cache (``meanfield/_numba_cache.py``):
a fresh temporary directory per measurement is an empty cache, whatever was compiled before.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def child_env(cache_dir, root=ROOT):
    """os.environ with NUMBA_CACHE_DIR = ``cache_dir`` and the checkout ``root`` first on PYTHONPATH."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH")) if p)
    return env


def run_process(argv, cache_dir, root=ROOT, timeout=3600):
    """Run ``python argv...`` in a fresh process on ``cache_dir``, from the checkout ``root``;
    (the completed process, its wall time). Raises RuntimeError with its stderr if it fails."""
    start = time.perf_counter()
    out = subprocess.run([sys.executable, *argv], cwd=root, env=child_env(cache_dir, root), capture_output=True,
                         text=True, timeout=timeout)
    elapsed = time.perf_counter() - start
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return out, elapsed


def run_json(argv, cache_dir, root=ROOT, timeout=3600):
    """:func:`run_process`'s last stdout line parsed as JSON, with its wall time under "process_s"."""
    out, elapsed = run_process(argv, cache_dir, root, timeout)
    return {**json.loads(out.stdout.strip().splitlines()[-1]), "process_s": elapsed}


def empty_cache():
    """A fresh temporary directory (a context manager) to serve as an empty Numba cache."""
    return tempfile.TemporaryDirectory(prefix="numba-cold-")
