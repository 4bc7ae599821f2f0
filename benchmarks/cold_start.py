"""Cold start: the import, the first call of each model family and each example, on an empty Numba cache.

Each measurement runs in a fresh process with its own empty cache (a temporary NUMBA_CACHE_DIR,
which takes precedence over the package's in-tree cache), so nothing compiled before counts.

* import: ``import meanfield, solvers`` timed inside the process (best of ``--repeats``), against
  ``import numpy, numba`` timed the same way in the same run (the ratio), and with torch and jax
  hidden (as if not installed; POT's backend imports them when they are).
* families: the calls of ``python -m solvers.precompile`` for each model family
  (``solvers.precompile.FAMILIES``: ``run_sgd`` with its default record, ``run_particle_flow``,
  the PDE solvers), cold, then warm (a second fresh process on the same, now filled, cache).
* examples: each ``examples/*.py --quick`` (or those given by ``--example``) as a whole process, cold then
  warm: wall and CPU seconds (user + system of the child; CPU is less sensitive to the machine's load).

    python benchmarks/cold_start.py [--only import|families|examples ...] [--example NAME ...] [--root DIR]
                                    [--out FILE]

``--root`` times the import of another checkout (e.g. an older commit unpacked by ``git archive``).
"""
import argparse
import json
import os
import platform
import resource
import sys
import tempfile
from pathlib import Path

from _cold import ROOT, empty_cache, run_json, run_process

PARTS = ("import", "families", "examples")
EXAMPLES = ("isotropic_gaussians", "anisotropic_gaussians", "lazy_vs_meanfield", "teacher_student")
IMPORTS = {"numpy, numba": ("numpy, numba", ()),
           "meanfield, solvers": ("meanfield, solvers", ()),
           "meanfield, solvers (torch, jax hidden)": ("meanfield, solvers", ("torch", "jax"))}

IMPORT_CHILD = """
import json, sys, time
class Hide:                           # import of a hidden package raises ImportError: as if not installed
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {hidden!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Hide())
start = time.perf_counter()
import {modules}
elapsed = time.perf_counter() - start
heavy = sorted(m for m in ("ot", "torch", "jax", "scipy.stats", "tqdm") if m in sys.modules)
print(json.dumps(dict(seconds=elapsed, heavy=heavy)))
"""

FAMILY_CHILD = """
import json, time
start = time.perf_counter()
from solvers.precompile import precompile
imported = time.perf_counter() - start
print(json.dumps(dict(import_s=imported, calls=precompile([{family!r}]))))
"""


def time_imports(repeats, root):
    """Best in-process import time of each entry of IMPORTS, the entries timed alternately."""
    best = {label: float("inf") for label in IMPORTS}
    heavy = {}
    with empty_cache() as cache:
        for _ in range(repeats):
            for label, (modules, hidden) in IMPORTS.items():
                code = IMPORT_CHILD.format(modules=modules, hidden=hidden)
                out = run_json(["-c", code], cache, root=root)
                best[label] = min(best[label], out["seconds"])
                heavy[label] = out["heavy"]
    base = best["numpy, numba"]
    rows = [dict(imports=label, best_s=best[label], ratio_to_numpy_numba=best[label] / base,
                 heavy_modules_loaded=", ".join(heavy[label]) or "none") for label in IMPORTS]
    for r in rows:
        print(f"import {r['imports']:<40} {r['best_s']:6.3f} s  ×{r['ratio_to_numpy_numba']:5.2f}  "
              f"heavy: {r['heavy_modules_loaded']}", flush=True)
    return rows


def time_families():
    """Per family and call: seconds on an empty cache, then on the cache the cold run filled."""
    rows = []
    with empty_cache() as cache:   # the checkout's families (the children import the checkout, not an install)
        families = run_json(["-c", "import json; from solvers.precompile import FAMILIES; print(json.dumps("
                                   "dict(families=list(FAMILIES))))"], cache)["families"]
    for family in families:
        code = FAMILY_CHILD.format(family=family)
        with empty_cache() as cache:
            cold = run_json(["-c", code], cache)
            warm = run_json(["-c", code], cache)
        for c, w in zip(cold["calls"], warm["calls"]):
            rows.append(dict(family=family, call=c["call"], cold_s=c["seconds"], warm_s=w["seconds"]))
            print(f"{family:<16} {c['call']:<48} cold {c['seconds']:7.2f} s  warm {w['seconds']:6.2f} s", flush=True)
        rows.append(dict(family=family, call="whole process (import + calls)", cold_s=cold["process_s"],
                         warm_s=warm["process_s"]))
        print(f"{family:<16} {'whole process':<48} cold {cold['process_s']:7.2f} s  warm {warm['process_s']:6.2f} s",
              flush=True)
    return rows


def children_cpu():
    """CPU seconds (user + system) of the finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_run(argv, cache):
    """Wall and CPU seconds of ``python argv...`` in a fresh process on ``cache`` (CPU: less
    sensitive than wall to the machine's load)."""
    cpu = children_cpu()
    wall = run_process(argv, cache)[1]
    return wall, children_cpu() - cpu


def time_examples(names=EXAMPLES):
    """Each example's --quick run as a whole process: on an empty cache, then warm (wall and CPU)."""
    rows = []
    for name in names:
        with empty_cache() as cache, tempfile.TemporaryDirectory() as out:
            argv = [str(ROOT / "examples" / f"{name}.py"), "--quick", "--out", out]
            cold, cold_cpu = timed_run(argv, cache)
            warm, warm_cpu = timed_run(argv, cache)
        rows.append(dict(example=f"{name}.py --quick", cold_s=cold, warm_s=warm, cold_cpu_s=cold_cpu,
                         warm_cpu_s=warm_cpu))
        print(f"{name + '.py --quick':<40} cold {cold:7.1f} s ({cold_cpu:6.1f} s CPU)  "
              f"warm {warm:6.1f} s ({warm_cpu:6.1f} s CPU)", flush=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=PARTS, help="a part to run (repeatable; default all)")
    parser.add_argument("--example", action="append", choices=EXAMPLES,
                        help="examples: only this one (repeatable; default all)")
    parser.add_argument("--repeats", type=int, default=5, help="imports: best of this many (default 5)")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout whose import is timed")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "cold_start.json"))
    args = parser.parse_args(argv)
    parts = args.only or PARTS
    result = dict(machine=platform.platform(), python=sys.version.split()[0], cpus=os.cpu_count())
    if os.path.exists(args.out):   # keep the parts not rerun
        with open(args.out) as fh:
            result = {**json.load(fh), **result}
    if "import" in parts:
        result["import"] = time_imports(args.repeats, args.root)
        result["import_load_average"] = os.getloadavg()[0]   # the machine's load: seconds depend on it
    if "families" in parts:
        result["families"] = time_families()
        result["families_load_average"] = os.getloadavg()[0]   # the machine's load: seconds depend on it
    if "examples" in parts:
        result["examples"] = time_examples(args.example or EXAMPLES)
        result["examples_load_average"] = os.getloadavg()[0]   # the machine's load: seconds depend on it
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(result, fh, indent=1)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
