"""The compiler driver from files to generated code: parse, check, lower, render.

Each step reports into one :class:`Diagnostics`; a model whose front end fails is not
rendered, and every error of every file is collected before giving up, so a user sees all
of them in one run.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .build import ModelInterface, PortInfo, VariableInfo
from .diagnostics import Diagnostics, Loc
from .syntax import nodes as n


@dataclass
class CompiledModel:
    ir: object
    generated: object
    interface: ModelInterface


def _checked_models(path: Path, diags: Diagnostics):
    """(model, kind, symbols, conversions) for each model of a file, after semantic checks."""
    try:
        from .semantics import check_file
    except ImportError:  # the semantic checker is not installed in this tree yet
        check_file = None
    if check_file is not None:
        return [(c.model, c.kind, c.symbols, c.conversions) for c in check_file(path, diags)]
    from .semantics.symbols import collect
    from .syntax import parse_file

    unit = parse_file(path, diags)
    if unit is None:
        return []
    out = []
    for m in unit.models:
        kind = "synapse" if m.keyword == "synapse" or m.name.endswith("synapse") else "neuron"
        out.append((m, kind, collect(m), {}))
    return out


def _loc(node: n.Node | None, fallback: Loc) -> Loc:
    return node.loc if isinstance(node, n.Node) else fallback


def compile_models(files: list[Path], diags: Diagnostics, namespace: str, name_suffix: str) -> list[CompiledModel]:
    from .analysis import AnalysisError
    from .ir.model import IRError, build_ir
    from .targets.nest.builtin_names import nest_builtin_models
    from .targets.nest.generator import NeuronGenerator, check_identifiers

    results: list[CompiledModel] = []
    seen: dict[str, Loc] = {}
    for path in files:
        for model, kind, symbols, conversions in _checked_models(path, diags):
            if model.name in seen:
                diags.report("E0206", model.loc, name=model.name)
                continue
            seen[model.name] = model.loc
            registered = model.name + name_suffix
            if registered in nest_builtin_models():
                diags.report("E0601", model.loc, name=registered,
                             hint="choose another model name or keep the default name suffix `_nestml`")
                continue
            if kind != "neuron":
                diags.report("E0602", model.loc, feature="synapse models", target="NEST")
                continue
            try:
                ir = build_ir(model, kind, symbols, conversions)
                bad = check_identifiers(ir)
                for node, name in bad:
                    diags.report("E0600", node.loc, name=name, target="NEST (C++)",
                                 hint="rename it; names starting with `__` are reserved for nmlc")
                if bad:
                    continue
                gen = NeuronGenerator(ir, registered, namespace, conversions).render()
            except IRError as exc:
                diags.report(exc.code if exc.code.startswith("E05") or exc.code in ("E0200", "E0202", "E0203", "E0204",
                                                                                    "E0205", "E0207", "E0302",
                                                                                    "E0304", "E0401", "E0602")
                             else "E0501", _loc(exc.node, model.loc), **_args(exc))
                continue
            except AnalysisError as exc:
                diags.report("E0501", model.loc, detail=str(exc))
                continue
            results.append(CompiledModel(ir, gen, interface_of(ir, registered, str(path))))
    return results


def _args(exc: Exception) -> dict:
    """Fill a catalogue message from an IRError: codes that take a name get the first `quoted` word."""
    from . import errorcodes

    code = getattr(exc, "code", "E0501")
    msg = str(exc)
    template = errorcodes.CATALOGUE[code].message
    args: dict = {}
    import re

    names = re.findall(r"`([^`]+)`", msg)
    for field_ in re.findall(r"{(\w+)", template):
        if field_ == "name":
            args["name"] = names[0] if names else "?"
        elif field_ == "feature":
            args["feature"] = msg
        elif field_ == "target":
            args["target"] = "NEST"
        else:
            args[field_] = msg
    return args


def interface_of(ir, registered: str, source: str) -> ModelInterface:
    """Defaults evaluated from the model (parameters first, then state) and the ports' receptors."""
    import sympy

    from .ir.lowering import DERIV_SUFFIX, sym

    values: dict = {sym("__h"): sympy.Float(0.1)}
    params: dict[str, VariableInfo] = {}
    for v in ir.parameters:
        params[v.name] = VariableInfo(v.unit, _evaluate(ir, v, values))
    state: dict[str, VariableInfo] = {}
    for v in ir.state:
        key = v.name + DERIV_SUFFIX * v.order
        state[key] = VariableInfo(v.unit, _evaluate(ir, v, values))
    recordables = [v.name + DERIV_SUFFIX * v.order for v in ir.state]
    recordables += [s for s in ir.ode_states if s not in recordables]
    for item in ir.model.equations:
        if isinstance(item, n.Inline) and item.recordable:
            recordables.append(item.name)
    recordables += [v.name for v in (*ir.parameters, *ir.internals) if v.recordable]
    spike_ports = {p.name: PortInfo(p.receptor, p.sign, p.unit) for p in ir.spike_ports}
    cont_ports = {p.name: PortInfo(p.receptor, None, p.unit) for p in ir.continuous_ports}
    from .analysis import ExactBlock

    solver = {}
    for block in ir.plan.blocks:
        method = "exact" if isinstance(block, ExactBlock) else block.method
        for s in block.states:
            solver[str(s)] = method
    return ModelInterface(ir.name, registered, ir.kind, source, params, state, recordables, spike_ports, cont_ports,
                          solver)


def _evaluate(ir, v, values: dict) -> float | None:
    import sympy

    from .ir.lowering import sym

    if v.init is None:
        value = 0.0
    else:
        try:
            expr = ir.lowerer(v.init).xreplace(values)
            expr = expr.replace(lambda e: isinstance(e, sympy.Function) and type(e).__name__ == "__nmlc_steps",
                                lambda e: sympy.Integer(round(float(e.args[0]) / 0.1)))
            value = float(expr.evalf())
        except (TypeError, ValueError, Exception):
            return None
    values[sym(v.name)] = sympy.Float(value)
    return value
