"""The one catalogue of diagnostic codes and their messages.

Codes are grouped by phase: E00xx the compiler itself, E01xx input and syntax, E02xx names and scopes, E03xx types and
units, E04xx model structure, E05xx equations and solver analysis, E06xx code generation and
target constraints, E07xx build and toolchain; W-codes are warnings (``--werror`` makes them
errors). Messages are ``str.format`` templates filled in by :meth:`Diagnostics.report`.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    severity: str
    message: str
    summary: str  # one line for the docs' error index


def _e(message: str, summary: str) -> Entry:
    return Entry("error", message, summary)


def _w(message: str, summary: str) -> Entry:
    return Entry("warning", message, summary)


CATALOGUE: dict[str, Entry] = {
    # --- the compiler itself ----------------------------------------------------------------
    "E0001": _e("internal error while checking this model ({detail}); please report it",
                "a bug in nmlc, reported instead of a traceback"),
    # --- input and syntax -------------------------------------------------------------------
    "E0100": _e("cannot read file: {reason}", "the file does not exist or cannot be read"),
    "E0101": _e("file is not valid UTF-8 text (byte 0x{byte:02x} at offset {offset})", "non-UTF-8 input"),
    "E0102": _e("file contains a NUL byte: is this a binary file?", "binary input"),
    "E0103": _e("syntax error: unexpected {found}{expected}", "the parser met a token it did not expect"),
    "E0104": _e("syntax error: unexpected character {char!r}", "a character that starts no token"),
    "E0105": _e("syntax error: unexpected end of file{expected}", "the file ends inside a construct"),
    "E0106": _e("inconsistent indentation: {detail}", "tabs and spaces mixed, or a dedent to no open level"),
    "E0107": _e("nesting too deep (more than {limit} levels)", "parentheses or brackets nested too deep"),
    "E0108": _e("no model found in file", "an empty file or one with only comments"),
    "E0109": _e("unterminated string literal", "a string with no closing quote"),
    "E0110": _e("file too large ({size} bytes; the limit is {limit})", "input far larger than any model"),
    "E0111": _e("statement or expression nested too deep (more than {limit} levels)",
                "a syntax tree deeper than later passes can walk"),
    # --- names and scopes -------------------------------------------------------------------
    "E0200": _e("undeclared name `{name}`", "a name that is neither declared nor predefined"),
    "E0201": _e("`{name}` is declared twice in this model", "a duplicate declaration"),
    "E0202": _e("undeclared function `{name}`", "a call to a function that does not exist"),
    "E0203": _e("`{name}` is not an input port", "onReceive, convolve or sift names something other than a spike port"),
    "E0204": _e("undeclared kernel `{name}`", "convolve names no kernel"),
    "E0205": _e("the ODE left-hand side `{name}` is not a state variable", "an ODE for a parameter or unknown name"),
    "E0206": _e("model `{name}` is defined twice", "two models of the same name"),
    "E0207": _e("`{name}` cannot be assigned: it is {what}",
                "assignment to a parameter, internal, inline, port or derivative"),
    "E0208": _e("`{name}` is predefined and cannot be declared", "a declaration hides a predefined name or function"),
    "E0209": _e("`{name}` cannot be used here: {detail}",
                "an initial value that reads what has no value before the simulation, or a cycle"),
    "E0210": _e("`{name}` is not a vector and cannot be indexed", "an index on a scalar"),
    "E0211": _e("vector `{name}` needs an index here", "a vector used where one element is meant"),
    "E0212": _e("`{name}` is {what} and cannot be used as a value", "a kernel, function or port used wrongly"),
    "E0213": _e("`{port}` has no attribute `{name}`", "an event attribute the port does not declare"),
    # --- types and units --------------------------------------------------------------------
    "E0300": _e("unknown unit `{name}`", "a type that is neither a primitive type nor a known unit"),
    "E0301": _e("unit mismatch: {detail}", "operands or sides with different physical dimensions"),
    "E0302": _e("type mismatch: {detail}", "e.g. a boolean where a number is required"),
    "E0303": _e("`{name}'` has unit {lhs} but the right-hand side has unit {rhs}", "an ODE whose sides disagree"),
    "E0304": _e("wrong number of arguments to `{name}`: expected {expected}, got {got}", "call arity"),
    "E0305": _e("condition must be boolean, not {got}", "a non-boolean if/while/onCondition condition"),
    "E0306": _e("the exponent of a quantity with unit {unit} must be a constant number",
                "a variable exponent on a dimensioned base"),
    "E0308": _e("vector size must be a positive integer constant or integer parameter, not {got}",
                "a vector size that is not a positive integer"),
    "E0309": _e("function `{name}` must return a value of type {type} on every path", "a missing return"),
    "E0310": _e("{detail}", "a return statement that does not fit its function"),
    "E0311": _e("index must be an integer, not {got}", "a vector index that is not an integer"),
    "E0312": _e("converting {src} to {dst} takes a factor of {factor}, beyond the range of normal doubles",
                "a unit conversion whose factor is beyond the range of doubles"),
    # --- model structure --------------------------------------------------------------------
    "E0400": _e("block `{block}` appears more than once", "duplicate blocks that must be unique"),
    "E0401": _e("`{what}` is not allowed in {where}", "a construct in the wrong block or model kind"),
    "E0402": _e("`emit_spike()` is used but the model has no spike output", "missing output: spike"),
    "E0403": _e("a neuron model needs an `update:` block, equations or event handlers",
                "a neuron with nothing to compute"),
    "E0404": _e("`onReceive({name})` is defined twice", "two handlers for one port"),
    "E0405": _e("`{name}` has no differential equation to integrate", "integrate_odes() names a non-ODE variable"),
    # --- equations and analysis -------------------------------------------------------------
    "E0500": _e("ODE for `{name}` is defined twice", "two equations for one variable"),
    "E0501": _e("cannot analyse the equations: {detail}", "the ODE analysis failed"),
    "E0502": _e("kernel `{name}` has no linear ODE form: {detail}", "a kernel that cannot be a state"),
    "E0503": _e("inline expressions depend on each other in a cycle: {cycle}", "cyclic inline definitions"),
    "E0504": _e("`{name}` needs an initial value: declare `{name} {unit} = ...` in the state block",
                "a higher-order ODE or ODE-form kernel without initial values for its derivatives"),
    "E0505": _e("a kernel may only depend on `t`, parameters and internals, not on {what} `{name}`",
                "a kernel that reads states, inlines or ports"),
    # --- code generation --------------------------------------------------------------------
    "E0600": _e("`{name}` is a reserved word in the {target} target", "identifier clashes with C++ or NEST"),
    "E0601": _e("model name `{name}` clashes with a NEST built-in model", "registered name collision"),
    "E0602": _e("{feature} is not supported by the {target} target yet", "a language feature a target lacks"),
    "E0603": _e("neuron `{neuron}` and synapse `{synapse}` cannot be co-generated: {detail}",
                "a wrong neuron-synapse pair (no postsynaptic port, no spike output, a missing continuous quantity)"),
    "E0604": _e("{detail}", "a pair naming a model that is not in the input, a model in the wrong role, or a pair twice"),
    # --- build and toolchain ----------------------------------------------------------------
    "E0700": _e("build failed: {detail}", "the C++ compiler or linker failed"),
    # --- warnings ---------------------------------------------------------------------------
    "W0100": _w("parameter `{name}` is never used", "an unused parameter"),
    "W0101": _w("`{name}` shadows a declaration of the model", "a local variable hides a model variable"),
    "W0102": _w("spike port `{name}` has no declared type: weights are taken in {unit}, the unit its use requires",
                "an untyped spike port whose weight unit is inferred"),
    "W0103": _w("implicit conversion: {detail}", "a plain number where a physical unit is expected, or the reverse"),
    "W0104": _w("continuous port `{name}` has no declared type: its value is taken in {unit}, "
                "the unit its use requires",
                "an untyped continuous port whose unit is inferred"),
    "W0105": _w("`{name}` is an integer but the value is real: it is truncated", "a real value stored in an integer"),
    "W0107": _w("synapse `{name}` reads {ports} from its postsynaptic neuron, so it is built only co-generated "
                "with a neuron; no plain `{registered}` is registered",
                "a synapse with continuous inputs, built only as part of a neuron-synapse pair"),
    "W0106": _w("`{name}` of a quantity with unit {unit}: its magnitude in {canonical} is used",
                "exp, ln, sin, ... of a physical quantity (accepted as NESTML does)"),
}


def describe(code: str) -> str:
    entry = CATALOGUE[code]
    return f"{code} ({entry.severity}): {entry.summary}"
