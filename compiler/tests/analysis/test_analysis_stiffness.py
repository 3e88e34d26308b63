"""recommend(): stiffness ratio from the numeric Jacobian and the method chosen from it."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy
from analysis_models import AEIF_DEFAULTS, HH_DEFAULTS, V_m, aeif_cond_exp, hh_psc_alpha, iaf_psc_exp, t
from nmlc.analysis import AnalysisError, OdeSystem, recommend


def _independent_ratio(system: OdeSystem, values: dict) -> float:
    """Eigenvalues of the symbolic Jacobian evaluated with sympy (no finite differences)."""
    states = list(system.odes)
    jacobian = sympy.Matrix([system.odes[x] for x in states]).jacobian(states)
    numeric = np.array(jacobian.subs({**values, sympy.Symbol("I_stim"): 0.0}).evalf(), dtype=float)
    real = np.abs(np.linalg.eigvals(numeric).real)
    return float(real.max() / real.min())


def test_aeif_at_rest_is_not_stiff():
    recommendation = recommend(aeif_cond_exp(), AEIF_DEFAULTS)
    assert recommendation.method == "rk45"
    assert "not stiff" in recommendation.reason
    assert recommendation.stiffness_ratio == pytest.approx(
        _independent_ratio(aeif_cond_exp(), AEIF_DEFAULTS), rel=1e-5
    )


def test_hh_with_user_functions_given_as_python_callables():
    rates = {
        "alpha_m": lambda v: 0.1 * (v + 40) / (1 - math.exp(-(v + 40) / 10)),
        "beta_m": lambda v: 4 * math.exp(-(v + 65) / 18),
        "alpha_h": lambda v: 0.07 * math.exp(-(v + 65) / 20),
        "beta_h": lambda v: 1 / (1 + math.exp(-(v + 35) / 10)),
        "alpha_n": lambda v: 0.01 * (v + 55) / (1 - math.exp(-(v + 55) / 10)),
        "beta_n": lambda v: 0.125 * math.exp(-(v + 65) / 80),
    }
    with_functions = recommend(hh_psc_alpha(user_functions=True), HH_DEFAULTS, functions=rates)
    explicit = recommend(hh_psc_alpha(), HH_DEFAULTS)
    assert with_functions.method == explicit.method == "rk45"
    assert with_functions.stiffness_ratio == pytest.approx(explicit.stiffness_ratio, rel=1e-5)
    assert explicit.stiffness_ratio == pytest.approx(
        _independent_ratio(hh_psc_alpha(), HH_DEFAULTS), rel=1e-5
    )


def test_missing_user_function_is_an_error():
    with pytest.raises(AnalysisError, match="alpha_h.*functions="):
        recommend(hh_psc_alpha(user_functions=True), HH_DEFAULTS)


def test_stiff_system_gets_the_implicit_method():
    x, y, fast, slow = sympy.symbols("x y fast slow")
    system = OdeSystem(t, {x: -fast * x + y**2, y: -slow * y + x * y}, frozenset({fast, slow}), frozenset())
    recommendation = recommend(system, {x: 0.0, y: 1.0, fast: 1e4, slow: 1e-2})
    assert recommendation.method == "implicit"
    assert recommendation.stiffness_ratio > 1e5
    # the same system is fine for explicit steps when the fast mode is resolved by the simulation step
    relaxed = recommend(system, {x: 0.0, y: 1.0, fast: 1e4, slow: 1e-2}, resolution=1e-5)
    assert relaxed.method == "rk45"


def test_pinned_method_wins():
    system = aeif_cond_exp()
    system.pinned = {V_m: "euler"}
    assert recommend(system, AEIF_DEFAULTS).method == "euler"


def test_exact_system_needs_no_numeric_method():
    recommendation = recommend(iaf_psc_exp(), {})
    assert recommendation.method == "exact" and recommendation.stiffness_ratio is None


def test_missing_values_are_named():
    values = dict(AEIF_DEFAULTS)
    del values[sympy.Symbol("g_L")]
    with pytest.raises(AnalysisError, match="g_L"):
        recommend(aeif_cond_exp(), values)


def test_values_may_be_given_by_name():
    by_name = {str(k): v for k, v in AEIF_DEFAULTS.items()}
    assert recommend(aeif_cond_exp(), by_name).stiffness_ratio == pytest.approx(
        recommend(aeif_cond_exp(), AEIF_DEFAULTS).stiffness_ratio
    )


def test_unlisted_states_start_at_rest():
    values = {k: v for k, v in AEIF_DEFAULTS.items() if str(k) not in ("g_ex", "g_in", "w")}
    assert recommend(aeif_cond_exp(), values).stiffness_ratio == pytest.approx(
        recommend(aeif_cond_exp(), AEIF_DEFAULTS).stiffness_ratio
    )
