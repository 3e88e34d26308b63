"""Render a synapse model as a Python class acting on many connections at once.

The semantics are the NEST target's (:mod:`nmlc.targets.nest.synapse_generator`): a synapse runs only
when a presynaptic spike passes or its volume transmitter triggers it. It then replays, in time order,
the events that reached it since its last run: neuromodulatory spikes (the volume transmitter's batch),
then postsynaptic spikes (a postsynaptic spike at ``t_post`` reaches it at ``t_post + delay``) at equal
times, each after advancing its state to that time with the update block (``integrate_odes()``
integrating the ODEs exactly over the interval, ``timestep()`` being the interval); finally it advances
to the presynaptic spike and runs the presynaptic handler, whose ``emit_spike(w, d)`` sends the spike
on (or, for a trigger, advances to the trigger time).

A continuous input of the synapse reads the postsynaptic neuron's quantity of the same name: in the
postsynaptic handler its value at that spike (a snapshot the neuron takes when it emits), elsewhere
its current value. On NEST this needs a neuron-synapse pair; here the simulator supplies both values,
so the synapse is built on its own and behaves as the NEST pair does.

Handlers act on a subset ``_i`` of the connections: every variable is gathered into a local array
first and written back at the end, so the masked statement printer of the neuron target applies
unchanged.
"""
from __future__ import annotations

from pathlib import Path

from ... import __version__
from ...analysis import ExactBlock
from ...ir.lowering import DERIV_SUFFIX
from ...ir.model import IRError
from ...ir.synapse import SynapseIR
from ...syntax import nodes as n
from .generator import _ENV, GeneratedPython, runtime_source
from .printer import NumpyPrinter, py_attr, py_string
from .statements import StatementPrinter, py_dtype


class PySynapseGenerator:
    """Builds the template context of one synapse model and renders it."""

    def __init__(self, syn: SynapseIR, conversions: dict[int, float] | None = None):
        self.syn = syn
        self.ir = syn.base
        self.conversions = conversions or {}
        ir = self.ir
        extra = [s for s in ir.ode_states if s not in {v.name + DERIV_SUFFIX * v.order for v in ir.state}]
        if extra:
            raise IRError(ir.model, "a kernel or convolution in a synapse", "E0602")
        for v in (*ir.parameters, *ir.state, *ir.internals):
            if v.size is not None:
                raise IRError(v.decl, f"vector variable `{v.name}`", "E0602")
        self.functions = {f.name: f"_f_{f.name}" for f in ir.model.functions}
        # every variable of the connections being processed lives in a local array `_v_<name>`
        self.vars = [v.name + DERIV_SUFFIX * v.order for v in (*ir.parameters, *ir.state)
                     if v.name != syn.delay_param] + [v.name for v in ir.internals]

    def _names(self, h: str, t: str) -> dict[str, str]:
        names = {"__h": h, "t": t}
        for name in self.vars:
            names[name] = f"_v_{name}"
        if self.syn.delay_param:
            names[self.syn.delay_param] = "_v__delay"
        for p in self.ir.spike_ports:
            names[f"__spk_{p.name}"] = "1.0"  # a handler runs once per spike (NEST's multiplicity expanded)
        for port in self.syn.continuous_ports:
            names[port] = f"_cont[{port!r}]"
        return names

    def _gather(self) -> list[str]:
        lines = [f"_v_{name} = _s.{py_attr(name)}[_i].copy()" for name in self.vars]
        return lines + ["_v__delay = _s._delay[_i]"]

    def _scatter(self) -> list[str]:
        return [f"_s.{py_attr(name)}[_i] = _v_{name}" for name in self.vars]

    def _stmts(self, names: dict[str, str]) -> StatementPrinter:
        return StatementPrinter(self.ir, names, self._integrate_cb(names), self._emit, self.ir.lowerer_resolve,
                                self.conversions, self.functions, "_n")

    def _integrate_cb(self, names: dict[str, str]):
        def integrate(requested: list[str], mask: str) -> list[str]:
            states = self.ir.ode_states
            wanted = {s for s in states for r in requested if s == r or s.startswith(r + DERIV_SUFFIX)} \
                if requested else set(states)
            lines: list[str] = []
            for i, block in enumerate(self.ir.plan.blocks):
                if not isinstance(block, ExactBlock):
                    raise IRError(self.ir.model, "a synapse ODE without an exact solution", "E0602")
                sel = [s for s in block.states if str(s) in wanted]
                if not sel:
                    continue
                if block.mode != "closed_form":
                    raise IRError(self.ir.model, "a synapse ODE without a closed-form solution", "E0602")
                local = dict(names)
                for ps in block.propagators:
                    local[str(ps)] = f"_P{i}{ps}"
                pr = NumpyPrinter(local, {"__nmlc_steps": "_rt_steps", **self.functions})
                lines += [f"_P{i}{ps} = {pr.doprint(e)}" for ps, e in block.propagators.items()
                          if any(u.has(ps) for s, u in block.update.items() if str(s) in wanted)]
                lines += [f"_new_{s} = {pr.doprint(block.update[s])}" for s in sel]
                lines += [f"_rt_put({names[str(s)]}, _new_{s}, {mask})" for s in sel]
            return lines
        return integrate

    def _emit(self, args: list[str], mask: str) -> list[str]:
        weight = args[0] if args else f"_v_{self.syn.weight_var}"
        return [f"_rt_put(_out_w, {weight}, {mask})", f"_np.logical_or(_sent, {mask}, out=_sent)"]

    def _handler(self, port: str | None) -> list[str]:
        h = self.syn.handlers.get(port) if port else None
        if h is None:
            return ["pass"]
        stmts = self._stmts(self._names("_s._h", "_t_ev"))
        return stmts.block(h.body, "_M")

    def context(self) -> dict:
        ir, syn = self.ir, self.syn
        init_names = {v.name: f"_s.{py_attr(v.name)}" for v in (*ir.parameters, *ir.state, *ir.internals)}
        init_names["__h"] = "_s._h"
        if syn.delay_param:
            init_names[syn.delay_param] = "_s._delay"

        def init(v) -> str:
            if v.init is None:
                return "0.0"
            return NumpyPrinter(init_names, {"__nmlc_steps": "_rt_steps"}).doprint(ir.lowerer(v.init))

        params = [v for v in ir.parameters if v.name != syn.delay_param]
        ctx: dict = {"cls": ir.name, "version": __version__, "source_name": Path(ir.model.loc.file).name,
                     "doc_lines": [ln.rstrip() for ln in ir.docstring.splitlines()[:40]]}
        ctx["parameters"] = [{"name": v.name, "attr": py_attr(v.name), "dtype": py_dtype(v.type), "init": init(v)}
                             for v in params]
        ctx["delay_param"] = syn.delay_param
        ctx["delay_default"] = init(ir.variable(syn.delay_param)) if syn.delay_param else "1.0"
        ctx["state"] = [{"name": v.name + DERIV_SUFFIX * v.order, "attr": py_attr(v.name + DERIV_SUFFIX * v.order),
                         "dtype": py_dtype(v.type), "init": init(v)} for v in ir.state]
        ctx["internals"] = [{"name": v.name, "attr": py_attr(v.name), "dtype": py_dtype(v.type), "init": init(v)}
                            for v in ir.internals]
        guards = []
        for v in (*params, *ir.state):
            g = v.decl.guard
            if g is not None and v.decl.names[0].name == v.name:
                guards.append({"cond": NumpyPrinter(init_names, {}).doprint(ir.lowerer(g)),
                               "message": py_string(f"{ir.name}: {v.name}: guard violated")})
        ctx["guards"] = guards
        ctx["weight_var"] = syn.weight_var
        ctx["weight_attr"] = py_attr(syn.weight_var)
        ctx["has_post"] = syn.post_port is not None
        ctx["gather"] = self._gather()
        ctx["scatter"] = self._scatter()
        adv = self._stmts(self._names("_dt", "_t_last"))
        ctx["advance"] = adv.block(syn.update, "_M") if syn.update is not None else \
            (self._integrate_cb(self._names("_dt", "_t_last"))([], "_M") or ["pass"])
        ctx["pre_handler"] = self._handler(syn.pre_port)
        ctx["post_handler"] = self._handler(syn.post_port)
        ctx["has_mod"] = bool(syn.mod_ports)
        ctx["mod_handler"] = self._handler(syn.mod_ports[0]) if syn.mod_ports else ["pass"]
        ctx["continuous_ports"] = list(syn.continuous_ports)
        ctx["functions"] = [self._function(f) for f in ir.model.functions]
        ctx["attrs"] = {v["name"]: v["attr"] for v in (*ctx["parameters"], *ctx["state"])}
        return ctx

    def _function(self, f: n.FunctionDef) -> dict:
        names = {"__h": "_s._h", "t": "_s._t"}
        for v in (*self.ir.parameters, *self.ir.state, *self.ir.internals):
            names[v.name] = f"_s.{py_attr(v.name)}[_i]"
        stmts = self._stmts(names)
        stmts.in_function = True
        frame, params, conv = {}, [], []
        for p in f.params:
            local = stmts._local_name(p.name)
            params.append(local)
            frame[p.name] = local
            stmts.names[f"__local__{p.name}"] = local
            conv.append(f"{local} = _rt_full({local}, _n, {py_dtype(p.type)})")
        stmts.locals.append(frame)
        body = stmts.block(f.body, "_M", 0)
        stmts.locals.pop()
        ret = py_dtype(f.return_type) if f.return_type is not None and f.return_type.primitive != "void" else "float"
        return {"name": self.functions[f.name], "params": params, "conv": conv, "body": body, "ret": ret}

    def render(self) -> GeneratedPython:
        ctx = self.context()
        ctx["runtime"] = runtime_source()
        code = _ENV.get_template("synapse.py.jinja2").render(**ctx)
        return GeneratedPython(self.ir.name, "synapse", f"{self.ir.name}.py", code)

