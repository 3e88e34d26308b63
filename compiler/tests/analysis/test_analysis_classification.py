"""Which states are solved exactly, which numerically, and the reasons given."""

from __future__ import annotations

import pytest
import sympy
from analysis_models import (
    E_L,
    C_m,
    I_ex,
    I_in,
    I_stim,
    V_m,
    aeif_cond_exp,
    g_ex,
    g_in,
    hh_psc_alpha,
    iaf_cond_exp,
    iaf_psc_alpha,
    iaf_psc_delta,
    iaf_psc_exp,
    t,
    tau_m,
    tau_syn_ex,
    tau_syn_in,
    w,
)
from nmlc.analysis import AnalysisError, ExactBlock, NumericBlock, OdeSystem, analyze, kernel_to_ode


def _block_of(plan, state):
    matches = [b for b in plan.blocks if state in b.states]
    assert len(matches) == 1, f"{state} is in {len(matches)} blocks"
    return matches[0]


def _every_state_once(system: OdeSystem, plan) -> None:
    listed = [x for b in plan.blocks for x in b.states]
    assert sorted(listed, key=str) == sorted(system.odes, key=str)
    assert set(plan.reasons) == set(system.odes)


@pytest.mark.parametrize("model", [iaf_psc_delta, iaf_psc_exp, iaf_psc_alpha])
def test_current_based_models_are_exact(model):
    system = model()
    plan = analyze(system)
    _every_state_once(system, plan)
    assert all(isinstance(b, ExactBlock) and b.mode == "closed_form" for b in plan.blocks)
    assert len(plan.blocks) == 1  # V_m couples to every synaptic state
    for x, reason in plan.reasons.items():
        assert reason.startswith(f"{x}: exact – linear, constant coefficients")


def test_psc_alpha_reasons_name_dependencies():
    plan = analyze(iaf_psc_alpha())
    assert (
        plan.reasons[V_m]
        == "V_m: exact – linear, constant coefficients, depends on I_ex (exact), I_in (exact)"
    )
    assert plan.reasons[I_ex] == "I_ex: exact – linear, constant coefficients, depends on I_ex__d (exact)"


def test_conductance_model_integrates_conductances_with_the_membrane():
    plan = analyze(iaf_cond_exp())
    block = _block_of(plan, V_m)
    assert isinstance(block, NumericBlock)
    assert set(block.states) == {V_m, g_ex, g_in}
    assert block.method == "rk45"
    assert "nonlinear term" in plan.reasons[V_m] and "g_ex*" in plan.reasons[V_m]
    assert plan.reasons[g_ex] == "g_ex: numeric rk45 – linear, but V_m (numeric) depends on it"
    assert block.jacobian.shape == (3, 3)
    # d(dV/dt)/dg_ex = -(V_m - E_ex)/C_m, an independent derivative of the model equation
    expected = sympy.diff(iaf_cond_exp().odes[V_m], g_ex)
    assert sympy.simplify(block.jacobian[0, 1] - expected) == 0


def test_aeif_exponential_term_is_reported_first():
    plan = analyze(aeif_cond_exp())
    assert isinstance(_block_of(plan, V_m), NumericBlock)
    assert plan.reasons[V_m].startswith("V_m: numeric rk45 – nonlinear terms exp((V_m - V_th)/Delta_T)")
    assert plan.reasons[w] == "w: numeric rk45 – linear, but depends on V_m (numeric)"
    assert set(_block_of(plan, V_m).states) == {V_m, w, g_ex, g_in}


@pytest.mark.parametrize("user_functions", [False, True])
def test_hodgkin_huxley_gates_are_numeric(user_functions):
    system = hh_psc_alpha(user_functions=user_functions)
    plan = analyze(system)
    _every_state_once(system, plan)
    assert all(isinstance(b, NumericBlock) for b in plan.blocks)
    gates = [x for x in system.odes if x.name.startswith(("Act", "Inact"))]
    for gate in gates:
        assert "nonlinear term" in plan.reasons[gate]
    block = _block_of(plan, V_m)
    assert block.jacobian.shape == (8, 8)
    if user_functions:
        assert any("alpha_m" in r for r in (plan.reasons[g] for g in gates))
        assert block.jacobian.has(sympy.Derivative)


def test_explicit_time_in_a_coefficient_is_numeric():
    x, tau = sympy.symbols("x tau")
    system = OdeSystem(t, {x: -x * t / tau}, frozenset({tau}), frozenset())
    plan = analyze(system)
    assert isinstance(plan.blocks[0], NumericBlock)
    assert "explicit time dependence" in plan.reasons[x]


def test_explicit_time_in_the_forcing_is_numeric():
    x, tau = sympy.symbols("x tau")
    system = OdeSystem(t, {x: -x / tau + sympy.sin(t)}, frozenset({tau}), frozenset())
    plan = analyze(system)
    assert isinstance(plan.blocks[0], NumericBlock)
    assert plan.reasons[x] == "x: numeric rk45 – explicit time dependence in term sin(t)"


def test_input_in_a_coefficient_is_numeric():
    x, tau = sympy.symbols("x tau")
    system = OdeSystem(t, {x: -x / tau + x * I_stim}, frozenset({tau}), frozenset({I_stim}))
    plan = analyze(system)
    assert isinstance(plan.blocks[0], NumericBlock)
    assert plan.reasons[x] == "x: numeric rk45 – coefficient of x depends on input I_stim"


def test_input_in_the_forcing_stays_exact():
    plan = analyze(iaf_psc_delta())
    block = plan.blocks[0]
    assert isinstance(block, ExactBlock)
    assert I_stim in block.update[V_m].free_symbols


def test_undeclared_symbol_is_named():
    x, tau = sympy.symbols("x tau")
    system = OdeSystem(t, {x: -x / tau + sympy.Symbol("mystery")}, frozenset({tau}), frozenset())
    with pytest.raises(AnalysisError, match="undeclared symbol.*mystery"):
        analyze(system)


def test_independent_states_form_separate_blocks():
    x, y, a, b = sympy.symbols("x y a b")
    plan = analyze(OdeSystem(t, {x: -x / a, y: -y / b}, frozenset({a, b}), frozenset()))
    assert [b.states for b in plan.blocks] == [[x], [y]]


def test_numeric_pin_pulls_in_what_the_pinned_state_reads():
    system = iaf_psc_exp()
    system.pinned = {V_m: "euler"}
    plan = analyze(system)
    block = _block_of(plan, V_m)
    assert isinstance(block, NumericBlock) and block.method == "euler"
    assert set(block.states) == {V_m, I_ex, I_in}
    assert "pinned 'euler'" in plan.reasons[V_m]


def test_exact_pin_keeps_a_conductance_exact_and_marks_it_external():
    system = iaf_cond_exp()
    system.pinned = {g_ex: "exact"}
    plan = analyze(system)
    exact = _block_of(plan, g_ex)
    numeric = _block_of(plan, V_m)
    assert isinstance(exact, ExactBlock) and isinstance(numeric, NumericBlock)
    assert numeric.external == [g_ex]
    assert set(numeric.states) == {V_m, g_in}
    assert "start of each step" in plan.reasons[g_ex]


def test_exact_pin_on_a_nonlinear_state_is_an_error():
    system = aeif_cond_exp()
    system.pinned = {V_m: "exact"}
    with pytest.raises(AnalysisError, match="V_m is pinned 'exact' but cannot be solved exactly"):
        analyze(system)


def test_exact_pin_on_a_state_reading_a_numeric_state_is_an_error():
    system = aeif_cond_exp()
    system.pinned = {w: "exact"}
    with pytest.raises(AnalysisError, match="w is pinned 'exact' but depends on V_m"):
        analyze(system)


def test_conflicting_pins_in_one_block_are_an_error():
    system = iaf_cond_exp()
    system.pinned = {V_m: "implicit", g_ex: "euler"}
    with pytest.raises(AnalysisError, match="conflicting solver pins"):
        analyze(system)


def test_implicit_pin_sets_the_block_method():
    system = iaf_cond_exp()
    system.pinned = {V_m: "implicit"}
    assert _block_of(analyze(system), V_m).method == "implicit"


def test_kernel_states_join_the_system_and_are_listed():
    kernel = kernel_to_ode(sympy.E / tau_syn_ex * t * sympy.exp(-t / tau_syn_ex), t, "K_ex")
    k = kernel.states[0]
    odes = {V_m: -(V_m - E_L) / tau_m + k / C_m}
    system = OdeSystem(t, odes, frozenset({tau_m, C_m, E_L, tau_syn_ex}), frozenset(), kernels=(kernel,))
    plan = analyze(system)
    assert plan.kernels == {"K_ex": kernel}
    block = _block_of(plan, V_m)
    assert isinstance(block, ExactBlock) and set(block.states) == {V_m, *kernel.states}


def test_results_are_cached_but_returned_as_independent_copies():
    first = analyze(iaf_psc_exp())
    first.reasons.clear()
    first.blocks[0].update.clear()
    second = analyze(iaf_psc_exp())
    assert second.reasons and second.blocks[0].update


def test_reasons_are_one_line_each():
    for model in (iaf_psc_alpha, iaf_cond_exp, aeif_cond_exp, hh_psc_alpha):
        for reason in analyze(model()).reasons.values():
            assert "\n" not in reason and " – " in reason


def test_two_receptor_psc_exp_lists_both_singular_conditions():
    block = analyze(iaf_psc_exp()).blocks[0]
    assert set(block.singular_conditions) == {sympy.Eq(tau_m, tau_syn_ex), sympy.Eq(tau_m, tau_syn_in)}


def test_refractory_clamp_reports_the_term_inside_the_branch():
    x, refractory = sympy.symbols("x refractory")
    rhs = sympy.Piecewise((0, refractory > 0), (-(x**2) / tau_m, True))
    plan = analyze(OdeSystem(t, {x: rhs}, frozenset({tau_m}), frozenset({refractory})))
    assert plan.reasons[x] == "x: numeric rk45 – nonlinear term x**2"


def test_long_nonlinear_terms_are_shortened():
    x = sympy.Symbol("x")
    long_term = sympy.exp(sum(sympy.Symbol(f"coefficient_{k}") * x**k for k in range(1, 12)))
    parameters = frozenset(sympy.Symbol(f"coefficient_{k}") for k in range(1, 12))
    reason = analyze(OdeSystem(t, {x: long_term}, parameters, frozenset())).reasons[x]
    assert reason.endswith("...") and len(reason) < 140
