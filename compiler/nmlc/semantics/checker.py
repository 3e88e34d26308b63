"""The semantic check of one model: declarations, equations, functions and event handlers.

:class:`ModelChecker` walks a model once, in dependency order (declared types, initial values,
kernels, inline expressions, ODEs, then statements), and types every expression with
:class:`~nmlc.semantics.expressions.ExprChecker`. :func:`check_model` runs it to a fixed point of
the inferred port units first (with diagnostics discarded), then once for real.
"""
from __future__ import annotations

import difflib
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

from ..diagnostics import Diagnostics
from ..syntax import nodes as n
from .expressions import ExprChecker, Facts, PortInference, Region
from .scopes import LocalSymbol, Scope
from .structure import check_structure, infer_kind
from .symbols import ModelSymbols, Symbol, collect
from .types import ERROR, MS, REAL, VOID, Ty, fmt_type, fmt_unit, loc_span, real, resolve_type
from .units import DIMENSIONLESS, Unit

_RANK = {"parameter": 0, "internal": 1, "state": 2}


@dataclass
class CheckedModel:
    """One model after a successful or failed check, with what later passes need to know about it."""

    model: n.Model
    kind: str  # "neuron" | "synapse"
    symbols: ModelSymbols
    resolved: dict[int, object]  # id(Name node) -> Symbol | "unit" | "predefined" | LocalSymbol
    units: dict[int, Unit | None]  # id(Expr node) -> unit of the value as computed (None: not a number)
    conversions: dict[int, float]  # id(Expr node) -> factor into the unit its context expects (entries != 1)
    var_units: dict[str, Unit | None]  # storage unit of each model variable, derivative (x'), inline, kernel, port
    dirac: set[int] = field(default_factory=set)  # id(Expr node) of values that are trains of Dirac deltas
    ode_states: list[str] = field(default_factory=list)  # state variables defined by an ODE, in order
    init_order: list[str] = field(default_factory=list)  # variables in an order that initializes each after
                                                         # everything its initial value reads


class ModelChecker:
    def __init__(self, model: n.Model, diags: Diagnostics, ports: PortInference):
        self.model = model
        self.diags = diags
        self.ports = ports
        self.kind = infer_kind(model)
        self.table = collect(model)
        self.facts = Facts()
        self.var_types: dict[str, Ty] = {}
        self.ex = ExprChecker(model, self.kind, self.table, self.var_types, diags, self.facts, ports)
        self.report = self.ex.report
        self.ode_of: dict[str, n.Ode] = {}
        self._type_cache: dict[int, Ty] = {}
        self._position: dict[str, tuple[int, int]] = {}
        self._init_deps: dict[str, list[tuple[str, n.Name]]] = {}
        self.init_order: list[str] = []

    # ------------------------------------------------------------------------------ driver
    def run(self) -> None:
        check_structure(self.model, self.kind, self.table, self.report)
        self._declared_types()
        self._var_blocks()
        self._init_cycles()
        self._kernels()
        self._odes_lhs()
        self._inlines()
        self._ode_rhs()
        for func in self.model.functions:
            self._function(func)
        for block in self.model.blocks:
            if isinstance(block, n.UpdateBlock):
                self._handler(block.body, Region("statement", "update"))
            elif isinstance(block, n.OnReceive):
                self._on_receive(block)
            elif isinstance(block, n.OnCondition):
                self._on_condition(block)

    def result(self) -> CheckedModel:
        var_units: dict[str, Unit | None] = {}
        for sym in self.table.symbols.values():
            if sym.kind in ("spike_port", "continuous_port"):
                var_units[sym.name] = self.ex.port_unit(sym)
            elif sym.kind != "function":
                ty = self.var_types.get(sym.name, ERROR)
                var_units[sym.name] = ty.unit if ty.numeric else None
        return CheckedModel(self.model, self.kind, self.table, self.facts.resolved, self.facts.units,
                            self.facts.conversions, var_units, self.facts.dirac, list(self.ode_of), self.init_order)

    def warnings(self) -> None:
        """Unused parameters (W0100) and inferred port units (W0102/W0104); final pass only."""
        for sym in self.table.of_kind("parameter"):
            # the numeric solver reads its tolerances; a model declares them to change their defaults
            if sym.name in ("integrator_atol", "integrator_rtol"):
                continue
            if not self.facts.reads.get(sym.name):
                self.report("W0100", sym.node.loc, name=sym.name, hint="remove it, or use it in the model")
        for port in self.model.input_ports:
            if port.type is not None or port.name not in self.ports.bound:
                continue
            unit = self.ports.bound[port.name]
            if unit.is_dimensionless and unit.scale == 1:
                continue  # NESTML's own convention: untyped ports carry plain numbers
            origin = self.ports.origin[port.name]
            code = "W0102" if port.kind == "spike" else "W0104"
            self.report(code, port.loc, name=port.name, unit=fmt_unit(unit),
                        notes=[f"inferred from its use at line {origin.line}"],
                        hint=f"declare it to silence this: `{port.name} {unit} <- {port.kind}`")

    # ------------------------------------------------------------------------------ declared types
    def _type_of(self, texpr: n.TypeExpr) -> Ty:
        key = id(texpr)
        if key not in self._type_cache:
            self._type_cache[key] = resolve_type(texpr, self.report)
            if texpr.unit is not None:
                for node in texpr.unit.walk():
                    if isinstance(node, n.Name):
                        self.facts.resolved[id(node)] = "unit"
        return self._type_cache[key]

    def _declared_types(self) -> None:
        order = 0
        for block in sorted(self.model.blocks_of(n.VarBlock), key=lambda b: _RANK[_kind_of(b)]):
            for decl in block.decls:
                ty = self._type_of(decl.type)
                for dn in decl.names:
                    self.var_types.setdefault(dn.full_name, ty)
                    self._position.setdefault(dn.full_name, (_RANK[_kind_of(block)], order))
                order += 1
        for sym in self.table.symbols.values():
            base = sym.attributes.get("base")
            if base is not None:
                self._derivative_decl(sym, base)
        for item in self.model.equations:
            if isinstance(item, n.Inline):
                self.var_types.setdefault(item.name, self._type_of(item.type))
        for port in self.model.input_ports:
            if port.type is not None:
                ty = self._type_of(port.type)
                if ty.ok and not ty.numeric:
                    self.report("E0302", port.type.loc, detail=f"an input port carries numbers, not {ty.kind} values")
                    ty = REAL
                self.var_types[port.name] = ty
            for attr in port.attributes:
                self.var_types[f"{port.name}.{attr.name}"] = self._numeric_type(attr.type, "an event attribute")
            if port.size is not None:
                self._vector_size(port.size)
        for func in self.model.functions:
            for i, param in enumerate(func.params):
                self.var_types[f"{func.name}({i})"] = self._type_of(param.type)
            self.var_types[f"{func.name}->"] = self._type_of(func.return_type) if func.return_type else VOID
        out = self.model.output
        if out is not None:
            for attr in out.attributes:
                self.var_types[f"output.{attr.name}"] = self._numeric_type(attr.type, "a spike attribute")

    def _numeric_type(self, texpr: n.TypeExpr, what: str) -> Ty:
        ty = self._type_of(texpr)
        if ty.ok and not ty.numeric:
            self.report("E0302", texpr.loc, detail=f"{what} is a number, not {ty.kind}")
            return REAL
        return ty

    def _derivative_decl(self, sym: Symbol, base: str) -> None:
        """``x' mV/ms = ...`` needs a variable x, and the unit of x per time."""
        order = sym.attributes["order"]
        base_sym = self.table.get(base)
        if base_sym is None or base_sym.kind not in ("state", "kernel"):
            self.report("E0205", sym.node.loc, name=base,
                        hint=f"`{sym.name}` gives the initial value of a derivative; declare `{base}` "
                             f"in the state block too")
            return
        base_ty, ty = self.var_types.get(base, ERROR), self.var_types.get(sym.name, ERROR)
        if base_ty.numeric and ty.numeric and base_ty.unit is not None and ty.unit is not None:
            want = base_ty.unit / MS ** order
            if not ty.unit.same_dimension(want):
                self.report("E0301", sym.decl.type.loc if sym.decl else sym.node.loc,
                            detail=f"`{sym.name}` has unit {fmt_unit(ty.unit)} but the derivative of `{base}` "
                                   f"has unit {fmt_unit(want)}")
            elif ty.unit != want:
                self.var_types[sym.name] = ty  # stored in its declared unit; reads convert like any value

    # ------------------------------------------------------------------------------ variable blocks
    def _var_blocks(self) -> None:
        for block in self.model.blocks_of(n.VarBlock):
            kind = _kind_of(block)
            for decl in block.decls:
                ty = self._type_of(decl.type)
                first = decl.names[0]
                for dn in decl.names:
                    if dn.size is not None:
                        self._vector_size(dn.size)
                    if dn.size is not None and dn.order:
                        self.report("E0401", dn.loc, what="a vector", where="a derivative's initial value")
                if decl.init is not None:
                    kernel_init = any((sym := self.table.get(dn.full_name)) is not None and sym.kind == "kernel"
                                      for dn in decl.names)
                    region = Region("init", init_check=self._init_rule(kind, [dn.full_name for dn in decl.names]),
                                    untyped=kernel_init)
                    with self._region(region):
                        value = self.ex.infer(decl.init, ty.unit if ty.numeric else None)
                        self.ex.coerce(decl.init, value, ty, f"the initial value of `{first.full_name}`")
                if decl.guard is not None:
                    with self._region(Region("guard", init_check=self._guard_rule)):
                        cond = self.ex.infer(decl.guard)
                    if cond.ok and cond.kind != "boolean":
                        self.report("E0305", loc_span(decl.guard), got=cond.describe())

    def _init_rule(self, kind: str, names: list[str]):
        """Record what an initializer reads; reject reads that have no value before the simulation."""

        def check(sym: Symbol, node: n.Name) -> str | None:
            if sym.kind in ("inline", "spike_port", "continuous_port", "kernel"):
                what = {"inline": "an inline expression", "kernel": "a kernel"}.get(sym.kind, "an input port")
                return f"it is {what}, which has a value only while the simulation runs"
            if sym.kind not in _RANK:
                return None
            if kind == "parameter" and sym.kind != "parameter":
                return (f"the default of a parameter may depend only on other parameters, and `{sym.name}` is "
                        f"{_article(sym.kind)}")
            for name in names:
                self._init_deps.setdefault(name, []).append((sym.name, node))
            return None

        return check

    def _init_cycles(self) -> None:
        """Initial values are computed in dependency order; a cycle has no such order (E0209)."""
        done: set[str] = set()
        for root in self._position:
            if root in done:
                continue
            path: list[str] = []
            on_path: set[str] = set()
            stack: list[tuple[str, int]] = [(root, 0)]
            while stack:
                name, i = stack.pop()
                if i == 0:
                    path.append(name)
                    on_path.add(name)
                deps = self._init_deps.get(name, [])
                if i < len(deps):
                    stack.append((name, i + 1))
                    dep, node = deps[i]
                    if dep in on_path:
                        cycle = path[path.index(dep):] + [dep]
                        detail = ("it is the variable being initialized" if len(cycle) == 2 else
                                  "the initial values depend on each other: " + " -> ".join(cycle))
                        self.report("E0209", loc_span(node), name=dep, detail=detail)
                    elif dep not in done:
                        stack.append((dep, 0))
                else:
                    path.pop()
                    on_path.discard(name)
                    done.add(name)
                    self.init_order.append(name)

    def _guard_rule(self, sym: Symbol, node: n.Name) -> str | None:
        if sym.kind in ("inline", "spike_port", "continuous_port", "kernel"):
            return "a guard may only test parameters, internals and state variables"
        return None

    def _vector_size(self, size: n.Expr) -> None:
        with self._region(Region("size", init_check=self._size_rule)):
            ty = self.ex.infer(size)
        if not ty.ok:
            return
        ok = ty.kind == "integer" and ty.unit is not None and ty.unit.is_dimensionless
        if isinstance(size, n.Num):
            ok = ok and int(size.text) > 0
        elif isinstance(size, n.Name):
            sym = self.table.get(size.name)
            ok = ok and sym is not None and sym.kind in ("parameter", "internal")
        else:
            ok = False
        if not ok:
            self.report("E0308", loc_span(size), got=f"`{_text(size)}`" if isinstance(size, (n.Name, n.Num))
                        else "an expression")

    @staticmethod
    def _size_rule(sym: Symbol, node: n.Name) -> str | None:
        if sym.kind not in ("parameter", "internal"):
            return "a vector size must be a constant or an integer parameter"
        return None

    # ------------------------------------------------------------------------------ equations
    def _kernels(self) -> None:
        for sym in self.table.of_kind("kernel"):
            if sym.attributes.get("form") == "function":
                part = sym.attributes["part"]
                kernel = sym.node
                rhs = next(r for lhs, r in kernel.parts if lhs is part)
                with self._region(Region("kernel", kernels=_kernel_names(kernel))):
                    ty = self.ex.infer(rhs)
                self.facts.resolved[id(part)] = sym
                if ty.ok and not ty.numeric:
                    self.report("E0302", loc_span(rhs), detail=f"a kernel is a number-valued function of t, "
                                                               f"not {ty.describe()}")
                    ty = ERROR
                self.var_types[sym.name] = ty
                self.facts.units[id(part)] = ty.unit if ty.numeric else None
        for sym in self.table.of_kind("kernel"):
            if sym.attributes.get("form") == "ode":
                self._ode_kernel(sym)

    def _ode_kernel(self, sym: Symbol) -> None:
        kernel: n.Kernel = sym.attributes["kernel"]
        order = sym.attributes["order"]
        base = self.var_types.get(sym.name) if sym.attributes["initial"] else None
        if base is None:
            base = REAL
            self.var_types[sym.name] = base
        unit = base.unit if base.numeric and base.unit is not None else DIMENSIONLESS
        part = sym.attributes["part"]
        for i in range(order):
            if i not in sym.attributes["initial"]:
                self.report("E0504", part.loc, name=sym.name + "'" * i, unit=fmt_type(real(unit / MS ** i)))
        for lhs, rhs in kernel.parts:
            if lhs.name != sym.name:
                continue
            self.facts.resolved[id(lhs)] = sym
            want = unit / MS ** lhs.order
            self.facts.units[id(lhs)] = want
            with self._region(Region("kernel", kernels=_kernel_names(kernel))):
                ty = self.ex.infer(rhs, want)
            self.ex.coerce(rhs, ty, real(want), "", lenient=False, code="E0303",
                           ode=sym.name + "'" * (lhs.order - 1))

    def _odes_lhs(self) -> None:
        for item in self.model.equations:
            if not isinstance(item, n.Ode):
                continue
            lhs = item.lhs
            if lhs.order == 0:
                self.report("E0401", loc_span(lhs), what=f"{lhs.name} = ...", where="equations",
                            hint=f"an ODE is written `{lhs.name}' = ...`; an assignment belongs in `update:`")
                continue
            sym = self.table.get(lhs.name)
            if sym is None or sym.kind != "state" or sym.attributes.get("base"):
                hint = None
                if sym is None:
                    states = [s.name for s in self.table.of_kind("state")]
                    close = difflib.get_close_matches(lhs.name, states, n=1, cutoff=0.6)
                    hint = f"did you mean `{close[0]}`?" if close else \
                        f"declare it in the state block: `{lhs.name} real = 0`"
                elif sym.kind == "kernel":
                    hint = f"`{lhs.name}` is a kernel; write `kernel {lhs.name}{chr(39) * lhs.order} = ...`"
                else:
                    hint = f"`{lhs.name}` is {_article(sym.kind)}; only state variables have ODEs"
                self.report("E0205", loc_span(lhs), hint=hint, name=lhs.name)
                continue
            self.facts.resolved[id(lhs)] = sym
            if lhs.name in self.ode_of:
                self.report("E0500", loc_span(lhs), name=lhs.name,
                            hint=f"the first ODE is at line {self.ode_of[lhs.name].loc.line}")
                continue
            if sym.is_vector or lhs.index is not None:
                self.report("E0401", loc_span(lhs), what="an ODE for a vector", where="equations",
                            hint="declare one state variable per element")
                continue
            ty = self.var_types.get(lhs.name, ERROR)
            if ty.ok and ty.kind != "real":
                self.report("E0302", loc_span(lhs), detail=f"an ODE needs a real-valued variable, and `{lhs.name}` "
                                                           f"is {ty.kind}")
                continue
            self.ode_of[lhs.name] = item
            for i in range(1, lhs.order):
                deriv = self.table.get(lhs.name + "'" * i)
                if deriv is None or deriv.kind != "state":
                    unit = ty.unit if ty.unit is not None else DIMENSIONLESS
                    self.report("E0504", loc_span(lhs), name=lhs.name + "'" * i, unit=fmt_type(real(unit / MS ** i)))
        self.ex.ode_states = set(self.ode_of)

    def _inlines(self) -> None:
        inlines = {i.name: i for i in self.model.equations if isinstance(i, n.Inline)}
        for name in _topological(inlines, self.report):
            item = inlines[name]
            ty = self.var_types.get(name, ERROR)
            with self._region(Region("equations")):
                value = self.ex.infer(item.rhs, ty.unit if ty.numeric else None)
            self.ex.coerce(item.rhs, value, ty, f"inline `{name}`")
            if value.ok and value.dirac:
                self.ex.inline_dirac.add(name)

    def _ode_rhs(self) -> None:
        for name, ode in self.ode_of.items():
            lhs = ode.lhs
            ty = self.var_types.get(name, ERROR)
            if not ty.numeric or ty.unit is None:
                continue
            want = ty.unit / MS ** lhs.order
            self.facts.units[id(lhs)] = want
            with self._region(Region("equations")):
                value = self.ex.infer(ode.rhs, want)
            self.ex.coerce(ode.rhs, value, real(want), "", lenient=False, code="E0303",
                           ode=name + "'" * (lhs.order - 1))

    # ------------------------------------------------------------------------------ functions and handlers
    def _function(self, func: n.FunctionDef) -> None:
        scope = Scope()
        for i, param in enumerate(func.params):
            ty = self.var_types.get(f"{func.name}({i})", ERROR)
            local = LocalSymbol(param.name, "param", param, ty)
            if scope.declare(local) is not None:
                self.report("E0201", param.loc, name=param.name, hint=f"two parameters of `{func.name}` share a name")
            self._shadow_warning(param.name, param.loc)
        returns = self.var_types.get(f"{func.name}->", VOID)
        with self._region(Region("statement", "function")):
            self._block(func.body, scope, returns, func)
        if returns.kind != "void" and not _always_returns(func.body):
            self.report("E0309", func.loc, name=func.name, type=fmt_type(returns),
                        hint="end every path through the function with `return <value>`")

    def _handler(self, body: list[n.Stmt], region: Region) -> None:
        with self._region(region):
            self._block(body, Scope(), None, None)

    def _on_receive(self, block: n.OnReceive) -> None:
        region = Region("statement", "onReceive")
        with self._region(region):
            if block.port_index is not None:
                sym = self.table.get(block.port)
                if sym is not None and not sym.is_vector:
                    self.report("E0210", loc_span(block.port_index), name=block.port)
                idx = self.ex.infer(block.port_index)
                if idx.ok and idx.kind != "integer":
                    self.report("E0311", loc_span(block.port_index), got=idx.describe())
            self._priority(block.priority)
        self._handler(block.body, region)

    def _on_condition(self, block: n.OnCondition) -> None:
        region = Region("statement", "onCondition")
        with self._region(region):
            cond = self.ex.infer(block.cond)
            if cond.ok and cond.kind != "boolean":
                self.report("E0305", loc_span(block.cond), got=cond.describe())
            self._priority(block.priority)
        self._handler(block.body, region)

    def _priority(self, expr: n.Expr | None) -> None:
        if expr is None:
            return
        with self._region(Region("priority", init_check=lambda s, _: "a priority is a constant integer")):
            ty = self.ex.infer(expr)
        if ty.ok and ty.kind != "integer":
            self.report("E0302", loc_span(expr), detail=f"a priority must be an integer, not {ty.describe()}")

    # ------------------------------------------------------------------------------ statements
    def _block(self, stmts: list[n.Stmt], scope: Scope, returns: Ty | None, func: n.FunctionDef | None) -> None:
        saved = self.ex.scope
        self.ex.scope = scope
        try:
            for stmt in stmts:
                self._stmt(stmt, scope, returns, func)
        finally:
            self.ex.scope = saved

    def _stmt(self, stmt: n.Stmt, scope: Scope, returns: Ty | None, func: n.FunctionDef | None) -> None:
        if isinstance(stmt, n.Declaration):
            self._local_decl(stmt, scope)
        elif isinstance(stmt, n.Assign):
            self._assign(stmt)
        elif isinstance(stmt, n.CallStmt):
            self.ex.infer(stmt.call)
        elif isinstance(stmt, n.Return):
            self._return(stmt, returns, func)
        elif isinstance(stmt, n.If):
            for cond, body in stmt.branches:
                self._condition(cond)
                self._block(body, Scope(scope), returns, func)
            if stmt.orelse is not None:
                self._block(stmt.orelse, Scope(scope), returns, func)
        elif isinstance(stmt, n.While):
            self._condition(stmt.cond)
            self._block(stmt.body, Scope(scope), returns, func)
        elif isinstance(stmt, n.For):
            self._for(stmt, scope, returns, func)

    def _condition(self, cond: n.Expr) -> None:
        ty = self.ex.infer(cond)
        if ty.ok and ty.kind != "boolean":
            self.report("E0305", loc_span(cond), got=ty.describe())

    def _local_decl(self, decl: n.Declaration, scope: Scope) -> None:
        ty = self._type_of(decl.type)
        if decl.init is not None:
            value = self.ex.infer(decl.init, ty.unit if ty.numeric else None)
            self.ex.coerce(decl.init, value, ty, f"the initial value of `{decl.names[0].name}`")
        for dn in decl.names:
            if dn.order:
                self.report("E0401", dn.loc, what=f"{dn.full_name}", where="statements (derivatives are declared in "
                                                                          "the state block)")
                continue
            if dn.size is not None:
                self._vector_size(dn.size)
            local = LocalSymbol(dn.name, "local", dn, ty, dn.size)
            clash = scope.declare(local)
            if clash is not None:
                self.report("E0201", dn.loc, name=dn.name,
                            hint=f"the first declaration is at line {clash.node.loc.line}")
                continue
            self._shadow_warning(dn.name, dn.loc)

    def _shadow_warning(self, name: str, loc) -> None:
        sym = self.table.get(name)
        if sym is not None and sym.kind != "function":
            self.report("W0101", loc, name=name, hint=f"`{name}` is {_article(sym.kind)} declared at line "
                                                      f"{sym.node.loc.line}; rename the local one")

    def _target(self, target: n.Name) -> Ty:
        """The type of an assignment's target; reports targets that cannot be assigned."""
        name = target.name
        if target.order:
            deriv = self.table.get(name + "'" * target.order)
            if deriv is not None and deriv.kind == "state" and self.ex.scope is not None and \
                    self.ex.scope.lookup(name) is None:
                # `x'` declared in the state block is a state of its own (the second-order ODE's
                # first derivative): handlers may set it, e.g. `I_syn' += w * e / tau` for an alpha PSC
                self.facts.resolved[id(target)] = deriv
                ty = self.ex._indexed(target, self.var_types.get(deriv.name, ERROR), deriv.is_vector)
                self.facts.units[id(target)] = ty.unit if ty.numeric else None
                return ty
            self.report("E0207", loc_span(target), name=f"{name}{chr(39) * target.order}",
                        what="a derivative, defined by the equations block",
                        hint="assign the variable itself, or change its ODE")
            return ERROR
        local = self.ex.scope.lookup(name) if self.ex.scope is not None else None
        if local is not None:
            self.facts.resolved[id(target)] = local
            ty = self.ex._indexed(target, local.ty, local.is_vector)
        else:
            sym = self.table.get(name)
            if sym is None:
                self.ex._undeclared(target)
                return ERROR
            self.facts.resolved[id(target)] = sym
            # NESTML 2-4 kept counters such as the refractory count `r` in the internals block and
            # changed them in `update`; they stay assignable (reset whenever parameters change)
            if sym.kind not in ("state", "internal"):
                what = {"parameter": "a parameter; parameters change only through SetStatus",
                        "internal": "an internal, computed from the parameters",
                        "kernel": "a kernel"}.get(sym.kind, _article(sym.kind))
                self.report("E0207", loc_span(target), name=name, what=what)
                return ERROR
            ty = self.ex._indexed(target, self.var_types.get(name, ERROR), sym.is_vector)
        self.facts.units[id(target)] = ty.unit if ty.numeric else None
        return ty

    def _assign(self, stmt: n.Assign) -> None:
        target = self._target(stmt.target)
        name = stmt.target.name
        expected = target.unit if target.numeric and stmt.op in ("=", "+=", "-=") else (
            DIMENSIONLESS if stmt.op in ("*=", "/=") else None)
        value = self.ex.infer(stmt.value, expected)
        if not target.ok:
            return
        if stmt.op == "=":
            self.ex.coerce(stmt.value, value, target, f"`{name}`")
        elif not target.numeric:
            self.report("E0302", loc_span(stmt.target), detail=f"`{stmt.op}` needs a number, and `{name}` is "
                                                               f"{target.kind}")
        elif stmt.op in ("+=", "-="):
            self.ex.coerce(stmt.value, value, target, f"`{name}`")
        else:
            self.ex.coerce(stmt.value, value, REAL, f"the factor in `{name} {stmt.op}`", lenient=False)

    def _return(self, stmt: n.Return, returns: Ty | None, func: n.FunctionDef | None) -> None:
        if func is None:
            if stmt.value is not None:
                self.ex.infer(stmt.value)
                self.report("E0310", loc_span(stmt.value), detail="only a function can return a value")
            return
        if stmt.value is None:
            if returns is not None and returns.kind != "void":
                self.report("E0310", stmt.loc, detail=f"`{func.name}` must return a value of type {fmt_type(returns)}")
            return
        value = self.ex.infer(stmt.value, returns.unit if returns is not None and returns.numeric else None)
        if returns is None or returns.kind == "void":
            self.report("E0310", loc_span(stmt.value), detail=f"`{func.name}` has no return type, so it cannot "
                                                              f"return a value", hint=f"declare it as `function "
                                                              f"{func.name}(...) <type>:`")
            return
        self.ex.coerce(stmt.value, value, returns, f"the return value of `{func.name}`")

    def _for(self, stmt: n.For, scope: Scope, returns: Ty | None, func: n.FunctionDef | None) -> None:
        start = self.ex.infer(stmt.start)
        stop = self.ex.infer(stmt.stop, start.unit if start.numeric and not start.flex else None)
        step = self.ex.infer(stmt.step, start.unit if start.numeric and not start.flex else None)
        for expr, ty in ((stmt.start, start), (stmt.stop, stop), (stmt.step, step)):
            if ty.ok and not ty.numeric:
                self.report("E0302", loc_span(expr), detail=f"a loop bound must be a number, not {ty.describe()}")
                return
        body_scope = Scope(scope)
        existing = scope.lookup(stmt.var)
        var_ty = existing.ty if existing is not None else None
        if existing is None:
            sym = self.table.get(stmt.var)
            if sym is not None and sym.kind == "state":
                var_ty = self.var_types.get(stmt.var, ERROR)
            elif sym is not None:
                self.report("E0207", stmt.loc, name=stmt.var, what=_article(sym.kind))
                var_ty = ERROR
        if var_ty is None:
            kind = "integer" if start.kind == stop.kind == step.kind == "integer" else "real"
            var_ty = Ty(kind, start.unit if start.numeric else DIMENSIONLESS)
            body_scope.declare(LocalSymbol(stmt.var, "loop", stmt, var_ty))
        if var_ty.ok and var_ty.numeric:
            for expr, ty in ((stmt.start, start), (stmt.stop, stop), (stmt.step, step)):
                self.ex.coerce(expr, ty, var_ty, f"the loop variable `{stmt.var}`", lenient=False)
        self._block(stmt.body, body_scope, returns, func)

    # ------------------------------------------------------------------------------ helpers
    @contextmanager
    def _region(self, region: Region) -> Iterator[None]:
        saved = self.ex.region
        self.ex.region = region
        try:
            yield
        finally:
            self.ex.region = saved


def _kernel_names(kernel: n.Kernel) -> frozenset[str]:
    """The names one `kernel` statement defines; its parts may refer to each other."""
    return frozenset(lhs.name for lhs, _ in kernel.parts)


def _kind_of(block: n.VarBlock) -> str:
    return {"state": "state", "parameters": "parameter", "internals": "internal"}[block.kind]


def _article(kind: str) -> str:
    return {"parameter": "a parameter", "state": "a state variable", "internal": "an internal", "inline":
            "an inline expression", "kernel": "a kernel", "spike_port": "a spike input port", "continuous_port":
            "a continuous input port", "function": "a function"}.get(kind, kind)


def _text(expr: n.Expr) -> str:
    return expr.name if isinstance(expr, n.Name) else expr.text if isinstance(expr, n.Num) else "expression"


def _always_returns(stmts: list[n.Stmt]) -> bool:
    for stmt in stmts:
        if isinstance(stmt, n.Return):
            return True
        if isinstance(stmt, n.If) and stmt.orelse is not None and all(_always_returns(b) for _, b in stmt.branches) \
                and _always_returns(stmt.orelse):
            return True
    return False


def _topological(inlines: dict[str, n.Inline], report) -> list[str]:
    """Inline names so that each comes after the inlines it reads; a cycle is reported (E0503) and cut."""
    deps = {name: [x.name for x in item.rhs.walk() if isinstance(x, n.Name) and x.name in inlines]
            for name, item in inlines.items()}
    order: list[str] = []
    state: dict[str, int] = {}  # 1: on the path, 2: done
    for root in inlines:
        if state.get(root):
            continue
        path: list[str] = []
        stack: list[tuple[str, int]] = [(root, 0)]
        while stack:
            name, i = stack.pop()
            if i == 0:
                state[name] = 1
                path.append(name)
            if i < len(deps[name]):
                stack.append((name, i + 1))
                dep = deps[name][i]
                if state.get(dep) == 1:
                    cycle = path[path.index(dep):] + [dep]
                    report("E0503", inlines[cycle[0]].loc, cycle=" -> ".join(cycle),
                           hint="an inline expression cannot depend on itself, directly or through others")
                elif not state.get(dep):
                    stack.append((dep, 0))
            else:
                state[name] = 2
                path.pop()
                order.append(name)
    return order


@contextmanager
def _deep_recursion(limit: int = 6000) -> Iterator[None]:
    """Expressions may be 200 levels deep (the parser's limit); typing one level takes a few frames."""
    old = sys.getrecursionlimit()
    if old < limit:
        sys.setrecursionlimit(limit)
    try:
        yield
    finally:
        if old < limit:
            sys.setrecursionlimit(old)


def check_model(model: n.Model, diags: Diagnostics) -> CheckedModel:
    """Check one model, reporting into ``diags``; the result is returned even when errors were found."""
    untyped = {p.name for p in model.input_ports if p.type is None}
    ports = PortInference(untyped)
    with _deep_recursion():
        if untyped:
            # Infer the units of untyped ports: repeat until no new unit is found (each pass may fix
            # units that make further expressions solvable); the diagnostics of these passes are dropped.
            for _ in range(4):
                before = dict(ports.bound)
                ModelChecker(model, Diagnostics(), ports).run()
                if ports.bound == before:
                    break
        ports.final = True
        checker = ModelChecker(model, diags, ports)
        checker.run()
        checker.warnings()
    return checker.result()
