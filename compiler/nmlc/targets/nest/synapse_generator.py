"""Render a synapse model as a NEST connection class (``nest::Connection<targetidentifierT>``).

A NEST synapse is passive: it runs only when a presynaptic spike passes through it (``send``) or, with
a neuromodulatory port, when its volume transmitter triggers an update. Each run replays the events
since the last one in time order on the synapse's own clock (presynaptic time; a postsynaptic spike
at ``t_post`` reaches the synapse at ``t_post + delay``, the whole delay counting as dendritic, as in
NEST's built-in STDP synapses): neuromodulatory spikes first, then postsynaptic spikes, then the
presynaptic spike at equal times. Before each event the state is advanced from the previous event
with the update block (``integrate_odes()`` integrating the ODEs exactly over the interval, and
``timestep()`` the interval's length).

With co-generation, states moved into the neuron are read back from the neuron's spike history:
inside the post handler the values at that postsynaptic spike (before or after the neuron applied
the moved statements, following statement order), elsewhere the values just before ``t - delay``
(a postsynaptic spike at exactly that time is not yet included, as in NEST's ``get_K_value``).
"""
from __future__ import annotations

from pathlib import Path

from ... import __version__
from ...analysis import ExactBlock
from ...ir.lowering import DERIV_SUFFIX
from ...ir.model import IRError
from ...ir.synapse import CoGen, SynapseIR
from ...syntax import nodes as n
from .generator import _ENV, GeneratedModel
from .printer import NestCppPrinter, cpp_comment, cpp_string
from .statements import StatementPrinter

_FUNCS = {"__nmlc_steps": "__nmlc_steps"}


def exact_update_lines(blocks: list, wanted: set[str], names: dict[str, str], dt: str, tag: str) -> list[str]:
    """C++ that advances the ``wanted`` states of exact ``blocks`` by ``dt`` ms (propagators computed here).

    ``names`` maps states and parameters to their C++ storage; propagators become locals.
    """
    lines: list[str] = []
    for i, block in enumerate(blocks):
        if not isinstance(block, ExactBlock):
            continue
        states = [s for s in block.states if str(s) in wanted]
        if not states:
            continue
        if block.mode != "closed_form":
            raise IRError(None, "a synapse ODE needs a closed-form solution (the matrix-exponential solver "
                                "is not available for event-driven synapse updates)", "E0602")
        local = {**names, "__h": dt}
        for ps in block.propagators:
            local[str(ps)] = f"__{tag}{i}{ps}"
        pr = NestCppPrinter(local, _FUNCS)
        body = [f"const double __{tag}{i}{ps} = {pr.doprint(e)};" for ps, e in block.propagators.items()
                if any(u.has(ps) for s, u in block.update.items() if str(s) in wanted)]
        body += [f"const double __new_{s} = {pr.doprint(block.update[s])};" for s in states]
        body += [f"{names[str(s)]} = __new_{s};" for s in states]
        lines += ["{", *["  " + ln for ln in body], "}"]
    return lines


class SynapseGenerator:
    """One connection class for one synapse model, optionally co-generated with a neuron (``cogen``)."""

    def __init__(self, syn: SynapseIR, registered: str, namespace: str, conversions: dict[int, float],
                 cls: str | None = None, cogen: CoGen | None = None, neuron_cls: str | None = None):
        self.syn = syn
        self.ir = syn.base
        self.registered = registered
        self.namespace = namespace
        self.conversions = conversions
        self.cls = cls or self.ir.name
        self.cogen = cogen
        self.neuron_cls = neuron_cls
        self.moved = set(cogen.moved) if cogen else set()
        self._would_move: set[str] = set()
        self.names_all: dict[str, str] = {}
        if syn.continuous_ports and cogen is None:
            raise IRError(self.ir.model, f"synapse `{self.ir.name}` reads continuous input(s) "
                                         f"{', '.join(syn.continuous_ports)} from its postsynaptic neuron; build it "
                                         "as a neuron-synapse pair (pairs=[(neuron, synapse)], --pair)", "E0602")

    # ------------------------------------------------------------------ names
    def base_names(self) -> dict[str, str]:
        ir, syn = self.ir, self.syn
        names: dict[str, str] = {"__h": "nest::Time::get_resolution().get_ms()", "t": "__t_ev"}
        for v in ir.parameters:
            names[v.name] = "get_delay()" if v.name == syn.delay_param else f"P_.{v.name}"
        for v in ir.state:
            key = v.name + DERIV_SUFFIX * v.order
            names[key] = f"S_.{key}"
        for s in ir.ode_states:
            names.setdefault(s, f"S_.{s}")
        for v in ir.internals:
            names[v.name] = f"V_.{v.name}"
        for p in ir.spike_ports:
            names[f"__spk_{p.name}"] = "__mult" if p.name in syn.mod_ports else "1.0"
        if self.cogen:
            for k, x in enumerate(self.cogen.moved):
                names[x] = f"__mv[ {k} ]"
            for port, var in self.cogen.continuous.items():
                names[port] = f"__post->__cont_{var}_()"
        return names

    def _stmts(self, names: dict[str, str]) -> StatementPrinter:
        return StatementPrinter(self.ir, names, self._integrate_cb(names), self._emit, self.ir.lowerer_resolve,
                                self.conversions, {f.name: f for f in self.ir.model.functions})

    def _integrate_cb(self, names: dict[str, str]):
        def integrate(requested: list[str]) -> list[str]:
            local_states = [s for s in self.ir.ode_states if s not in self.moved]
            if requested:
                wanted = {s for s in local_states for r in requested if s == r or s.startswith(r + DERIV_SUFFIX)}
            else:
                wanted = set(local_states)
            return exact_update_lines(self.ir.plan.blocks, wanted, names, "__dt", "P")
        return integrate

    def _emit(self, args: list[str]) -> list[str]:
        weight = args[0] if args else self.names_all[self.syn.weight_var]
        return ["e.set_receiver( *__target );", f"e.set_weight( {weight} );",
                "e.set_delay_steps( get_delay_steps() );", "e.set_rport( get_rport() );", "e();", "__sent = true;"]

    def _needs_moved(self, stmts: list[n.Stmt]) -> bool:
        return any(isinstance(x, n.Name) and x.name in self.moved for s in stmts for x in s.walk())

    def _needs_post(self, stmts: list[n.Stmt]) -> bool:
        ports = set(self.cogen.continuous) if self.cogen else set()
        return any(isinstance(x, n.Name) and x.name in ports for s in stmts for x in s.walk())

    def _handler_lines(self, port: str, time_expr: str) -> list[str]:
        """The body of ``onReceive(port)`` (not the post handler with co-generation), with its prelude."""
        h = self.syn.handlers.get(port)
        if h is None:
            return []
        stmts = self._stmts(dict(self.names_all))
        lines = [f"const double __t_ev = {time_expr};", "(void) __t_ev;"]
        if self.cogen and self._needs_moved(h.body):
            lines.append(f"std::array< double, {len(self.cogen.moved)} > __mv;")
            lines.append(f"__post->__values_for_{self.ir.name}_( __t_ev - get_delay(), __mv );")
        lines += stmts.block(h.body)
        return lines

    def _post_lines(self) -> list[str]:
        """The post handler for one history entry ``__e`` (co-generated: reads moved states from the entry)."""
        h = self.syn.handlers.get(self.syn.post_port or "")
        if h is None:
            return []
        lines = ["const double __t_ev = __t_post;", "(void) __t_ev;"]
        if self.cogen is None:
            stmts = self._stmts(dict(self.names_all))
            lines += stmts.block(h.body)
            n_updates = sum(1 for s in h.body if isinstance(s, n.Assign) and s.target.name in self._post_only())
            if n_updates:
                lines.append("++cp.post_trace_updates;")
            return lines
        names = dict(self.names_all)
        for port in self.cogen.continuous:
            names[port] = f"__e->cont_[ {self.cogen.cont_offset + list(self.cogen.continuous).index(port)} ]"
        stmts = self._stmts(names)
        stmts.locals.append({})
        for s, after in self.cogen.kept_post:
            for k, x in enumerate(self.cogen.moved):
                which = "after_" if x in after else "before_"
                names[x] = f"__e->{which}[ {self.cogen.offset + k} ]"
            stmts.names.update(names)
            lines += stmts.stmt(s, 0)
        stmts.locals.pop()
        return lines

    def _post_only(self) -> set[str]:
        """States a co-generation would move (counted as postsynaptic trace updates when they stay here)."""
        return self._would_move

    # ------------------------------------------------------------------ render
    def render(self, standalone: bool = True, would_move: set[str] | None = None) -> GeneratedModel:
        """The C++ of the connection class; ``standalone`` adds the file header (not when appended to a
        co-generated neuron's file). ``would_move`` are the states counted as post-trace updates."""
        ir, syn = self.ir, self.syn
        self._would_move = would_move or set()
        self.names_all = self.base_names()
        ctx: dict = {"cls": self.cls, "namespace": self.namespace, "version": __version__,
                     "registered": self.registered, "source_name": Path(ir.model.loc.file).name,
                     "doc_lines": [cpp_comment(ln).replace("*/", "* /") for ln in ir.docstring.splitlines()[:40]],
                     "standalone": standalone, "neuron_cls": self.neuron_cls, "cogen": self.cogen is not None,
                     "has_post": syn.post_port is not None, "has_mod": bool(syn.mod_ports),
                     "source": ir.name}
        params = [v for v in ir.parameters if v.name != syn.delay_param]
        ctx["parameters"] = [self._var(v) for v in params]
        ctx["param_init"] = [f"P_.{v.name} = {self._init(v, self._printer_for_init())};" for v in params]
        delay_default = None
        if syn.delay_param:
            dv = ir.variable(syn.delay_param)
            delay_default = self._init(dv, self._printer_for_init())
        ctx["delay_default"] = delay_default
        state = [v for v in ir.state if v.name + DERIV_SUFFIX * v.order not in self.moved]
        ctx["state"] = [self._var(v, v.name + DERIV_SUFFIX * v.order) for v in state]
        ctx["state_init"] = [f"S_.{v.name + DERIV_SUFFIX * v.order} = {self._init(v, self._printer_for_init())};"
                             for v in state]
        extra = [s for s in ir.ode_states if s not in {v.name + DERIV_SUFFIX * v.order for v in ir.state}]
        if extra:
            raise IRError(ir.model, "kernels and convolutions are not supported in synapses", "E0602")
        ctx["internals"] = [self._var(v) for v in ir.internals]
        ctx["internals_calc"] = [f"V_.{v.name} = {self._init(v, self._printer_for_init())};" for v in ir.internals]
        guards = []
        for v in (*params, *state):
            g = v.decl.guard
            if g is None or v.decl.names[0].name != v.name:
                continue
            gp = NestCppPrinter({**{p.name: f"P_.{p.name}" for p in params},
                                 **{s.name: f"S_.{s.name}" for s in state}, "__h": "nest::Time::get_resolution().get_ms()"},
                                _FUNCS)
            try:
                cond = gp.doprint(ir.lowerer(g))
            except KeyError:
                continue
            guards.append({"cond": cond, "message": cpp_string(f"{self.registered}: {v.name}: guard violated")})
        ctx["guards"] = guards
        wv = syn.weight_var
        ctx["weight"] = f"S_.{wv}" if syn.weight_kind == "state" else f"P_.{wv}"
        ctx["weight_name"] = cpp_string(wv)
        ctx["weight_alias"] = wv != "weight"
        # the advance step: the update block, or integrate_odes() of every ODE
        adv_names = {**self.names_all, "__h": "__dt", "t": "__t_last"}
        stmts = self._stmts(adv_names)
        if syn.update is not None:
            if self.cogen and self._needs_moved(syn.update):
                raise IRError(ir.model, "the update block reads a state moved into the neuron", "E0602")
            advance = stmts.block(syn.update)
        else:
            advance = self._integrate_cb(adv_names)([])
        ctx["advance"] = advance
        ctx["advance_needs_post"] = self._needs_post(syn.update or [])
        ctx["pre_handler"] = self._handler_lines(syn.pre_port, "__t_spike")
        ctx["pre_needs_post"] = self._needs_post(syn.handlers[syn.pre_port].body if syn.pre_port in syn.handlers
                                                 else [])
        ctx["mod_handler"] = self._handler_lines(syn.mod_ports[0], "__t_mod") if syn.mod_ports else []
        ctx["post_handler"] = self._post_lines() if syn.post_port else []
        ctx["functions"] = self._functions()
        code = _ENV.get_template("synapse.cpp.jinja2").render(**ctx)
        return GeneratedModel(ir.name, self.registered, self.cls, f"{self.cls}.cpp", code)

    def _printer_for_init(self) -> NestCppPrinter:
        names = {v.name: f"P_.{v.name}" for v in self.ir.parameters}
        if self.syn.delay_param:
            names[self.syn.delay_param] = "get_delay()"
        names.update({v.name: f"V_.{v.name}" for v in self.ir.internals})
        names.update({v.name: f"S_.{v.name}" for v in self.ir.state})
        names["__h"] = "nest::Time::get_resolution().get_ms()"
        return NestCppPrinter(names, _FUNCS)

    def _init(self, v, printer: NestCppPrinter) -> str:
        if v.init is None:
            return "0" if v.ctype != "std::string" else '""'
        text = printer.doprint(self.ir.lowerer(v.init))
        return f"static_cast< long >( {text} )" if v.ctype == "long" else text

    def _var(self, v, name: str | None = None) -> dict:
        name = name or v.name
        return {"name": name, "ctype": v.ctype, "key": cpp_string(name),
                "doc": cpp_comment(f"{v.comment} [{v.unit}]" if v.unit else v.comment)}

    def _functions(self) -> list[str]:
        out = []
        for f in self.ir.model.functions:
            ret = "void" if f.return_type is None or f.return_type.primitive == "void" else \
                {"integer": "long", "boolean": "bool", "string": "std::string"}.get(f.return_type.primitive or "",
                                                                                    "double")
            stmts = self._stmts(dict(self.names_all))
            params = []
            frame = {}
            for p in f.params:
                ctype = {"integer": "long", "boolean": "bool", "string": "std::string"}.get(p.type.primitive or "",
                                                                                           "double")
                params.append(f"{ctype} {p.name}")
                frame[p.name] = p.name
                stmts.names[f"__local__{p.name}"] = p.name
            stmts.locals.append(frame)
            body = stmts.block(f.body, 1)
            stmts.locals.pop()
            out.append("\n".join([f"{ret} {f.name}( {', '.join(params)} )", "{", *body, "}"]))
        return out
