"""Bad input gives AnalysisError with a message naming the problem, never another exception."""

from __future__ import annotations

import pytest
import sympy
from analysis_numerics import evaluate_update, scipy_update
from nmlc.analysis import AnalysisError, OdeSystem, analyze

t = sympy.Symbol("t")
x, y, tau = sympy.symbols("x y tau")


@pytest.mark.parametrize(
    "system, message",
    [
        (OdeSystem(t, {x: -x / tau + y}, frozenset({tau}), frozenset()), "undeclared symbol.*y"),
        (
            OdeSystem(t, {x: -x / tau}, frozenset({tau, x}), frozenset()),
            "x declared both as state and as parameter",
        ),
        (
            OdeSystem(t, {x: -x / tau}, frozenset({tau}), frozenset({tau})),
            "tau declared both as parameter and as input",
        ),
        (
            OdeSystem(t, {x: -x / tau}, frozenset({tau, t}), frozenset()),
            "t declared both as parameter and as time",
        ),
        (OdeSystem(t, {"x": -x / tau}, frozenset({tau}), frozenset()), "must be a sympy Symbol"),
        (OdeSystem(t, {x: "-x/tau"}, frozenset({tau}), frozenset()), "not a sympy expression"),
        (OdeSystem(t, {x: sympy.Derivative(x, t)}, frozenset(), frozenset()), "contains a derivative"),
        (OdeSystem(t, {x: x / sympy.S.Zero}, frozenset(), frozenset()), "infinite or undefined"),
        (OdeSystem(t, {}, frozenset(), frozenset()), "no states"),
        (
            OdeSystem(t, {x: -x / tau}, frozenset({tau}), frozenset(), pinned={x: "rk4"}),
            "unknown solver method 'rk4'",
        ),
        (
            OdeSystem(t, {x: -x / tau}, frozenset({tau}), frozenset(), pinned={y: "euler"}),
            "y, which is not a state",
        ),
        (OdeSystem(t, {x: -x / tau}, frozenset({"tau"}), frozenset()), "sympy symbols only"),
        (OdeSystem("t", {x: -x / tau}, frozenset({tau}), frozenset()), "time variable"),
        (
            OdeSystem(t, {x: -x / tau}, frozenset({tau, sympy.Symbol("x", positive=True)}), frozenset()),
            "share the name 'x'",
        ),
    ],
)
def test_invalid_systems(system, message):
    with pytest.raises(AnalysisError, match=message):
        analyze(system)


def test_not_a_system():
    with pytest.raises(AnalysisError, match="expected an OdeSystem"):
        analyze({x: -x})  # type: ignore[arg-type]


@pytest.mark.parametrize("timeout", [0, -1.0, "soon"])
def test_invalid_timeout(timeout):
    with pytest.raises(AnalysisError, match="timeout"):
        analyze(OdeSystem(t, {x: -x / tau}, frozenset({tau}), frozenset()), timeout=timeout)


def test_user_function_of_a_parameter_is_a_constant():
    f = sympy.Function("f")
    plan = analyze(OdeSystem(t, {x: -x / f(tau)}, frozenset({tau}), frozenset()))
    assert plan.blocks[0].mode == "closed_form"


def test_piecewise_coefficient_of_parameters_is_linear():
    coefficient = sympy.Piecewise((1 / tau, tau > 0), (1, True))
    system = OdeSystem(t, {x: -coefficient * x, y: x - y}, frozenset({tau}), frozenset())
    plan = analyze(system)
    assert "exact" in plan.reasons[x] and "exact" in plan.reasons[y]
    block = plan.blocks[0]
    for value in (2.0, 1.0, 1.0 + 1e-10, -3.0):  # -3 selects the constant branch, 1 the coincidence with y
        start = {tau: value, x: 1.5, y: -0.5}
        got = evaluate_update(block, start, 0.3)
        expected = scipy_update(system, [x, y], start, 0.3)
        for state in (x, y):
            assert got[state] == pytest.approx(expected[state], rel=1e-12)


def test_exponential_of_a_parameter_in_a_coefficient():
    system = OdeSystem(t, {x: -sympy.exp(tau) * x + y, y: -y}, frozenset({tau}), frozenset())
    block = analyze(system).blocks[0]
    assert block.mode == "closed_form"
    for value in (0.0, 1e-12, 1.0):  # exp(0) == 1 is the coincidence with y's rate
        start = {tau: value, x: 1.0, y: 2.0}
        got = evaluate_update(block, start, 0.5)
        expected = scipy_update(system, [x, y], start, 0.5)
        for state in (x, y):
            assert got[state] == pytest.approx(expected[state], rel=1e-12)
