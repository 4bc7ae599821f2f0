"""The import layers of meanfield and solvers: no cycle, no upward import (issue 27).

Every import statement of every module (module-level and function-local, absolute and relative)
is read with ``ast``; an import of a package means its ``__init__.py`` (so ``from meanfield
import X`` inside meanfield imports the top ``__init__``), ``from P import m`` with m a module of
P means m. Parent packages imported implicitly do not count. Each module belongs to exactly one
layer of LAYERS (bottom first, patterns matched with fnmatch against the path relative to the
repository, ``*`` spanning folders); a module may import its own layer and the ones below.
"""
from __future__ import annotations

import ast
import fnmatch
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("meanfield", "solvers")

#: Bottom first. A new file must be placed here (an unassigned module fails the test).
LAYERS = [
    ("foundation", ["meanfield/_numba_cache.py", "meanfield/_validation.py", "meanfield/params.py",
                    "meanfield/_compile_notice.py"]),
    ("kernels", ["meanfield/_kernels/*"]),  # Numba only: numpy, numba, math and each other
    ("activations", ["meanfield/activations/*"]),  # σ classes and their Hermite coefficients
    ("data and network", ["meanfield/data/*", "meanfield/network.py"]),
    ("exact Gaussian integrals", ["meanfield/gaussian_integrals.py", "meanfield/pair_kernel.py",
                                  "meanfield/shifted_hermite.py", "meanfield/sphere.py",
                                  "meanfield/radial_table.py"]),
    ("functional", ["meanfield/interface.py", "meanfield/mean_field_model.py", "meanfield/_series_plan.py",
                    "meanfield/_isotropic_particles.py", "meanfield/_row_blocks.py",
                    "meanfield/_smooth_pair_series.py"]),
    ("reductions", ["meanfield/isotropic_gaussians.py", "meanfield/kernel_features.py",
                    "meanfield/anisotropic.py", "meanfield/_anisotropic_points.py",
                    "meanfield/order_parameters.py", "meanfield/overlap_noise.py"]),  # teacher–student overlaps
    ("metrics", ["meanfield/wasserstein.py"]),
    ("meanfield package", ["meanfield/__init__.py"]),
    # solvers: the foundation every solver shares (result type and failure policy, ξ/β/λ, Ctrl-C,
    # initial laws, random streams) …
    ("solvers foundation", ["solvers/_result.py", "solvers/_dynamics.py", "solvers/_interrupt.py",
                            "solvers/_initial_law.py", "solvers/_normal_rng.py", "solvers/_origin.py",
                            "solvers/_progress.py"]),
    # … the time loop, its schemes, checks, recorders, checkpoints and the SGD kernels …
    ("solvers schemes and loop", ["solvers/_time_stepping.py", "solvers/_outcome.py", "solvers/_adaptive.py",
                                  "solvers/_step_check.py", "solvers/_divergence.py", "solvers/_flow_steppers.py",
                                  "solvers/_recorders.py", "solvers/_checkpoint.py", "solvers/_sgd_streams.py",
                                  "solvers/_sgd_kernels.py", "solvers/_data_streams.py",
                                  "solvers/_general_sgd_kernels.py", "solvers/result.py"]),
    # … the particle solvers …
    ("solvers particles", ["solvers/sgd.py", "solvers/particle_flow.py", "solvers/linearized.py",
                           "solvers/initialization.py"]),
    # … the grid (PDE) and reduced Lagrangian solvers, Gibbs states, order parameters …
    ("solvers grids and reductions", ["solvers/radial_pde.py", "solvers/anisotropic_pde.py", "solvers/gibbs.py",
                                      "solvers/radial_lagrangian.py", "solvers/reduced_lagrangian.py",
                                      "solvers/order_parameters.py"]),
    ("solvers sweep", ["solvers/sweep/*"]),  # runs any of the above over a grid of parameters
    ("solvers package", ["solvers/__init__.py"]),
    ("commands", ["solvers/precompile.py"]),  # python -m solvers.precompile: the public API only
]


def module_files(root, packages):
    """{dotted module name: path} of every .py file below root/<package>; a package's
    ``__init__.py`` is the package's own name."""
    modules = {}
    for package in packages:
        for path in sorted((Path(root) / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _resolve(name, modules):
    """The longest prefix of the dotted ``name`` that is a module of ours, or None."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def imports_of(module, path, modules):
    """(imported module, line) for every import statement of ``module`` that names one of ours."""
    is_package = path.name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                if not base or node.level - 1 > len(package.split(".")):
                    raise ValueError(f"{path}:{node.lineno}: relative import beyond the top package")
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module
            # "from P import m" imports the module P.m when there is one, else names of P
            targets = [f"{stem}.{alias.name}" if f"{stem}.{alias.name}" in modules else stem for alias in node.names]
        else:
            continue
        for target in targets:
            resolved = _resolve(target, modules)
            if resolved is not None and resolved != module:
                found.append((resolved, node.lineno))
    return found


def import_graph(root, packages):
    modules = module_files(root, packages)
    graph = {m: sorted({t for t, _ in imports_of(m, p, modules)}) for m, p in modules.items()}
    return modules, graph


def find_cycle(graph):
    """One import cycle [m₀, m₁, …, m₀] of the graph, or None (iterative depth-first search)."""
    state = {}  # 1: on the current path, 2: done
    for start in sorted(graph):
        if state.get(start):
            continue
        path, stack = [start], [iter(graph[start])]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(graph.get(nxt, ())))
    return None


def layer_of(modules, root, layers):
    """{module: layer index}; raises AssertionError naming the modules in no layer or in several."""
    index, problems = {}, []
    for module, path in modules.items():
        rel = path.relative_to(root).as_posix()
        hits = [i for i, (_, patterns) in enumerate(layers) if any(fnmatch.fnmatch(rel, p) for p in patterns)]
        if len(hits) != 1:
            problems.append(f"{rel}: in {'no layer' if not hits else [layers[i][0] for i in hits]}")
        else:
            index[module] = hits[0]
    assert not problems, "place every module in exactly one layer of LAYERS:\n" + "\n".join(problems)
    return index


def upward_imports(root, packages, layers):
    """["a (layer) imports b (higher layer) at line n", …] over all import statements."""
    modules = module_files(root, packages)
    index = layer_of(modules, root, layers)
    bad = []
    for module, path in modules.items():
        for target, line in imports_of(module, path, modules):
            if index[target] > index[module]:
                bad.append(f"{path.relative_to(root).as_posix()}:{line}: {module} ({layers[index[module]][0]}) "
                           f"imports {target} ({layers[index[target]][0]})")
    return bad


def test_no_import_cycle():
    _, graph = import_graph(ROOT, PACKAGES)
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_upward_import_and_every_module_placed():
    bad = upward_imports(ROOT, PACKAGES, LAYERS)
    assert not bad, "upward imports:\n" + "\n".join(bad)


def test_kernels_import_only_numpy_numba_math_and_each_other():
    allowed = {"numpy", "numba", "math", "__future__"}
    for path in sorted((ROOT / "meanfield" / "_kernels").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [] if node.level == 1 else [node.module or ""]
                assert node.level <= 1, f"{path.name}:{node.lineno}: imports above meanfield/_kernels"
            else:
                continue
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name}:{node.lineno}: imports {name}"


def _write(root, files):
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_checker_finds_a_cycle_and_an_upward_import(tmp_path):
    """A synthetic package: low.a imports high.b at function level (upward), high.b imports
    low.a (fine), and pkg/__init__ is imported from inside (upward into the top)."""
    _write(tmp_path, {
        "pkg/__init__.py": "from .high.b import g\n",
        "pkg/low/__init__.py": "",
        "pkg/low/a.py": "def f():\n    from ..high import b\n    return b\n",
        "pkg/low/c.py": "from pkg import g\n",
        "pkg/high/__init__.py": "",
        "pkg/high/b.py": "from ..low.a import f\n\ndef g():\n    return f\n",
    })
    layers = [("low", ["pkg/low/*"]), ("high", ["pkg/high/*"]), ("top", ["pkg/__init__.py"])]
    _, graph = import_graph(tmp_path, ["pkg"])
    assert graph["pkg.low.a"] == ["pkg.high.b"] and graph["pkg.low.c"] == ["pkg"]
    cycle = find_cycle(graph)
    assert cycle is not None and set(cycle) == {"pkg.low.a", "pkg.high.b"}
    bad = upward_imports(tmp_path, ["pkg"], layers)
    assert len(bad) == 2
    assert any("pkg.low.a (low) imports pkg.high.b (high)" in b for b in bad)
    assert any("pkg.low.c (low) imports pkg (top)" in b for b in bad)
    # without the two offending imports the same package passes
    _write(tmp_path, {"pkg/low/a.py": "def f():\n    return 1\n", "pkg/low/c.py": "from . import a\n"})
    _, graph = import_graph(tmp_path, ["pkg"])
    assert find_cycle(graph) is None and upward_imports(tmp_path, ["pkg"], layers) == []


def test_a_module_outside_every_layer_fails(tmp_path):
    _write(tmp_path, {"pkg/__init__.py": "", "pkg/stray.py": "import math\n"})
    with pytest.raises(AssertionError, match="pkg/stray.py: in no layer"):
        upward_imports(tmp_path, ["pkg"], [("top", ["pkg/__init__.py"])])
