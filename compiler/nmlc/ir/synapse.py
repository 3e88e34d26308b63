"""The synapse view of a model IR: port roles, weight and delay, and the neuron-synapse co-generation plan.

A synapse sees three kinds of spike input: the presynaptic spikes (the port whose handler sends the
spike on with ``deliver_spike``/``emit_spike``), the postsynaptic neuron's own spikes (a port named
``post_spikes``, or any port whose name starts with ``post``) and neuromodulatory spikes (any other
spike port, delivered through a volume transmitter). Continuous inputs are quantities read from the
postsynaptic neuron.

Co-generation moves synapse state that depends only on postsynaptic spikes (a post trace such as
``tr_post``) into the paired neuron, where it is updated once per neuron spike instead of once per
synapse; :func:`plan_cogeneration` decides which states can move and splits the post handler.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sympy

from ..syntax import nodes as n
from .lowering import DERIV_SUFFIX
from .model import IRError, ModelIR, Variable


class PairingError(Exception):
    """A neuron-synapse pair that cannot be co-generated; the message says why."""


@dataclass
class SynapseIR:
    """Roles of a synapse model's ports and variables, on top of its :class:`ModelIR`."""

    base: ModelIR
    pre_port: str
    post_port: str | None
    mod_ports: list[str]
    continuous_ports: list[str]
    weight_var: str  # a state or parameter; NEST's "weight"
    weight_kind: str  # "state" | "parameter"
    delay_param: str | None  # the parameter standing for NEST's connection delay
    handlers: dict[str, n.OnReceive]
    update: list[n.Stmt] | None

    @property
    def name(self) -> str:
        return self.base.name


def _names_read(node: n.Node) -> set[str]:
    return {x.name for x in node.walk() if isinstance(x, n.Name)}


def _sends(stmts: list[n.Stmt]) -> list[n.Call]:
    out = []
    for s in stmts:
        for x in s.walk():
            if isinstance(x, n.Call) and x.func in ("deliver_spike", "emit_spike"):
                out.append(x)
    return out


def build_synapse_ir(ir: ModelIR) -> SynapseIR:
    """Find the roles of a synapse's ports and variables; raises :class:`IRError` with the node to blame."""
    model = ir.model
    handlers = {h.port: h for h in model.blocks_of(n.OnReceive)}
    spike_ports = [p.name for p in ir.spike_ports]
    senders = [p for p in spike_ports if p in handlers and _sends(handlers[p].body)]
    if len(senders) > 1:
        raise IRError(handlers[senders[1]], f"only the presynaptic handler may send the spike on, but "
                                            f"`onReceive({senders[0]})` and `onReceive({senders[1]})` both do",
                      "E0401")
    if senders:
        pre = senders[0]
    elif "pre_spikes" in spike_ports:
        pre = "pre_spikes"
    else:
        raise IRError(model, f"synapse `{ir.name}` has no presynaptic port: name a spike input `pre_spikes` "
                             "and send the spike on in its handler with deliver_spike(w, d)", "E0401")
    for block in (*model.blocks_of(n.UpdateBlock), *[h for p, h in handlers.items() if p != pre]):
        sends = _sends(block.body)
        if sends:
            raise IRError(sends[0], "a synapse sends its spike on only in the presynaptic handler "
                                    f"`onReceive({pre})`", "E0401")
    if model.blocks_of(n.OnCondition):
        raise IRError(model.blocks_of(n.OnCondition)[0], "onCondition is not supported in synapses by the NEST "
                                                         "target (synapses are updated only at spike times)", "E0602")
    others = [p for p in spike_ports if p != pre]
    post_candidates = [p for p in others if p == "post_spikes" or p.startswith("post")]
    if len(post_candidates) > 1:
        raise IRError(model, f"synapse `{ir.name}` has several postsynaptic spike ports "
                             f"({', '.join(post_candidates)}); keep one", "E0401")
    post = post_candidates[0] if post_candidates else None
    mods = [p for p in others if p != post]
    if len(mods) > 1:
        raise IRError(model, f"synapse `{ir.name}` has several neuromodulatory spike ports ({', '.join(mods)}); "
                             "the NEST target supports one (a volume transmitter)", "E0602")
    for p in ir.spike_ports:
        if p.size is not None:
            raise IRError(p.node or model, "vector spike ports are not supported in synapses", "E0602")
    sends = _sends(handlers[pre].body) if pre in handlers else []
    weight_var, weight_kind, delay = _weight_and_delay(ir, sends)
    for call in sends:
        if len(call.args) == 2:
            d = call.args[1]
            if not (isinstance(d, n.Name) and d.name == delay):
                raise IRError(d, "the delay of deliver_spike()/emit_spike() must be the synapse's delay parameter "
                                 f"`{delay}` (NEST delivers with the connection's delay)", "E0602")
    upd = model.blocks_of(n.UpdateBlock)
    return SynapseIR(ir, pre, post, mods, [p.name for p in ir.continuous_ports], weight_var, weight_kind, delay,
                     handlers, upd[0].body if upd else None)


def _weight_and_delay(ir: ModelIR, sends: list[n.Call]) -> tuple[str, str, str | None]:
    state = {v.name for v in ir.state}
    params = {v.name for v in ir.parameters}
    weight = None
    for call in sends:
        if call.args and isinstance(call.args[0], n.Name) and call.args[0].name in state | params:
            weight = call.args[0].name
            break
    if weight is None:
        for cand in ("w", "weight"):
            if cand in state | params:
                weight = cand
                break
    if weight is None:
        raise IRError(ir.model, f"synapse `{ir.name}` has no weight variable: declare `w` (state or parameter) "
                                "or pass a variable as the first argument of deliver_spike()", "E0401")
    delay = None
    for call in sends:
        if len(call.args) == 2 and isinstance(call.args[1], n.Name) and call.args[1].name in params:
            delay = call.args[1].name
            break
    if delay is None:
        for cand in ("d", "delay"):
            if cand in params:
                delay = cand
                break
    var = ir.variable(weight)
    if var is not None and var.ctype != "double":
        raise IRError(var.decl, f"the weight `{weight}` must be a real number", "E0602")
    return weight, ("state" if weight in state else "parameter"), delay


# --------------------------------------------------------------------------------- co-generation
@dataclass
class CoGen:
    """What moves from one synapse into its paired neuron, and how the synapse reads it back."""

    synapse: SynapseIR
    neuron: ModelIR
    moved: list[str]  # synapse state names (ODE order 0) moved into the neuron, in declaration order
    moved_params: list[Variable]  # synapse parameters the moved code reads (copied into the neuron)
    moved_stmts: list[n.Stmt]  # post-handler statements executed by the neuron at each of its spikes
    kept_post: list[tuple[n.Stmt, set[str]]]  # the rest of the post handler; per statement the moved
    #                                            variables it must read *after* this spike's update
    rename: dict[str, str]  # synapse name -> member name in the neuron (moved states and parameters)
    blocks: list = field(default_factory=list)  # ExactBlocks of the moved states
    continuous: dict[str, str] = field(default_factory=dict)  # synapse continuous port -> neuron variable
    offset: int = 0  # index of the first moved state in the neuron's history entries
    cont_offset: int = 0


def _assigned(stmts: list[n.Stmt]) -> set[str]:
    return {x.target.name for s in stmts for x in s.walk() if isinstance(x, n.Assign)}


def post_only_states(syn: SynapseIR) -> list[str]:
    """The synapse states that depend only on postsynaptic spikes (movable into the neuron), in order.

    A state qualifies when it is not the weight, is assigned in the post handler and only there, by
    top-level statements that read nothing but such states and parameters; when neither the update
    block nor the ODE of a state that stays reads it; and when its ODEs form exactly solvable blocks
    of such states only. Handlers may read it: the synapse reads it back from the neuron.
    """
    from ..analysis import ExactBlock

    ir = syn.base
    if syn.post_port is None:
        return []
    post_body = syn.handlers[syn.post_port].body if syn.post_port in syn.handlers else []
    state_names = [v.name for v in ir.state if v.order == 0]
    # where each state is assigned: only top-level assignments in the post handler may move
    elsewhere: set[str] = set()
    for p, h in syn.handlers.items():
        if p != syn.post_port:
            elsewhere |= _assigned(h.body)
    if syn.update is not None:
        elsewhere |= _assigned(syn.update)
    for f in ir.model.functions:
        elsewhere |= _assigned(f.body)
    nested = {x.target.name for s in post_body if not isinstance(s, n.Assign) for x in s.walk()
              if isinstance(x, n.Assign)}
    # reads outside the post handler that must stay in the synapse: the update block (other than
    # integrate_odes) and the ODEs of states that would stay
    update_reads: set[str] = set()
    for s in syn.update or []:
        if isinstance(s, n.CallStmt) and s.call.func == "integrate_odes":
            continue
        update_reads |= _names_read(s)
    block_of: dict[str, object] = {}
    for b in ir.plan.blocks:
        for s in b.states:
            block_of[str(s)] = b
    top = {s.target.name for s in post_body if isinstance(s, n.Assign)}
    cands = {x for x in state_names if x != syn.weight_var and x in top and x not in elsewhere and x not in nested
             and x not in update_reads}
    locals_: set[str] = {dn.name for s in post_body if isinstance(s, n.Declaration) for dn in s.names}
    changed = True
    while changed:
        changed = False
        for x in sorted(cands):
            ok = True
            b = block_of.get(x)
            if b is not None and (not isinstance(b, ExactBlock) or any(str(s) not in cands for s in b.states)):
                ok = False
            for s in post_body:
                if isinstance(s, n.Assign) and s.target.name == x:
                    reads = _names_read(s.value)
                    # `t` differs by the delay between the neuron's and the synapse's clocks
                    if reads & locals_ or "t" in reads or any(r in state_names and r not in cands for r in reads):
                        ok = False
                    if any(isinstance(e, n.Attr) or (isinstance(e, n.Call) and e.func not in _PURE)
                           for e in s.value.walk()):
                        ok = False
            # the ODE of a state that stays must not read x
            for s, rhs in ir.odes.items():
                if str(s) not in cands and rhs.has(sympy.Symbol(x)):
                    ok = False
            if not ok:
                cands.discard(x)
                changed = True
    return [x for x in state_names if x in cands]


def plan_cogeneration(syn: SynapseIR, neuron: ModelIR) -> CoGen:
    """Decide which synapse states move into ``neuron``; raises :class:`PairingError` for a wrong pair."""
    ir = syn.base
    if syn.post_port is None:
        raise PairingError(f"synapse `{ir.name}` has no postsynaptic spike port (`post_spikes`), so there is "
                           f"nothing to co-generate with neuron `{neuron.name}`")
    if not neuron.has_spike_output:
        raise PairingError(f"neuron `{neuron.name}` has no spike output (`output: spike`), so it cannot drive "
                           f"the postsynaptic port `{syn.post_port}` of synapse `{ir.name}`")
    if neuron.kind != "neuron":
        raise PairingError(f"`{neuron.name}` is a {neuron.kind}, not a neuron")
    cands = set(post_only_states(syn))
    post_body = syn.handlers[syn.post_port].body if syn.post_port in syn.handlers else []
    params = {v.name for v in ir.parameters} | {v.name for v in ir.internals}
    state_names = [v.name for v in ir.state if v.order == 0]
    moved = [x for x in state_names if x in cands]
    moved_stmts = [s for s in post_body if isinstance(s, n.Assign) and s.target.name in cands]
    kept: list[tuple[n.Stmt, set[str]]] = []
    done: set[str] = set()
    for s in post_body:
        if isinstance(s, n.Assign) and s.target.name in cands:
            done.add(s.target.name)
        else:
            kept.append((s, set(done)))
    used_params: set[str] = set()
    for s in moved_stmts:
        used_params |= _names_read(s.value) & params
    for x in moved:
        rhs = ir.odes.get(sympy.Symbol(x))
        if rhs is not None:
            used_params |= {str(f) for f in rhs.free_symbols} & params
        var = ir.variable(x)
        if var is not None and var.init is not None:
            used_params |= _names_read(var.init) & params
    used_params -= {syn.delay_param} if syn.delay_param else set()
    moved_params = [v for v in (*ir.parameters, *ir.internals) if v.name in used_params]
    # internals that moved code reads must be derivable in the neuron: keep it simple and refuse
    for v in moved_params:
        if v.kind == "internal":
            raise PairingError(f"synapse `{ir.name}`: the postsynaptic trace code reads the internal `{v.name}`; "
                               "make it a parameter to co-generate with a neuron")
    neuron_names = {s.name for s in neuron.symbols.symbols.values()} | set(neuron.ode_states) | _NODE_KEYS
    rename: dict[str, str] = {}
    for name in [*moved, *[v.name for v in moved_params]]:
        rename[name] = name if name not in neuron_names else f"{name}__for_{ir.name}"
    # (names shared by several synapses of one neuron are made distinct by resolve_clashes)
    blocks = []
    for b in ir.plan.blocks:
        if any(str(s) in cands for s in b.states) and b not in blocks:
            blocks.append(b)
    continuous: dict[str, str] = {}
    for port in syn.continuous_ports:
        target = _neuron_quantity(neuron, port)
        if target is None:
            raise PairingError(f"synapse `{ir.name}` reads the continuous input `{port}` from its postsynaptic "
                               f"neuron, but neuron `{neuron.name}` has no state variable or inline `{port}`")
        continuous[port] = target
    return CoGen(syn, neuron, moved, moved_params, moved_stmts, kept, rename, blocks, continuous)


#: status keys NEST's ArchivingNode (the co-generated neuron's base) already uses
_NODE_KEYS = {"tau_minus", "tau_minus_triplet", "t_spike", "post_trace", "archiver_length", "Ca", "tau_Ca",
              "beta_Ca", "synaptic_elements", "recordables", "post_trace_updates", "frozen", "global_id", "model",
              "local", "thread", "vp", "element_type", "node_uses_wfr", "thread_local_id", "model_id"}

_PURE = {"exp", "ln", "log", "log10", "expm1", "sqrt", "abs", "min", "max", "clip", "pow", "tanh", "sinh", "cosh",
         "floor", "ceil", "sign", "heaviside", "round", "erf", "erfc", "sin", "cos", "tan"}


def _neuron_quantity(neuron: ModelIR, name: str) -> str | None:
    """The neuron variable a synapse's continuous input ``name`` reads: a state, ODE state or inline."""
    if name in neuron.inlines:
        return name
    for v in neuron.state:
        if v.name + DERIV_SUFFIX * v.order == name:
            return name
    if name in neuron.ode_states:
        return name
    return None


def resolve_clashes(cogens: list[CoGen]) -> None:
    """Give moved states and parameters that several synapses of one neuron share distinct names.

    A name moved by one synapse only keeps its name (``tr_post``); shared names get the synapse's
    name appended (``tr_post__for_stdp_synapse``), so each synapse keeps its own copy.
    """
    count: dict[str, int] = {}
    for cg in cogens:
        for target in set(cg.rename.values()):
            count[target] = count.get(target, 0) + 1
    for cg in cogens:
        for name, target in list(cg.rename.items()):
            if count[target] > 1:
                cg.rename[name] = f"{name}__for_{cg.synapse.name}"
