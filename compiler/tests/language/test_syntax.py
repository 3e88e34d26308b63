"""The parser on the constructs the grammar gained for the full language, checked on the tree it builds."""
from __future__ import annotations

from nmlc.diagnostics import Diagnostics
from nmlc.syntax import nodes as n
from nmlc.syntax import parse_text


def parse(text: str) -> n.Model:
    diags = Diagnostics()
    unit = parse_text(text, "t.nestml", diags)
    assert unit is not None, diags.render()
    assert not diags.items
    return unit.models[0]


def parse_error(text: str):
    diags = Diagnostics()
    assert parse_text(text, "t.nestml", diags) is None
    [err] = diags.items
    return err


def test_block_keyword_after_a_statement_block():
    # `parameters` after a suite used to be read as a name starting a statement
    model = parse("model m:\n  update:\n    x = 1\n  parameters:\n    x real = 1\n  state:\n    y real = 0\n")
    assert [type(b).__name__ for b in model.blocks] == ["UpdateBlock", "VarBlock", "VarBlock"]


def test_derivative_initial_value_declaration():
    model = parse("model m:\n  state:\n    x mV = 0 mV\n    x' mV/ms = 1 mV/ms\n    y'' real = 0\n")
    names = [dn for d in model.declarations("state") for dn in d.names]
    assert [(dn.name, dn.order, dn.full_name) for dn in names] == [("x", 0, "x"), ("x", 1, "x'"), ("y", 2, "y''")]


def test_on_receive_vector_element_and_priority():
    model = parse("model m:\n  input:\n    s[2] <- spike\n  onReceive(s[1], priority=3):\n    x = 1\n")
    handler = model.blocks_of(n.OnReceive)[0]
    assert handler.port == "s" and isinstance(handler.port_index, n.Num) and handler.port_index.text == "1"
    assert isinstance(handler.priority, n.Num) and handler.priority.text == "3"


def test_kernel_parts_continue_after_a_trailing_comma():
    model = parse("model m:\n  equations:\n    kernel g' = g$ - g / tau,\n           g$' = -g$ / tau\n"
                  "    x' = -x\n")
    kernel, ode = model.equations
    assert [lhs.name for lhs, _ in kernel.parts] == ["g", "g$"]
    assert isinstance(ode, n.Ode) and ode.lhs.name == "x"


def test_dollar_in_names_and_shift_operators():
    model = parse("model m:\n  update:\n    a$b = (c << 2) >> 1 | d & e ^ f\n")
    assign = model.blocks_of(n.UpdateBlock)[0].body[0]
    assert assign.target.name == "a$b"
    ops = [x.op for x in assign.value.walk() if isinstance(x, n.Binary)]
    assert sorted(ops) == sorted(["<<", ">>", "|", "&", "^"])


def test_line_continuations():
    model = parse("model m:\n  update:\n    x = 1 + \\\n        2\n    y = (1 +\n         2)\n"
                  "    z = (a ?\n         b :\n         c)\n")
    x, y, z = model.blocks_of(n.UpdateBlock)[0].body
    assert isinstance(x.value, n.Binary) and isinstance(y.value, n.Binary) and isinstance(z.value, n.Ternary)


def test_if_branch_bodies_are_children():
    model = parse("model m:\n  update:\n    if a:\n      x = 1\n    elif b:\n      y = 2\n    else:\n      z = 3\n")
    targets = sorted(x.target.name for x in model.walk() if isinstance(x, n.Assign))
    assert targets == ["x", "y", "z"]


def test_unit_types_and_literals():
    model = parse("model m:\n  parameters:\n    a 1/ms = 0.5 / ms\n    b ms**-1 = 1 / ms\n    c (mV/ms)**2 = 0\n"
                  "    d nS*mV = 1 nS * 1 mV\n")
    types = [d.type.text for d in model.declarations("parameters")]
    assert types == ["1/ms", "ms**-1", "(mV/ms)**2", "nS*mV"]
    lit = model.declarations("parameters")[0].init
    assert isinstance(lit, n.Binary) and lit.op == "/"


def test_unclosed_parenthesis_at_end_of_file():
    err = parse_error("model m:\n  update:\n    x = (1 +\n")
    assert err.code == "E0105" and err.hint == "the `(` opened on line 3 is never closed"


def test_decorators_before_and_after():
    model = parse("model m:\n  parameters:\n    @homogeneous\n    w real = 1\n    d ms = 1 ms @nest::delay\n")
    w, d = model.declarations("parameters")
    assert w.decorators == ["homogeneous"] and d.decorators == ["nest::delay"]


def test_every_operator_terminal_has_a_readable_name():
    # "expected ..." in a syntax error must never show lark's internal terminal names (`tilde`, `__anon_1`)
    from nmlc.syntax.parser import _lark, _terminal_name

    raw = {}
    for term in _lark().terminals:
        shown = _terminal_name(term.name)
        if not term.name.startswith("__IGNORE") and not shown.startswith(("`", "a ", "an ", "end")):
            raw[term.name] = shown
    assert not raw, f"terminals without a readable name: {raw}"


def test_syntax_error_names_the_arrow_of_a_port():
    err = parse_error("model m:\n  input:\n    spikes spike\n")
    assert err.code == "E0103"
    assert "`<-`" in err.message and "anon" not in err.message.lower()
