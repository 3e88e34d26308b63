"""Build the target-independent model IR from a parsed (and checked) model.

The IR holds what every target needs and nothing target-specific: variables by role, the
ODEs as a first-order sympy system (inlines substituted, higher orders reduced, kernels turned
into states with their spike jumps), the solver plan chosen by :mod:`nmlc.analysis`, and the
syntax tree of the event handlers for the target's statement printer.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import sympy

from .. import analysis
from ..diagnostics import Loc
from ..semantics import units as U
from ..semantics.symbols import ModelSymbols, collect
from ..syntax import nodes as n
from .lowering import CONV_SEPARATOR, DERIV_SUFFIX, Lowerer, LoweringError, state_symbol, sym

TIME = sym("t")
H = sym("__h")


@dataclass
class Variable:
    """A parameter, state variable or internal of the model."""

    name: str
    kind: str  # parameter | state | internal
    decl: n.Declaration
    type: n.TypeExpr
    ctype: str  # double | long | bool | string
    unit: str  # as declared ("mV"), or "" for dimensionless/primitive
    init: n.Expr | None
    size: n.Expr | None = None
    recordable: bool = False
    order: int = 0  # >0 for the derivative of a state (x' declared as a state)

    @property
    def comment(self) -> str:
        return self.decl.comment or ""


@dataclass
class KernelState:
    """The state(s) of one convolution ``convolve(kernel, port)``, with the jump a spike causes."""

    kernel: str
    port: str
    base: str  # e.g. "I_kernel__X__spikes"
    states: list[str]  # base, base__d, ...
    jumps: list[sympy.Expr]  # added to each state, times the spike weight


@dataclass
class DeltaJump:
    """``convolve(delta_kernel, port)`` inside the ODE of ``target``: a direct jump of ``coefficient * w``."""

    port: str
    target: str
    coefficient: sympy.Expr


@dataclass
class Port:
    name: str
    kind: str  # spike | continuous
    receptor: int
    sign: str | None = None  # excitatory | inhibitory | None
    size: n.Expr | None = None
    unit: str = ""
    node: n.InputPort | None = None


@dataclass
class ModelIR:
    name: str
    kind: str  # neuron | synapse
    model: n.Model
    symbols: ModelSymbols
    docstring: str
    parameters: list[Variable]
    state: list[Variable]
    internals: list[Variable]
    ode_states: list[str]  # every state integrated by integrate_odes (user ODE states first, then kernel states)
    odes: dict[sympy.Symbol, sympy.Expr]
    inlines: dict[str, sympy.Expr]
    kernel_states: list[KernelState]
    delta_jumps: list[DeltaJump]
    plan: object  # analysis.SolverPlan
    spike_ports: list[Port]
    continuous_ports: list[Port]
    has_spike_output: bool
    lowerer: Lowerer = field(repr=False, default=None)  # type: ignore[assignment]
    lowerer_resolve: object = field(repr=False, default=None)  # name -> sympy value, for targets' statement printers

    def variable(self, name: str) -> Variable | None:
        for v in (*self.parameters, *self.state, *self.internals):
            if v.name == name:
                return v
        return None

    @property
    def multi_receptor(self) -> bool:
        return len({p.receptor for p in self.spike_ports}) > 1


class IRError(Exception):
    def __init__(self, node: n.Node, message: str, code: str = "E0501"):
        super().__init__(message)
        self.node = node
        self.code = code


def _ctype(type_: n.TypeExpr) -> str:
    return {"integer": "long", "boolean": "bool", "string": "std::string"}.get(type_.primitive or "", "double")


def _variables(model: n.Model, block_kind: str, kind: str) -> list[Variable]:
    out = []
    for decl in model.declarations(block_kind):
        for dn in decl.names:
            unit = "" if decl.type.primitive else decl.type.text
            out.append(Variable(dn.name, kind, decl, decl.type, _ctype(decl.type), unit, decl.init, dn.size,
                                decl.recordable or kind == "state", getattr(dn, "order", 0)))
    return out


def _ports(model: n.Model) -> tuple[list[Port], list[Port]]:
    spikes = [p for p in model.input_ports if p.kind == "spike"]
    currents = [p for p in model.input_ports if p.kind == "continuous"]
    # Ports that share receptor 0 by sign: an excitatory/inhibitory pair; otherwise one plain port
    # is receptor 0 and several plain ports are numbered from 1, as NEST's multisynapse models do.
    signed = [p for p in spikes if p.qualifiers]
    plain = [p for p in spikes if not p.qualifiers]
    out: list[Port] = []
    if plain and not signed and len(plain) == 1 and plain[0].size is None:
        out.append(Port(plain[0].name, "spike", 0, None, None, _unit(plain[0]), plain[0]))
    else:
        for p in signed:
            sign = "inhibitory" if "inhibitory" in p.qualifiers and "excitatory" not in p.qualifiers else "excitatory"
            if "inhibitory" in p.qualifiers and "excitatory" in p.qualifiers:
                sign = None
            out.append(Port(p.name, "spike", 0, sign, p.size, _unit(p), p))
        first = 1 if (signed or len(plain) > 1 or any(p.size is not None for p in plain)) else 0
        for i, p in enumerate(plain):
            out.append(Port(p.name, "spike", first + i, None, p.size, _unit(p), p))
    cont = [Port(p.name, "continuous", i, None, p.size, _unit(p), p) for i, p in enumerate(currents)]
    return out, cont


def event_attribute_is_weight(port: n.InputPort, attr: str) -> bool:
    """Whether ``port.attr`` is the number a NEST spike event carries: its weight, spelt ``weight`` or
    as the port's first (or only) declared attribute (``spike_in_port <- spike(psp mV)``)."""
    names = [a.name for a in port.attributes]
    return attr == "weight" and "weight" not in names[1:] or bool(names) and names[0] == attr


def _unit(port: n.InputPort) -> str:
    return port.type.text if port.type is not None and port.type.primitive is None else ""


class _Builder:
    def __init__(self, model: n.Model, symbols: ModelSymbols, conversions: dict[int, float]):
        self.model = model
        self.symbols = symbols
        self.conversions = conversions
        self.inline_nodes = {i.name: i for i in model.equations if isinstance(i, n.Inline)}
        self.inline_cache: dict[str, sympy.Expr] = {}
        self.inline_stack: list[str] = []
        self.kernels: dict[str, n.Kernel] = {}
        for item in model.equations:
            if isinstance(item, n.Kernel):
                for lhs, _ in item.parts:
                    self.kernels.setdefault(lhs.name, item)
        self.kernel_states: dict[tuple[str, str], KernelState] = {}
        self.delta_markers: dict[sympy.Symbol, tuple[str, str]] = {}
        self.kernel_scope: dict[str, str] = {}  # while lowering an ODE-form kernel: its names -> convolution bases
        self.functions = {f.name: f for f in model.functions}
        self.local_frames: list[dict[str, sympy.Expr]] = []
        self.lower = Lowerer(self.resolve, conversions, self.convolve, self.call_user)

    # --- name resolution for equations
    def resolve(self, node: n.Name | n.Attr) -> sympy.Expr:
        if isinstance(node, n.Attr):
            port = self.symbols.get(node.obj.name)
            if port is None or port.kind != "spike_port" or not isinstance(port.node, n.InputPort):
                raise IRError(node, f"`{node.obj.name}` is not a spike input port", "E0203")
            if not event_attribute_is_weight(port.node, node.attr):
                raise IRError(node, f"`{node.obj.name}.{node.attr}`: NEST spike events carry one number, the "
                                    f"weight, which is the port's first attribute", "E0602")
            # in an equation the attribute is a train of Dirac deltas: a jump by its value at each spike
            marker = sym(f"__delta__{node.obj.name}__{node.attr}")
            self.delta_markers[marker] = (f"{node.obj.name}.{node.attr}", node.obj.name)
            return marker
        name = node.name
        for frame in reversed(self.local_frames):
            if name in frame:
                return frame[name]
        s = self.symbols.get(name)
        if s is not None:
            if s.kind == "state":
                return state_symbol(name, node.order)
            if s.kind in ("parameter", "internal", "continuous_port"):
                return sym(name)
            if s.kind == "inline":
                return self.inline(name, node)
            if s.kind == "spike_port":
                if node.index is not None or s.size is not None:
                    raise IRError(node, f"the vector spike port `{name}` read in an equation", "E0602")
                # in an equation a port is a train of Dirac deltas: a jump by the weight at each spike
                marker = sym(f"__delta__{name}")
                self.delta_markers[marker] = (name, name)
                return marker
            if s.kind == "kernel":
                if name in self.kernel_scope:  # a part of the ODE-form kernel being lowered
                    return state_symbol(self.kernel_scope[name], node.order)
                raise IRError(node, f"kernel `{name}` can only be used inside convolve()", "E0401")
            if s.kind == "function":
                raise IRError(node, f"`{name}` is a function; call it with ()", "E0302")
        if name == "t":
            return TIME
        if name == "e":
            return sympy.E
        if name == "pi":
            return sympy.pi
        if name == "inf":
            return sympy.oo
        if U.lookup_unit(name) is not None:
            return sympy.Integer(1)
        raise IRError(node, f"undeclared name `{name}`", "E0200")

    def inline(self, name: str, at: n.Node) -> sympy.Expr:
        if name in self.inline_cache:
            return self.inline_cache[name]
        if name in self.inline_stack:
            raise IRError(at, f"inline expression `{name}` refers to itself")
        self.inline_stack.append(name)
        value = self.lower(self.inline_nodes[name].rhs)
        self.inline_stack.pop()
        self.inline_cache[name] = value
        return value

    def call_user(self, call: n.Call, args: list) -> sympy.Expr:
        func = self.functions.get(call.func)
        if func is None:
            if call.func == "steps":
                return sympy.Function("__nmlc_steps")(*args)
            if call.func in ("random_normal", "random_uniform", "random_poisson"):
                return sympy.Function(call.func)(*args)
            raise IRError(call, f"undeclared function `{call.func}`", "E0202")
        body = func.body
        frame: dict[str, sympy.Expr] = {p.name: a for p, a in zip(func.params, args)}
        # A function that is straight-line declarations ending in `return expr` is inlined.
        if body and isinstance(body[-1], n.Return) and body[-1].value is not None and all(
                isinstance(s, n.Declaration) and s.init is not None for s in body[:-1]):
            self.local_frames.append(frame)
            try:
                for decl in body[:-1]:
                    value = self.lower(decl.init)
                    for dn in decl.names:
                        frame[dn.name] = value
                return self.lower(body[-1].value)
            finally:
                self.local_frames.pop()
        return sympy.Function(call.func)(*args)

    def convolve(self, call: n.Call) -> sympy.Expr:
        args = list(call.args)
        if len(args) == 2 and isinstance(args[1], n.Attr):
            # convolve(K, spikes.weight): the port's weight, as convolve(K, spikes)
            port_sym = self.symbols.get(args[1].obj.name)
            if port_sym is not None and isinstance(port_sym.node, n.InputPort) and \
                    event_attribute_is_weight(port_sym.node, args[1].attr):
                args[1] = args[1].obj
        if len(args) != 2 or not all(isinstance(a, n.Name) for a in args):
            raise IRError(call, "convolve() takes a kernel and a spike input port: convolve(kernel, port)", "E0304")
        kname, pnode = args[0].name, args[1]
        port = pnode.name
        if kname not in self.kernels:
            raise IRError(call.args[0], f"undeclared kernel `{kname}`", "E0204")
        psym = self.symbols.get(port)
        if psym is None or psym.kind != "spike_port":
            raise IRError(pnode, f"`{port}` is not a spike input port", "E0203")
        # the parts of one ODE-form kernel statement (`kernel g' = g$ - g/tau, g$' = ...`) form one
        # system: convolve(g, p) and convolve(g$, p) share its states
        kernel = self.kernels[kname]
        leader = kernel.parts[0][0].name if _ode_form(kernel) else kname
        key = (leader, port)
        if key not in self.kernel_states:
            self.kernel_states[key] = self._kernel_state(leader, port, call)
        ks = self.kernel_states[key]
        if not ks.states:  # delta kernel: a marker the ODE must be linear in
            marker = sym(f"__delta__{ks.base}")
            self.delta_markers[marker] = key
            return marker * ks.jumps[0]
        return state_symbol(f"{kname}{CONV_SEPARATOR}{port}")

    def _kernel_state(self, kname: str, port: str, at: n.Node) -> KernelState:
        kernel = self.kernels[kname]
        base = f"{kname}{CONV_SEPARATOR}{port}"
        parts = {lhs.order: (lhs, rhs) for lhs, rhs in kernel.parts if lhs.name == kname}
        if 0 in parts:  # function form k = f(t)
            lhs, rhs = parts[0]
            expr = self._lower_kernel_function(rhs)
            try:
                kode = analysis.kernel_to_ode(expr, TIME, base)
            except analysis.AnalysisError as exc:
                raise IRError(rhs, f"kernel `{kname}` has no linear ODE form: {exc}", "E0502") from exc
            if kode.is_delta:
                return KernelState(kname, port, base, [], [kode.delta_scale])
            return KernelState(kname, port, base, [str(s) for s in kode.states], list(kode.initial_values))
        # ODE form: each name of the statement has states up to its order; a spike sets them to the
        # initial values declared in the state block (k, k', ..., and those of the other parts)
        states, jumps = [], []
        for name, order in _kernel_orders(kernel).items():
            for i in range(order):
                states.append(f"{name}{CONV_SEPARATOR}{port}" + DERIV_SUFFIX * i)
                jumps.append(self._state_init(name, i, at))
        return KernelState(kname, port, base, states, jumps)

    def _lower_kernel_function(self, rhs: n.Expr) -> sympy.Expr:
        if isinstance(rhs, n.Call) and rhs.func == "delta":
            return sympy.DiracDelta(TIME)
        return self.lower(rhs)

    def _state_init(self, name: str, order: int, at: n.Node) -> sympy.Expr:
        for decl in self.model.declarations("state"):
            for dn in decl.names:
                if dn.name == name and getattr(dn, "order", 0) == order and decl.init is not None:
                    return self.lower(decl.init)
        if order == 0:
            return sympy.Integer(0)
        raise IRError(at, f"kernel `{name}` in ODE form needs an initial value for `{name}{chr(39) * order}` "
                          f"in the state block", "E0502")

    def kernel_odes(self, ks: KernelState) -> dict[sympy.Symbol, sympy.Expr]:
        kernel = self.kernels[ks.kernel]
        parts = {lhs.order: (lhs, rhs) for lhs, rhs in kernel.parts if lhs.name == ks.kernel}
        if 0 in parts:
            kode = analysis.kernel_to_ode(self._lower_kernel_function(parts[0][1]), TIME, ks.base)
            return dict(kode.odes)
        orders = _kernel_orders(kernel)
        self.kernel_scope = {name: f"{name}{CONV_SEPARATOR}{ks.port}" for name in orders}
        odes: dict[sympy.Symbol, sympy.Expr] = {}
        try:
            for name, order in orders.items():
                base = self.kernel_scope[name]
                for i in range(order - 1):
                    odes[state_symbol(base, i)] = state_symbol(base, i + 1)
                rhs = next(r for lhs, r in kernel.parts if lhs.name == name and lhs.order == order)
                odes[state_symbol(base, order - 1)] = self.lower(rhs)
        finally:
            self.kernel_scope = {}
        return odes


def _ode_form(kernel: n.Kernel) -> bool:
    return all(lhs.order > 0 for lhs, _ in kernel.parts)


def _kernel_orders(kernel: n.Kernel) -> dict[str, int]:
    """Each name an ODE-form kernel statement defines, with the order of its ODE."""
    orders: dict[str, int] = {}
    for lhs, _ in kernel.parts:
        orders[lhs.name] = max(orders.get(lhs.name, 0), lhs.order)
    return orders


_PRAGMA = re.compile(r"#\s*nmlc:\s*solver\s*(?:\(([^)]*)\))?\s*=\s*([A-Za-z_0-9]+)")


def _solver_pins(model: n.Model, ode_states: set[str]) -> dict[sympy.Symbol, str]:
    """Solver pragmas in the model's comments: ``# nmlc: solver = implicit`` pins every ODE state,
    ``# nmlc: solver(V_m, w) = euler`` the listed ones (``exact``, ``numeric``, ``rk45``, ``euler``,
    ``implicit``)."""
    try:
        lines = Path(model.loc.file).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return {}
    last = max((node.loc.line for node in model.walk()), default=model.loc.line)
    pins: dict[sympy.Symbol, str] = {}
    for lineno in range(model.loc.line, min(last, len(lines)) + 1):
        m = _PRAGMA.search(lines[lineno - 1])
        if m is None:
            continue
        method = m.group(2)
        at = Loc(model.loc.file, lineno, m.start() + 1)
        if method not in analysis.PIN_METHODS:
            raise IRError(_At(at), f"unknown solver `{method}` in pragma; choose one of "
                                   f"{', '.join(sorted(analysis.PIN_METHODS))}")
        names = [x.strip() for x in m.group(1).split(",")] if m.group(1) else sorted(ode_states)
        for name in names:
            if name not in ode_states:
                raise IRError(_At(at), f"solver pragma names `{name}`, which is not a state with an ODE")
            pins[state_symbol(name)] = method
    return pins


class _At(n.Node):
    """A located stand-in for diagnostics about pragma comments (which have no syntax node)."""


def build_ir(model: n.Model, kind: str, symbols: ModelSymbols | None = None,
             conversions: dict[int, float] | None = None) -> ModelIR:
    """Lower one model. Raises :class:`IRError` (with the node to blame) on what it cannot lower."""
    symbols = symbols or collect(model)
    b = _Builder(model, symbols, conversions or {})
    parameters = _variables(model, "parameters", "parameter")
    state = _variables(model, "state", "state")
    internals = _variables(model, "internals", "internal")

    odes: dict[sympy.Symbol, sympy.Expr] = {}
    ode_nodes: dict[sympy.Symbol, n.Ode] = {}
    ode_states: list[str] = []
    for item in model.equations:
        if not isinstance(item, n.Ode):
            continue
        name, order = item.lhs.name, item.lhs.order
        if name in b.kernels and b.kernels[name] is not None and any(
                lhs.name == name and lhs.order > 0 for lhs, _ in b.kernels[name].parts):
            continue
        s = symbols.get(name)
        if s is None or s.kind != "state":
            raise IRError(item.lhs, f"the ODE left-hand side `{name}` is not a state variable", "E0205")
        try:
            rhs = b.lower(item.rhs)
        except LoweringError as exc:
            raise IRError(exc.node, str(exc)) from exc
        for i in range(order - 1):  # x'' = f  ->  x' = x__d, x__d' = f
            lhs = state_symbol(name, i)
            if lhs not in odes:
                odes[lhs] = state_symbol(name, i + 1)
                ode_states.append(str(lhs))
        top = state_symbol(name, order - 1)
        if top in odes and top in ode_nodes:
            raise IRError(item.lhs, f"ODE for `{name}` is defined twice", "E0500")
        odes[top] = rhs
        ode_nodes[top] = item
        ode_states.append(str(top))

    # delta kernels: jumps instead of states; the ODE must be linear in the marker
    delta_jumps: list[DeltaJump] = []
    for lhs, rhs in list(odes.items()):
        for marker, (kname, port) in b.delta_markers.items():
            if rhs.has(marker):
                coeff = sympy.diff(rhs, marker)
                if coeff.has(marker):
                    raise IRError(ode_nodes.get(lhs, model), f"the ODE of `{lhs}` is not linear in convolve({kname}, "
                                                            f"{port}) with a delta kernel")
                odes[lhs] = rhs.subs(marker, 0)
                delta_jumps.append(DeltaJump(port, str(lhs), coeff))

    kernel_states = list(b.kernel_states.values())
    for ks in kernel_states:
        if ks.states:
            for k, v in b.kernel_odes(ks).items():
                odes[k] = v
            ode_states.extend(ks.states)

    spike_ports, continuous_ports = _ports(model)
    state_names = {v.name + DERIV_SUFFIX * v.order for v in state}
    all_states = set(ode_states)
    parameters_syms = frozenset(sym(v.name) for v in (*parameters, *internals)) | {H}
    # states without an ODE, and continuous inputs, are constant within one step
    inputs = frozenset(sym(p.name) for p in continuous_ports) | frozenset(
        state_symbol(nm) for nm in state_names - all_states)
    pins = _solver_pins(model, set(ode_states))
    system = analysis.OdeSystem(t=TIME, odes=odes, parameters=parameters_syms, inputs=inputs,
                                pinned=pins) if odes else None
    if system is not None:
        plan = analysis.analyze(system)
    else:  # a model driven only by its update block (generators, discrete-time models)
        plan = analysis.SolverPlan(blocks=[], reasons={})

    for name in b.inline_nodes:  # recordable inlines not used by any ODE still need a value
        b.inline(name, b.inline_nodes[name])
    out_block = model.output
    kind_ = kind
    ir = ModelIR(model.name, kind_, model, symbols, model.docstring, parameters, state, internals, ode_states,
                 odes, dict(b.inline_cache), kernel_states, delta_jumps, plan, spike_ports, continuous_ports,
                 out_block is not None and out_block.kind == "spike", b.lower, b.resolve)
    ir.system = system  # the analysed ODE system (None without ODEs), for reports such as `nmlc analyze`
    return ir
