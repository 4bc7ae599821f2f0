"""solvers: integrators of the mean-field dynamics and the radial PDE.

Imports the model layer (``meanfield``); never the reverse.

* :func:`run_sgd` – one-pass (noisy) SGD, fused Numba kernel.
* :func:`run_particle_flow` – deterministic N-particle flow on the exact
  population risk (and its Langevin version).
* :func:`solve_radial_pde` – second-order finite volumes for the radial
  distributional dynamics (noiseless and noisy).
* :func:`solve_radial_lagrangian` – an independent quantile-particle solver.
* :func:`solve_reduced_lagrangian` – reduced particles (a, b, r₁, r₂) of the anisotropic example.
* :func:`solve_anisotropic_pde` – finite volumes on (r₁, r₂) for the w-only anisotropic example.
* :func:`gibbs_fixed_point` – the self-consistent Gibbs state of the noisy PDE.
* :func:`solve_linearized` – the linearised (NTK) model: kernel gradient flow, frozen K₀.
* :func:`solve_order_parameters` – the teacher–student order-parameter ODE (flow, or online SGD
  with its η² term in the high-d limit).
* :func:`run_sweep` – many particle runs (:class:`SweepTask`) on local processes or a
  Dask cluster, each record saved as it completes (resumable).
"""
import meanfield._numba_cache  # noqa: F401  (first: caches keyed by all sources)
from .anisotropic_pde import AnisotropicPDESolution, solve_anisotropic_pde
from .gibbs import GibbsState, gibbs_fixed_point
from .initialization import init_gaussian
from .linearized import LinearizedResult, solve_linearized
from .order_parameters import OrderParameterError, OrderParameterSolution, solve_order_parameters
from .particle_flow import run_particle_flow
from .radial_lagrangian import RadialLagrangianSolution, solve_radial_lagrangian
from .radial_pde import RadialPDESolution, sample_grid_density, solve_radial_pde
from .reduced_lagrangian import ReducedLagrangianSolution, solve_reduced_lagrangian
from ._dynamics import Dynamics
from ._outcome import ConvergenceError, DomainError, NonFiniteError
from ._result import SolverError, SolverResult
from ._step_check import AccuracyError
from .result import ParticleResult
from .sgd import DivergenceError, run_sgd
from .sweep import SweepResult, SweepTask, TaskFailure, model_from_spec, run_sweep, run_task

__all__ = [
    "SolverResult",
    "SolverError",
    "NonFiniteError",
    "DomainError",
    "ConvergenceError",
    "Dynamics",
    "run_sgd",
    "run_particle_flow",
    "solve_radial_pde",
    "solve_radial_lagrangian",
    "solve_reduced_lagrangian",
    "solve_anisotropic_pde",
    "AnisotropicPDESolution",
    "ReducedLagrangianSolution",
    "sample_grid_density",
    "gibbs_fixed_point",
    "init_gaussian",
    "ParticleResult",
    "RadialPDESolution",
    "RadialLagrangianSolution",
    "GibbsState",
    "DivergenceError",
    "AccuracyError",
    "solve_linearized",
    "LinearizedResult",
    "run_sweep",
    "run_task",
    "SweepTask",
    "SweepResult",
    "TaskFailure",
    "model_from_spec",
    "solve_order_parameters",
    "OrderParameterSolution",
    "OrderParameterError",
]
