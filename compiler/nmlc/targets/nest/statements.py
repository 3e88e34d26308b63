"""Print NESTML statements (update block, event handlers, functions) as C++ for the NEST target.

Expressions go through the same sympy lowering as the equations, so a name means the same in
a handler as in an ODE; the target only decides where each value lives (``P_``, ``S_``, ``V_``,
buffers, locals) and expands the built-ins ``integrate_odes``, ``emit_spike`` and ``print``.
"""
from __future__ import annotations

import re
from typing import Callable

import sympy

from ...ir.lowering import Lowerer
from ...ir.model import IRError, ModelIR
from ...syntax import nodes as n
from ..common import StatementLowering
from .printer import NestCppPrinter, cpp_string

INDENT = "  "
_CPP_ASSIGN = {"=": "=", "+=": "+=", "-=": "-=", "*=": "*=", "/=": "/="}


class StatementPrinter(StatementLowering):
    """Prints statement lists of one model; ``integrate`` expands ``integrate_odes(...)``."""

    def __init__(self, ir: ModelIR, names: dict[str, str], integrate: Callable[[list[str]], list[str]],
                 emit_spike: Callable[[list[str]], list[str]], builder_resolve: Callable[[n.Name], sympy.Expr],
                 conversions: dict[int, float], functions: dict[str, n.FunctionDef]):
        self.ir = ir
        self.names = names
        self.integrate = integrate
        self.emit_spike = emit_spike
        self.base_resolve = builder_resolve
        self.functions = functions
        self.locals: list[dict[str, str]] = [{}]
        self.lower = Lowerer(self._resolve, conversions, self._convolve, self._call)
        self.printer = NestCppPrinter(self.names, {"__nmlc_steps": "__nmlc_steps", **{
            f: f for f in functions}, "random_normal": "__nmlc_random_normal",
            "random_uniform": "__nmlc_random_uniform", "random_poisson": "__nmlc_random_poisson"})

    # --- expressions (names, port attributes and calls: StatementLowering)
    def expr(self, e: n.Expr) -> str:
        if isinstance(e, n.Str):
            return cpp_string(e.value)
        value = self.lower(e)
        return self.printer.doprint(value)

    def _target(self, target: n.Name) -> str:
        for frame in reversed(self.locals):
            if target.name in frame:
                return frame[target.name]
        s = self.ir.symbols.get(target.name)
        if s is None or s.kind not in ("state", "parameter", "internal"):
            raise IRError(target, f"`{target.name}` cannot be assigned", "E0207")
        key = target.name + "__d" * target.order
        if target.index is not None:
            return f"{self.names[key]}[ static_cast< size_t >( {self.expr(target.index)} ) ]"
        return self.names[key]

    # --- statements
    def block(self, stmts: list[n.Stmt], depth: int = 0) -> list[str]:
        self.locals.append({})
        out: list[str] = []
        for s in stmts:
            out.extend(self.stmt(s, depth))
        self.locals.pop()
        return out

    def stmt(self, s: n.Stmt, depth: int) -> list[str]:
        pad = INDENT * depth
        if isinstance(s, n.Declaration):
            ctype = {"integer": "long", "boolean": "bool", "string": "std::string"}.get(s.type.primitive or "", "double")
            lines = []
            for dn in s.names:
                init = self.expr(s.init) if s.init is not None else ("0" if ctype != "std::string" else '""')
                lines.append(f"{pad}{ctype} {dn.name} = {init};")
                self.locals[-1][dn.name] = dn.name
                self.names[f"__local__{dn.name}"] = dn.name
            return lines
        if isinstance(s, n.Assign):
            return [f"{pad}{self._target(s.target)} {_CPP_ASSIGN[s.op]} {self.expr(s.value)};"]
        if isinstance(s, n.If):
            lines = []
            for i, (cond, body) in enumerate(s.branches):
                kw = "if" if i == 0 else "else if"
                lines.append(f"{pad}{kw} ( {self.expr(cond)} )")
                lines.append(f"{pad}{{")
                lines.extend(self.block(body, depth + 1))
                lines.append(f"{pad}}}")
            if s.orelse is not None:
                lines.append(f"{pad}else")
                lines.append(f"{pad}{{")
                lines.extend(self.block(s.orelse, depth + 1))
                lines.append(f"{pad}}}")
            return lines
        if isinstance(s, n.While):
            return [f"{pad}while ( {self.expr(s.cond)} )", f"{pad}{{", *self.block(s.body, depth + 1), f"{pad}}}"]
        if isinstance(s, n.For):
            var = s.var
            self.locals.append({var: var})
            self.names[f"__local__{var}"] = var
            start, stop, step = self.expr(s.start), self.expr(s.stop), self.expr(s.step)
            body = self.block(s.body, depth + 1)
            self.locals.pop()
            cmp = "<=" if not (isinstance(s.step, n.Unary) and s.step.op == "-") else ">="
            return [f"{pad}for ( long {var} = static_cast< long >( {start} ); {var} {cmp} {stop}; {var} += "
                    f"static_cast< long >( {step} ) )", f"{pad}{{", *body, f"{pad}}}"]
        if isinstance(s, n.Return):
            return [f"{pad}return;" if s.value is None else f"{pad}return {self.expr(s.value)};"]
        if isinstance(s, n.CallStmt):
            return self.call_stmt(s.call, depth)
        raise IRError(s, f"unsupported statement `{type(s).__name__}`", "E0602")

    def _print_parts(self, arg: n.Expr) -> list[str]:
        """What ``print`` streams for one argument: a string with each ``{name}`` replaced by the
        variable's value (and its unit, as NESTML prints it), or a value."""
        if not isinstance(arg, n.Str):
            return [self.expr(arg)]
        parts: list[str] = []
        pos = 0
        for m in re.finditer(r"\{([A-Za-z_$][A-Za-z_0-9$]*)\}", arg.value):
            if m.start() > pos:
                parts.append(cpp_string(arg.value[pos:m.start()]))
            parts.append(self.expr(n.Name(arg.loc, m.group(1))))
            var = self.ir.variable(m.group(1))
            unit = var.unit if var is not None else ("ms" if m.group(1) == "t" else "")
            if unit:
                parts.append(cpp_string(" " + unit))
            pos = m.end()
        if pos < len(arg.value) or not parts:
            parts.append(cpp_string(arg.value[pos:]))
        return parts

    def call_stmt(self, call: n.Call, depth: int) -> list[str]:
        pad = INDENT * depth
        if call.func == "integrate_odes":
            names = []
            for a in call.args:
                if not isinstance(a, n.Name):
                    raise IRError(a, "integrate_odes() takes state variable names", "E0302")
                names.append(a.name)
            return [pad + line for line in self.integrate(names)]
        if call.func in ("emit_spike", "deliver_spike"):
            return [pad + line for line in self.emit_spike([self.expr(a) for a in call.args])]
        if call.func in ("print", "println"):
            parts = [p for a in call.args for p in self._print_parts(a)]
            end = " << std::endl" if call.func == "println" else ""
            return [f"{pad}std::cout" + "".join(f" << {p}" for p in parts) + end + ";"]
        if call.func in self.functions:
            return [f"{pad}{call.func}( {', '.join(self.expr(a) for a in call.args)} );"]
        raise IRError(call, f"`{call.func}()` cannot be used as a statement here", "E0401")
