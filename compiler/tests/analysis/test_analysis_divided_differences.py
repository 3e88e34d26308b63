"""Divided differences of exp against mpmath at 50 digits, over the whole range of separations."""

from __future__ import annotations

import random

import mpmath
import pytest
import sympy
from nmlc.analysis.divided_differences import exp_divided_difference, is_stable

h = sympy.Symbol("h")


def _reference(points, step):
    """exp of a bidiagonal matrix carries the divided difference in its corner (also for repeated points)."""
    with mpmath.workdps(50):
        values = [mpmath.mpf(z) for z, m in points for _ in range(m)]
        n = len(values)
        matrix = mpmath.matrix(n, n)
        for i in range(n):
            matrix[i, i] = values[i] * step
            if i + 1 < n:
                matrix[i, i + 1] = 1
        return mpmath.expm(matrix)[0, n - 1] * mpmath.mpf(step) ** (n - 1)


@pytest.mark.parametrize(
    "multiplicities", [(1, 1), (1, 2), (2, 1), (2, 2), (1, 3), (3, 3), (1, 1, 1), (2, 1, 1), (1, 1, 2)]
)
def test_accuracy_for_all_separations(multiplicities):
    symbols = sympy.symbols(f"z0:{len(multiplicities)}")
    expr = exp_divided_difference(tuple(zip(symbols, multiplicities, strict=True)), h)
    function = sympy.lambdify((*symbols, h), expr, "math")
    rng = random.Random(sum(multiplicities) * 31 + len(multiplicities))
    worst = 0.0
    for _ in range(80):
        base = -rng.uniform(0.01, 20.0)
        step = rng.choice([0.01, 0.1, 1.0])
        values = [base]
        for _ in multiplicities[1:]:
            # separations from 1e-12 to ~30 in units of 1/h, relative to the base or to the previous point
            gap = rng.choice([1, -1]) * 10 ** rng.uniform(-12, 1.5) / step
            values.append(rng.choice([base, values[-1]]) + gap)
        got = function(*values, step)
        reference = _reference(list(zip(values, multiplicities, strict=True)), step)
        with mpmath.workdps(50):
            worst = max(worst, float(abs((mpmath.mpf(got) - reference) / reference)))
    assert worst < 1e-13


def test_coincident_points_are_finite():
    a, b = sympy.symbols("a b")
    expr = exp_divided_difference(((a, 1), (b, 2)), h)
    assert float(expr.subs({a: -0.5, b: -0.5, h: 0.1})) == pytest.approx(
        0.1**2 / 2 * mpmath.exp(-0.05), rel=1e-15
    )


def test_stability_policy():
    a, b, c, d = sympy.symbols("a b c d")
    assert is_stable(((a, 5),))
    assert is_stable(((a, 4), (b, 4)))
    assert not is_stable(((a, 5), (b, 4)))
    assert is_stable(((a, 2), (b, 1), (c, 1)))
    assert not is_stable(((a, 2), (b, 2), (c, 1)))
    assert not is_stable(((a, 1), (b, 1), (c, 1), (d, 1)))
