"""Render a model IR into the C++ sources of a NEST extension module.

A neuron becomes a "core" class that includes no NEST header (support/nmlc_abi.h says why), run
inside NEST by nmlc's NodeAdapter node, which owns the input ring buffers, the data logger and the
status dictionaries; the module's registration unit is NEST-free as well. The core has the shape
of NEST's hand-written models: parameters, state, derived variables and buffers in separate
structs; every propagator and constant computed once per parameter change (``calibrate``, called
by the node's ``pre_run_hook``); ``update`` looping over the steps of a slice doing only
arithmetic on the ring slots the node hands it. Event semantics (documented in docs/language.md): spikes delivered for step k are
added to kernel states and passed to ``onReceive`` after the update block of step k, delta
kernels jump with the ``integrate_odes`` call that integrates their target; a continuous input
received in step k acts during step k+1, as in NEST's built-in models.
"""
from __future__ import annotations

import re

from dataclasses import dataclass
from pathlib import Path

import jinja2
import sympy

from ... import __version__
from ...analysis import ExactBlock, NumericBlock
from ...ir.lowering import DERIV_SUFFIX, sym
from ...ir.model import IRError, ModelIR
from ...syntax import nodes as n
from ..common import integration_guards, share_exponentials
from .printer import CPP_RESERVED, NestCppPrinter, cpp_comment, cpp_string
from .statements import StatementPrinter

_ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
                          trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                          undefined=jinja2.StrictUndefined)


@dataclass
class GeneratedModel:
    source_name: str
    registered: str
    cls: str
    filename: str
    code: str


#: Names a model (a C++ class in the module's namespace) cannot take: they would hide the namespaces
#: and classes the generated code refers to.
CPP_MODEL_NAMES_TAKEN = frozenset({"nmlc_abi", "nmlc_rt", "Module", "detail"})


def check_identifiers(ir: ModelIR) -> list[tuple[n.Node, str]]:
    """User names that cannot become C++ identifiers (reserved words, our `__` namespace)."""
    bad = []
    name = ir.model.name
    if name in CPP_RESERVED or name in CPP_MODEL_NAMES_TAKEN or name.startswith(("__", "nmlc_")):
        bad.append((ir.model, name))
    for s in ir.symbols.symbols.values():
        if s.name in CPP_RESERVED or s.name.startswith("__") or "__X__" in s.name:
            bad.append((s.node, s.name))
    for node in ir.model.walk():
        if isinstance(node, n.Declaration) and node not in [s.decl for s in ir.symbols.symbols.values()]:
            for dn in node.names:
                if dn.name in CPP_RESERVED or dn.name.startswith("__"):
                    bad.append((dn, dn.name))
    return bad


class NeuronGenerator:
    def __init__(self, ir: ModelIR, registered: str, namespace: str, conversions: dict[int, float] | None = None,
                 cogens: list | None = None, cls: str | None = None):
        self.ir = ir
        self.cogens = cogens or []
        self.registered = registered
        self.namespace = namespace
        self.cls = cls or ir.name
        self.conversions = conversions or {}
        self.names = self._names()
        # user functions that are not inlined are member functions; internals may call them
        self.printer = NestCppPrinter(self.names, {"__nmlc_steps": "__nmlc_steps",
                                                   **{f.name: f.name for f in ir.model.functions}})

    # ------------------------------------------------------------------ name tables
    def _names(self) -> dict[str, str]:
        names: dict[str, str] = {"__h": "V_.__h", "t": "B_.__t"}
        for v in self.ir.parameters:
            names[v.name] = f"P_.{v.name}"
        for v in self.ir.state:
            names[v.name + DERIV_SUFFIX * v.order] = f"S_.{v.name}{DERIV_SUFFIX * v.order}"
        for s in self.ir.ode_states:
            names.setdefault(s, f"S_.{s}")
        for v in self.ir.internals:
            names[v.name] = f"V_.{v.name}"
        for p in self.ir.continuous_ports:
            names[p.name] = f"B_.{p.name}__value"
        for p in self.ir.spike_ports:
            names[f"__spk_{p.name}"] = f"__spk_{p.name}"
        for block in self.ir.plan.blocks:
            if isinstance(block, ExactBlock):
                # closed form: one member per propagator; matrix exponential: one per used entry of exp(M h)
                for ps in (block.positions if block.mode == "matrix_exponential" else block.propagators):
                    names[str(ps)] = f"V_.{ps}"
        return names

    def _with(self, overrides: dict[str, str]) -> NestCppPrinter:
        return NestCppPrinter({**self.names, **overrides}, {"__nmlc_steps": "__nmlc_steps"})

    def cpp(self, expr: sympy.Expr, printer: NestCppPrinter | None = None) -> str:
        return (printer or self.printer).doprint(expr)

    # ------------------------------------------------------------------ pieces
    def _exact_update(self, block: ExactBlock, wanted: set[str]) -> list[str]:
        states = [s for s in block.states if str(s) in wanted]
        if not states:
            return []
        lines = [f"const double __new_{s} = {self.cpp(block.update[s])};" for s in states]
        lines += [f"{self.names[str(s)]} = __new_{s};" for s in states]
        return ["{", *["  " + ln for ln in lines], "}"]

    def _expm_lines(self, block: ExactBlock) -> list[str]:
        """Propagators of a block without a closed form: exp(M h) of its augmented generator, computed
        numerically whenever parameters change (nmlc_rt::expm, scaling and squaring)."""
        size = block.generator.rows
        lines = ["{", f"  nmlc_rt::Matrix< {size} > __gen {{}};", f"  nmlc_rt::Matrix< {size} > __prop;"]
        for r in range(block.generator.rows):
            for c in range(block.generator.cols):
                if block.generator[r, c] != 0:
                    lines.append(f"  __gen[ {r * size + c} ] = ( {self.cpp(block.generator[r, c])} ) * V_.__h;")
        message = cpp_string(f"{self.registered}: the propagator matrix exp(M h) is not finite")
        lines += [f"  if ( not nmlc_rt::expm< {size} >( __gen, __prop ).ok )", "  {",
                  f"    nmlc_abi::bad_property( {message} );", "  }"]
        lines += [f"  V_.{ps} = __prop[ {r * size + c} ];" for ps, (r, c) in block.positions.items()]
        return lines + ["}"]

    def _integrate(self, requested: list[str]) -> list[str]:
        ir = self.ir
        kernel_states = {s for ks in ir.kernel_states for s in ks.states}
        wanted = set(ir.ode_states) if not requested else set()
        for name in requested:
            matched = [s for s in ir.ode_states if s == name or s.startswith(name + DERIV_SUFFIX)]
            wanted.update(matched)
        if not kernel_states:
            return self._integrate_states(wanted)
        # Convolution states advance exactly once per step (as in NESTML), however often integrate_odes
        # runs in the step, and also when it does not run at all (see _kernel_catch_up)
        return ["if ( not __kernels_advanced )", "{", *["  " + ln for ln in self._integrate_states(
            wanted | kernel_states)], "  __kernels_advanced = true;", "}", "else", "{",
                *["  " + ln for ln in self._integrate_states(wanted - kernel_states)], "}"]

    def _kernel_catch_up(self) -> list[str]:
        """After the update block: advance the convolution states if no integrate_odes call did."""
        kernel_states = {s for ks in self.ir.kernel_states for s in ks.states}
        if not kernel_states:
            return []
        return ["if ( not __kernels_advanced )", "{",
                *["  " + ln for ln in self._integrate_states(kernel_states)], "}"]

    def _integrate_states(self, wanted: set[str]) -> list[str]:
        ir = self.ir
        lines: list[str] = []
        for i, block in enumerate(ir.plan.blocks):
            if isinstance(block, ExactBlock):
                lines += self._exact_update(block, wanted)
            elif isinstance(block, NumericBlock):
                if any(str(s) in wanted for s in block.states):
                    # the mask is a template argument: states left out cost nothing in the right-hand side
                    mask = ", ".join("true" if str(s) in wanted else "false" for s in block.states)
                    lines.append(f"integrate_numeric_{i}_< std::array< bool, {len(block.states)} > {{ {mask} }} >();")
        for dj in ir.delta_jumps:
            if dj.target in wanted:
                lines.append(f"{self.names[dj.target]} += V_.__delta_{dj.target}__{dj.port} * __spk_{dj.port};")
        return lines

    def _emit_spike(self, args: list[str]) -> list[str]:
        # the node records the spike time and sends the event; co-generated traces follow the spike
        hook = ["__on_post_spike_( nmlc_abi::time_ms_of_step( B_.__origin_steps + B_.__lag + 1 ) );"] \
            if self.cogens else []
        return ["B_.__host->emit_spike( B_.__origin_steps + B_.__lag + 1, B_.__lag );", *hook]

    # ------------------------------------------------------------------ numeric integration
    def _numeric_function(self, index: int, block: NumericBlock, stmts: StatementPrinter) -> dict:
        """A member function integrating one numeric block over one step, with sub-step events."""
        n_states = len(block.states)
        y_names = {str(s): f"__y[ {k} ]" for k, s in enumerate(block.states)}
        printer = self._with({**y_names, "t": "( B_.__t + __tt )"})
        exprs = share_exponentials([block.rhs[s] for s in block.states])
        temps, reduced = sympy.cse(exprs, symbols=sympy.numbered_symbols("__cse"), optimizations="basic")
        names = dict(printer.names)
        for tsym, _ in temps:
            names[str(tsym)] = str(tsym)
        printer = NestCppPrinter(names, {"__nmlc_steps": "__nmlc_steps"})
        body = [f"const double {t} = {printer.doprint(e)};" for t, e in temps]
        body += [f"__dydt[ {k} ] = __mask[ {k} ] ? ( {printer.doprint(e)} ) : 0.0;" for k, e in enumerate(reduced)]
        arr = f"std::array< double, {n_states} >"
        load = [f"__y[ {k} ] = {self.names[str(s)]};" for k, s in enumerate(block.states)]
        store = [f"{self.names[str(s)]} = __y[ {k} ];" for k, s in enumerate(block.states)]
        method = block.method
        template = f"template < std::array< bool, {n_states} > __mask >"
        lines = [f"{template}\nvoid\n{self.cls}::integrate_numeric_{index}_()", "{",
                 f"  {arr} __y;", *["  " + ln for ln in load],
                 f"  auto __f = [ this ]( const double __tt, const {arr}& __y, {arr}& __dydt )",
                 "  {", "    (void) __tt;", *["    " + ln for ln in body], "  };"]
        events = self._substep_events(block, stmts, store, load)
        if method in ("euler", "rk4"):
            stepper = "ForwardEuler" if method == "euler" else "Rk4"
            lines += [f"  nmlc_rt::{stepper}< {n_states} > __stepper;", "  __stepper.step( __f, 0.0, V_.__h, __y );"]
        elif method == "implicit":
            jac = block.jacobian.subs({}) if block.jacobian is not None else None
            jtemps, jred = sympy.cse(list(jac), symbols=sympy.numbered_symbols("__jcse"), optimizations="basic")
            jnames = dict(printer.names)
            for tsym, _ in jtemps:
                jnames[str(tsym)] = str(tsym)
            jp = NestCppPrinter(jnames, {"__nmlc_steps": "__nmlc_steps"})
            jbody = [f"const double {t} = {jp.doprint(e)};" for t, e in jtemps]
            jbody += [f"__J[ {k} ] = __mask[ {k // n_states} ] ? ( {jp.doprint(e)} ) : 0.0;" for k, e in enumerate(jred)]
            lines += [f"  auto __jac = [ this ]( const double __tt, const {arr}& __y, "
                      f"std::array< double, {n_states * n_states} >& __J )",
                      "  {", "    (void) __tt;", *["    " + ln for ln in jbody], "  };",
                      "  double __tt = 0.0;", "  while ( __tt < V_.__h )", "  {",
                      f"    __tt = B_.__stepper_{index}.step( __f, __jac, __tt, V_.__h, __y, B_.__hint_{index}, "
                      "P_.integrator_atol, P_.integrator_rtol );", *["    " + ln for ln in events], "  }"]
        else:
            lines += ["  double __tt = 0.0;", "  while ( __tt < V_.__h )", "  {",
                      f"    __tt = B_.__stepper_{index}.step( __f, __tt, V_.__h, __y, B_.__hint_{index}, "
                      "P_.integrator_atol, P_.integrator_rtol );",
                      f"    if ( B_.__stepper_{index}.status() == nmlc_rt::StepStatus::failure )", "    {",
                      "      B_.__host->numerical_instability();", "    }",
                      *["    " + ln for ln in events], "  }"]
        lines += [*["  " + ln for ln in store], "}"]
        if method in ("euler", "rk4"):
            stepper_decl = None
        elif method == "implicit":
            stepper_decl = f"nmlc_rt::Rodas3< {n_states} > __stepper_{index};"
        else:
            stepper_decl = f"nmlc_rt::Dopri54< {n_states} > __stepper_{index};"
        return {"signature": f"{template} void integrate_numeric_{index}_()",
                "definition": "\n".join(lines), "stepper": stepper_decl, "hint": f"__hint_{index}"}

    def _substep_events(self, block: NumericBlock, stmts: StatementPrinter, store: list[str],
                        load: list[str]) -> list[str]:
        """onCondition handlers that read this block's states, checked after every accepted sub-step."""
        names = {str(s) for s in block.states}
        out: list[str] = []
        for h in sorted(self.ir.model.blocks_of(n.OnCondition), key=lambda h: _priority(h.priority)):
            read = {node.name for node in h.cond.walk() if isinstance(node, n.Name)}
            if not read & names:
                continue
            # Only a reset acts within the step: a handler that falsifies its own condition (it assigns
            # what the condition reads; `V_prev < V_th and V_m >= V_th` with an AHP kick stays true and
            # is checked once, after the step) and does not start a refractory period that the update
            # block reads to choose what to integrate (NESTML's `refr_t`/`r` pattern: the reset state
            # must then hold until the step ends, as NESTML checks onCondition after the step).
            assigned = {node.target.name for node in h.walk() if isinstance(node, n.Assign)}
            if not assigned & read or assigned & integration_guards(self.ir.model):
                continue
            cond = stmts.expr(h.cond)
            out += [*store, f"if ( {cond} )", "{", *["  " + ln for ln in stmts.block(h.body)], *["  " + ln for ln in load],
                    f"  {self._stepper_reset(block)}", "}"]
        return out

    def _stepper_reset(self, block: NumericBlock) -> str:
        index = self.ir.plan.blocks.index(block)
        return f"B_.__stepper_{index}.reset();" if block.method not in ("euler", "rk4") else ""

    def render(self) -> GeneratedModel:
        ir = self.ir
        for p in ir.spike_ports:
            if p.size is not None:  # one receptor per element is not generated yet: say so, not a C++ error
                raise IRError(p.node or ir.model, f"the vector spike port `{p.name}` (one receptor per element; "
                                                  f"declare one port per receptor instead)", "E0602")
        stmts = StatementPrinter(ir, dict(self.names), self._integrate, self._emit_spike, ir.lowerer_resolve,
                                 self.conversions, {f.name: f for f in ir.model.functions})
        ctx: dict = {"cls": self.cls, "namespace": self.namespace, "version": __version__,
                     "registered": self.registered, "source_name": Path(ir.model.loc.file).name,
                     "doc_lines": [cpp_comment(l).replace("*/", "* /") for l in ir.docstring.splitlines()[:40]],
                     "has_spike_output": ir.has_spike_output}
        # parameters, state, internals
        p_names = {v.name: v.name for v in ir.parameters}
        ctx["parameters"] = [self._var_ctx(v) for v in ir.parameters]
        pp = self._with(p_names)
        ctx["param_init"] = [self._init_line(v, v.name, pp) for v in ir.parameters]
        ctx["param_guards"] = self._guards(ir.parameters, self._with(p_names))
        s_over = {v.name: f"__P.{v.name}" for v in ir.parameters}
        state_vars = []
        state_init = []
        user_state = set()
        for v in ir.state:
            key = v.name + DERIV_SUFFIX * v.order
            user_state.add(key)
            s_over[key] = key
        # the State_ constructor sees only the parameters: initial values that read internals (or the
        # resolution) get the internals' definitions substituted
        s_over["__h"] = "nmlc_abi::resolution_ms()"
        sp = NestCppPrinter({**self.names, **s_over}, {"__nmlc_steps": "__nmlc_steps",
                                                       "__nmlc_long": "static_cast< long >"})
        internal_defs = self._internal_definitions()
        for v in ir.state:
            key = v.name + DERIV_SUFFIX * v.order
            c = self._var_ctx(v)
            c["name"] = key
            c["exposed"] = True
            state_vars.append(c)
            state_init.append(self._init_line(v, key, sp, internal_defs))
        for s in ir.ode_states:
            if s not in user_state:
                state_vars.append({"name": s, "ctype": "double", "doc": "convolution state", "exposed": False,
                                   "key": cpp_string(s)})
                state_init.append(f"{s} = 0.0;")
        ctx["state"] = state_vars
        ctx["state_init"] = state_init
        ctx["state_guards"] = self._guards(ir.state, sp)
        # derived variables: internals, propagators, spike jumps
        variables = [{"name": "__h", "ctype": "double", "doc": "simulation resolution, ms"},
                     *(self._var_ctx(v) for v in ir.internals)]
        calibrate = [self._init_line(v, f"V_.{v.name}", self.printer) for v in ir.internals]
        for block in ir.plan.blocks:
            if isinstance(block, ExactBlock):
                for ps, expr in block.propagators.items():
                    variables.append({"name": str(ps), "ctype": "double", "doc": "propagator"})
                    calibrate.append(f"V_.{ps} = {self.cpp(expr)};")
                if block.mode == "matrix_exponential":
                    variables += [{"name": str(ps), "ctype": "double", "doc": "propagator"} for ps in block.positions]
                    calibrate += self._expm_lines(block)
        jump_lines = []
        for ks in ir.kernel_states:
            for s, jump in zip(ks.states, ks.jumps):
                vname = f"__jump_{s}"
                variables.append({"name": vname, "ctype": "double", "doc": f"jump of {s} per unit spike weight"})
                calibrate.append(f"V_.{vname} = {self.cpp(jump)};")
                if jump != 0:  # a kernel whose value starts at 0 (alpha) needs no jump in that state
                    jump_lines.append(f"S_.{s} += V_.{vname} * __spk_{ks.port};")
        for dj in ir.delta_jumps:
            vname = f"__delta_{dj.target}__{dj.port}"
            variables.append({"name": vname, "ctype": "double", "doc": "delta-kernel jump per unit weight"})
            calibrate.append(f"V_.{vname} = {self.cpp(dj.coefficient)};")
        ctx["variables"] = variables
        ctx["calibrate"] = calibrate
        # ports: every input lives in a ring buffer of the node (ring r at __in[ r * __rlen ] for the
        # current step); the descriptor tells the node which ring an event goes to
        # the current time is kept only for models that read `t` (co-generated recordables compute it)
        reads_t = any(isinstance(x, n.Name) and x.name == "t" for b in ir.model.blocks
                                     if not isinstance(b, (n.VarBlock, n.EquationsBlock)) for x in b.walk()) or any(
            sym("t") in e.free_symbols for e in ir.odes.values())
        step_inputs = ["B_.__lag = lag;"]
        if reads_t:
            step_inputs.insert(0, "B_.__t = nmlc_abi::time_ms_of_step( B_.__origin_steps + lag );")
        counted = {h.port for h in ir.model.blocks_of(n.OnReceive)}
        n_rings = 0
        n_receptors = max((p.receptor for p in ir.spike_ports), default=-1) + 1
        spike_ring = [-1] * (2 * n_receptors)
        count_ring = [-1] * (2 * n_receptors)
        for p in ir.spike_ports:
            ring = n_rings
            n_rings += 1
            # a ring sums the weights as they come; NESTML's inhibitory port holds the magnitude -w,
            # so its sum is negated here, as 0 - sum (exactly -sum, and +0 rather than -0 without spikes)
            negate = "0.0 - " if p.sign == "inhibitory" else ""
            step_inputs.append(f"const double __spk_{p.name} = {negate}__in[ {ring} * __rlen ];")
            step_inputs.append(f"__in[ {ring} * __rlen ] = 0.0;")
            step_inputs.append(f"(void) __spk_{p.name};")
            count = -1
            if p.name in counted:  # event counts only where an onReceive handler needs them
                count = n_rings
                n_rings += 1
                step_inputs.append(f"const double __cnt_{p.name} = __in[ {count} * __rlen ];")
                step_inputs.append(f"__in[ {count} * __rlen ] = 0.0;")
            # slot 2r takes weights w >= 0 of receptor r, slot 2r + 1 weights w < 0; the first port wins
            slots = {"excitatory": (0,), "inhibitory": (1,)}.get(p.sign or "", (0, 1))
            for k in slots:
                if spike_ring[2 * p.receptor + k] < 0:
                    spike_ring[2 * p.receptor + k] = ring
                    count_ring[2 * p.receptor + k] = count
        ctx["receptor_types"] = [(cpp_string(p.name.upper()), p.receptor) for p in ir.spike_ports
                                 if ir.multi_receptor]
        ctx["spike_ports"] = ir.spike_ports
        cports = []
        next_inputs = []
        n_current = max((p.receptor for p in ir.continuous_ports), default=-1) + 1
        current_ring = [-1] * n_current
        for p in ir.continuous_ports:
            ring = n_rings
            n_rings += 1
            if current_ring[p.receptor] < 0:
                current_ring[p.receptor] = ring
            cports.append({"name": p.name, "receptor": p.receptor, "value": f"{p.name}__value"})
            next_inputs.append(f"B_.{p.name}__value = __in[ {ring} * __rlen ];")
            next_inputs.append(f"__in[ {ring} * __rlen ] = 0.0;")
        if next_inputs:
            # without a current source the rings hold zeros: a network of spiking neurons only (the
            # common case) then leaves their cache lines alone
            next_inputs = ["if ( __currents )", "{", *("  " + ln for ln in next_inputs), "}"]
        ctx["continuous_ports"] = cports
        tables = []

        def table(name: str, ctype: str, values: list) -> str:
            if not values:
                return "nullptr"
            tables.append({"name": name, "ctype": ctype, "entries": [str(v) for v in values]})
            return f"__nmlc_{self.cls}_{name}"

        ctx["descriptor"] = {
            "n_rings": n_rings, "n_spike_receptors": n_receptors, "n_current_receptors": n_current,
            "spike_routes": table("spike_routes", "nmlc_abi::SpikeRoute", [
                f"{{ {r}, {c} }}" for r, c in zip(spike_ring, count_ring)]),
            "current_ring": table("current_ring", "int", current_ring),
            "receptor_names": table("receptor_names", "char* const", [k for k, _ in ctx["receptor_types"]]),
            "receptor_numbers": table("receptor_numbers", "long", [v for _, v in ctx["receptor_types"]])}
        ctx["tables"] = tables
        ctx["step_inputs"] = step_inputs
        ctx["next_inputs"] = next_inputs
        # update block, then spike jumps, onReceive, onCondition
        update_blocks = ir.model.blocks_of(n.UpdateBlock)
        if update_blocks:
            body = []
            for ub in update_blocks:
                body += stmts.block(ub.body)
            if ir.kernel_states:
                body = ["bool __kernels_advanced = false;", *body, *self._kernel_catch_up()]
        else:
            body = self._integrate_states(set(ir.ode_states))
        ctx["update_body"] = body
        after = list(jump_lines)
        handlers = sorted(ir.model.blocks_of(n.OnReceive), key=lambda h: _priority(h.priority))
        for h in handlers:
            after.append(f"if ( __cnt_{h.port} > 0.0 )")
            after.append("{")
            after += ["  " + ln for ln in stmts.block(h.body)]
            after.append("}")
        for h in sorted(ir.model.blocks_of(n.OnCondition), key=lambda h: _priority(h.priority)):
            after.append(f"if ( {stmts.expr(h.cond)} )")
            after.append("{")
            after += ["  " + ln for ln in stmts.block(h.body)]
            after.append("}")
        ctx["after_update"] = after
        # recordables
        recs = []
        for v in state_vars:
            if v["ctype"].startswith("std::vector"):
                continue
            recs.append({"name": v["name"], "key": cpp_string(v["name"]), "expr": f"S_.{v['name']}", "prelude": ""})
        for name, expr in ir.inlines.items():
            inline = next(i for i in ir.model.equations if isinstance(i, n.Inline) and i.name == name)
            if inline.recordable:
                recs.append({"name": name, "key": cpp_string(name), "expr": self.cpp(expr), "prelude": ""})
        for v in (*ir.parameters, *ir.internals):
            if v.recordable and v.size is None:
                recs.append({"name": v.name, "key": cpp_string(v.name), "expr": self.names[v.name], "prelude": ""})
        ctx["recordables"] = recs
        ctx["functions"] = self._functions(stmts)
        numeric = [(i, b) for i, b in enumerate(ir.plan.blocks) if isinstance(b, NumericBlock)]
        ctx["steppers"] = []
        ctx["uses_random"] = any(isinstance(x, n.Call) and x.func.startswith("random_") for x in ir.model.walk())
        if numeric:
            for v in ("integrator_atol", "integrator_rtol"):
                if v not in p_names:
                    ctx["parameters"].append({"name": v, "ctype": "double", "key": cpp_string(v), "exposed": True,
                                              "doc": "tolerance of the adaptive ODE solver"})
                    ctx["param_init"].append(f"{v} = 1e-6;")
                    ctx["param_guards"].append({"cond": f"{v} > 0.0", "message": cpp_string(f"{v} must be > 0")})
            for i, block in numeric:
                f = self._numeric_function(i, block, stmts)
                ctx["functions"].append({"signature": f["signature"], "definition": f["definition"]})
                if f["stepper"]:
                    ctx["steppers"].append({"decl": f["stepper"], "hint": f["hint"]})
        ctx["cogen"] = None
        if self.cogens:
            from .cogen import neuron_context

            cg = neuron_context(self.cogens, self.cls, self.names, self._quantity_cpp)
            ctx["cogen"] = cg
            ctx["parameters"] += cg["params"]
            ctx["param_init"] += cg["param_init"]
            for r in cg["recordables"]:
                ctx["recordables"].append({"name": r["name"], "key": r["key"], "prelude": "",
                                           "expr": "__moved_now_( nmlc_abi::time_ms_of_step( B_.__origin_steps + "
                                                   f"B_.__lag ) + V_.__h )[ {r['index']} ]"})
        ctx["descriptor"]["recordables"] = table("recordables", "char* const", [r["key"] for r in ctx["recordables"]])
        ctx["layout"] = _hot_first(ctx)
        code = _ENV.get_template("neuron.cpp.jinja2").render(**ctx)
        return GeneratedModel(ir.name, self.registered, self.cls, f"{self.cls}.cpp", code)

    def _quantity_cpp(self, name: str) -> str:
        """The C++ value of a state or inline of this neuron (a quantity a co-generated synapse reads)."""
        if name in self.ir.inlines:
            return self.cpp(self.ir.inlines[name])
        return self.names[name]

    def _functions(self, stmts: StatementPrinter) -> list[dict]:
        out = []
        for f in self.ir.model.functions:
            ret = "void" if f.return_type is None or f.return_type.primitive == "void" else \
                {"integer": "long", "boolean": "bool", "string": "std::string"}.get(f.return_type.primitive or "",
                                                                                    "double")
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
            sig = f"{ret} {f.name}( {', '.join(params)} )"
            definition = "\n".join([f"{ret}\n{self.cls}::{f.name}( {', '.join(params)} )", "{", *body, "}"])
            out.append({"signature": sig, "definition": definition})
        return out

    def _init_line(self, v, target: str, printer: NestCppPrinter, subs: dict | None = None) -> str:
        if v.size is None:
            return f"{target} = {self._init(v, printer, subs)};"
        size = printer.doprint(self.ir.lowerer(v.size))
        return f"{target}.assign( static_cast< size_t >( {size} ), {self._init(v, printer, subs)} );"

    def _internal_definitions(self) -> dict:
        """Each internal's value as an expression of parameters and state (internals substituted)."""
        defs: dict = {}
        for v in self.ir.internals:
            if v.size is None and v.init is not None and v.ctype in ("double", "long"):
                value = self.ir.lowerer(v.init).xreplace(defs)
                defs[sym(v.name)] = sympy.Function("__nmlc_long")(value) if v.ctype == "long" else value
        return defs

    def _var_ctx(self, v) -> dict:
        ctype = v.ctype if v.size is None else f"std::vector< {v.ctype} >"
        return {"name": v.name, "ctype": ctype, "doc": cpp_comment(f"{v.comment} [{v.unit}]" if v.unit else v.comment),
                "key": cpp_string(v.name), "exposed": True}

    def _init(self, v, printer: NestCppPrinter, subs: dict | None = None) -> str:
        if v.init is None:
            return "0" if v.ctype != "std::string" else '""'
        value = self.ir.lowerer(v.init)
        if subs:
            value = value.xreplace(subs)
        text = printer.doprint(value)
        if v.ctype == "long":
            return f"static_cast< long >( {text} )"
        return text

    def _guards(self, variables, printer: NestCppPrinter) -> list[dict]:
        out = []
        for v in variables:
            if v.size is not None:
                size = printer.doprint(self.ir.lowerer(v.size))
                out.append({"cond": f"{v.name}.size() == static_cast< size_t >( {size} )",
                            "message": cpp_string(f"{self.registered}: {v.name} must have as many elements as its "
                                                  f"declared size")})
            g = v.decl.guard
            if g is None or v.decl.names[0].name != v.name:
                continue
            cond = printer.doprint(self.ir.lowerer(g))
            src = f"{v.name}: guard violated"
            out.append({"cond": cond, "message": cpp_string(f"{self.registered}: {src}")})
        return out


def _priority(expr: n.Expr | None) -> float:
    if isinstance(expr, n.Num):
        return -expr.value
    return 0.0


def _hot_first(ctx: dict) -> dict[str, list[dict]]:
    """The members of P_, S_ and V_ in declaration order: those the simulation loop reads first.

    A network of many neurons does not fit in the caches: each update() and each spike's delivery
    fetches the node's memory again, line by line. Parameters read only by calibrate() (C_m, tau_m ...)
    would otherwise sit between the fields every step reads and spread them over more cache lines.
    """
    loop = "\n".join([*ctx["step_inputs"], *ctx["update_body"], *ctx["after_update"], *ctx["next_inputs"],
                      *(f["definition"] for f in ctx["functions"]), *(s["decl"] for s in ctx["steppers"]),
                      repr(ctx["cogen"])])
    layout = {}
    for key, struct in (("parameters", "P_"), ("state", "S_"), ("variables", "V_")):
        used = set(re.findall(rf"\b{struct}\.(\w+)", loop))
        layout[key] = sorted(ctx[key], key=lambda v: v["name"] not in used)  # stable: hot, then cold
    return layout


def render_module(models: list[GeneratedModel], module: str, namespace: str,
                  kinds: list[str] | None = None) -> str:
    """The module's registration unit; ``kinds`` says which models are neurons (default: all)."""
    kinds = kinds or ["neuron"] * len(models)
    regs = [{"cls": m.cls, "name": m.registered, "key": cpp_string(m.registered), "kind": k}
            for m, k in zip(models, kinds)]
    return _ENV.get_template("module.cpp.jinja2").render(module=module, version=__version__, registrations=regs,
                                                          namespace=namespace)
