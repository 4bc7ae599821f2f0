"""What Numba compiles on the first ``run_sgd`` call, and how long each kernel takes.

For each reference model, in a fresh process with an empty Numba cache (a temporary
NUMBA_CACHE_DIR): every ``numba:compile`` event of the first ``run_sgd`` call with its default
``record`` (the dispatcher, its argument types, its wall and CPU time, inclusive and self, i.e.
without the nested compilations of the functions it calls), summed by dispatcher and by module,
with the dispatchers compiled for more than one signature. Then, in a second fresh process on the
now warm cache, the same first call (cache loads only; any compile event there is a kernel that
is not cached) and a second call in the same process (no loading at all). CPU times are the
process's (time.process_time), less sensitive than wall times to a loaded machine.

    python benchmarks/compile_profile.py [--case isotropic --case mixture] [--out FILE]

Models: ``IsotropicGaussians(0.8, 40, ramp())`` with N = 800 (the README's reference run), and
``MeanFieldModel(GaussianMixture.anisotropic(0.5, 40, 8), TwoLayerNetwork(relu(), ("a", "w", "b")))``
with N = 800; ε = 1e-4, times [0, 0.1].
"""
import argparse
import json
import os
import platform
import sys
import time
from collections import defaultdict

from _cold import empty_cache, run_json

CASES = ("isotropic", "mixture")


# ------------------------------------------------------------------ child process
def reference_call(case):
    """The first run_sgd call of ``case`` (a zero-argument callable); imports inside, so the
    child's import is not part of the profile."""
    from meanfield import GaussianMixture, IsotropicGaussians, MeanFieldModel, TwoLayerNetwork, ramp, relu
    from solvers import init_gaussian, run_sgd

    if case == "isotropic":
        model = IsotropicGaussians(0.8, 40, ramp())
        init = init_gaussian(800, 40, 0.8, seed=0)
    elif case == "mixture":
        model = MeanFieldModel(GaussianMixture.anisotropic(0.5, 40, 8), TwoLayerNetwork(relu(), train=("a", "w", "b")))
        init = model.init(800, kappa=0.8, seed=0)
    else:
        raise ValueError(f"case: must be one of {CASES}, got {case!r}")
    return lambda: run_sgd(model, init, eps=1e-4, times=[0.0, 0.1], seed=0, progress=False)


def compile_listener():
    """A numba.core.event listener of "numba:compile" that records each compilation with its
    inclusive and self (nested compilations excluded) wall and CPU times."""
    from numba.core import event

    class Profile(event.Listener):
        def __init__(self):
            self.records, self.stack = [], []

        def on_start(self, ev):
            self.stack.append([time.perf_counter(), time.process_time(), 0.0, 0.0])

        def on_end(self, ev):
            wall0, cpu0, child_wall, child_cpu = self.stack.pop()
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            if self.stack:
                self.stack[-1][2] += wall
                self.stack[-1][3] += cpu
            func = ev.data["dispatcher"].py_func
            self.records.append(dict(module=func.__module__, name=func.__qualname__,
                                     args=", ".join(str(a) for a in ev.data["args"]), depth=len(self.stack),
                                     wall_s=wall, cpu_s=cpu, self_wall_s=wall - child_wall,
                                     self_cpu_s=cpu - child_cpu))

    return Profile()


def child(case):
    """Print one JSON line: the compile events and times of the first (and a second) call."""
    from numba.core import event

    call = reference_call(case)
    profile = compile_listener()
    with event.install_listener("numba:compile", profile):
        wall0, cpu0 = time.perf_counter(), time.process_time()
        call()
        first_wall, first_cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    wall0 = time.perf_counter()
    call()
    second_wall = time.perf_counter() - wall0
    print(json.dumps(dict(case=case, first_wall_s=first_wall, first_cpu_s=first_cpu, second_wall_s=second_wall,
                          events=profile.records)))


# ------------------------------------------------------------------ parent: analysis
def summarise(events):
    """Per dispatcher (self times, signatures) and per module (self times), largest first."""
    by_kernel = defaultdict(lambda: dict(self_wall_s=0.0, self_cpu_s=0.0, signatures=[]))
    by_module = defaultdict(lambda: dict(self_wall_s=0.0, self_cpu_s=0.0, kernels=0))
    for e in events:
        k = by_kernel[f"{e['module']}.{e['name']}"]
        k["self_wall_s"] += e["self_wall_s"]
        k["self_cpu_s"] += e["self_cpu_s"]
        k["signatures"].append(e["args"])
        m = by_module[e["module"]]
        m["self_wall_s"] += e["self_wall_s"]
        m["self_cpu_s"] += e["self_cpu_s"]
        m["kernels"] += 1
    kernels = sorted(({"kernel": name, **v, "n_signatures": len(v["signatures"])} for name, v in by_kernel.items()),
                     key=lambda r: -r["self_cpu_s"])
    modules = sorted(({"module": name, **v} for name, v in by_module.items()), key=lambda r: -r["self_cpu_s"])
    return kernels, modules


def profile_case(case):
    """Cold run on an empty cache, then a warm run on the same cache, each in a fresh process."""
    script = os.path.abspath(__file__)
    with empty_cache() as cache:
        cold = run_json([script, "--child", case], cache)
        warm = run_json([script, "--child", case], cache)
    kernels, modules = summarise(cold["events"])
    return dict(case=case, cold_first_wall_s=cold["first_wall_s"], cold_first_cpu_s=cold["first_cpu_s"],
                compile_cpu_s=sum(e["self_cpu_s"] for e in cold["events"]),
                compile_wall_s=sum(e["self_wall_s"] for e in cold["events"]),
                compilations=len(cold["events"]), warm_first_wall_s=warm["first_wall_s"],
                warm_first_cpu_s=warm["first_cpu_s"], steady_wall_s=warm["second_wall_s"],
                warm_compilations=[f"{e['module']}.{e['name']}({e['args']})" for e in warm["events"]],
                multi_signature=[k for k in kernels if k["n_signatures"] > 1],
                modules=modules, kernels=kernels)


def report(result):
    """Print one case's tables."""
    r = result
    print(f"\n== {r['case']}: cold first call {r['cold_first_wall_s']:.1f} s wall / {r['cold_first_cpu_s']:.1f} s CPU, "
          f"{r['compilations']} compilations ({r['compile_cpu_s']:.1f} s CPU); warm first call "
          f"{r['warm_first_wall_s']:.2f} s, second call {r['steady_wall_s']:.2f} s; "
          f"recompiled on the warm cache: {r['warm_compilations'] or 'none'}")
    print(f"{'module':<44} {'kernels':>7} {'CPU s':>7} {'wall s':>7}")
    for m in r["modules"]:
        print(f"{m['module']:<44} {m['kernels']:>7} {m['self_cpu_s']:7.2f} {m['self_wall_s']:7.2f}")
    print(f"{'kernel (self time)':<70} {'sigs':>4} {'CPU s':>7}")
    for k in r["kernels"]:
        print(f"{k['kernel'][:70]:<70} {k['n_signatures']:>4} {k['self_cpu_s']:7.2f}")
    for k in r["multi_signature"]:
        print(f"several signatures: {k['kernel']}: " + " | ".join(k["signatures"]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", action="append", choices=CASES, help="a reference model (repeatable; default all)")
    parser.add_argument("--child", choices=CASES, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "compile_profile.json"))
    args = parser.parse_args(argv)
    if args.child:
        child(args.child)
        return
    results = []
    for case in args.case or CASES:
        results.append(profile_case(case))
        report(results[-1])
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(dict(machine=platform.platform(), python=sys.version.split()[0], cpus=os.cpu_count(),
                       load_average=os.getloadavg()[0], cases=results), fh, indent=1)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
