"""Numerical helpers for the analysis tests: evaluate a plan's exact update and independent references.

Expressions are compiled with ``lambdify`` once per block (cached), so that tests can afford many draws.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import cache

import mpmath
import numpy as np
import sympy
from nmlc.analysis import ExactBlock, OdeSystem
from scipy.integrate import solve_ivp
from scipy.linalg import expm


@cache
def _compiled(expr: sympy.Expr) -> tuple[tuple[sympy.Symbol, ...], object]:
    free = tuple(sorted(expr.free_symbols, key=str))
    return free, sympy.lambdify(free, expr, modules="math")


def _evaluate(expr: sympy.Expr, env: Mapping[sympy.Symbol, float]) -> float:
    free, function = _compiled(expr)
    return float(function(*[env[s] for s in free]))  # type: ignore[operator]


def evaluate_update(
    block: ExactBlock, values: Mapping[sympy.Symbol, float], h: float
) -> dict[sympy.Symbol, float]:
    """New state values from the block's propagators and update expressions, in double precision."""
    env = {**values, block.h: h}
    for symbol, expr in block.propagators.items():
        env[symbol] = _evaluate(expr, env)
    return {state: _evaluate(expr, env) for state, expr in block.update.items()}


def propagator_values(
    block: ExactBlock, values: Mapping[sympy.Symbol, float], h: float
) -> dict[sympy.Symbol, float]:
    env = {**values, block.h: h}
    return {symbol: _evaluate(expr, env) for symbol, expr in block.propagators.items()}


def _linear_parts(
    system: OdeSystem, states: tuple[sympy.Symbol, ...]
) -> tuple[list[list[sympy.Expr]], list[sympy.Expr]]:
    """A (Jacobian) and b (value at x = 0) read directly off the right-hand sides."""
    matrix = [[system.odes[x].diff(y) for y in states] for x in states]
    offset = [system.odes[x].xreplace({y: sympy.S.Zero for y in states}) for x in states]
    return matrix, offset


def reference_update(
    system: OdeSystem,
    states: list[sympy.Symbol],
    values: Mapping[sympy.Symbol, float],
    h: float,
    digits: int = 50,
) -> dict[sympy.Symbol, mpmath.mpf]:
    """x(h) for the linear system read directly off the right-hand sides: exp of [[A, b], [0, 0]] in mpmath.

    A and b are evaluated exactly from the double-precision parameter values, then exponentiated at
    ``digits`` digits.
    """
    matrix, offset = _linear_parts(system, tuple(states))
    exact = {s: sympy.Rational(v) for s, v in values.items() if s not in states}
    n = len(states)
    with mpmath.workdps(digits):
        augmented = mpmath.matrix(n + 1, n + 1)
        for i in range(n):
            for j in range(n):
                augmented[i, j] = mpmath.mpf(sympy.N(matrix[i][j].xreplace(exact), digits + 10))
            augmented[i, n] = mpmath.mpf(sympy.N(offset[i].xreplace(exact), digits + 10))
        propagator = mpmath.expm(augmented * mpmath.mpf(h))
        start = [mpmath.mpf(values[x]) for x in states]
        return {
            x: sum(propagator[i, j] * start[j] for j in range(n)) + propagator[i, n]
            for i, x in enumerate(states)
        }


def relative_error(value: float, reference: mpmath.mpf, scale: float) -> float:
    """|value - reference| / max(|reference|, scale); ``scale`` guards entries that are nearly zero."""
    if not math.isfinite(value):
        return math.inf
    return float(abs(mpmath.mpf(value) - reference) / max(abs(reference), scale))


def scipy_update(
    system: OdeSystem, states: list[sympy.Symbol], values: Mapping[sympy.Symbol, float], h: float
) -> dict[sympy.Symbol, float]:
    """x(h) in double precision: scipy.linalg.expm of [[A, b], [0, 0]] read off the right-hand sides."""
    matrix, offset = _linear_parts(system, tuple(states))
    n = len(states)
    env = {s: v for s, v in values.items() if s not in states}
    augmented = np.zeros((n + 1, n + 1))
    for i in range(n):
        for j in range(n):
            augmented[i, j] = _evaluate(matrix[i][j], env)
        augmented[i, n] = _evaluate(offset[i], env)
    new = expm(augmented * h) @ np.array([values[x] for x in states] + [1.0])
    return {x: float(new[i]) for i, x in enumerate(states)}


def solve_ivp_update(
    system: OdeSystem, states: list[sympy.Symbol], values: Mapping[sympy.Symbol, float], h: float
) -> dict[sympy.Symbol, float]:
    """x(h) by scipy.integrate.solve_ivp (DOP853, rtol 1e-12) with inputs held constant over the step."""
    others = {s: v for s, v in values.items() if s not in states}
    rhs = [system.odes[x].subs(others) for x in states]
    function = sympy.lambdify([system.t, states], rhs, modules="math")
    solution = solve_ivp(
        lambda time, y: function(time, y),
        (0.0, h),
        [values[x] for x in states],
        method="DOP853",
        rtol=1e-12,
        atol=1e-14,
    )
    assert solution.success, solution.message
    return {x: float(solution.y[i, -1]) for i, x in enumerate(states)}
