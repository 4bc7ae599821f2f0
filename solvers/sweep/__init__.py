"""Parameter sweeps of particle runs: locally on worker processes or on a Dask cluster.

A *task* is plain, picklable data (a :class:`SweepTask`, or any dict / dataclass of
numbers, strings and lists for a user function); the function that runs it is an
importable top-level function (default :func:`run_task`). So any process that has
the package installed can run any task: the local process pool, or the workers of
a ``dask.distributed`` scheduler. The same task gives the same record wherever it
runs: every random stream comes from the task's own ``seed``.

:func:`run_sweep` writes each finished task to ``out/<key>.json`` as soon as it
completes, ``key`` being a hash of the function's name and the task's parameters
(canonical JSON). Run again with the same ``out``, it reuses those files and runs
only the tasks without one: an interrupted or partly failed sweep resumes where it
stopped. A task that raises (or calls ``sys.exit``) is reported (parameters, error,
traceback; also in ``out/<key>.failed.json``) and does not stop the others.

The modules, one idea each: :mod:`~solvers.sweep.specs` (models as plain data),
:mod:`~solvers.sweep.task` (a task, its key, :func:`run_task` and its PDE reference),
:mod:`~solvers.sweep.store` (the JSON files), :mod:`~solvers.sweep.executors` (serial,
local processes, Dask), :mod:`~solvers.sweep.result` (:class:`SweepResult`) and
:mod:`~solvers.sweep.run` (:func:`run_sweep`).
"""
from .result import SweepError, SweepResult, TaskFailure
from .run import run_sweep
from .specs import ACTIVATION_KINDS, MODEL_KINDS, activation_from_spec, model_from_spec
from .store import FILE_FORMAT, TaskStore
from .task import DYNAMICS, OPTIONS, SweepTask, radial_pde_reference, run_task, task_key

__all__ = [
    "SweepTask",
    "SweepResult",
    "SweepError",
    "TaskFailure",
    "run_sweep",
    "run_task",
    "model_from_spec",
    "activation_from_spec",
    "radial_pde_reference",
    "task_key",
]
