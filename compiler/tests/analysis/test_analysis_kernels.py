"""Kernels to ODEs: order, initial values, and that the ODE reproduces the kernel function."""

from __future__ import annotations

import numpy as np
import pytest
import sympy
from nmlc.analysis import AnalysisError, OdeSystem, analyze, kernel_from_odes, kernel_to_ode
from scipy.linalg import expm

t = sympy.Symbol("t")
tau, tau_r, tau_d, omega, a, b, weight = sympy.symbols("tau tau_rise tau_decay omega a b weight")


def _companion(kernel, values):
    """Numeric system matrix of the kernel ODE (rows/columns in kernel.states order)."""
    n = len(kernel.states)
    matrix = np.zeros((n, n))
    for i, x in enumerate(kernel.states):
        rhs = kernel.odes[x].subs(values)
        for j, y in enumerate(kernel.states):
            matrix[i, j] = float(rhs.diff(y))
    start = np.array([float(v.subs(values)) for v in kernel.initial_values])
    return matrix, start


def assert_reproduces(kernel, expr, values, times=(0.0, 0.05, 0.3, 1.0, 2.5, 7.0, 20.0)):
    """Integrate the ODE from its initial values (matrix exponential) and compare with the kernel function."""
    matrix, start = _companion(kernel, values)
    function = sympy.lambdify(t, expr.subs(values), "math")
    for when in times:
        solution = expm(matrix * when) @ start
        assert solution[0] == pytest.approx(function(when), rel=1e-10, abs=1e-13), when


def test_exponential_is_order_one():
    expr = sympy.exp(-t / tau)
    kernel = kernel_to_ode(expr, t, "I_syn")
    assert kernel.states == [sympy.Symbol("I_syn")]
    assert sympy.simplify(kernel.odes[kernel.states[0]] + kernel.states[0] / tau) == 0
    assert kernel.initial_values == [1]
    assert not kernel.is_delta
    assert_reproduces(kernel, expr, {tau: 2.0})


def test_alpha_is_order_two_with_the_expected_jump():
    expr = sympy.E / tau * t * sympy.exp(-t / tau)
    kernel = kernel_to_ode(expr, t, "I_syn")
    assert [s.name for s in kernel.states] == ["I_syn", "I_syn__d"]
    assert kernel.initial_values[0] == 0
    assert sympy.simplify(kernel.initial_values[1] - sympy.E / tau) == 0
    assert kernel.jump == dict(zip(kernel.states, kernel.initial_values, strict=True))
    for value in (0.5, 2.0, 8.0):
        assert_reproduces(kernel, expr, {tau: value})


def test_beta_kernel_and_its_degenerate_limit():
    expr = (sympy.exp(-t / tau_d) - sympy.exp(-t / tau_r)) / (tau_d - tau_r)
    kernel = kernel_to_ode(expr, t, "g")
    assert len(kernel.states) == 2
    assert_reproduces(kernel, expr, {tau_r: 0.5, tau_d: 3.0})
    # The ODE and initial values stay finite at tau_rise == tau_decay and give the limit t exp(-t/tau)/tau**2.
    limit = t * sympy.exp(-t / tau) / tau**2
    assert sympy.simplify(sympy.limit(expr, tau_r, tau_d).subs(tau_d, tau) - limit) == 0
    degenerate = {tau_r: tau, tau_d: tau}
    coincident = type(kernel)(
        kernel.name,
        kernel.states,
        {x: e.subs(degenerate) for x, e in kernel.odes.items()},
        [v.subs(degenerate) for v in kernel.initial_values],
    )
    assert_reproduces(coincident, limit, {tau: 2.0})


def test_degenerate_beta_given_directly_is_order_two():
    expr = t * sympy.exp(-t / tau) / tau**2
    kernel = kernel_to_ode(expr, t, "g")
    assert len(kernel.states) == 2
    assert_reproduces(kernel, expr, {tau: 1.5})


def test_sum_of_two_exponentials():
    expr = a * sympy.exp(-t / tau_r) + b * sympy.exp(-t / tau_d)
    kernel = kernel_to_ode(expr, t, "k")
    assert len(kernel.states) == 2
    assert_reproduces(kernel, expr, {a: 2.0, b: -0.7, tau_r: 0.4, tau_d: 6.0})


def test_repeated_terms_do_not_raise_the_order():
    assert len(kernel_to_ode(sympy.exp(-t / tau) + 2 * sympy.exp(-t / tau), t, "k").states) == 1
    assert len(kernel_to_ode((1 + t) * sympy.exp(-t / tau), t, "k").states) == 2
    assert len(kernel_to_ode(sympy.exp(-(t - 1) / tau), t, "k").states) == 1


def test_damped_oscillation_has_real_coefficients():
    expr = sympy.exp(-t / tau) * sympy.cos(omega * t)
    kernel = kernel_to_ode(expr, t, "k")
    assert len(kernel.states) == 2
    for rhs in kernel.odes.values():
        assert not rhs.has(sympy.I)
    assert_reproduces(kernel, expr, {tau: 3.0, omega: 2.0})


def test_heaviside_factor_is_ignored():
    kernel = kernel_to_ode(sympy.Heaviside(t) * sympy.exp(-t / tau), t, "k")
    assert len(kernel.states) == 1


def test_delta_kernel_has_no_state():
    kernel = kernel_to_ode(sympy.DiracDelta(t), t, "spikes")
    assert kernel.is_delta and kernel.states == [] and kernel.delta_scale == 1
    scaled = kernel_to_ode(2 * weight * sympy.DiracDelta(t), t, "spikes")
    assert scaled.is_delta and scaled.delta_scale == 2 * weight


@pytest.mark.parametrize(
    "expr",
    [
        1 / (1 + t),
        sympy.exp(-(t**2)),
        sympy.log(1 + t),
        sympy.sqrt(t),
        sympy.exp(-t / tau) / t,
        sympy.tan(t),
        sympy.exp(-t / tau) + sympy.DiracDelta(t),
        sympy.S.Zero,
    ],
)
def test_kernels_without_a_linear_ode_are_rejected(expr):
    with pytest.raises(AnalysisError):
        kernel_to_ode(expr, t, "k")


def test_bad_name_is_rejected():
    with pytest.raises(AnalysisError, match="identifier"):
        kernel_to_ode(sympy.exp(-t), t, "not a name")


def test_ode_form_kernel_is_validated():
    g, g_d = sympy.symbols("g g__d")
    kernel = kernel_from_odes("g", {g: g_d - g / tau, g_d: -g_d / tau}, {g: 0, g_d: sympy.E / tau}, t, [tau])
    assert kernel.states == [g, g_d] and kernel.initial_values == [0, sympy.E / tau]
    assert_reproduces(kernel, sympy.E / tau * t * sympy.exp(-t / tau), {tau: 2.0})
    with pytest.raises(AnalysisError, match="not linear"):
        kernel_from_odes("g", {g: -(g**2)}, [1])
    with pytest.raises(AnalysisError, match="not homogeneous"):
        kernel_from_odes("g", {g: -g / tau + 1}, [1])
    with pytest.raises(AnalysisError, match="explicitly"):
        kernel_from_odes("g", {g: -g * t}, [1], t)
    with pytest.raises(AnalysisError, match="not parameters"):
        kernel_from_odes("g", {g: -g / tau}, [1], t, allowed=[])
    with pytest.raises(AnalysisError, match="initial value"):
        kernel_from_odes("g", {g: g_d, g_d: -g}, {g: 1})


@pytest.mark.parametrize(
    "expr",
    [
        sympy.exp(-t / tau),
        sympy.E / tau * t * sympy.exp(-t / tau),
        (sympy.exp(-t / tau_d) - sympy.exp(-t / tau_r)) / (tau_d - tau_r),
    ],
)
def test_exact_propagators_of_a_kernel_reproduce_it(expr):
    """End to end: the kernel's exact block, started at the jump, follows the kernel function step by step."""
    kernel = kernel_to_ode(expr, t, "k")
    parameters = frozenset(expr.free_symbols - {t})
    plan = analyze(OdeSystem(t, {}, parameters, frozenset(), kernels=(kernel,)))
    block = plan.blocks[0]
    values = {tau: 2.0, tau_r: 0.5, tau_d: 3.0}
    env = {**values, block.h: 0.25}
    propagators = {s: float(e.subs(env)) for s, e in block.propagators.items()}
    state = {x: float(v.subs(values)) for x, v in zip(kernel.states, kernel.initial_values, strict=True)}
    function = sympy.lambdify(t, expr.subs(values), "math")
    for step in range(1, 41):
        state = {x: float(block.update[x].subs({**propagators, **state})) for x in kernel.states}
        assert state[kernel.states[0]] == pytest.approx(function(step * 0.25), rel=1e-12, abs=1e-15)
