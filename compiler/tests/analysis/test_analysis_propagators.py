"""Exact propagators against independent references: scipy expm, solve_ivp, mpmath, sympy.limit."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy
from analysis_models import (
    E_L,
    PSC_DEFAULTS,
    C_m,
    I_e,
    I_ex,
    I_stim,
    V_m,
    iaf_psc_alpha,
    iaf_psc_delta,
    iaf_psc_exp,
    t,
    tau_m,
    tau_syn_ex,
    tau_syn_in,
)
from analysis_numerics import (
    evaluate_update,
    propagator_values,
    reference_update,
    relative_error,
    scipy_update,
    solve_ivp_update,
)
from nmlc.analysis import ExactBlock, OdeSystem, analyze

MODELS = [iaf_psc_delta, iaf_psc_exp, iaf_psc_alpha]


def _draw(rng: np.random.Generator, kind: str) -> dict:
    values = {
        tau_m: rng.uniform(2.0, 40.0),
        C_m: rng.uniform(50.0, 500.0),
        E_L: rng.uniform(-80.0, -50.0),
        I_e: rng.uniform(-100.0, 100.0),
        tau_syn_ex: rng.uniform(0.1, 10.0),
        tau_syn_in: rng.uniform(0.1, 10.0),
        I_stim: rng.uniform(-200.0, 200.0),
    }
    if kind in ("ex", "both"):
        values[tau_syn_ex] = values[tau_m]
    if kind in ("in", "both"):
        values[tau_syn_in] = values[tau_m]
    if kind == "syn":
        values[tau_syn_in] = values[tau_syn_ex]
    return values


def _unit_states(block: ExactBlock, values: dict, rng: np.random.Generator):
    """Each state set to 1 (others 0) with inputs off, then a random state with inputs on."""
    for x in block.states:
        start = {y: float(y == x) for y in block.states}
        yield {**values, **start, I_stim: 0.0, I_e: 0.0, E_L: 0.0}
    yield {**values, **{y: rng.normal(0.0, 10.0) for y in block.states}}


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("kind", ["generic", "ex", "in", "both", "syn"])
def test_update_matches_scipy_expm_for_random_parameters(model, kind):
    system = model()
    block = analyze(system).blocks[0]
    rng = np.random.default_rng(1234)
    for _ in range(6):
        values = _draw(rng, kind)
        for start in _unit_states(block, values, rng):
            for h in (0.1, 1.0, 7.5):
                got = evaluate_update(block, start, h)
                expected = scipy_update(system, block.states, start, h)
                scale = max(1.0, *(abs(v) for v in expected.values()))
                for x in block.states:
                    assert math.isfinite(got[x])
                    assert got[x] == pytest.approx(expected[x], rel=1e-11, abs=1e-12 * scale), (x, h, kind)


@pytest.mark.parametrize("model", [iaf_psc_exp, iaf_psc_alpha])
@pytest.mark.parametrize("epsilon", [0.0, 1e-15, 1e-12, 1e-9, 1e-6, 1e-3])
def test_near_degenerate_time_constants_against_mpmath(model, epsilon):
    """tau_syn = tau_m (1 +- epsilon): the naive closed form loses ~|log10 epsilon| digits here."""
    system = model()
    block = analyze(system).blocks[0]
    values = {
        **PSC_DEFAULTS,
        tau_m: 10.0,
        tau_syn_ex: 10.0 * (1 + epsilon),
        tau_syn_in: 10.0 * (1 - epsilon),
        I_stim: 100.0,
        I_e: 50.0,
    }
    worst = 0.0
    for x in block.states:
        start = {**values, **{y: float(y == x) for y in block.states}}
        for h in (0.1, 1.0, 100.0):
            got = evaluate_update(block, start, h)
            reference = reference_update(system, block.states, start, h)
            worst = max(worst, *(relative_error(got[y], reference[y], 1e-300) for y in block.states))
    assert worst < 1e-14


def test_input_terms_match_solve_ivp_over_one_step():
    rng = np.random.default_rng(7)
    for model in MODELS:
        system = model()
        block = analyze(system).blocks[0]
        for _ in range(5):
            values = _draw(rng, "generic")
            start = {**values, **{x: rng.normal(0.0, 20.0) for x in block.states}}
            for h in (0.1, 2.0):
                got = evaluate_update(block, start, h)
                expected = solve_ivp_update(system, block.states, start, h)
                for x in block.states:
                    assert got[x] == pytest.approx(expected[x], rel=1e-9, abs=1e-9)


def test_input_has_its_own_propagator():
    block = analyze(iaf_psc_exp()).blocks[0]
    assert block.columns[-1] == I_stim
    symbol = sympy.Symbol("__P__V_m__I_stim")
    assert symbol in block.propagators
    assert block.update[V_m].coeff(I_stim) == symbol


def test_degenerate_branch_is_the_limit_of_the_textbook_formula():
    block = analyze(iaf_psc_exp()).blocks[0]
    h = block.h
    entry = block.propagators[sympy.Symbol("__P__V_m__I_ex")]
    assert isinstance(entry, sympy.Piecewise)
    degenerate, condition = entry.args[0]
    assert condition == sympy.Eq(tau_m, tau_syn_ex)
    textbook = (sympy.exp(-h / tau_syn_ex) - sympy.exp(-h / tau_m)) / (C_m * (1 / tau_m - 1 / tau_syn_ex))
    limit = sympy.limit(textbook, tau_syn_ex, tau_m)
    assert sympy.simplify(degenerate - limit) == 0
    general = entry.args[-1][0]
    for point in (
        {tau_m: 10, tau_syn_ex: 3, C_m: 250, h: 1.5},
        {tau_m: 10, tau_syn_ex: 9.5, C_m: 250, h: 0.1},
    ):
        expected = float(textbook.subs(point))
        assert float(general.subs(point)) == pytest.approx(expected, rel=1e-12)


def test_no_nan_or_inf_at_degenerate_and_extreme_values():
    for model in MODELS:
        block = analyze(model()).blocks[0]
        for tau in (0.01, 1.0, 10.0, 1000.0):
            for other in (tau, tau * (1 + 1e-12), tau * 1.5, 0.01):
                values = {**PSC_DEFAULTS, tau_m: tau, tau_syn_ex: other, tau_syn_in: tau, I_stim: 1.0}
                for h in (1e-3, 0.1, 100.0, 1e4):
                    for symbol, value in propagator_values(block, values, h).items():
                        assert math.isfinite(value), (symbol, tau, other, h)


def test_pure_integrator_needs_no_inverse():
    x, y, tau = sympy.symbols("x y tau")
    system = OdeSystem(t, {x: (I_stim + y) / C_m, y: -y / tau}, frozenset({C_m, tau}), frozenset({I_stim}))
    block = analyze(system).blocks[0]
    assert block.mode == "closed_form"
    assert block.update[x].coeff(x) == 1  # exp(0*h) needs no propagator constant
    values = {C_m: 250.0, tau: 3.0, I_stim: 40.0, x: 1.5, y: -2.0}
    for h in (0.1, 10.0):
        got = evaluate_update(block, values, h)
        expected = scipy_update(system, block.states, values, h)
        for state in block.states:
            assert got[state] == pytest.approx(expected[state], rel=1e-12)


def test_triple_coincidence_gets_its_own_branch_and_stays_accurate():
    x1, x2, x3, t1, t2, t3, c = sympy.symbols("x1 x2 x3 tau_1 tau_2 tau_3 c")
    system = OdeSystem(
        t, {x1: -x1 / t1 + c * x2, x2: -x2 / t2 + x3, x3: -x3 / t3}, frozenset({t1, t2, t3, c}), frozenset()
    )
    block = analyze(system).blocks[0]
    assert block.mode == "closed_form"
    entry = block.propagators[sympy.Symbol("__P__x1__x3")]
    conditions = [cond for _, cond in entry.args]
    assert conditions[0] == sympy.And(sympy.Eq(t1, t2), sympy.Eq(t1, t3))
    assert conditions[-1] == sympy.true
    for taus in [
        (10, 10, 10),
        (10, 10, 5),
        (10, 10 * (1 + 1e-9), 5),
        (10, 10 * (1 + 1e-9), 10 * (1 - 1e-9)),
        (1, 2, 3),
        (10, 10.0001, 9.999999),
    ]:
        for start in [(1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)]:
            values = {t1: taus[0], t2: taus[1], t3: taus[2], c: 0.7, x1: start[0], x2: start[1], x3: start[2]}
            for h in (0.1, 1.0, 50.0):
                got = evaluate_update(block, values, h)
                reference = reference_update(system, [x1, x2, x3], values, h)
                for x in (x1, x2, x3):
                    assert relative_error(got[x], reference[x], 1e-300) < 1e-13, (taus, start, h, x)


def test_floats_in_coefficients_become_exact_rationals():
    x = sympy.Symbol("x")
    system = OdeSystem(t, {x: -0.1 * x + 0.5}, frozenset(), frozenset())
    block = analyze(system).blocks[0]
    assert block.mode == "closed_form"
    assert not any(e.has(sympy.Float) for e in block.propagators.values())
    got = evaluate_update(block, {x: 2.0}, 3.0)[x]
    assert got == pytest.approx(5.0 + (2.0 - 5.0) * math.exp(-0.3), rel=1e-14)


def test_irrational_eigenvalues_fall_back_to_the_matrix_exponential():
    x, y, k, d = sympy.symbols("x y k d")
    system = OdeSystem(t, {x: y, y: -k * x - d * y + I_stim}, frozenset({k, d}), frozenset({I_stim}))
    plan = analyze(system)
    block = plan.blocks[0]
    assert block.mode == "matrix_exponential" and block.propagators == {}
    assert "not rational" in block.note and "matrix exponential" in plan.reasons[x]
    _check_matrix_mode(system, block, {k: 2.0, d: 0.3, I_stim: 1.5, x: 0.5, y: -1.0})


def test_many_distinct_eigenvalues_in_one_entry_fall_back_to_the_matrix_exponential():
    x1, x2, x3, t1, t2, t3 = sympy.symbols("x1 x2 x3 tau_1 tau_2 tau_3")
    system = OdeSystem(
        t,
        {x1: -x1 / t1 + x2, x2: -x2 / t2 + x3, x3: -x3 / t3 + I_stim},
        frozenset({t1, t2, t3}),
        frozenset({I_stim}),
    )
    block = analyze(system).blocks[0]
    assert block.mode == "matrix_exponential"
    assert "4 distinct eigenvalues" in block.note
    _check_matrix_mode(system, block, {t1: 2.0, t2: 3.0, t3: 5.0, I_stim: 2.0, x1: 1.0, x2: -1.0, x3: 0.5})


def test_time_budget_falls_back_to_the_matrix_exponential():
    system = iaf_psc_alpha()
    plan = analyze(system, timeout=1e-9)
    block = plan.blocks[0]
    assert block.mode == "matrix_exponential"
    assert "time budget" in block.note
    values = {**PSC_DEFAULTS, I_stim: 3.0, **{x: 1.0 for x in block.states}}
    _check_matrix_mode(system, block, values)


def _check_matrix_mode(system: OdeSystem, block: ExactBlock, values: dict) -> None:
    """The generator and positions, exponentiated as the C++ runtime will, give the reference update."""
    from scipy.linalg import expm

    h = 0.7
    numeric = np.array(block.generator.subs(values).evalf(), dtype=float)
    propagator = expm(numeric * h)
    env = dict(values)
    for symbol, (row, column) in block.positions.items():
        env[symbol] = propagator[row, column]
    expected = scipy_update(system, block.states, values, h)
    for x in block.states:
        got = float(block.update[x].subs(env))
        assert got == pytest.approx(expected[x], rel=1e-12, abs=1e-12)


def test_update_refers_only_to_propagators_states_parameters_and_inputs():
    system = iaf_psc_alpha()
    block = analyze(system).blocks[0]
    allowed = set(block.states) | set(block.propagators) | system.inputs | system.parameters
    for expr in block.update.values():
        assert expr.free_symbols <= allowed
    for expr in block.propagators.values():
        assert expr.free_symbols <= system.parameters | {block.h}
    assert block.update[I_ex].free_symbols <= {I_ex, sympy.Symbol("I_ex__d")} | set(block.propagators)


def test_propagator_names_stay_unique_when_state_names_contain_double_underscores():
    a, a__b, b__c, c, tau = sympy.symbols("a a__b b__c c tau")
    system = OdeSystem(
        t, {a: -a / tau + b__c, a__b: -a__b / tau + c, b__c: -b__c, c: -c}, frozenset({tau}), frozenset()
    )
    blocks = analyze(system).blocks
    symbols = [s for block in blocks for s in block.positions]
    assert len(symbols) == len(set(symbols))
