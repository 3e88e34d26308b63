"""``recommend``: a solver recommendation for the numeric part of a system at given parameter values.

The stiffness indicator is the ratio of the largest to the smallest magnitude of the real parts of the
eigenvalues of the numeric Jacobian at the initial state (computed by central differences, so user functions
need only a Python implementation, not a derivative).  We recommend the implicit (Rosenbrock) method only when
the system is stiff (ratio >= ``STIFF_RATIO``) *and* the fastest mode would force an explicit Dormand-Prince
step below the simulation resolution (|lambda_max| * resolution > ``EXPLICIT_STABILITY``); otherwise the
adaptive explicit "rk45" integrates it in about one step per resolution step.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import sympy
from sympy.core.function import AppliedUndef

from nmlc.analysis.analyzer import analyze
from nmlc.analysis.errors import AnalysisError
from nmlc.analysis.plan import NumericBlock
from nmlc.analysis.system import OdeSystem, check_system

STIFF_RATIO = 1.0e3
#: Where the stability region of the Dormand-Prince 5(4) pair ends on the negative real axis (about 3.3).
EXPLICIT_STABILITY = 3.3


@dataclass
class Recommendation:
    """The recommended method, why, and the numbers behind it.

    The numbers are ``None`` when nothing is integrated numerically.
    """

    method: str
    reason: str
    stiffness_ratio: float | None
    spectral_radius: float | None = None
    eigenvalues: list[complex] = field(default_factory=list)


def _value_map(values: Mapping[object, float], symbols: list[sympy.Symbol]) -> dict[sympy.Symbol, float]:
    by_name = {str(k): v for k, v in values.items()}
    result = {}
    for symbol in symbols:
        raw = values.get(symbol, by_name.get(symbol.name))
        if raw is not None:
            try:
                result[symbol] = float(raw)
            except (TypeError, ValueError) as exc:
                raise AnalysisError(f"value of {symbol} is not a number: {raw!r}") from exc
    return result


def _jacobian(
    blocks: list[NumericBlock],
    point: dict[sympy.Symbol, float],
    functions: Mapping[str, Callable[..., float]],
) -> np.ndarray:
    states = [x for block in blocks for x in block.states]
    rhs = [block.rhs[x] for block in blocks for x in block.states]
    others = sorted(set(point) - set(states), key=str)
    evaluate = sympy.lambdify([*states, *others], rhs, modules=[dict(functions), "math"])
    base = [point[x] for x in states]
    fixed = [point[x] for x in others]
    size = len(states)
    jacobian = np.empty((size, size))
    for k in range(size):
        step = 1e-6 * max(1.0, abs(base[k]))
        up, down = list(base), list(base)
        up[k] += step
        down[k] -= step
        try:
            plus = np.asarray(evaluate(*up, *fixed), dtype=float)
            minus = np.asarray(evaluate(*down, *fixed), dtype=float)
        except (ArithmeticError, ValueError, TypeError) as exc:
            raise AnalysisError(f"cannot evaluate the right-hand sides at the given values: {exc}") from exc
        jacobian[:, k] = (plus - minus) / (2 * step)
    if not np.all(np.isfinite(jacobian)):
        raise AnalysisError("the Jacobian is not finite at the given values")
    return jacobian


def recommend(
    system: OdeSystem,
    values: Mapping[object, float],
    functions: Mapping[str, Callable[..., float]] | None = None,
    resolution: float = 0.1,
) -> Recommendation:
    """Recommend a numeric method for ``system`` at ``values``.

    ``values`` holds initial states and parameters, by symbol or by name; inputs and states not listed
    default to 0, parameters must be given.  ``functions`` implements user functions by name;
    ``resolution`` is the simulation step in ms.
    """
    checked = check_system(system)
    plan = analyze(system)
    blocks = [b for b in plan.blocks if isinstance(b, NumericBlock)]
    if not blocks:
        return Recommendation("exact", "every state is solved exactly", None)
    functions = dict(functions or {})
    used = {f.func.__name__ for b in blocks for e in b.rhs.values() for f in e.atoms(AppliedUndef)}
    missing_functions = sorted(used - set(functions))
    if missing_functions:
        raise AnalysisError(
            f"no implementation for user function(s) {', '.join(missing_functions)}: pass them in functions="
        )
    needed = sorted(
        {s for b in blocks for e in b.rhs.values() for s in e.free_symbols} - {checked.t}, key=str
    )
    point = _value_map(values, needed)
    for symbol in needed:
        # inputs are off and unlisted states (kernel states, say) start at rest, as in a fresh neuron
        if symbol not in point and (symbol in checked.inputs or symbol in checked.rhs):
            point[symbol] = 0.0
    missing = [str(s) for s in needed if s not in point]
    if missing:
        raise AnalysisError(f"recommend() needs values for {', '.join(missing)}")
    if checked.t in {s for b in blocks for e in b.rhs.values() for s in e.free_symbols}:
        point[checked.t] = float(values.get(checked.t, values.get(checked.t.name, 0.0)))  # type: ignore[arg-type]

    eigenvalues = np.linalg.eigvals(_jacobian(blocks, point, functions))
    real = np.abs(eigenvalues.real)
    radius = float(np.max(np.abs(eigenvalues)))
    significant = real[real > 1e-12 * max(radius, 1e-300)]
    ratio = float(significant.max() / significant.min()) if significant.size else 1.0
    listed = [complex(v) for v in eigenvalues]

    pinned = [b.method for b in blocks if b.method != "rk45"]
    if pinned:
        return Recommendation(pinned[0], f"pinned '{pinned[0]}' by the model", ratio, radius, listed)
    scaled = radius * resolution
    if ratio >= STIFF_RATIO and scaled > EXPLICIT_STABILITY:
        reason = (
            f"stiff: eigenvalue magnitude ratio {ratio:.3g} >= {STIFF_RATIO:g} and |lambda_max|*h = "
            f"{scaled:.3g} > {EXPLICIT_STABILITY} (explicit steps would be limited by stability)"
        )
        return Recommendation("implicit", reason, ratio, radius, listed)
    if ratio >= STIFF_RATIO:
        reason = (
            f"eigenvalue magnitude ratio {ratio:.3g} >= {STIFF_RATIO:g}, but |lambda_max|*h = {scaled:.3g} "
            f"<= {EXPLICIT_STABILITY}: explicit steps of the simulation resolution are stable"
        )
    else:
        reason = f"not stiff: eigenvalue magnitude ratio {ratio:.3g} < {STIFF_RATIO:g}"
    if not math.isfinite(ratio):
        reason = "not stiff: no decaying mode"
    return Recommendation("rk45", reason, ratio, radius, listed)
