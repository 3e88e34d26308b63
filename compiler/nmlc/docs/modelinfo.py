"""Everything a catalogue page says about one model, read from its source with the compiler's front end.

``read_models(path)`` parses and checks a ``.nestml`` file, lowers each model to the IR and collects:
the docstring's parts, the equations as LaTeX, the kernels, a summary of every event handler,
tables of parameters, state, internals, ports and recordables (units, defaults, the comment on the
declaration's line), the solver chosen for each state variable with the analysis' reason (the
output of ``nmlc analyze``) and the model's interface as PyNEST sees it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..diagnostics import Diagnostics, NmlcError
from ..syntax import nodes as n
from .docstring import Docstring, parse_docstring
from .latex import equation_latex, expr_latex, name_latex

__all__ = ["Equation", "Handler", "ModelInfo", "PortRow", "VarRow", "read_models"]


@dataclass
class VarRow:
    """A parameter, state variable or internal: NEST name, unit, value, definition, comment, solver."""

    name: str
    unit: str
    default: float | None
    definition: str | None  # LaTeX of the initial expression when it is not a plain number
    description: str
    nest_name: str | None = None  # synapses: NEST's name when it differs ("weight", "delay")
    solver: str = ""


@dataclass
class PortRow:
    name: str
    kind: str  # spike | continuous
    qualifiers: str
    receptor: int | None
    unit: str
    description: str


@dataclass
class Equation:
    kind: str  # ode | inline | kernel
    name: str
    latex: list[str]
    description: str
    recordable: bool = False


@dataclass
class Handler:
    """An update block or event handler: its heading, condition, one-line summary and source text."""

    kind: str  # update | onReceive | onCondition | function
    title: str
    condition_latex: str | None
    summary: str
    source: str


@dataclass
class ModelInfo:
    """One model of a library ``.nestml`` file, as the catalogue shows it."""

    name: str
    kind: str  # neuron | synapse
    path: Path
    source: str
    docstring: Docstring
    registered: str
    equations: list[Equation] = field(default_factory=list)
    handlers: list[Handler] = field(default_factory=list)
    parameters: list[VarRow] = field(default_factory=list)
    state: list[VarRow] = field(default_factory=list)
    internals: list[VarRow] = field(default_factory=list)
    ports: list[PortRow] = field(default_factory=list)
    output: str = ""
    recordables: list[tuple[str, str]] = field(default_factory=list)  # name, unit
    solver_rows: list[tuple[str, str, str]] = field(default_factory=list)  # state, solver, reason
    analysis_text: str = ""
    roles: dict[str, str | None] = field(default_factory=dict)  # synapses: pre/post port, weight, delay

    @property
    def solvers(self) -> list[str]:
        """The distinct methods used, in order of first use (``["none"]`` for a model without ODEs)."""
        seen = list(dict.fromkeys(s for _, s, _ in self.solver_rows))
        return seen or ["none"]


def _fmt_default(value: float | None) -> str:
    if value is None:
        return "–"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


def _plain_number(expr: n.Expr | None) -> bool:
    if isinstance(expr, n.Unary) and expr.op in "+-":
        return _plain_number(expr.operand)
    return expr is None or isinstance(expr, (n.Num, n.Bool, n.Str))


def _source_block(lines: list[str], start: int) -> str:
    """The text of a block whose header is on line ``start`` (1-based): every following line indented deeper."""
    header = lines[start - 1]
    indent = len(header) - len(header.lstrip())
    out = [header]
    for line in lines[start:]:
        if line.strip() and len(line) - len(line.lstrip()) <= indent:
            break
        out.append(line)
    while out and not out[-1].strip():
        out.pop()
    first = min(len(x) - len(x.lstrip()) for x in out if x.strip())
    return "\n".join(x[first:] for x in out)


def _stmt_summary(body: list[n.Stmt]) -> str:
    """What a handler does, in words: integration, assignments, spikes sent, conditions."""
    integrates: list[str] = []
    integrates_all = False
    assigned: list[str] = []
    sends: list[str] = []
    calls: list[str] = []
    branches = 0
    returns = False
    for stmt in body:
        for node in stmt.walk():
            if isinstance(node, (n.If, n.For, n.While)):
                branches += 1
            elif isinstance(node, n.Assign):
                assigned.append(node.target.name + "'" * node.target.order)
            elif isinstance(node, n.Return):
                returns = returns or node.value is not None
            elif isinstance(node, n.Declaration):
                pass  # local variables are not part of the model's visible behaviour
            elif isinstance(node, n.Call):
                if node.func == "integrate_odes":
                    if node.args:
                        integrates += [a.name for a in node.args if isinstance(a, n.Name)]
                    else:
                        integrates_all = True
                elif node.func in ("emit_spike", "deliver_spike"):
                    sends.append(node.func)
                elif node.func not in ("convolve", "steps", "resolution") and isinstance(stmt, n.Stmt):
                    calls.append(node.func)
    parts = []
    only = ", ".join(dict.fromkeys(integrates))
    if integrates_all:
        parts.append("integrates the ODEs" + (f" (in some branches only {only})" if integrates else ""))
    elif integrates:
        parts.append(f"integrates only {only}")
    if assigned:
        parts.append("sets " + ", ".join(dict.fromkeys(assigned)))
    if sends:
        parts.append("emits a spike" if "emit_spike" in sends else "delivers a spike")
    user = [c for c in dict.fromkeys(calls) if c not in ("exp", "min", "max", "abs", "sqrt", "log", "ln")]
    if user:
        parts.append("calls " + ", ".join(user))
    if returns:
        parts.append("returns a value")
    text = "; ".join(parts) or "does nothing"
    if branches:
        text += " (conditionally)" if parts else ""
    return text[0].upper() + text[1:] + "."


def _handlers(model: n.Model, lines: list[str]) -> list[Handler]:
    out = []
    for block in model.blocks:
        if isinstance(block, n.UpdateBlock):
            out.append(Handler("update", "update (every time step)", None, _stmt_summary(block.body),
                               _source_block(lines, block.loc.line)))
        elif isinstance(block, n.OnReceive):
            port = block.port + (f"[{expr_latex(block.port_index)}]" if block.port_index is not None else "")
            out.append(Handler("onReceive", f"onReceive({port}): on each spike at {block.port}", None,
                               _stmt_summary(block.body), _source_block(lines, block.loc.line)))
        elif isinstance(block, n.OnCondition):
            out.append(Handler("onCondition", "onCondition: when the condition holds after a step",
                               expr_latex(block.cond), _stmt_summary(block.body),
                               _source_block(lines, block.loc.line)))
        elif isinstance(block, n.FunctionDef):
            params = ", ".join(p.name for p in block.params)
            out.append(Handler("function", f"function {block.name}({params})", None, _stmt_summary(block.body),
                               _source_block(lines, block.loc.line)))
    return out


def _equations(model: n.Model) -> list[Equation]:
    out = []
    for item in model.equations:
        comment = getattr(item, "comment", None) or ""
        if isinstance(item, n.Ode):
            out.append(Equation("ode", item.lhs.name, equation_latex(item), comment))
        elif isinstance(item, n.Inline):
            out.append(Equation("inline", item.name, equation_latex(item), comment, item.recordable))
        else:
            out.append(Equation("kernel", ", ".join(p[0].name for p in item.parts), equation_latex(item), comment))
    return out


def _var_rows(variables, values: dict, solver: dict[str, str], rename: dict[str, str]) -> list[VarRow]:
    rows = []
    for v in variables:
        key = v.name + "'" * v.order
        rows.append(VarRow(key, v.unit, values.get(v.name) if not v.order else values.get(key),
                           None if _plain_number(v.init) else expr_latex(v.init), v.comment,
                           rename.get(v.name), solver.get(v.name, "")))
    return rows


def _analysis(path: Path) -> dict[str, object]:
    from ..report import analyze_file

    return {r.name: r for r in analyze_file(path)}


def read_models(path: str | Path) -> list[ModelInfo]:
    """Every model of a ``.nestml`` file; raises :class:`~nmlc.diagnostics.NmlcError` when it does not check."""
    from ..frontend import _checked_models, _defaults, interface_of
    from ..ir.model import IRError, build_ir

    path = Path(path)
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise NmlcError(f"{path}: cannot read: {exc.strerror}") from None
    lines = source.splitlines()
    diags = Diagnostics()
    checked = _checked_models(path, diags)
    if diags.has_errors:
        raise NmlcError(diags)
    reports = _analysis(path)
    out: list[ModelInfo] = []
    for model, kind, symbols, conversions in checked:
        try:
            ir = build_ir(model, kind, symbols, conversions)
        except IRError as exc:
            raise NmlcError(f"{exc.node.loc}: error[{exc.code}]: {exc}") from exc
        values = _defaults(ir)
        report = reports.get(model.name)
        info = ModelInfo(model.name, kind, path, source, parse_docstring(model.docstring or ""),
                         model.name + "_nestml")
        if report is not None:
            info.solver_rows = list(report.rows)
            info.analysis_text = report.text()
        solver = {s: method for s, method, _ in info.solver_rows}
        rename: dict[str, str] = {}
        if kind == "synapse":
            from ..ir.synapse import build_synapse_ir

            try:
                syn = build_synapse_ir(ir)
            except IRError as exc:
                raise NmlcError(f"{exc.node.loc}: error[{exc.code}]: {exc}") from exc
            rename[syn.weight_var] = "weight"
            if syn.delay_param:
                rename[syn.delay_param] = "delay"
            info.roles = {"pre": syn.pre_port, "post": syn.post_port, "weight": syn.weight_var,
                          "delay": syn.delay_param, "mod": ", ".join(syn.mod_ports) or None}
            recordables: list[str] = []
        else:
            recordables = interface_of(ir, info.registered, str(path)).recordables
        info.parameters = _var_rows(ir.parameters, values, solver, rename)
        info.state = _var_rows(ir.state, values, solver, rename)
        info.internals = _var_rows(ir.internals, {}, solver, rename)
        info.equations = _equations(model)
        info.handlers = _handlers(model, lines)
        for p in (*ir.spike_ports, *ir.continuous_ports):
            node = p.node
            quals = " ".join(node.qualifiers) if node is not None and node.qualifiers else (p.sign or "")
            info.ports.append(PortRow(p.name, p.kind, quals, p.receptor if kind == "neuron" else None, p.unit,
                                      (node.comment or "") if node is not None else ""))
        if model.output is not None:
            attrs = ", ".join(f"{a.name} {a.type.text}" for a in model.output.attributes)
            info.output = model.output.kind + (f"({attrs})" if attrs else "")
        units = {v.name + "'" * v.order: v.unit for v in (*ir.parameters, *ir.state, *ir.internals)}
        for item in model.equations:
            if isinstance(item, n.Inline):
                units[item.name] = item.type.text if item.type.unit is not None else ""
        info.recordables = [(r, units.get(r, "")) for r in recordables]
        out.append(info)
    return out


def var_math(name: str) -> str:
    """The LaTeX for a variable name as the equations show it (for the tables' symbol column)."""
    base = re.sub(r"'+$", "", name)
    return name_latex(base, len(name) - len(base))
