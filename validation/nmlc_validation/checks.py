"""Semantic checks of a spec against the built model's interface and against NEST's built-in models.

These run once the model under test exists (after ``nmlc.build``): unknown ports, variables, parameters,
reference models and parameter-map entries are reported with file, line and YAML path like schema errors.
"""
from __future__ import annotations

import difflib
from typing import Any, Iterable

from .adapter import Subject, _nest
from .exprs import free_names
from .spec import MOD_PORT, PRE_PORT, Spec

_SPIKE_STIMULI = ("spike_train", "poisson")


def _known(names: Iterable[str]) -> str:
    names = sorted(names)
    return ", ".join(names) if names else "none"


def _hint(name: str, names: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(names), n=1)
    return f"did you mean '{close[0]}'? " if close else ""


def check_against_subject(spec: Spec, subject: Subject) -> None:
    """Add every interface problem of ``spec`` to ``spec.issues`` (once per spec)."""
    if spec.interface_checked:
        return
    spec.interface_checked = True
    n = subject.neuron
    label = subject.label
    spike_ports, current_ports = set(n.spike_ports), set(n.current_ports)
    if subject.kind == "synapse":
        spike_ports_with_pre = spike_ports | {PRE_PORT}
        syn_params = set(subject.synapse_parameters)
    else:
        spike_ports_with_pre = spike_ports
        syn_params = set()
    neuron_params = set(n.parameters)
    model_params = syn_params if subject.kind == "synapse" else neuron_params

    def check_params(values: dict, path: tuple, known: set, what: str) -> None:
        for key in values:
            if key not in known:
                spec.issue(path + (key,), f"unknown {what} parameter '{key}' ({_hint(key, known)}model '{label}' "
                           f"has: {_known(known)})")

    if subject.kind == "synapse" and spec.model is not None and spec.model.target_port not in spike_ports:
        spec.issue(("model", "target_port"), f"unknown spike port '{spec.model.target_port}' of the neuron "
                   f"(has: {_known(spike_ports)})")
    check_params(spec.parameters, ("parameters",), model_params, "synapse" if subject.kind == "synapse" else "model")
    check_params(spec.neuron_parameters, ("neuron_parameters",), neuron_params, "neuron")

    for cname, case in spec.cases.items():
        base = ("cases", cname)
        raw_case = spec.raw["cases"][cname]
        check_params(raw_case.get("parameters", {}), base + ("parameters",), model_params,
                     "synapse" if subject.kind == "synapse" else "model")
        check_params(raw_case.get("neuron_parameters", {}), base + ("neuron_parameters",), neuron_params, "neuron")
        for stim in case.stimuli:
            port = stim.params["port"]
            if subject.kind == "synapse" and port == MOD_PORT:
                if not subject.neuromodulated:
                    spec.issue(stim.path + ("port",), f"port '{MOD_PORT}' sends neuromodulator spikes through a "
                               f"volume transmitter, but synapse '{label}' has no neuromodulatory input (a spike "
                               f"port that is neither its pre- nor its postsynaptic port)")
                continue
            if stim.kind in _SPIKE_STIMULI:
                if port not in spike_ports_with_pre:
                    wrong = " (it is a current port)" if port in current_ports else ""
                    spec.issue(stim.path + ("port",), f"unknown spike port '{port}'{wrong} "
                               f"({_hint(port, spike_ports_with_pre)}model '{label}' has spike ports: "
                               f"{_known(spike_ports_with_pre)})")
                    continue
                if port != PRE_PORT:
                    _check_weight_sign(spec, stim.path, stim.params, n.spike_ports[port].sign, port)
            elif port not in current_ports:
                wrong = " (it is a spike port)" if port in spike_ports else ""
                spec.issue(stim.path + ("port",), f"unknown current port '{port}'{wrong} "
                           f"({_hint(port, current_ports)}model '{label}' has current ports: {_known(current_ports)})")
        for i, var in enumerate(case.record.variables):
            if var not in n.recordables:
                spec.issue(base + ("record", "variables", i), f"unknown variable '{var}' ({_hint(var, n.recordables)}"
                           f"model '{label}' records: {_known(n.recordables)})")
        for exp in case.expectations:
            p = exp.params
            if exp.kind == "fi_curve" and p["port"] not in current_ports:
                spec.issue(exp.path + ("port",), f"unknown current port '{p['port']}' (model '{label}' has current "
                           f"ports: {_known(current_ports)})")
            if exp.kind == "stdp_window":
                if p["drive_port"] not in spike_ports:
                    spec.issue(exp.path + ("drive_port",), f"unknown spike port '{p['drive_port']}' of the neuron "
                               f"(has: {_known(spike_ports)})")
                else:
                    _check_weight_sign(spec, exp.path, {"weight": p["drive_weight"]},
                                       n.spike_ports[p["drive_port"]].sign, p["drive_port"], key="drive_weight")
            if exp.kind == "expression":
                known = set(n.parameters) | set(syn_params) | set(p.get("constants", {})) | {"t"}
                for name in sorted(free_names(p["expr"]) - known):
                    spec.issue(exp.path + ("expr",), f"unknown name '{name}' in expression ({_hint(name, known)}"
                               f"use t, constants or a model parameter)")
    _check_references(spec, subject)


def _check_weight_sign(spec: Spec, path: tuple, params: dict, sign: str | None, port: str,
                       key: str = "weight") -> None:
    weights = params.get(key)
    if weights is None or sign is None:
        return
    values = weights if isinstance(weights, list) else [weights]
    if sign == "excitatory" and any(w < 0 for w in values):
        spec.issue(path + (key,), f"port '{port}' is excitatory: NEST routes negative weights to the inhibitory "
                   f"port, so weights here must be >= 0")
    if sign == "inhibitory" and any(w > 0 for w in values):
        spec.issue(path + (key,), f"port '{port}' is inhibitory: NEST routes it by sign, so give its weights "
                   f"as negative numbers")


def _check_references(spec: Spec, subject: Subject) -> None:
    nest = _nest()
    all_ports = set(subject.neuron.spike_ports) | set(subject.neuron.current_ports)
    model_names: set[str] = set(subject.neuron.parameters)
    synapse_names: set[str] = set(subject.synapse_parameters)
    for name, ref in spec.references.items():
        if ref.kind != "nest_builtin":
            continue
        base = ("references", name)
        d = ref.data
        if subject.kind == "synapse":
            syn, neuron = d["nest_builtin"], d.get("neuron")
            if syn not in nest.synapse_models:
                spec.issue(base + ("nest_builtin",), f"unknown model: NEST has no built-in synapse '{syn}' "
                           f"({_hint(syn, nest.synapse_models)}see nest.synapse_models)")
                continue
            if neuron not in nest.node_models:
                spec.issue(base + ("neuron",), f"unknown model: NEST has no built-in neuron '{neuron}' "
                           f"({_hint(str(neuron), nest.node_models)}see nest.node_models)")
                continue
            _check_map(spec, base + ("parameters",), d.get("parameters", {}), nest.GetDefaults(syn), synapse_names, syn)
            _check_map(spec, base + ("neuron_parameters",), d.get("neuron_parameters", {}),
                       nest.GetDefaults(neuron), model_names, neuron)
            neuron_model = neuron
        else:
            model = d["nest_builtin"]
            if model not in nest.node_models:
                spec.issue(base + ("nest_builtin",), f"unknown model: NEST has no built-in neuron '{model}' "
                           f"({_hint(model, nest.node_models)}see nest.node_models)")
                continue
            _check_map(spec, base + ("parameters",), d.get("parameters", {}), nest.GetDefaults(model), model_names,
                       model)
            neuron_model = model
        recordables = [str(r) for r in nest.GetDefaults(neuron_model).get("recordables", [])]
        for var, ref_var in d.get("variables", {}).items():
            if ref_var not in recordables:
                spec.issue(base + ("variables", var), f"'{neuron_model}' does not record '{ref_var}' "
                           f"(records: {_known(recordables)})")
        for port in d.get("ports", {}):
            if port not in all_ports:
                spec.issue(base + ("ports", port), f"unknown port '{port}' (model '{subject.label}' has: "
                           f"{_known(all_ports)})")


def _check_map(spec: Spec, path: tuple, mapping: dict, ref_defaults: dict[str, Any], model_names: set[str],
               ref_model: str) -> None:
    for ref_key, source in mapping.items():
        if ref_key not in ref_defaults:
            spec.issue(path + (ref_key,), f"'{ref_model}' has no parameter '{ref_key}' "
                       f"({_hint(ref_key, ref_defaults)}see nest.GetDefaults('{ref_model}'))")
        if isinstance(source, str) and source not in model_names:
            spec.issue(path + (ref_key,), f"'{source}' is not a parameter of the model under test "
                       f"({_hint(source, model_names)}give a model parameter name or a number)")
