"""The neuron side of neuron-synapse co-generation for NEST.

States moved out of the paired synapses (postsynaptic traces) live in the neuron. They change only
at the neuron's own spikes, so the neuron does not integrate them every step: at each spike it
advances them exactly from the previous spike, applies the moved statements of every synapse once,
and appends a history entry with the values before and after (plus snapshots of the continuous
quantities synapses read). Synapses read the entries of the spikes that reach them, and the values
at any time between spikes by exact propagation from the entry before.

History pruning follows NEST's ArchivingNode: an entry is dropped only when every registered
synapse has read it (access counter) and the next entry is older than the longest registered delay
plus the minimal delay, so no synapse can still need it as "the last spike before t".
"""
from __future__ import annotations

from ...ir.synapse import CoGen
from .printer import NestCppPrinter, cpp_comment, cpp_string
from .statements import StatementPrinter
from .synapse_generator import exact_update_lines

_FUNCS = {"__nmlc_steps": "__nmlc_steps"}


def assign_offsets(cogens: list[CoGen]) -> tuple[int, int]:
    """Give each synapse its slice of the history entries; returns (moved states, continuous snapshots)."""
    k = m = 0
    for cg in cogens:
        cg.offset, cg.cont_offset = k, m
        k += len(cg.moved)
        m += len(cg.continuous)
    return k, m


def neuron_context(cogens: list[CoGen], neuron_cls: str, neuron_names: dict[str, str],
                   neuron_cpp) -> dict:
    """Template context for the co-generated neuron: extra parameters, members and functions.

    ``neuron_names`` is the neuron generator's name table; ``neuron_cpp(name)`` prints the C++
    value of a neuron state or inline (the continuous quantities synapses read).
    """
    n_moved, n_cont = assign_offsets(cogens)
    params, param_init, param_keys = [], [], []
    propagate, on_spike, init_lines, values_for, status, recordables = [], [], [], [], [], []
    cont_getters, cont_snap = [], []
    seen_cont: dict[str, int] = {}
    for cg in cogens:
        syn = cg.synapse.base
        rn = cg.rename
        # parameters the moved code reads, owned by the neuron now (settable with SetStatus)
        init_names = {v.name: rn.get(v.name, v.name) for v in cg.moved_params}
        ip = NestCppPrinter({**init_names, "__h": "nmlc_abi::resolution_ms()"}, _FUNCS)
        for v in cg.moved_params:
            name = rn[v.name]
            params.append({"name": name, "ctype": v.ctype, "key": cpp_string(name), "exposed": True,
                           "doc": cpp_comment(f"(from synapse {syn.name}) {v.comment}")})
            value = ip.doprint(syn.lowerer(v.init)) if v.init is not None else "0"
            param_init.append(f"{name} = {value};")
            param_keys.append(name)
        pnames = {v.name: f"P_.{rn[v.name]}" for v in cg.moved_params}
        # exact propagation of this synapse's moved states by __dt
        vnames = {x: f"__v[ {cg.offset + k} ]" for k, x in enumerate(cg.moved)}
        lines = exact_update_lines(syn.plan.blocks, set(cg.moved), {**pnames, **vnames}, "__dt", "Q")
        propagate.append({"name": syn.name, "lines": lines})
        # the moved statements, run once per neuron spike on the array of moved values
        sp = StatementPrinter(syn, {**pnames, **vnames, "__h": "V_.__h", "t": "__t_sp"}, _no_integrate,
                              _no_emit, syn.lowerer_resolve, {}, {})
        for s in cg.moved_stmts:
            on_spike += sp.stmt(s, 0)
        ipv = NestCppPrinter({**pnames, "__h": "nmlc_abi::resolution_ms()"}, _FUNCS)
        for k, x in enumerate(cg.moved):
            var = syn.variable(x)
            value = ipv.doprint(syn.lowerer(var.init)) if var is not None and var.init is not None else "0.0"
            init_lines.append(f"__mv_init[ {cg.offset + k} ] = {value};")
            status.append({"key": cpp_string(rn[x]), "index": cg.offset + k})
            recordables.append({"name": rn[x], "key": cpp_string(rn[x]), "index": cg.offset + k})
        values_for.append({"name": syn.name, "size": len(cg.moved), "offset": cg.offset})
        for var in cg.continuous.values():
            if var not in seen_cont:
                seen_cont[var] = len(cont_getters)
                cont_getters.append({"name": var, "expr": neuron_cpp(var)})
        for i, (port, var) in enumerate(cg.continuous.items()):
            cont_snap.append(f"__he.cont_[ {cg.cont_offset + i} ] = __cont_{var}_();")
    return {"n_moved": n_moved, "n_cont": n_cont, "params": params, "param_init": param_init,
            "propagate": propagate, "on_spike": on_spike, "init": init_lines, "values_for": values_for,
            "status": status, "recordables": recordables, "cont_getters": cont_getters, "cont_snap": cont_snap,
            "cls": neuron_cls}


def _no_integrate(requested: list[str]) -> list[str]:
    raise ValueError("integrate_odes() cannot be co-generated")


def _no_emit(args: list[str]) -> list[str]:
    raise ValueError("a synapse's postsynaptic statements cannot send spikes")


