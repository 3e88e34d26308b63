"""The checker's contract with the code generator and its rules on names, units and conversions.

A small evaluator below applies the documented value semantics (a variable holds a number in its
declared unit, a unit used as a value is 1, every recorded conversion factor multiplies the value
of its node) so that conversions are tested by the numbers they produce, not by their bookkeeping.
"""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from nmlc.diagnostics import Diagnostics
from nmlc.semantics import CheckedModel, check_file, check_unit
from nmlc.semantics.scopes import LocalSymbol
from nmlc.semantics.symbols import Symbol
from nmlc.semantics.units import lookup_unit, parse_unit
from nmlc.syntax import nodes as n
from nmlc.syntax import parse_text

VALID = Path(__file__).parent / "valid"


def check(text: str, werror: bool = False) -> tuple[list[CheckedModel], Diagnostics]:
    diags = Diagnostics(warnings_as_errors=werror)
    unit = parse_text(text, "test.nestml", diags)
    assert unit is not None, diags.render()
    return check_unit(unit, diags), diags


def only(text: str) -> CheckedModel:
    models, diags = check(text)
    assert not diags.has_errors, diags.render()
    assert len(models) == 1
    return models[0]


def codes(diags: Diagnostics) -> list[str]:
    return [d.code for d in diags.items]


def decl_init(model: CheckedModel, name: str) -> n.Expr:
    for block in model.model.blocks_of(n.VarBlock):
        for decl in block.decls:
            if any(dn.full_name == name for dn in decl.names):
                return decl.init
    raise KeyError(name)


def evaluate(expr: n.Expr, model: CheckedModel, env: dict[str, float]) -> float:
    """The value of a constant expression under the contract: raw value times the recorded factor."""
    if isinstance(expr, n.Num):
        raw = float(expr.text)
    elif isinstance(expr, n.Name):
        target = model.resolved[id(expr)]
        raw = 1.0 if target == "unit" else env[expr.name]
    elif isinstance(expr, n.Unary):
        raw = -evaluate(expr.operand, model, env) if expr.op == "-" else evaluate(expr.operand, model, env)
    elif isinstance(expr, n.Binary):
        a, b = evaluate(expr.left, model, env), evaluate(expr.right, model, env)
        raw = {"+": a + b, "-": a - b, "*": a * b, "/": a / b}[expr.op]
    else:
        raise TypeError(expr)
    return raw * model.conversions.get(id(expr), 1.0)


# ------------------------------------------------------------------------------------ conversions
@pytest.mark.parametrize("decl, expected", [
    ("x mV = 1 V", 1000.0),
    ("x ms = 0.5 s", 500.0),
    ("x pA = 2 nA + 300 pA", 2300.0),
    ("x mV = 1 V + 500 mV", 1500.0),
    ("x uS = 5 nS", 0.005),
    ("x 1/ms = 20 Hz", 0.02),
    ("x pF = 0.25 nF", 250.0),
    ("x mV = 5 mV", 5.0),
    ("x mV = 2 pA * 3 GOhm", 6.0),
    ("x real = 1 s", 1000.0),  # a quantity stored in a plain number: its magnitude in NEST's unit (ms)
    ("x mV = 0.07 * V", 70.0),
])
def test_initializer_conversions_give_the_stored_value(decl, expected):
    model = only(f"model m_neuron:\n    state:\n        {decl}\n    update:\n        x = x\n")
    assert evaluate(decl_init(model, "x"), model, {}) == pytest.approx(expected, rel=1e-12)


def test_no_conversion_recorded_when_units_agree():
    model = only("model m_neuron:\n    state:\n        x mV = 5 mV\n    update:\n        x = x\n")
    assert id(decl_init(model, "x")) not in model.conversions
    assert all(not math.isclose(f, 1.0) for f in model.conversions.values())


def test_ode_rhs_is_converted_to_unit_per_ms():
    model = only("""
model m_neuron:
    state:
        V_m mV = -70 mV
    equations:
        V_m' = -V_m / tau
    parameters:
        tau s = 0.01 s
    update:
        integrate_odes()
""")
    ode = model.model.equations[0]
    assert model.units[id(ode.rhs)] == parse_unit("mV/s")
    assert model.conversions[id(ode.rhs)] == pytest.approx(1e-3)
    # V_m = -70 mV, tau = 0.01 s: dV/dt = 7000 mV/s = 7 mV/ms
    assert evaluate(ode.rhs, model, {"V_m": -70.0, "tau": 0.01}) == pytest.approx(7.0)


def test_function_argument_and_return_conversions():
    model = only("""
model m_neuron:
    state:
        x mV = 0 mV
    function shift(v mV) V:
        return v + 1 mV
    update:
        x = shift(2 V)
""")
    calls = [c for c in model.model.walk() if isinstance(c, n.Call) and c.func == "shift"]
    ret = next(s for s in model.model.walk() if isinstance(s, n.Return))
    assert model.conversions[id(calls[0].args[0])] == pytest.approx(1000.0)  # V -> mV parameter
    assert model.conversions[id(ret.value)] == pytest.approx(1e-3)  # mV -> V return type
    assign = next(s for s in model.model.walk() if isinstance(s, n.Assign))
    assert model.conversions[id(assign.value)] == pytest.approx(1000.0)  # V -> mV variable


def test_comparison_operand_converted_to_left_unit():
    model = only("""
model m_neuron:
    state:
        V_m mV = -70 mV
    update:
        if V_m > 0.01 V:
            V_m = -70 mV
""")
    cond = next(s for s in model.model.walk() if isinstance(s, n.If)).branches[0][0]
    assert model.conversions[id(cond.right)] == pytest.approx(1000.0)
    assert model.units[id(cond)] is None  # a boolean has no unit


def test_dimensionless_rate_of_a_timer_is_valid():
    model = only("""
model m_neuron:
    state:
        refr_t ms = 2 ms
    equations:
        refr_t' = -1
    update:
        integrate_odes()
""")
    assert model.units[id(model.model.equations[0].lhs)] == parse_unit("1")


# ------------------------------------------------------------------------------------ names
def test_resolution_targets():
    model = only("""
model m_neuron:
    state:
        V_m mV = -70 mV
    function f(v mV) real:
        return v / mV + t / ms
    update:
        V_m += f(V_m) * mV
""")
    names = [x for x in model.model.walk() if isinstance(x, n.Name)]
    kinds = {}
    for x in names:
        target = model.resolved.get(id(x))
        kinds.setdefault(x.name, set()).add(
            target if isinstance(target, str) else type(target).__name__)
    assert kinds["mV"] == {"unit"}
    assert kinds["ms"] == {"unit"}
    assert kinds["t"] == {"predefined"}
    assert kinds["v"] == {"LocalSymbol"}
    assert kinds["V_m"] == {"Symbol"}


def test_unit_names_never_shadow_variables():
    model = only("""
model shadow_synapse:
    parameters:
        d ms = 1 ms
        A real = 2
        S real = 3
    state:
        w real = 1
    input:
        pre_spikes <- spike
    output:
        spike
    onReceive(pre_spikes):
        w = A * S
        emit_spike(w, d)
""")
    for x in model.model.walk():
        if isinstance(x, n.Name) and x.name in ("d", "A", "S"):
            assert isinstance(model.resolved[id(x)], Symbol)


def test_undeclared_name_is_never_a_unit():
    _, diags = check("""
model m_synapse:
    state:
        w real = 1
    input:
        pre_spikes <- spike
    output:
        spike
    onReceive(pre_spikes):
        emit_spike(w, d)
""")
    [err] = diags.errors
    assert err.code == "E0200" and "`d`" in err.message
    assert "day" in err.hint


def test_did_you_mean_hint():
    _, diags = check("""
model m_neuron:
    state:
        V_m mV = -70 mV
    equations:
        V_m' = -V_m / tau_n
    parameters:
        tau_m ms = 10 ms
    update:
        integrate_odes()
""")
    [err] = diags.errors
    assert err.code == "E0200" and err.hint == "did you mean `tau_m`?"


def test_ode_hint_names_the_missing_time():
    _, diags = check("""
model m_neuron:
    state:
        V_m mV = -70 mV
    equations:
        V_m' = -(V_m - E_L)
    parameters:
        E_L mV = -70 mV
    update:
        integrate_odes()
""")
    [err] = diags.errors
    assert err.code == "E0303"
    assert err.message == "`V_m'` has unit mV/ms but the right-hand side has unit mV"
    assert "missing a division by a time?" in err.hint


def test_locals_are_scoped_to_their_block():
    _, diags = check("""
model m_neuron:
    state:
        x real = 0
    update:
        for i in 0 ... 3 step 1:
            y real = i
        x = i + y
""")
    assert sorted((d.code, d.message) for d in diags.errors) == [
        ("E0200", "undeclared name `i`"), ("E0200", "undeclared name `y`")]


# ------------------------------------------------------------------------------------ ports
def test_untyped_spike_port_weight_unit_is_inferred_from_use():
    diags = Diagnostics()
    [model] = check_file(VALID / "seed_hodgkin_huxley.nestml", diags)
    assert model.var_units["spikes"] == parse_unit("mV/ms")
    [w] = [d for d in diags.items if d.code == "W0102"]
    assert "mV/ms" in w.message and w.loc.line == 49


def test_nestml9_port_convention_needs_no_warning():
    diags = Diagnostics()
    [model] = check_file(VALID / "lif_delta.nestml", diags)
    assert model.var_units["spikes"] == parse_unit("1")
    assert "W0102" not in codes(diags)
    # in a handler a spike port reads as weight per second: `spikes * mV * s` is the weight in mV
    term = next(x for x in model.model.walk() if isinstance(x, n.Assign) and x.op == "+=").value
    assert model.units[id(term)] == lookup_unit("mV") and id(term) not in model.conversions


def test_typed_port_keeps_its_declared_unit():
    diags = Diagnostics()
    [model] = check_file(VALID / "cond_exp.nestml", diags)
    assert model.var_units["exc_spikes"] == lookup_unit("nS")
    assert model.var_units["I_stim"] == lookup_unit("pA")


def test_spike_trains_in_equations_are_marked_dirac():
    diags = Diagnostics()
    [model] = check_file(VALID / "lif_delta_attr.nestml", diags)
    attr = next(x for x in model.model.walk() if isinstance(x, n.Attr))
    assert id(attr) in model.dirac
    assert model.units[id(attr)] == parse_unit("mV/ms")  # a jump of psp (mV) per spike
    model2 = only("""
model m_neuron:
    state:
        V_m mV = -70 mV
    equations:
        kernel D = delta(t)
        V_m' = -V_m / (10 ms) + convolve(D, spikes) * mV
    input:
        spikes <- spike
    update:
        integrate_odes()
""")
    conv = next(x for x in model2.model.walk() if isinstance(x, n.Call) and x.func == "convolve")
    assert id(conv) in model2.dirac and model2.units[id(conv)] == parse_unit("1/ms")


# ------------------------------------------------------------------------------------ symbols
def test_derivative_declarations_and_ode_kernels():
    diags = Diagnostics()
    [model] = check_file(VALID / "cond_alpha_ode_kernel.nestml", diags)
    table = model.symbols
    assert table.get("g_ex").kind == "kernel" and table.get("g_ex").attributes["form"] == "ode"
    assert table.get("g_ex").attributes["order"] == 2
    deriv = table.get("g_ex'")
    assert deriv.kind == "state" and deriv.attributes == {"base": "g_ex", "order": 1}
    assert model.var_units["g_ex'"] == parse_unit("1/ms")
    [second] = check_file(VALID / "second_order.nestml", Diagnostics())
    assert second.var_units["x'"] == parse_unit("mV/ms")
    assert second.ode_states == ["x"]


def test_init_order_respects_dependencies():
    diags = Diagnostics()
    [model] = check_file(VALID / "hh_psc_alpha.nestml", diags)
    pos = {name: i for i, name in enumerate(model.init_order)}
    assert pos["V_m_init"] < pos["alpha_m_init"] < pos["Act_m"]
    assert set(pos) == {s.name for s in model.symbols.of_kind("parameter", "internal", "state")}


@pytest.mark.parametrize("text, kind", [
    ("model a_synapse:\n    state:\n        w real = 1\n    update:\n        w = w\n", "synapse"),
    ("model a_neuron:\n    state:\n        w real = 1\n    update:\n        w = w\n", "neuron"),
    ("model plastic:\n    parameters:\n        w real = 1\n        d ms = 1 ms\n    input:\n        pre <- spike\n"
     "    output:\n        spike\n    onReceive(pre):\n        emit_spike(w, d)\n", "synapse"),
    ("neuron plain:\n  state:\n    w real = 1\n  update:\n    w = w\n", "neuron"),
])
def test_kind_inference(text, kind):
    assert only(text).kind == kind


# ------------------------------------------------------------------------------------ warnings
UNUSED = """
model m_neuron:
    parameters:
        unused_tau ms = 10 ms
    state:
        x real = 0
    update:
        x += 1
"""


def test_warnings_are_separate_and_can_be_errors():
    _, diags = check(UNUSED)
    assert codes(diags) == ["W0100"] and not diags.has_errors
    _, strict = check(UNUSED, werror=True)
    assert codes(strict) == ["W0100"] and strict.has_errors


def test_check_file_werror_flag(tmp_path):
    path = tmp_path / "unused.nestml"
    path.write_text(UNUSED)
    diags = Diagnostics()
    check_file(path, diags, werror=True)
    assert diags.has_errors
    later = Diagnostics()
    check_file(path, later)
    assert not later.has_errors


def test_shadowing_warning():
    _, diags = check("""
model m_neuron:
    state:
        V_m mV = -70 mV
    update:
        V_m mV = 0 mV
        V_m = V_m
""")
    assert codes(diags) == ["W0101"]


def test_plain_numbers_next_to_units_warn():
    models, diags = check("""
model m_neuron:
    state:
        w nS = 1 nS
    update:
        w = w + 0.5
""")
    assert codes(diags) == ["W0103"]
    assert models[0].units[id(next(x for x in models[0].model.walk() if isinstance(x, n.Binary)))] == \
        lookup_unit("nS")


# ------------------------------------------------------------------------------------ robustness of the API
def test_internal_error_becomes_a_diagnostic(monkeypatch):
    def boom(model, diags):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr("nmlc.semantics.check_model", boom)
    models, diags = check(UNUSED)
    assert models == [] and codes(diags) == ["E0001"] and "simulated bug" in diags.errors[0].message


def test_missing_file_is_a_diagnostic(tmp_path):
    diags = Diagnostics()
    assert check_file(tmp_path / "nope.nestml", diags) == []
    assert codes(diags) == ["E0100"]


def test_local_symbols_carry_types():
    model = only("""
model m_neuron:
    state:
        x mV = 0 mV
    update:
        y mV = 2 mV
        x = y
""")
    assign = next(x for x in model.model.walk() if isinstance(x, n.Assign))
    local = model.resolved[id(assign.value)]
    assert isinstance(local, LocalSymbol) and local.kind == "local" and local.ty.unit == lookup_unit("mV")
