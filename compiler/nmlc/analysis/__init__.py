"""Target-independent ODE analysis: which states are solved exactly, their propagators, and the numeric rest.

Public API::

    analyze(system: OdeSystem, timeout=10.0) -> SolverPlan
    kernel_to_ode(expr, t, name) -> KernelOde          # kernel in function form
    kernel_from_odes(name, odes, initial_values) -> KernelOde   # kernel in ODE form
    recommend(system, values) -> Recommendation        # stiffness indicator and method

The package knows neither NEST nor the NESTML syntax tree: input and output are sympy objects.
"""

from nmlc.analysis.analyzer import H, analyze, clear_cache
from nmlc.analysis.errors import AnalysisError
from nmlc.analysis.kernels import KernelOde, kernel_from_odes, kernel_to_ode
from nmlc.analysis.plan import ExactBlock, NumericBlock, SolverPlan
from nmlc.analysis.stiffness import Recommendation, recommend
from nmlc.analysis.system import PIN_METHODS, OdeSystem

__all__ = [
    "PIN_METHODS",
    "AnalysisError",
    "ExactBlock",
    "H",
    "KernelOde",
    "NumericBlock",
    "OdeSystem",
    "Recommendation",
    "SolverPlan",
    "analyze",
    "clear_cache",
    "kernel_from_odes",
    "kernel_to_ode",
    "recommend",
]
