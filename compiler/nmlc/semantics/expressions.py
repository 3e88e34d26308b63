"""Typing of NESTML expressions: name resolution, types, physical units and unit conversions.

:class:`ExprChecker` infers the type of every expression node bottom-up, with an optional
*expected* unit pushed down from the context (an assignment's target, an ODE's left-hand side, the
other operand of ``+``). It records, in :class:`Facts`, what each name resolves to, the unit in
which each expression's value is computed, and the factor by which a value must be multiplied
where its context expects another unit of the same dimension (``1 V`` assigned to a ``mV``
variable: 1000).

Untyped input ports get their unit from their uses: while :class:`PortInference` is not final, an
unbound port contributes an unknown factor to a type, and the first context that fixes the unit of
an expression holding exactly one unknown solves for it.
"""
from __future__ import annotations

import difflib
import math
import re
import sys
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable

from ..diagnostics import Diagnostics, Loc
from ..syntax import nodes as n
from .builtins import BUILTINS, NOT_VALUE_UNITS, PREDEFINED_NAMES
from .scopes import Scope
from .symbols import ModelSymbols, Symbol
from .types import (BOOLEAN, ERROR, INTEGER, MS, REAL, STRING, VOID, Ty, fmt_type, fmt_unit, loc_span, mul_unknown,
                    pow_unknown, real, unit_hint, unit_of_expr)
from .units import DIMENSIONLESS, Unit, UnitError, canonical_unit, lookup_unit

_ONE = Fraction(1)


@dataclass
class Facts:
    """Side tables about one model's syntax tree, keyed by ``id(node)``."""

    resolved: dict[int, object] = field(default_factory=dict)
    units: dict[int, Unit | None] = field(default_factory=dict)
    conversions: dict[int, float] = field(default_factory=dict)
    dirac: set[int] = field(default_factory=set)
    reads: dict[str, int] = field(default_factory=dict)  # model symbol name -> number of reads


class PortInference:
    """Weight units of untyped input ports, bound by the first use that determines them."""

    def __init__(self, untyped: set[str]):
        self.untyped = untyped
        self.bound: dict[str, Unit] = {}
        self.origin: dict[str, Loc] = {}
        self.final = False

    def unit(self, port: str) -> Unit | None:
        if port in self.bound:
            return self.bound[port]
        return DIMENSIONLESS if self.final else None

    def bind(self, port: str, unit: Unit, loc: Loc) -> None:
        if port not in self.bound and not self.final:
            self.bound[port] = unit
            self.origin[port] = loc


@dataclass
class Region:
    """Where the expressions being checked sit; decides which names and functions are allowed."""

    kind: str  # statement | equations | kernel | init | guard | size | priority
    block: str = ""  # for statements: update | onReceive | onCondition | function
    kernels: frozenset[str] = frozenset()  # the kernel(s) being defined: one `kernel` statement's names
    init_check: Callable[[Symbol, n.Name], str | None] | None = None  # init regions: why a read is invalid
    untyped: bool = False  # a kernel's initial value: NESTML's kernels are untyped, so no W0103/W0106 there


class ExprChecker:
    """Types expressions of one model; the statement and model checks drive it."""

    def __init__(self, model: n.Model, kind: str, table: ModelSymbols, var_types: dict[str, Ty],
                 diags: Diagnostics, facts: Facts, ports: PortInference):
        self.model = model
        self.kind = kind
        self.table = table
        self.var_types = var_types  # model symbol name -> declared type (variables, inlines, kernels, ports)
        self.diags = diags
        self.facts = facts
        self.ports = ports
        self.scope: Scope | None = None
        self.region = Region("statement")
        self.inline_dirac: set[str] = set()
        self.ode_states: set[str] = set()
        self._seen: set[tuple] = set()

    # ------------------------------------------------------------------------------ reporting
    def report(self, code: str, loc: Loc, hint: str | None = None, notes: list[str] | None = None, **args) -> None:
        if code in ("W0103", "W0106") and (self.region.kind == "kernel" or self.region.untyped):
            return  # kernels are untyped in NESTML: plain numbers and quantities mix there silently
        key = (code, loc.line, loc.col, tuple(sorted((k, str(v)) for k, v in args.items())))
        if key in self._seen:  # a subexpression re-typed with a new expected unit
            return
        self._seen.add(key)
        diag = self.diags.report(code, loc, hint=hint, **args)
        if notes:
            diag.notes.extend(notes)

    # ------------------------------------------------------------------------------ entry points
    def infer(self, expr: n.Expr, expected: Unit | None = None) -> Ty:
        """The type of ``expr``; ``expected`` is the unit its context wants, used to infer port units."""
        ty = self._dispatch(expr, expected)
        if ty.unknown and expected is not None and len(ty.unknown) == 1 and ty.unit is not None:
            port, power = ty.unknown[0]
            try:
                self.ports.bind(port, (expected / ty.unit) ** (_ONE / power), loc_span(expr))
            except (UnitError, ZeroDivisionError):
                pass
            ty = ty.with_unit(expected)
        self.facts.units[id(expr)] = ty.unit if ty.numeric and ty.known else None
        if ty.dirac:
            self.facts.dirac.add(id(expr))
        return ty

    def coerce(self, expr: n.Expr, ty: Ty, target: Ty, context: str, lenient: bool = True,
               code: str = "E0301", ode: str | None = None) -> None:
        """Check that a value of type ``ty`` may be stored where ``target`` is expected; record a conversion.

        ``lenient`` contexts (assignments, initializers, arguments, returns) accept a plain number for a
        physical unit and the reverse with warning W0103, as NESTML does; elsewhere that is an error.
        """
        if not ty.ok or not target.ok or target.kind == "void":
            return
        # the span is computed only when something is reported: most values fit their target
        if target.kind in ("boolean", "string"):
            if ty.kind != target.kind:
                self.report("E0302", loc_span(expr),
                            detail=f"{context} must be {target.kind}, not {ty.describe()}")
            return
        if not ty.numeric:
            self.report("E0302", loc_span(expr),
                        detail=f"{context} must be a number ({fmt_type(target)}), not {ty.describe()}")
            return
        if ty.flex or not ty.known or target.unit is None or ty.unit is None:
            return
        if ty.unit.same_dimension(target.unit):
            self._convert(expr, ty.unit, target.unit)
            if target.kind == "integer" and ty.kind == "real" and lenient:
                self.report("W0105", loc_span(expr), name=context.split("`")[1] if "`" in context else context)
            return
        retimed = ty.retimed(target.unit)
        if retimed is not None:  # NESTML 2-7: a typed port's summed weight, an untyped delta kernel
            self._convert(expr, retimed, target.unit)
            return
        if lenient and ty.retime is not None and (ty.unit * ty.retime).is_dimensionless \
                and not target.unit.is_dimensionless:
            # NESTML 2-7: the summed weight of a port typed `real`, stored in a quantity
            ty = Ty(ty.kind, ty.unit * ty.retime)
        if lenient and (ty.unit.is_dimensionless or target.unit.is_dimensionless):
            if target.unit.is_dimensionless:
                canon = canonical_unit(ty.unit)
                self._convert(expr, ty.unit, canon)
                detail = (f"{context} is {target.kind} but the value has unit {fmt_unit(ty.unit)}; "
                          f"its magnitude in {fmt_unit(canon)} is used")
                hint = _explicit_hint(canon)
            else:
                self._convert(expr, ty.unit, DIMENSIONLESS)
                detail = f"{context} has unit {fmt_unit(target.unit)}; the plain number is taken in {target.unit}"
                hint = _literal_hint(expr, target.unit)
            self.report("W0103", loc_span(expr), hint=hint, detail=detail)
            return
        notes = self._inference_notes(expr)
        if code == "E0303":
            self.report("E0303", loc_span(expr), hint=self.mismatch_hint(expr, target.unit, ty.unit, ode=True), notes=notes,
                        name=ode, lhs=fmt_unit(target.unit), rhs=fmt_unit(ty.unit))
        else:
            self.report(code, loc_span(expr), hint=self.mismatch_hint(expr, target.unit, ty.unit), notes=notes,
                        detail=f"{context} has unit {fmt_unit(target.unit)} but the value has unit {fmt_unit(ty.unit)}")

    def mismatch_hint(self, expr: n.Expr | None, want: Unit, got: Unit, ode: bool = False) -> str | None:
        """What would make ``got`` into ``want``: a unit on a bare number, a time, or a model variable."""
        if got.is_dimensionless and expr is not None:
            literal = _literal_hint(expr, want)
            if literal:
                return literal
        ratio = want / got
        if ratio.is_dimensionless:
            return None
        if (ratio * MS).is_dimensionless:
            return "missing a division by a time?" if not ode else \
                "missing a division by a time? (the right-hand side of x' is in the unit of x per ms)"
        if ratio.same_dimension(MS):
            return "an extra division by a time?" if ode else "missing a multiplication by a time?"
        inverse = ratio ** -1
        for factor, verb in ((inverse, "division by"), (ratio, "multiplication by")):
            candidates = [s.name for s in self.table.symbols.values()
                          if s.kind in ("parameter", "internal", "state") and not s.attributes.get("base")
                          and (ty := self.var_types.get(s.name)) is not None and ty.numeric and ty.unit is not None
                          and not ty.unit.is_dimensionless and ty.unit.same_dimension(factor)]
            if candidates:
                op = "/" if verb == "division by" else "*"
                return f"missing a {verb} a {factor.dimension_name()}, e.g. `{op} {candidates[0]}`?"
        return f"the value lacks a factor of dimension {ratio.dimension_name()} (e.g. {canonical_unit(ratio)})"

    def _convert(self, expr: n.Expr, src: Unit, dst: Unit) -> None:
        factor = src.conversion_factor(dst)
        if math.isinf(factor) or factor < sys.float_info.min:
            # beyond the normal doubles: the converted value would be inf, 0 or lose precision
            exact = src.exact_conversion_factor(dst)
            shown = (f"about 1e{math.log10(exact.numerator) - math.log10(exact.denominator):+.0f}"
                     if exact is not None else f"{factor:g}")
            self.report("E0312", loc_span(expr), src=fmt_unit(src), dst=fmt_unit(dst), factor=shown)
            self.facts.conversions.pop(id(expr), None)
            return
        if not math.isclose(factor, 1.0, rel_tol=1e-15, abs_tol=0.0):
            self.facts.conversions[id(expr)] = factor
        else:
            self.facts.conversions.pop(id(expr), None)

    def _inference_notes(self, expr: n.Expr) -> list[str]:
        notes = []
        for node in expr.walk():
            if isinstance(node, n.Name) and node.name in self.ports.origin:
                loc = self.ports.origin[node.name]
                notes.append(f"the unit of `{node.name}` ({fmt_unit(self.ports.bound[node.name])}) was inferred "
                             f"from its use at line {loc.line}")
        return sorted(set(notes))

    # ------------------------------------------------------------------------------ dispatch
    def _dispatch(self, expr: n.Expr, expected: Unit | None) -> Ty:
        if isinstance(expr, n.Num):
            return self._num(expr)
        if isinstance(expr, n.Name):
            return self._name(expr)
        if isinstance(expr, n.Binary):
            return self._binary(expr, expected)
        if isinstance(expr, n.Unary):
            return self._unary(expr, expected)
        if isinstance(expr, n.Call):
            return self._call(expr, expected)
        if isinstance(expr, n.Ternary):
            return self._ternary(expr, expected)
        if isinstance(expr, n.Bool):
            return BOOLEAN
        if isinstance(expr, n.Str):
            return STRING
        if isinstance(expr, n.Attr):
            return self._attr(expr)
        return ERROR

    def _num(self, expr: n.Num) -> Ty:
        if expr.unit is not None:
            assert expr.unit.unit is not None
            unit = unit_of_expr(expr.unit.unit, self.report)
            if unit is None:
                return ERROR
            if isinstance(expr.unit.unit, n.Name):
                self.facts.resolved[id(expr.unit.unit)] = "unit"
            return real(unit)
        flex = float(expr.text) == 0.0
        return Ty("integer" if expr.is_int else "real", DIMENSIONLESS, flex=flex)

    # ------------------------------------------------------------------------------ names
    def _name(self, node: n.Name) -> Ty:
        if node.order > 0:
            return self._derivative(node)
        name = node.name
        local = self.scope.lookup(name) if self.scope is not None else None
        if local is not None:
            self.facts.resolved[id(node)] = local
            local.reads += 1
            return self._indexed(node, local.ty, local.is_vector)
        sym = self.table.get(name)
        if sym is not None:
            self.facts.resolved[id(node)] = sym
            return self._model_name(node, sym)
        if name in PREDEFINED_NAMES:
            self.facts.resolved[id(node)] = "predefined"
            if name == "t":
                if self.region.kind in ("init", "size", "guard"):
                    self.report("E0209", loc_span(node), name="t", detail="initial values are computed before the "
                                                                          "simulation starts")
                return real(MS)
            return Ty("real", DIMENSIONLESS, flex=(name == "inf"))
        if name not in NOT_VALUE_UNITS:
            unit = lookup_unit(name)
            if unit is not None:
                self.facts.resolved[id(node)] = "unit"
                if node.index is not None:
                    self.report("E0210", loc_span(node), name=name)
                return real(unit)
        self._undeclared(node)
        return ERROR

    def _undeclared(self, node: n.Name) -> None:
        name = node.name
        candidates = set(self.table.symbols) | set(PREDEFINED_NAMES)
        if self.scope is not None:
            candidates |= set(self.scope.visible())
        close = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.6)
        hint = None
        if close:
            hint = f"did you mean `{close[0]}`?"
        elif name in NOT_VALUE_UNITS:
            hint = (f"`{name}` is also the symbol of the unit {NOT_VALUE_UNITS[name]}, but a bare `{name}` is never "
                    f"read as a unit: declare the variable, or write `1 {name}` to mean the unit")
        else:
            hint = unit_hint(name)
            if hint is not None:
                hint = hint.replace("did you mean", "did you mean the unit")
        self.report("E0200", loc_span(node), hint=hint, name=name)

    def _model_name(self, node: n.Name, sym: Symbol) -> Ty:
        name, kind = sym.name, sym.kind
        region = self.region
        if region.init_check is not None:
            problem = region.init_check(sym, node)
            if problem:
                self.report("E0209", loc_span(node), name=name, detail=problem)
                return ERROR
        if region.kind == "kernel" and kind not in ("parameter", "internal", "function") and name not in region.kernels:
            what = {"state": "the state variable", "inline": "the inline expression", "spike_port": "the input port",
                    "continuous_port": "the input port", "kernel": "the kernel"}.get(kind, kind)
            self.report("E0505", loc_span(node), what=what, name=name)
            return ERROR
        if kind == "kernel" and name not in region.kernels:
            self.report("E0212", loc_span(node), name=name, what="a kernel",
                        hint=f"a kernel is used through convolve({name}, <spike port>)")
            return ERROR
        if kind == "function":
            self.report("E0212", loc_span(node), name=name, what="a function", hint=f"call it: `{name}(...)`")
            return ERROR
        self.facts.reads[name] = self.facts.reads.get(name, 0) + 1
        if kind == "spike_port":
            ty = self._port_value(node, sym, None)
        elif kind == "continuous_port":
            ty = self._port_value(node, sym, None)
        elif kind == "inline":
            ty = self.var_types.get(name, ERROR)
            if name in self.inline_dirac:
                ty = Ty(ty.kind, ty.unit, ty.unknown, False, True)
        else:
            ty = self.var_types.get(name, ERROR)
        return self._indexed(node, ty, sym.is_vector)

    def _indexed(self, node: n.Name, ty: Ty, is_vector: bool) -> Ty:
        if node.index is not None:
            if not is_vector:
                self.report("E0210", loc_span(node), name=node.name)
                return ty
            idx = self.infer(node.index)
            if idx.ok and (idx.kind != "integer" or (idx.unit is not None and not idx.unit.is_dimensionless)):
                self.report("E0311", loc_span(node.index), got=idx.describe())
        elif is_vector:
            self.report("E0211", loc_span(node), name=node.name,
                        hint=f"write `{node.name}[i]` for one element")
        return ty

    def _port_value(self, node: n.Name, sym: Symbol, attr: str | None) -> Ty:
        """A port read as a value: a continuous port's current value; for a spike port, the weight
        of the arriving spikes over one second (``spikes * mV * s`` is w mV, as in NESTML), and in
        equations the train of Dirac deltas (per ms: a term ``spikes * mV`` in ``V_m'`` jumps by w mV)."""
        weight = self.port_unit(sym)
        unknown = ((sym.name, _ONE),) if weight is None else ()
        base = weight if weight is not None else DIMENSIONLESS
        if sym.kind == "continuous_port":
            return Ty("real", base, unknown)
        in_equations = self.region.kind == "equations"
        second = lookup_unit("s")
        per = MS ** -1 if in_equations else second ** -1
        # NESTML 2-7 read a typed port in a statement as the summed weight itself (`V_m += spikes`)
        retime = second if not in_equations and sym.type is not None and weight is not None else None
        return Ty("real", base * per, unknown, dirac=in_equations, retime=retime)

    def port_unit(self, sym: Symbol) -> Unit | None:
        """The weight unit of a spike port (its declared type), or a continuous port's unit; None while inferred."""
        declared = self.var_types.get(sym.name)
        if declared is not None and declared.ok and sym.type is not None:
            return declared.unit
        if sym.type is not None:
            return DIMENSIONLESS  # an invalid declared type, already reported
        return self.ports.unit(sym.name)

    def _derivative(self, node: n.Name) -> Ty:
        sym = self.table.get(node.name)
        if self.region.kind not in ("equations", "kernel"):
            self.report("E0401", loc_span(node), what=f"{node.name}{chr(39) * node.order}",
                        where="statements (derivatives exist only in equations)")
            return ERROR
        if sym is None:
            self._undeclared(n.Name(node.loc, node.name))
            return ERROR
        self.facts.resolved[id(node)] = sym
        if sym.kind == "kernel" and node.name in self.region.kernels:
            base = self.var_types.get(sym.name, REAL)
        elif sym.kind == "state":
            if self.region.kind == "kernel":
                self.report("E0505", loc_span(node), what="the state variable", name=node.name)
                return ERROR
            base = self.var_types.get(sym.name, REAL)
        else:
            self.report("E0205", loc_span(node), name=f"{node.name}")
            return ERROR
        self.facts.reads[sym.name] = self.facts.reads.get(sym.name, 0) + 1
        if not base.numeric or base.unit is None:
            return ERROR
        return Ty("real", base.unit / MS ** node.order)

    def _attr(self, node: n.Attr) -> Ty:
        sym = self.table.get(node.obj.name)
        if sym is None:
            self._undeclared(node.obj)
            return ERROR
        self.facts.resolved[id(node.obj)] = sym
        if sym.kind != "spike_port":
            self.report("E0203", loc_span(node.obj), name=node.obj.name,
                        hint="event attributes such as `.weight` belong to spike input ports")
            return ERROR
        self.facts.reads[sym.name] = self.facts.reads.get(sym.name, 0) + 1
        port = sym.node
        assert isinstance(port, n.InputPort)
        attr = next((a for a in port.attributes if a.name == node.attr), None)
        if attr is None and node.attr == "weight" and not port.attributes:
            # every spike event has a weight: `spikes.weight` needs no declared attribute (NESTML 8)
            weight = self.port_unit(sym)
            unknown = ((sym.name, _ONE),) if weight is None else ()
            base = weight if weight is not None else DIMENSIONLESS
            if self.region.kind == "equations":
                return Ty("real", base / MS, unknown, dirac=True)
            return Ty("real", base, unknown)
        if attr is None:
            names = ", ".join(f"`{a.name}`" for a in port.attributes)
            self.report("E0213", loc_span(node), port=port.name, name=node.attr,
                        hint=f"it declares {names}" if names
                        else f"declare it: `{port.name} <- spike({node.attr} real)`")
            return ERROR
        unit = self.var_types.get(f"{port.name}.{attr.name}", REAL).unit or DIMENSIONLESS
        if self.region.kind == "equations":
            return Ty("real", unit / MS, dirac=True)
        return real(unit)

    # ------------------------------------------------------------------------------ operators
    def _unary(self, expr: n.Unary, expected: Unit | None) -> Ty:
        op = expr.op
        if op == "not":
            ty = self.infer(expr.operand)
            if ty.ok and ty.kind != "boolean":
                self.report("E0302", loc_span(expr.operand), detail=f"`not` needs a boolean, not {ty.describe()}")
            return BOOLEAN
        ty = self.infer(expr.operand, expected if op in "+-" else None)
        if not ty.ok:
            return ERROR
        if op == "~":
            if ty.kind != "integer":
                self.report("E0302", loc_span(expr.operand), detail=f"`~` needs an integer, not {ty.describe()}")
                return ERROR
            return INTEGER
        if not ty.numeric:
            self.report("E0302", loc_span(expr.operand), detail=f"`{op}` needs a number, not {ty.describe()}")
            return ERROR
        return ty

    def _binary(self, expr: n.Binary, expected: Unit | None) -> Ty:
        op = expr.op
        if op in ("+", "-"):
            return self._additive(expr, expected)
        if op in ("<", "<=", ">", ">=", "==", "!=", "<>"):
            return self._comparison(expr)
        if op in ("and", "or"):
            for side in (expr.left, expr.right):
                ty = self.infer(side)
                if ty.ok and ty.kind != "boolean":
                    self.report("E0302", loc_span(side), detail=f"`{op}` needs booleans, not {ty.describe()}")
            return BOOLEAN
        if op in ("&", "|", "^", "<<", ">>"):
            for side in (expr.left, expr.right):
                ty = self.infer(side)
                if ty.ok and (ty.kind != "integer" or not ty.unit.is_dimensionless):
                    self.report("E0302", loc_span(side), detail=f"`{op}` needs integers, not {ty.describe()}")
            return INTEGER
        if op == "**":
            return self._power(expr.left, expr.right, expr)
        lt = self.infer(expr.left)
        rt = self.infer(expr.right)
        if not (lt.ok and rt.ok):
            return ERROR
        for side, ty in ((expr.left, lt), (expr.right, rt)):
            if not ty.numeric:
                self.report("E0302", loc_span(side), detail=f"`{op}` needs numbers, not {ty.describe()}")
                return ERROR
        if op == "%":
            return self._unify(expr, lt, rt, "`%`")
        if lt.dirac and rt.dirac or (op == "/" and rt.dirac):
            self.report("E0302", loc_span(expr), detail="a spike train can be scaled and added, but not multiplied "
                                                        "by or divided by another spike train")
            return ERROR
        kind = "integer" if op == "*" and lt.kind == rt.kind == "integer" else "real"
        sign = 1 if op == "*" else -1
        try:
            unit = lt.unit * rt.unit if op == "*" else lt.unit / rt.unit
        except UnitError as exc:
            self.report("E0301", loc_span(expr), detail=exc.message)
            return ERROR
        retime = lt.retime if lt.retime is not None else (
            rt.retime if op == "*" or rt.retime is None else rt.retime ** -1)
        return Ty(kind, unit, mul_unknown(lt.unknown, rt.unknown, sign), dirac=lt.dirac or rt.dirac, retime=retime)

    def _additive(self, expr: n.Binary, expected: Unit | None) -> Ty:
        lt = self.infer(expr.left, expected)
        hint_unit = expected if expected is not None else (lt.unit if lt.numeric and lt.known and not lt.flex else None)
        rt = self.infer(expr.right, hint_unit)
        if lt.numeric and not lt.known and rt.numeric and rt.known and not rt.flex and expected is None:
            lt = self.infer(expr.left, rt.unit)
        verb = "add" if expr.op == "+" else "subtract"
        return self._unify(expr, lt, rt, f"`{expr.op}`", expected, verb)

    def _unify(self, expr: n.Binary | n.Ternary | n.Call, lt: Ty, rt: Ty, what: str,
               expected: Unit | None = None, verb: str | None = None, left: n.Expr | None = None,
               right: n.Expr | None = None) -> Ty:
        """Operands that must share one dimension (``+ - %``, comparisons, branches, min/max):
        the right one is converted to the left one's unit; the result is in the left one's unit."""
        left = left if left is not None else getattr(expr, "left", None)
        right = right if right is not None else getattr(expr, "right", None)
        if not (lt.ok and rt.ok):
            return ERROR
        for side, ty in ((left, lt), (right, rt)):
            if not ty.numeric:
                self.report("E0302", loc_span(side), detail=f"{what} needs numbers, not {ty.describe()}")
                return ERROR
        kind = "integer" if lt.kind == rt.kind == "integer" else "real"
        dirac = lt.dirac or rt.dirac
        if lt.flex and rt.flex:
            return Ty(kind, lt.unit, flex=True)
        if lt.flex:
            return Ty(kind, rt.unit, rt.unknown, dirac=dirac, retime=rt.retime)
        if rt.flex:
            return Ty(kind, lt.unit, lt.unknown, dirac=dirac, retime=lt.retime)
        if not (lt.known and rt.known):
            return Ty(kind, lt.unit, lt.unknown if not lt.known else rt.unknown, dirac=dirac)
        if lt.unit.same_dimension(rt.unit):
            self._convert(right, rt.unit, lt.unit)
            return Ty(kind, lt.unit, dirac=dirac, retime=lt.retime if lt.retime == rt.retime else None)
        # NESTML 2-7 read some values without a time factor (see Ty.retime): fit one operand to the other
        retimed = lt.retimed(rt.unit)
        if retimed is not None:
            self._convert(right, rt.unit, retimed)
            return Ty(kind, retimed, dirac=dirac)
        retimed = rt.retimed(lt.unit)
        if retimed is not None:
            self._convert(right, retimed, lt.unit)
            return Ty(kind, lt.unit, dirac=dirac)
        if lt.unit.is_dimensionless != rt.unit.is_dimensionless:
            # A plain number next to a physical quantity is taken in the quantity's unit, with a
            # warning: NESTML accepts `w + 0.1` for a weight w in nS, and so do existing models.
            plain, quantity, plain_ty = (left, rt, lt) if lt.unit.is_dimensionless else (right, lt, rt)
            self._convert(plain, plain_ty.unit, DIMENSIONLESS)
            self.report("W0103", loc_span(plain), hint=_literal_hint(plain, quantity.unit),
                        detail=f"a plain number in {what} with {fmt_unit(quantity.unit)} is taken in {quantity.unit}")
            return Ty(kind, quantity.unit, dirac=dirac)
        # Blame the operand that does not fit the context; keep the other so that one mistake
        # gives one message.
        blame, keep, other = right, lt, rt
        if expected is not None and not lt.unit.same_dimension(expected) and rt.unit.same_dimension(expected):
            blame, keep, other = left, rt, lt
        action = f"cannot {verb}" if verb else f"{what} need one dimension, not"
        self.report("E0301", loc_span(blame), notes=self._inference_notes(expr),
                    hint=self.mismatch_hint(blame, keep.unit, other.unit),
                    detail=f"{action} {fmt_unit(lt.unit)} and {fmt_unit(rt.unit)}")
        return Ty(kind, keep.unit, dirac=dirac)

    def _comparison(self, expr: n.Binary) -> Ty:
        lt = self.infer(expr.left)
        rt = self.infer(expr.right, lt.unit if lt.numeric and lt.known and not lt.flex else None)
        if lt.numeric and not lt.known and rt.numeric and rt.known and not rt.flex:
            lt = self.infer(expr.left, rt.unit)
        if not (lt.ok and rt.ok):
            return BOOLEAN
        if lt.kind in ("boolean", "string") or rt.kind in ("boolean", "string"):
            if lt.kind != rt.kind or expr.op not in ("==", "!=", "<>"):
                self.report("E0302", loc_span(expr),
                            detail=f"cannot compare {lt.describe()} and {rt.describe()} with `{expr.op}`")
            return BOOLEAN
        if lt.dirac or rt.dirac:
            self.report("E0302", loc_span(expr), detail="a spike train cannot be compared")
            return BOOLEAN
        self._unify(expr, lt, rt, f"`{expr.op}`", verb="compare")
        return BOOLEAN

    def _power(self, base: n.Expr, exponent: n.Expr, at: n.Expr) -> Ty:
        bt = self.infer(base)
        et = self.infer(exponent)
        if not (bt.ok and et.ok):
            return ERROR
        for side, ty in ((base, bt), (exponent, et)):
            if not ty.numeric:
                self.report("E0302", loc_span(side), detail=f"`**` needs numbers, not {ty.describe()}")
                return ERROR
        if bt.dirac or et.dirac:
            self.report("E0302", loc_span(at), detail="a spike train cannot be raised to a power")
            return ERROR
        if et.known and not et.unit.is_dimensionless:
            self.report("E0301", loc_span(exponent), detail=f"an exponent must be dimensionless, not {et.unit}")
            return ERROR
        if et.known:
            self._convert(exponent, et.unit, DIMENSIONLESS)
        kind = "integer" if bt.kind == et.kind == "integer" and _constant(exponent) is not None and \
            _constant(exponent) >= 0 else "real"
        if bt.known and bt.unit.is_dimensionless:
            self._convert(base, bt.unit, DIMENSIONLESS)
            return Ty(kind, DIMENSIONLESS)
        value = _constant(exponent)
        if value is None:
            self.report("E0306", loc_span(exponent), unit=fmt_unit(bt.unit) if bt.known else "an inferred unit",
                        hint="write the exponent as a number, e.g. `x**2`; or make the base dimensionless")
            return ERROR
        try:
            return Ty(kind, bt.unit ** value, pow_unknown(bt.unknown, value))
        except UnitError as exc:
            self.report("E0306", loc_span(exponent), unit=fmt_unit(bt.unit), hint=exc.message)
            return ERROR

    def _ternary(self, expr: n.Ternary, expected: Unit | None) -> Ty:
        ct = self.infer(expr.cond)
        if ct.ok and ct.kind != "boolean":
            self.report("E0305", loc_span(expr.cond), got=ct.describe())
        tt = self.infer(expr.if_true, expected)
        ft = self.infer(expr.if_false, expected if expected is not None else
                        (tt.unit if tt.numeric and tt.known and not tt.flex else None))
        if not (tt.ok and ft.ok):
            return ERROR
        if tt.numeric and ft.numeric:
            return self._unify(expr, tt, ft, "the two branches of `? :`", expected, left=expr.if_true,
                               right=expr.if_false)
        if tt.kind != ft.kind:
            self.report("E0302", loc_span(expr.if_false),
                        detail=f"the branches of `? :` have different types: {tt.describe()} and {ft.describe()}")
            return ERROR
        return tt

    # ------------------------------------------------------------------------------ calls
    def _call(self, call: n.Call, expected: Unit | None) -> Ty:
        for name, value in call.kwargs:
            self.report("E0401", loc_span(value), what=f"{name}=", where="function calls (arguments are positional)")
        sym = self.table.get(call.func)
        if sym is not None and sym.kind == "function":
            return self._user_call(call, sym)
        builtin = BUILTINS.get(call.func)
        if builtin is None:
            if sym is not None:
                self.report("E0302", call.loc, detail=f"`{call.func}` is {_article(sym.kind)}, not a function")
            else:
                names = sorted(set(BUILTINS) | {s.name for s in self.table.of_kind("function")})
                close = difflib.get_close_matches(call.func, names, n=1, cutoff=0.6)
                self.report("E0202", call.loc, hint=f"did you mean `{close[0]}`?" if close else None, name=call.func)
            for arg in call.args:
                self.infer(arg)
            return ERROR
        got = len(call.args)
        if got < builtin.min_args or (builtin.max_args >= 0 and got > builtin.max_args):
            self._arity(call, builtin.min_args, builtin.max_args)
            if builtin.rule not in ("convolve", "integrate", "sift"):
                for arg in call.args:
                    self.infer(arg)
            return ERROR if builtin.rule not in ("emit", "print", "integrate") else VOID
        where = builtin.where
        region = self.region.kind
        if where == "equations" and region != "equations" or where == "kernel" and region != "kernel":
            place = "equations (ODEs and inline expressions)" if where == "equations" else "kernel definitions"
            self.report("E0401", call.loc, what=f"{call.func}()", where=_region_name(self.region),
                        hint=f"`{call.func}` may only be used in {place}")
            return ERROR
        if where in ("statement", "update") and region != "statement" or \
                where == "update" and self.region.block != "update":
            place = "the update block" if where == "update" else "statements (update, handlers, functions)"
            self.report("E0401", call.loc, what=f"{call.func}()", where=_region_name(self.region),
                        hint=f"`{call.func}` may only be used in {place}")
            if builtin.rule in ("convolve", "integrate", "sift"):
                return ERROR
        rule = getattr(self, f"_rule_{builtin.rule}")
        return rule(call, expected)

    def _arity(self, call: n.Call, lo: int, hi: int) -> None:
        expected = str(lo) if lo == hi else (f"at least {lo}" if hi < 0 else f"{lo} to {hi}")
        self.report("E0304", call.loc, name=call.func, expected=expected, got=len(call.args))

    def _user_call(self, call: n.Call, sym: Symbol) -> Ty:
        func = sym.node
        assert isinstance(func, n.FunctionDef)
        self.facts.reads[sym.name] = self.facts.reads.get(sym.name, 0) + 1
        if len(call.args) != len(func.params):
            self._arity(call, len(func.params), len(func.params))
        for i, arg in enumerate(call.args):
            ptype = self.var_types.get(f"{func.name}({i})") if i < len(func.params) else None
            at = self.infer(arg, ptype.unit if ptype is not None and ptype.numeric else None)
            if ptype is not None:
                self.coerce(arg, at, ptype, f"argument `{func.params[i].name}` of `{func.name}`")
        return self.var_types.get(f"{func.name}->", VOID)

    def _rule_math(self, call: n.Call, expected: Unit | None) -> Ty:
        arg = call.args[0]
        ty = self.infer(arg, DIMENSIONLESS)
        if not ty.ok:
            return REAL
        if not ty.numeric or ty.dirac:
            self.report("E0302", loc_span(arg), detail=f"`{call.func}` needs a number, not "
                                                       f"{'a spike train' if ty.dirac else ty.describe()}")
            return REAL
        if ty.known and not ty.unit.is_dimensionless:
            # Physically meaningless, but NESTML accepts it (reading the number in NEST's units), and
            # published models rely on that: a warning, and the magnitude in the canonical unit.
            canon = canonical_unit(ty.unit)
            self._convert(arg, ty.unit, canon)
            self.report("W0106", loc_span(arg), name=call.func, unit=fmt_unit(ty.unit), canonical=fmt_unit(canon),
                        hint=_explicit_hint(canon))
        elif ty.known:
            self._convert(arg, ty.unit, DIMENSIONLESS)
        return REAL

    def _rule_sqrt(self, call: n.Call, expected: Unit | None) -> Ty:
        ty = self.infer(call.args[0])
        if not ty.ok:
            return ERROR
        if not ty.numeric or ty.dirac:
            self.report("E0302", loc_span(call.args[0]), detail=f"`sqrt` needs a number, not {ty.describe()}")
            return ERROR
        half = Fraction(1, 2)
        try:
            return Ty("real", ty.unit ** half, pow_unknown(ty.unknown, half))
        except UnitError as exc:
            self.report("E0306", loc_span(call.args[0]), unit=fmt_unit(ty.unit), hint=exc.message)
            return ERROR

    def _rule_pow(self, call: n.Call, expected: Unit | None) -> Ty:
        return self._power(call.args[0], call.args[1], call)

    def _rule_same(self, call: n.Call, expected: Unit | None) -> Ty:
        first = self.infer(call.args[0], expected)
        result = first
        for arg in call.args[1:]:
            want = expected if expected is not None else (first.unit if first.numeric and first.known and not first.flex
                                                          else None)
            ty = self.infer(arg, want)
            result = self._unify(call, result, ty, f"the arguments of `{call.func}`", expected,
                                 left=call.args[0], right=arg)
        if result.ok and result.dirac:
            self.report("E0302", loc_span(call), detail=f"`{call.func}` of a spike train")
            return ERROR
        return result

    def _rule_sign(self, call: n.Call, expected: Unit | None) -> Ty:
        ty = self.infer(call.args[0])
        if ty.ok and (not ty.numeric or ty.dirac):
            self.report("E0302", loc_span(call.args[0]), detail=f"`{call.func}` needs a number, not {ty.describe()}")
        return REAL

    def _rule_poisson(self, call: n.Call, expected: Unit | None) -> Ty:
        ty = self.infer(call.args[0], DIMENSIONLESS)
        self.coerce(call.args[0], ty, REAL, f"the mean of `{call.func}`", lenient=False)
        return INTEGER

    def _rule_time(self, call: n.Call, expected: Unit | None) -> Ty:
        return real(MS)

    def _rule_steps(self, call: n.Call, expected: Unit | None) -> Ty:
        ty = self.infer(call.args[0], MS)
        self.coerce(call.args[0], ty, real(MS), "the argument of `steps`", lenient=False)
        return INTEGER

    def _rule_print(self, call: n.Call, expected: Unit | None) -> Ty:
        for arg in call.args:
            ty = self.infer(arg)
            if ty.kind == "void":
                self.report("E0302", loc_span(arg), detail="this call has no value to print")
            if isinstance(arg, n.Str):
                self._interpolations(arg)
        return VOID

    def _interpolations(self, text: n.Str) -> None:
        """``print("V_m = {V_m}")`` prints a variable: the names in braces must exist."""
        for match in re.finditer(r"\{([A-Za-z_$][A-Za-z_0-9$]*)\}", text.value):
            name = n.Name(text.loc, match.group(1))
            self._name(name)
            # the Name exists only for this check: keep the side tables to nodes of the tree
            self.facts.resolved.pop(id(name), None)

    def _rule_integrate(self, call: n.Call, expected: Unit | None) -> Ty:
        for arg in call.args:
            if not isinstance(arg, n.Name) or arg.order or arg.index is not None:
                self.report("E0302", loc_span(arg), detail="integrate_odes() takes names of state variables")
                continue
            sym = self.table.get(arg.name)
            if sym is None:
                self._undeclared(arg)
                continue
            self.facts.resolved[id(arg)] = sym
            self.facts.units[id(arg)] = self.var_types.get(arg.name, ERROR).unit
            if sym.kind == "kernel" or (sym.kind == "state" and arg.name in self.ode_states):
                continue  # a kernel name stands for the states of its convolutions
            what = "is a state variable" if sym.kind == "state" else f"is {_article(sym.kind)}"
            self.report("E0405", loc_span(arg), name=arg.name,
                        hint=f"`{arg.name}` {what} without an equation; list state variables defined by an "
                             f"ODE, or kernels")
        return VOID

    def _rule_emit(self, call: n.Call, expected: Unit | None) -> Ty:
        out = self.model.output
        if call.func == "emit_spike" and (out is None or out.kind != "spike"):
            self.report("E0402", call.loc, hint="add `output:` with `spike` to the model")
        if call.func == "deliver_spike" and self.kind != "synapse":
            self.report("E0401", call.loc, what="deliver_spike()", where="a neuron model",
                        hint="neurons send spikes with `emit_spike()`")
        attrs = list(out.attributes) if out is not None else []
        if attrs:
            wanted = [(a.name, self.var_types.get(f"output.{a.name}", REAL)) for a in attrs]
            if len(call.args) not in (0, len(wanted)):
                self._arity(call, len(wanted), len(wanted))
        elif self.kind == "synapse" or call.func == "deliver_spike":
            # emit_spike(w, d) (NESTML 5-8), emit_spike(w) (NESTML 9: the connection's delay), or
            # emit_spike() (the synapse's weight variable)
            wanted = [("weight", None), ("delay", real(MS))]
            if len(call.args) > 2 or (call.func == "deliver_spike" and len(call.args) != 2):
                self.report("E0304", call.loc, name=call.func, expected="2 (weight, delay) in a synapse" if
                            call.func == "deliver_spike" else "at most 2 (weight, delay) in a synapse",
                            got=len(call.args))
        else:
            wanted = []
            if call.args:
                self.report("E0304", call.loc, name=call.func, expected="0 in a neuron", got=len(call.args),
                            hint="weight and delay of a neuron's spikes are set on its connections")
        for i, arg in enumerate(call.args):
            target = wanted[i][1] if i < len(wanted) else None
            ty = self.infer(arg, target.unit if target is not None and target.numeric else None)
            if target is not None:
                self.coerce(arg, ty, target, f"the {wanted[i][0]} of `{call.func}`")
            elif ty.ok and not ty.numeric:
                self.report("E0302", loc_span(arg), detail=f"a spike weight must be a number, not {ty.describe()}")
        return VOID

    def _spike_port_arg(self, arg: n.Expr, func: str) -> tuple[Symbol | None, Unit | None, bool]:
        """The port (and its weight unit) named by the second argument of convolve/first of sift."""
        node = arg.obj if isinstance(arg, n.Attr) else arg
        if not isinstance(node, n.Name) or node.order:
            self.report("E0203", loc_span(arg), name=_text(arg), hint=f"{func}() needs the name of a spike input port")
            return None, None, False
        sym = self.table.get(node.name)
        if sym is None or sym.kind != "spike_port":
            if sym is None and (self.scope is None or self.scope.lookup(node.name) is None):
                self._undeclared(node)
            else:
                self.report("E0203", loc_span(node), name=node.name,
                            hint=f"{func}() needs a spike input port, declared as `{node.name} <- spike`")
            return None, None, False
        self.facts.resolved[id(node)] = sym
        self.facts.reads[sym.name] = self.facts.reads.get(sym.name, 0) + 1
        if isinstance(arg, n.Attr):
            ty = self._attr(arg)
            weight = ty.unit * MS if ty.ok and ty.dirac else (ty.unit if ty.ok else None)
            return sym, weight, True
        self._indexed(node, Ty("real", DIMENSIONLESS), sym.is_vector)
        weight = self.port_unit(sym)
        self.facts.units[id(node)] = weight
        return sym, weight, True

    def _rule_convolve(self, call: n.Call, expected: Unit | None) -> Ty:
        kernel_arg, port_arg = call.args
        kernel_ty = ERROR
        if isinstance(kernel_arg, n.Name) and not kernel_arg.order:
            ksym = self.table.get(kernel_arg.name)
            if ksym is not None and ksym.kind == "kernel":
                self.facts.resolved[id(kernel_arg)] = ksym
                self.facts.reads[ksym.name] = self.facts.reads.get(ksym.name, 0) + 1
                kernel_ty = self.var_types.get(ksym.name, ERROR)
                self.facts.units[id(kernel_arg)] = kernel_ty.unit
            elif ksym is not None or (self.scope is not None and self.scope.lookup(kernel_arg.name)):
                self.report("E0204", loc_span(kernel_arg), name=kernel_arg.name,
                            hint=f"`{kernel_arg.name}` is not a kernel; declare one with "
                                 f"`kernel {kernel_arg.name} = ...` in the equations block")
            else:
                kernels = [s.name for s in self.table.of_kind("kernel")]
                close = difflib.get_close_matches(kernel_arg.name, kernels, n=1, cutoff=0.6)
                self.report("E0204", loc_span(kernel_arg), name=kernel_arg.name,
                            hint=f"did you mean `{close[0]}`?" if close else None)
        else:
            self.report("E0204", loc_span(kernel_arg), name=_text(kernel_arg))
        port, weight, ok = self._spike_port_arg(port_arg, "convolve")
        if not (ok and kernel_ty.ok and kernel_ty.unit is not None):
            return ERROR
        unknown = ((port.name, _ONE),) if weight is None else ()
        unit = kernel_ty.unit * (weight if weight is not None else DIMENSIONLESS)
        # NESTML's kernels are untyped: convolve(delta_kernel, port) had the port's unit, so models
        # write `(mV / pA / ms) * convolve(G, spikes)`; the per-ms reading here also accepts that
        retime = MS if kernel_ty.dirac and weight is not None else None
        return Ty("real", unit, unknown, dirac=kernel_ty.dirac, retime=retime)

    def _rule_sift(self, call: n.Call, expected: Unit | None) -> Ty:
        port, weight, ok = self._spike_port_arg(call.args[0], "sift")
        ty = self.infer(call.args[1])
        if not (ok and ty.ok):
            return ERROR
        if not ty.numeric:
            self.report("E0302", loc_span(call.args[1]), detail=f"`sift` scales by a number, not {ty.describe()}")
            return ERROR
        unknown = mul_unknown(((port.name, _ONE),) if weight is None else (), ty.unknown)
        return Ty("real", ty.unit * (weight if weight is not None else DIMENSIONLESS), unknown)

    def _rule_delta(self, call: n.Call, expected: Unit | None) -> Ty:
        ty = self.infer(call.args[0], MS)
        if not ty.ok or not ty.numeric or ty.unit is None:
            return ERROR
        # delta(x) has the unit 1/[x]: delta(t) is per ms, like every Dirac train in equations.
        return Ty("real", ty.unit ** -1, dirac=True)


# ------------------------------------------------------------------------------------------ helpers
def _constant(expr: n.Expr) -> Fraction | None:
    """The exact value of a constant exponent: a number, a signed number or a quotient of numbers."""
    if isinstance(expr, n.Num) and expr.unit is None:
        return Fraction(expr.text)
    if isinstance(expr, n.Unary) and expr.op in "+-":
        inner = _constant(expr.operand)
        return None if inner is None else (-inner if expr.op == "-" else inner)
    if isinstance(expr, n.Binary) and expr.op in ("/", "*", "+", "-"):
        a, b = _constant(expr.left), _constant(expr.right)
        if a is None or b is None or (expr.op == "/" and b == 0):
            return None
        return {"/": lambda: a / b, "*": lambda: a * b, "+": lambda: a + b, "-": lambda: a - b}[expr.op]()
    return None


def _article(kind: str) -> str:
    return {"parameter": "a parameter", "state": "a state variable", "internal": "an internal", "inline":
            "an inline expression", "kernel": "a kernel", "spike_port": "a spike input port", "continuous_port":
            "a continuous input port", "function": "a function"}.get(kind, kind)


def _region_name(region: Region) -> str:
    if region.kind == "statement":
        return {"update": "the update block", "onReceive": "an onReceive handler", "onCondition":
                "an onCondition handler", "function": "a function"}.get(region.block, "statements")
    return {"equations": "equations", "kernel": "a kernel", "init": "an initial value", "guard": "a guard",
            "size": "a vector size", "priority": "a priority"}[region.kind]


def _text(expr: n.Expr) -> str:
    if isinstance(expr, n.Name):
        return expr.name + "'" * expr.order
    if isinstance(expr, n.Attr):
        return f"{expr.obj.name}.{expr.attr}"
    return "expression"


def _explicit_hint(unit: Unit) -> str:
    """How to turn a quantity into a plain number in ``unit`` explicitly: ``x / mV``, ``x * ms``."""
    text = str(unit)
    if text.startswith("1/"):
        rest = text[2:]
        return f"multiply by {rest} to make the conversion explicit, e.g. `x * {rest}`"
    return f"divide by {text} to make the conversion explicit, e.g. `x / {text}`"


def _literal_hint(expr: n.Expr, unit: Unit) -> str | None:
    inner = expr.operand if isinstance(expr, n.Unary) else expr
    if isinstance(inner, n.Num) and inner.unit is None:
        sign = "-" if isinstance(expr, n.Unary) and expr.op == "-" else ""
        text = str(unit)
        literal = f"{sign}{inner.text} / {text[2:]}" if text.startswith("1/") else f"{sign}{inner.text} {text}"
        return f"write the unit: `{literal}`"
    return None
