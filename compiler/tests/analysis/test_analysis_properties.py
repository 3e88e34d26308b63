"""Property-based: random stable upper-triangular systems, exact update against a 40-digit matrix exponential.

Diagonal values are drawn from a pool with exact repeats and near repeats (relative 1e-9), so the degenerate
and near-degenerate branches are exercised as well as the general one.  The reference is mpmath's expm at 40
digits: scipy's double-precision expm is itself off by ~2e-9 relative for nearly coincident eigenvalues
(scaling and squaring amplifies the rounding of the near-singular Pade solve), which is below our tolerance.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy
from analysis_numerics import evaluate_update
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from nmlc.analysis import ExactBlock, OdeSystem, analyze
import mpmath

t = sympy.Symbol("t")
DIAGONAL_POOL = [-0.1, -0.5, -1.0, -1.0 * (1 + 1e-9), -2.0, -10.0]


@st.composite
def triangular_systems(draw):
    size = draw(st.integers(min_value=1, max_value=3))
    diagonal = [draw(st.sampled_from(DIAGONAL_POOL)) for _ in range(size)]
    coupling = {}
    for i in range(size):
        for j in range(i + 1, size):
            if draw(st.booleans()):
                coupling[i, j] = draw(
                    st.floats(min_value=-2.0, max_value=2.0, allow_nan=False).filter(lambda v: abs(v) > 1e-3)
                )
    # a constant forcing term only where it keeps every entry within three distinct eigenvalues
    forcing = draw(st.floats(min_value=-5.0, max_value=5.0)) if size <= 2 and draw(st.booleans()) else None
    start = [draw(st.floats(min_value=-10.0, max_value=10.0)) for _ in range(size)]
    h = draw(st.sampled_from([0.01, 0.1, 1.0, 5.0]))
    return diagonal, coupling, forcing, start, h


def reference_expm(matrix: np.ndarray, h: float) -> np.ndarray:
    """exp(matrix * h) to double precision, computed with 40 significant digits."""
    with mpmath.workdps(40):
        exact = mpmath.expm(mpmath.matrix(matrix.tolist()) * mpmath.mpf(h))
        return np.array([[float(exact[i, j]) for j in range(exact.cols)] for i in range(exact.rows)])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(triangular_systems())
# eigenvalues 1e-9 apart with h = 5: the case where scipy's expm (the former reference) was off by 2e-9
@example(([-1.0, -1.0 * (1 + 1e-9)], {(0, 1): 1.0}, None, [1.0, 1.0], 5.0))
@example(([-1.0 * (1 + 1e-9), -1.0, -1.0], {(0, 1): 1.0, (1, 2): -2.0}, None, [1.0, -3.0, 2.0], 5.0))
def test_exact_update_matches_expm(case):
    diagonal, coupling, forcing, start, h = case
    size = len(diagonal)
    states = sympy.symbols(f"x0:{size}")
    rates = sympy.symbols(f"d0:{size}")
    couplings = {key: sympy.Symbol(f"c{key[0]}{key[1]}") for key in coupling}
    drive = sympy.Symbol("u")
    odes = {}
    for i in range(size):
        rhs = rates[i] * states[i] + sum(
            couplings[i, j] * states[j] for j in range(i + 1, size) if (i, j) in coupling
        )
        if forcing is not None and i == size - 1:
            rhs += drive
        odes[states[i]] = rhs
    parameters = (
        frozenset(rates) | frozenset(couplings.values()) | ({drive} if forcing is not None else set())
    )
    block = analyze(OdeSystem(t, odes, parameters, frozenset())).blocks
    assert len(block) >= 1 and all(isinstance(b, ExactBlock) and b.mode == "closed_form" for b in block)

    values = {rates[i]: diagonal[i] for i in range(size)}
    values.update({couplings[key]: value for key, value in coupling.items()})
    values.update({states[i]: start[i] for i in range(size)})
    if forcing is not None:
        values[drive] = forcing
    got = {}
    for b in block:
        got.update(evaluate_update(b, values, h))

    matrix = np.zeros((size + 1, size + 1))
    for i in range(size):
        matrix[i, i] = diagonal[i]
        for j in range(i + 1, size):
            matrix[i, j] = coupling.get((i, j), 0.0)
    if forcing is not None:
        matrix[size - 1, size] = forcing
    expected = reference_expm(matrix, h) @ np.array([*start, 1.0])
    scale = max(1.0, float(np.max(np.abs(expected))))
    for i in range(size):
        assert math.isfinite(got[states[i]])
        assert got[states[i]] == pytest.approx(expected[i], rel=1e-9, abs=1e-11 * scale)
