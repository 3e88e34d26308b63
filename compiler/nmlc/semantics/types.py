"""Types of NESTML values: the primitive types and physical units, and how declared types resolve.

A value's type is a :class:`Ty`: its kind (``real``, ``integer``, ``boolean``, ``string``, ``void``,
or ``error`` after a reported problem) and, for numbers, the :class:`~nmlc.semantics.units.Unit` in
which the value is computed (``DIMENSIONLESS`` for plain numbers). While the checker still infers
the weight unit of untyped input ports, a type may also carry powers of those unknown units.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable

from ..diagnostics import Loc
from ..syntax import nodes as n
from .units import DIMENSIONLESS, Unit, UnitError, canonical_unit, lookup_unit, unit_names

NUMERIC = ("real", "integer")
PRIMITIVES = ("real", "integer", "boolean", "string", "void")

# Time is measured in ms everywhere in a generated model (t, resolution(), the unit of d/dt).
MS: Unit = lookup_unit("ms")  # type: ignore[assignment]
# Dirac deltas in time (spike trains, delta(t)) carry unit 1/s, NESTML's convention: a weight w
# arriving on a port reads as w / s, so that ``spikes * mV * s`` is w mV.
PER_SECOND: Unit = lookup_unit("s") ** -1  # type: ignore[operator]

Unknowns = tuple[tuple[str, Fraction], ...]


@dataclass(frozen=True)
class Ty:
    """The type of a value.

    ``flex`` marks the literals ``0`` and ``inf``, which fit any unit; ``dirac`` marks a train of
    Dirac deltas (a spike port read in an equation); ``unknown`` holds powers of the not yet
    inferred weight units of untyped ports, by port name.

    ``retime`` is a time unit by which NESTML 2-7 read the same number differently: a typed spike
    port in a statement was the summed weight w (today w per second, ``spikes * s``), and a
    convolution with ``delta(t)`` had the port's unit (kernels were untyped; today it is per ms).
    Where the unit as computed does not fit its context but the unit times ``retime`` does, the
    value is taken in that unit, numerically unchanged.
    """

    kind: str
    unit: Unit | None = None
    unknown: Unknowns = ()
    flex: bool = False
    dirac: bool = False
    retime: Unit | None = None

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC

    @property
    def ok(self) -> bool:
        return self.kind != "error"

    @property
    def known(self) -> bool:
        return not self.unknown

    def with_unit(self, unit: Unit, unknown: Unknowns = ()) -> Ty:
        return Ty(self.kind, unit, unknown, False, self.dirac)

    def retimed(self, other: Unit | None) -> Unit | None:
        """This value's unit read the NESTML 2-7 way (times ``retime``), if that has the dimension of
        ``other`` and the unit as computed does not; else None."""
        if self.retime is None or self.unit is None or other is None or self.unit.same_dimension(other):
            return None
        alt = self.unit * self.retime
        return alt if alt.same_dimension(other) else None

    def describe(self) -> str:
        """The type in words, for messages: "mV/ms", "an integer", "a boolean", ..."""
        if self.kind in NUMERIC and self.unit is not None:
            if self.unknown:
                return "a unit still being inferred"
            if self.unit.is_dimensionless and self.unit.scale == 1:
                return "an integer" if self.kind == "integer" else "a plain number (real)"
            return fmt_unit(self.unit)
        return {"boolean": "a boolean", "string": "a string", "void": "no value (void)"}.get(self.kind, self.kind)


ERROR = Ty("error")
BOOLEAN = Ty("boolean")
STRING = Ty("string")
VOID = Ty("void")
REAL = Ty("real", DIMENSIONLESS)
INTEGER = Ty("integer", DIMENSIONLESS)


def real(unit: Unit) -> Ty:
    return Ty("real", unit)


def fmt_unit(unit: Unit | None) -> str:
    """A unit as messages show it: ``mV/ms``; plain numbers are "dimensionless"."""
    if unit is None:
        return "no unit"
    if unit.is_dimensionless:
        if unit.scale == 1:
            return "dimensionless"
        return f"{unit} (dimensionless, {unit.scale:g})"
    text = str(unit)
    canon = canonical_unit(unit)
    if canon == unit and str(canon) != text:
        return f"{text} (= {canon})"  # pA/pF is mV/ms: say so
    return text


def fmt_type(ty: Ty) -> str:
    if ty.kind in NUMERIC and ty.unit is not None and not ty.unit.is_dimensionless:
        return str(ty.unit)
    return ty.kind


def mul_unknown(a: Unknowns, b: Unknowns, sign: int = 1) -> Unknowns:
    acc: dict[str, Fraction] = dict(a)
    for port, e in b:
        acc[port] = acc.get(port, Fraction(0)) + sign * e
    return tuple((p, e) for p, e in sorted(acc.items()) if e != 0)


def pow_unknown(a: Unknowns, e: Fraction) -> Unknowns:
    return tuple((p, x * e) for p, x in a if x * e != 0)


# ----------------------------------------------------------------------------------- type expressions
Report = Callable[..., object]


def resolve_type(texpr: n.TypeExpr, report: Report) -> Ty:
    """The type a declared ``TypeExpr`` denotes; unknown units are reported (E0300) and give ERROR.

    ``report(code, loc, hint=None, **args)`` is :meth:`Diagnostics.report` or a stand-in.
    """
    if texpr.primitive is not None:
        return {"real": REAL, "integer": INTEGER, "boolean": BOOLEAN, "string": STRING, "void": VOID}[texpr.primitive]
    assert texpr.unit is not None
    unit = unit_of_expr(texpr.unit, report)
    if unit is None:
        return ERROR
    return Ty("real", unit)


def unit_of_expr(expr: n.Expr, report: Report) -> Unit | None:
    """Evaluate a unit expression as the parser builds it (names, ``1``, ``*``, ``/``, ``**``)."""
    if isinstance(expr, n.Name):
        unit = lookup_unit(expr.name)
        if unit is None:
            report("E0300", expr.loc, hint=unit_hint(expr.name), name=expr.name)
        return unit
    if isinstance(expr, n.Num):
        if Fraction(expr.text) == 1:
            return DIMENSIONLESS
        report("E0300", expr.loc, hint="only `1` may appear as a number in a unit, as in `1/ms`", name=expr.text)
        return None
    if isinstance(expr, n.Binary):
        left = unit_of_expr(expr.left, report)
        if expr.op == "**":
            exponent = _constant_exponent(expr.right)
            if left is None or exponent is None:
                return None
            try:
                return left ** exponent
            except UnitError as exc:
                report("E0300", expr.loc, hint=exc.message, name=f"{left}**{exponent}")
                return None
        right = unit_of_expr(expr.right, report)
        if left is None or right is None:
            return None
        try:
            return left * right if expr.op == "*" else left / right
        except UnitError as exc:
            report("E0300", expr.loc, hint=exc.message, name=f"{left}{expr.op}{right}")
            return None
    report("E0300", expr.loc, name="?")
    return None


def _constant_exponent(expr: n.Expr) -> Fraction | None:
    if isinstance(expr, n.Num):
        return Fraction(expr.text)
    if isinstance(expr, n.Unary) and expr.op in "+-" and isinstance(expr.operand, n.Num):
        value = Fraction(expr.operand.text)
        return -value if expr.op == "-" else value
    return None


def unit_hint(name: str) -> str | None:
    """'did you mean' for a misspelt unit: same letters in another case first, then close spellings."""
    if name in PRIMITIVES:
        return f"`{name}` is a type; it cannot be combined with units"
    known = unit_names()
    same = sorted(k for k in known if k.lower() == name.lower() and k != name)
    close = same or difflib.get_close_matches(name, sorted(known), n=2, cutoff=0.75)
    if close:
        return "did you mean " + " or ".join(f"`{c}`" for c in close) + "?"
    return None


def loc_span(node: n.Node) -> Loc:
    """The location of a whole expression: from its first token to its last when on one line."""
    first = node.loc
    last_line, last_col = first.end_line or first.line, first.end_col or (first.col + 1)
    start_line, start_col = first.line, first.col
    for sub in node.walk():
        loc = sub.loc
        if loc.line <= 0:
            continue
        if (loc.line, loc.col) < (start_line, start_col):
            start_line, start_col = loc.line, loc.col
        end_line = loc.end_line or loc.line
        end_col = loc.end_col or (loc.col + 1)
        if (end_line, end_col) > (last_line, last_col):
            last_line, last_col = end_line, end_col
    if last_line == start_line:
        return Loc(first.file, start_line, start_col, last_line, last_col)
    return Loc(first.file, start_line, start_col)
