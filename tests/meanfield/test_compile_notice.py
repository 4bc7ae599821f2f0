"""The compile notice: printed once when Numba compiles, never on a warm (compiled or cached) call."""
import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from numba import njit

from meanfield._compile_notice import MESSAGE, compile_notice

ROOT = Path(__file__).resolve().parents[2]


def test_printed_once_at_the_first_compilation_only():
    @njit
    def inner(x):
        return x + 1.0

    @njit
    def outer(x):
        return inner(x) * 2.0

    out = io.StringIO()
    with compile_notice(out) as notice:
        assert outer(1.0) == 4.0          # two compilations (outer, inner), one line
        assert outer(2) == 6.0            # a new signature: compiles again, still one line
    assert notice.shown and out.getvalue() == MESSAGE + "\n"
    again = io.StringIO()
    with compile_notice(again) as notice:
        assert outer(3.0) == 8.0          # compiled in this process: nothing to say
    assert not notice.shown and again.getvalue() == ""


def test_silent_when_the_kernel_comes_from_the_disk_cache(tmp_path):
    (tmp_path / "cached_kernel.py").write_text(textwrap.dedent("""
        from numba import njit

        @njit(cache=True)
        def square(x):
            return x * x
    """))
    code = textwrap.dedent("""
        from meanfield._compile_notice import compile_notice
        from cached_kernel import square
        with compile_notice():
            assert square(3.0) == 9.0
    """)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"),
               PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]))
    runs = [subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                           check=True, timeout=300) for _ in range(2)]
    assert MESSAGE in runs[0].stderr        # cold: compiled and cached
    assert MESSAGE not in runs[1].stderr    # warm: loaded from the cache


def test_a_wrapped_solver_announces_its_compilations(capsys):
    from meanfield._compile_notice import announces_compilation

    @njit
    def kernel(x):
        return 3.0 * x

    @announces_compilation
    def solver(x, scale=1.0):
        """Doc."""
        return scale * kernel(x)

    assert solver(1.0) == 3.0 and capsys.readouterr().err == MESSAGE + "\n"
    assert solver(2.0, scale=2.0) == 12.0 and capsys.readouterr().err == ""
    assert solver.__doc__ == "Doc." and solver.__name__ == "solver"


def test_the_particle_solvers_are_wrapped():
    import inspect

    from solvers import run_particle_flow, run_sgd
    for solver in (run_sgd, run_particle_flow):
        assert solver.__wrapped__.__module__ == solver.__module__
        assert "record" in inspect.signature(solver).parameters
