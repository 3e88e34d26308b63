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


def compile_models(files: list[Path], diags: Diagnostics, namespace: str, name_suffix: str,
                   pairs: list[tuple[str, str]] | None = None) -> list[CompiledModel]:
    """Check, lower and render every model of ``files``, plus one co-generated neuron (with its synapses)
    per neuron named in ``pairs``. Errors go to ``diags``; a wrong pair raises :class:`NmlcError`."""
    from .analysis import AnalysisError
    from .ir.model import IRError, build_ir
    from .ir.synapse import build_synapse_ir
    from .targets.nest.builtin_names import nest_builtin_models
    from .targets.nest.generator import NeuronGenerator, check_identifiers
    from .targets.nest.synapse_generator import SynapseGenerator

    results: list[CompiledModel] = []
    seen: dict[str, Loc] = {}
    lowered: dict[str, tuple] = {}  # name -> (ir, synapse ir or None, conversions, path)
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
            try:
                ir = build_ir(model, kind, symbols, conversions)
                bad = check_identifiers(ir)
                for node, name in bad:
                    diags.report("E0600", node.loc, name=name, target="NEST (C++)",
                                 hint="rename it; names starting with `__` are reserved for nmlc")
                if bad:
                    continue
                if kind == "neuron":
                    gen = NeuronGenerator(ir, registered, namespace, conversions).render()
                    lowered[model.name] = (ir, None, conversions, path)
                    results.append(CompiledModel(ir, gen, interface_of(ir, registered, str(path))))
                    continue
                syn = build_synapse_ir(ir)
                lowered[model.name] = (ir, syn, conversions, path)
                if syn.continuous_ports:
                    # only usable co-generated with the neuron it reads from
                    if not any(model.name == pair[1] for pair in pairs or ()):
                        diags.report("W0107", model.loc, name=model.name, registered=registered,
                                     ports=", ".join(f"`{p}`" for p in syn.continuous_ports),
                                     hint=f"name a pair to build it: `nmlc build --pair NEURON:{model.name}` "
                                          f"or `nmlc.build(..., pairs=[(neuron, \"{model.name}\")])`")
                    continue
                sgen = SynapseGenerator(syn, registered, namespace, conversions)
                gen = sgen.render(would_move=_would_move(syn))
                results.append(CompiledModel(ir, gen, synapse_interface(syn, registered, str(path))))
            except IRError as exc:
                diag = diags.report(exc.code if exc.code.startswith("E05") or exc.code in (
                    "E0200", "E0202", "E0203", "E0204", "E0205", "E0207", "E0302", "E0304", "E0401", "E0602")
                    else "E0501", _loc(exc.node, model.loc), **_args(exc))
                if diag.code in ("E0304", "E0401"):
                    # these catalogue messages take fields an IRError does not carry: its own words say it
                    diag.message = str(exc)
                continue
            except AnalysisError as exc:
                diags.report("E0501", model.loc, detail=str(exc))
                continue
    if pairs and not diags.has_errors:
        results += _cogenerate(pairs, lowered, namespace, name_suffix, diags)
    return results


def _would_move(syn) -> set[str]:
    """States a co-generation would move out of ``syn`` (counted as trace updates when they stay)."""
    from .ir.synapse import post_only_states

    return set(post_only_states(syn))


def _cogenerate(pairs: list[tuple[str, str]], lowered: dict, namespace: str, name_suffix: str,
                diags: Diagnostics) -> list[CompiledModel]:
    """One co-generated neuron per distinct neuron of ``pairs``, with a connection class per paired synapse."""
    from .ir.model import IRError
    from .ir.synapse import PairingError, plan_cogeneration, resolve_clashes
    from .targets.nest.generator import GeneratedModel, NeuronGenerator
    from .targets.nest.synapse_generator import SynapseGenerator

    by_neuron: dict[str, list[str]] = {}
    for neuron, synapse in pairs:
        where = Loc(f"pair {neuron}:{synapse}", 0, 0)
        problem = _pair_problem(neuron, synapse, lowered, by_neuron)
        if problem:
            diags.report("E0604", where, detail=problem)
            continue
        by_neuron[neuron].append(synapse)
    out: list[CompiledModel] = []
    for neuron, synapses in by_neuron.items():
        nir, _, nconv, npath = lowered[neuron]
        cogens = []
        for s in synapses:
            try:
                cogens.append(plan_cogeneration(lowered[s][1], nir))
            except PairingError as exc:
                diags.report("E0603", lowered[s][0].model.loc, neuron=neuron, synapse=s, detail=str(exc))
        if len(cogens) < len(synapses):
            continue
        resolve_clashes(cogens)
        ncls = neuron + "".join(f"__with_{s}" for s in synapses)
        nreg = ncls + name_suffix
        try:
            ngen = NeuronGenerator(nir, nreg, namespace, nconv, cogens=cogens, cls=ncls).render()
            code = [ngen.code]
            syn_results = []
            for cg in cogens:
                s = cg.synapse.name
                sir, syn, sconv, spath = lowered[s]
                scls = f"{s}__with_{neuron}"
                sreg = scls + name_suffix
                sgen = SynapseGenerator(syn, sreg, namespace, sconv, cls=scls, cogen=cg, neuron_cls=ncls)
                g = sgen.render(standalone=False)
                code.append(g.code)
                syn_results.append(CompiledModel(sir, GeneratedModel(scls, sreg, scls, "", ""),
                                                 synapse_interface(syn, sreg, str(spath), cg, scls, nreg)))
        except IRError as exc:
            diags.report(exc.code, _loc(exc.node, nir.model.loc), **_args(exc))
            continue
        gen = GeneratedModel(ncls, nreg, ncls, f"{ncls}.cpp", "\n".join(code))
        info = interface_of(nir, nreg, str(npath))
        info.name = ncls
        _add_moved(info, cogens)
        out.append(CompiledModel(nir, gen, info))
        out += syn_results
    return out


def _pair_problem(neuron: str, synapse: str, lowered: dict, by_neuron: dict[str, list[str]]) -> str | None:
    """Why (neuron, synapse) cannot be a pair of this input, or None; registers the neuron in ``by_neuron``."""
    for name, role in ((neuron, "neuron"), (synapse, "synapse")):
        if name not in lowered:
            known = ", ".join(sorted(k for k, v in lowered.items() if (v[1] is None) == (role == "neuron")))
            return f"no {role} model `{name}` in the input files (found {role}s: {known or 'none'})"
    if lowered[neuron][1] is not None:
        return f"`{neuron}` is a synapse; a pair is (neuron, synapse)"
    if lowered[synapse][1] is None:
        return f"`{synapse}` is a neuron; a pair is (neuron, synapse)"
    if synapse in by_neuron.setdefault(neuron, []):
        return "the pair is named twice"
    return None


def _add_moved(info: ModelInterface, cogens) -> None:
    """The co-generated neuron's interface: the moved parameters and states, and which synapses it serves."""
    for cg in cogens:
        syn = cg.synapse.base
        values = _defaults(syn)
        for v in cg.moved_params:
            info.parameters[cg.rename[v.name]] = VariableInfo(v.unit, values.get(v.name))
        for x in cg.moved:
            var = syn.variable(x)
            info.state[cg.rename[x]] = VariableInfo(var.unit if var else "", values.get(x))
            info.recordables.append(cg.rename[x])
        info.cogeneration.setdefault("synapses", []).append(cg.synapse.name)
        info.cogeneration.setdefault("moved", {})[cg.synapse.name] = {x: cg.rename[x] for x in cg.moved}
    info.cogeneration["neuron"] = cogens[0].neuron.name


def _defaults(ir) -> dict[str, float | None]:
    import sympy

    from .ir.lowering import sym

    values: dict = {sym("__h"): sympy.Float(0.1)}
    out = {}
    for v in (*ir.parameters, *ir.state):
        out[v.name] = _evaluate(ir, v, values)
    return out


def synapse_interface(syn, registered: str, source: str, cogen=None, cls: str | None = None,
                      neuron_registered: str | None = None) -> ModelInterface:
    """A synapse's interface in NEST's terms: ``weight`` and ``delay`` plus its own parameters and state
    (``parameters`` lists every settable connection property, state included)."""
    ir = syn.base
    values = _defaults(ir)
    params: dict[str, VariableInfo] = {}
    wvar = ir.variable(syn.weight_var)
    params["weight"] = VariableInfo(wvar.unit if wvar else "", values.get(syn.weight_var))
    if syn.delay_param:
        params["delay"] = VariableInfo("ms", values.get(syn.delay_param))
    moved = set(cogen.moved) if cogen else set()
    for v in ir.parameters:
        if v.name not in (syn.delay_param,):
            params[v.name] = VariableInfo(v.unit, values.get(v.name))
    state = {v.name: VariableInfo(v.unit, values.get(v.name)) for v in ir.state
             if v.order == 0 and v.name not in moved}
    # a connection's state is set like its parameters (syn_spec, SetDefaults, set()), so both are listed
    params.update({k: v for k, v in state.items() if k not in params})
    spike_ports = {p.name: PortInfo(p.receptor, None, p.unit) for p in ir.spike_ports}
    cont_ports = {p.name: PortInfo(p.receptor, None, p.unit) for p in ir.continuous_ports}
    solver = {str(k): v for k, v in ir.plan.reasons.items()}
    roles = {"pre": syn.pre_port, "post": syn.post_port, "mod": syn.mod_ports[0] if syn.mod_ports else None,
             "weight": syn.weight_var, "delay": syn.delay_param}
    cg: dict = {"roles": roles}
    if cogen is not None:
        cg.update({"neuron": cogen.neuron.name, "neuron_model": neuron_registered, "moved": list(cogen.moved),
                   "renamed": dict(cogen.rename)})
    return ModelInterface(cls or ir.name, registered, "synapse", source, params, state, [], spike_ports,
                          cont_ports, solver, cg)


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
                          solver, {})


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
