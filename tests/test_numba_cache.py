"""Numba's disk cache of the package: reused across processes, and invalidated by an
edit to *any* source file of meanfield/solvers (numba alone only watches the file
that defines a kernel, not the files it inlines from)."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from meanfield._numba_cache import source_digest

ROOT = Path(__file__).resolve().parents[1]

# next_uniform lives in solvers/_sgd_kernels.py; the edit below is to meanfield/activations.py
CODE = """
import json
import meanfield, solvers
from solvers._sgd_kernels import initial_rng_state, next_uniform
next_uniform(initial_rng_state(0)[0])
stats = next_uniform.stats
print(json.dumps({"file": meanfield.__file__, "hits": sum(stats.cache_hits.values()),
                  "misses": sum(stats.cache_misses.values())}))
"""


def _run(root):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["PYTHONPATH"] = str(root)
    out = subprocess.run([sys.executable, "-c", CODE], cwd=root, env=env, capture_output=True, text=True,
                         check=True, timeout=600)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_cache_reused_and_invalidated_by_any_package_source(tmp_path):
    for pkg in ("meanfield", "solvers"):
        shutil.copytree(ROOT / pkg, tmp_path / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    first = _run(tmp_path)
    assert Path(first["file"]).resolve().is_relative_to(tmp_path.resolve())
    assert first["misses"] == 1 and first["hits"] == 0
    second = _run(tmp_path)
    assert second["hits"] == 1 and second["misses"] == 0
    with open(tmp_path / "meanfield" / "activations.py", "a") as fh:
        fh.write("\n# an edit in another file than the kernel's\n")
    third = _run(tmp_path)
    assert third["misses"] == 1 and third["hits"] == 0


def test_source_digest_sees_every_file(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.py").write_text("x = 1\n")
    (tmp_path / "a" / "y.py").write_text("y = 2\n")
    before = source_digest([tmp_path / "a"])
    assert source_digest([tmp_path / "a"]) == before
    (tmp_path / "a" / "y.py").write_text("y = 3\n")
    assert source_digest([tmp_path / "a"]) != before
