"""Render a neuron model IR into a self-contained Python (NumPy) module.

The module holds one class whose instance simulates ``n`` neurons of the model at once: every
parameter, state and internal is an array over neurons, kept in a plain namespace object ``_s``.
Event semantics are those of the NEST target (see :mod:`nmlc.targets.nest.generator`): in step k
the update block runs, then spikes due in step k are added to kernel states and passed to the
``onReceive`` handlers, then ``onCondition`` handlers run; delta kernels jump inside
``integrate_odes``; convolution states advance once per step; a continuous input received in step k
acts during step k+1; numeric blocks check the ``onCondition`` handlers that read and reset their
states after every accepted sub-step (:func:`nmlc.targets.common.substep_event_handlers`).
Propagators and internals are recomputed by ``prepare()`` (NEST's ``pre_run_hook``). Numeric blocks
use the runtime's Dormand-Prince (``rk45``), RODAS3 (``implicit``, with the analysis' Jacobian), Euler or
RK4; vector parameters, state and internals are rows of 2-D arrays with a length per neuron.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import sympy

from ... import __version__
from ...analysis import ExactBlock, NumericBlock
from ...ir.lowering import DERIV_SUFFIX
from ...ir.model import IRError, ModelIR
from ...syntax import nodes as n
from ..common import share_exponentials, substep_event_handlers
from .printer import PY_RESERVED, NumpyPrinter, ScalarPrinter, py_attr, py_string
from .statements import StatementPrinter, py_dtype

TEMPLATES = Path(__file__).parent / "templates"
RUNTIME = Path(__file__).parent / "runtime.py"

_ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), trim_blocks=True, lstrip_blocks=True,
                          keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
_ENV.filters["pyrepr"] = repr  # a Python literal of a str, number, None, list or dict


@dataclass
class GeneratedPython:
    """One generated module: the model's name, its file name and its source text."""

    name: str
    kind: str
    filename: str
    code: str
    recordables: list[str] = field(default_factory=list)


def runtime_source() -> str:
    """The runtime's text without its module docstring and imports (the template provides those)."""
    text = RUNTIME.read_text(encoding="utf-8")
    body = text.split('"""', 2)[2]
    return "\n".join(ln for ln in body.splitlines() if not ln.startswith(("import ", "from "))).strip() + "\n"


def check_identifiers(ir: ModelIR) -> list[tuple[n.Node, str]]:
    """User names that cannot be stored under their own name in a generated Python module."""
    bad = []
    for s in ir.symbols.symbols.values():
        if s.name in PY_RESERVED and not s.name.isidentifier():
            bad.append((s.node, s.name))
        if s.name.startswith("_") or (py_attr(s.name) != s.name and py_attr(s.name) in ir.symbols.symbols):
            bad.append((s.node, s.name))
    return bad


def _priority(expr: n.Expr | None) -> float:
    return -expr.value if isinstance(expr, n.Num) else 0.0


class PyNeuronGenerator:
    """Builds the template context of one neuron model and renders it."""

    def __init__(self, ir: ModelIR, conversions: dict[int, float] | None = None):
        self.ir = ir
        self.conversions = conversions or {}
        for p in (*ir.spike_ports, *ir.continuous_ports):
            if p.size is not None:
                raise IRError(p.node or ir.model, f"vector port `{p.name}`",
                              "E0602")
        self.functions = {f.name: f"_f_{f.name}" for f in ir.model.functions}
        self.names = self._names()
        self._ids = 0  # numbers the masks of integrate_odes calls

    # ------------------------------------------------------------------ names
    def _names(self, index: str = "") -> dict[str, str]:
        """Symbol -> Python for code acting on neurons ``_i`` (``index`` is ``"[_i]"``) or on all."""
        ir = self.ir
        names: dict[str, str] = {"__h": "_s._h", "t": "_s._t"}
        for v in (*ir.parameters, *ir.internals):
            names[v.name] = f"_s.{py_attr(v.name)}{index}"
        for v in ir.state:
            key = v.name + DERIV_SUFFIX * v.order
            names[key] = f"_s.{py_attr(key)}{index}"
        for v in (*ir.parameters, *ir.state, *ir.internals):
            if v.size is not None:  # a vector: rows of a 2-D array, and each neuron's length
                names[f"__len_{v.name}"] = f"_s._len_{py_attr(v.name)}{index}"
        for s in ir.ode_states:
            names.setdefault(s, f"_s.{py_attr(s)}{index}")
        for p in ir.continuous_ports:
            names[p.name] = f"_s._in_{p.name}{index}"
        for p in ir.spike_ports:
            names[f"__spk_{p.name}"] = f"_spk_{p.name}"
        for block in ir.plan.blocks:
            if isinstance(block, ExactBlock):
                for ps in (block.positions if block.mode == "matrix_exponential" else block.propagators):
                    names[str(ps)] = f"_s.{str(ps)[1:]}{index}"
        for ks in ir.kernel_states:
            for s in ks.states:
                names[f"__jump_{s}"] = f"_s._jump_{s}{index}"
        for dj in ir.delta_jumps:
            names[f"__delta_{dj.target}__{dj.port}"] = f"_s._delta_{dj.target}__{dj.port}{index}"
        return names

    def py(self, expr: sympy.Expr, names: dict[str, str] | None = None, node: n.Node | None = None) -> str:
        printer = NumpyPrinter(names or self.names, {"__nmlc_steps": "_rt_steps", "__nmlc_long": "_rt_long",
                                                     **self.functions})
        try:
            return printer.doprint(expr)
        except KeyError as exc:
            raise IRError(node or self.ir.model, f"the expression `{expr}` ({exc.args[0]})",
                          "E0602") from None

    def _stmts(self, names: dict[str, str], size: str = "_s._n") -> StatementPrinter:
        return StatementPrinter(self.ir, names, self._integrate, self._emit, self.ir.lowerer_resolve,
                                self.conversions, self.functions, size)

    # ------------------------------------------------------------------ integrate_odes / emit_spike
    def _integrate(self, requested: list[str], mask: str) -> list[str]:
        ir = self.ir
        kernel_states = {s for ks in ir.kernel_states for s in ks.states}
        wanted = set(ir.ode_states) if not requested else set()
        for name in requested:
            wanted.update(s for s in ir.ode_states if s == name or s.startswith(name + DERIV_SUFFIX))
        if not kernel_states:
            return self._integrate_states(wanted, mask)
        # convolution states advance exactly once per step, however often integrate_odes runs in it and
        # also when it does not run at all (see _kernel_catch_up), as on the NEST target; per neuron
        self._ids += 1
        first, again = f"_kfirst{self._ids}", f"_kagain{self._ids}"
        return [f"{first} = _np.logical_and({mask}, _np.logical_not(_s._kadv))",
                f"{again} = _np.logical_and({mask}, _s._kadv)",
                f"if _np.count_nonzero({first}):",
                *["    " + ln for ln in self._integrate_states(wanted | kernel_states, first) or ["pass"]],
                f"if _np.count_nonzero({again}):",
                *["    " + ln for ln in self._integrate_states(wanted - kernel_states, again) or ["pass"]],
                f"_np.logical_or(_s._kadv, {mask}, out=_s._kadv)"]

    def _kernel_catch_up(self) -> list[str]:
        """After the update block: advance the convolution states of neurons no integrate_odes call advanced."""
        kernel_states = {s for ks in self.ir.kernel_states for s in ks.states}
        if not kernel_states:
            return []
        return ["_kcatch = _np.logical_not(_s._kadv)", "if _np.count_nonzero(_kcatch):",
                *["    " + ln for ln in self._integrate_states(kernel_states, "_kcatch") or ["pass"]]]

    def _integrate_states(self, wanted: set[str], mask: str) -> list[str]:
        ir = self.ir
        lines: list[str] = []
        for i, block in enumerate(ir.plan.blocks):
            states = [s for s in block.states if str(s) in wanted]
            if not states:
                continue
            if isinstance(block, ExactBlock):
                # every new value from the old ones first, then the stores
                for s in states:
                    lines.append(f"_new_{s} = {self.py(block.update[s])}")
                lines += [f"_rt_put({self.names[str(s)]}, _new_{s}, {mask})" for s in states]
            elif isinstance(block, NumericBlock):
                want = ", ".join("True" if str(s) in wanted else "False" for s in block.states)
                lines.append(f"_integrate_numeric_{i}(_s, {mask}, ({want},))")
        for dj in ir.delta_jumps:
            if dj.target in wanted:
                name = self.names[dj.target]
                lines.append(f"_rt_put({name}, {name} + _s._delta_{dj.target}__{dj.port} * _spk_{dj.port}, {mask})")
        return lines

    def _emit(self, args: list[str], mask: str) -> list[str]:
        # a count, not a flag: with t_ref = 0 a neuron may spike at several sub-steps of one step; the
        # quantities a synapse reads at this neuron's spikes are taken here (as NEST's co-generated
        # neuron takes them at emit_spike)
        return [f"_s._nspikes += {mask}", "if _s._snap:", f"    _rt_snapshot(_s, {mask}, _quantity)"]

    # ------------------------------------------------------------------ numeric blocks
    def _numeric(self, index: int, block: NumericBlock, stmts: StatementPrinter) -> dict:
        ir = self.ir
        ns = len(block.states)
        names = self._names("[_i]")
        for k, s in enumerate(block.states):
            names[str(s)] = f"_y[{k}]"
        names["t"] = "(_s._t + _tt)"
        exprs = share_exponentials([block.rhs[s] for s in block.states])
        if any(e.has(sympy.Indexed) for e in exprs):
            raise IRError(ir.model, "a vector variable in the right-hand side of a numerically integrated ODE",
                          "E0602")
        temps, reduced = sympy.cse(exprs, symbols=sympy.numbered_symbols("_cse"), optimizations="basic")
        for tsym, _ in temps:
            names[str(tsym)] = str(tsym)
        rhs = [f"{t} = {self.py(e, names)}" for t, e in temps]
        rhs += [f"_d{k} = ({self.py(e, names)}) if _want[{k}] else 0.0" for k, e in enumerate(reduced)]
        rhs.append("_out = _np.empty_like(_y)")
        rhs += [f"_out[{k}] = _d{k}" for k in range(ns)]
        scalar_load, scalar_rhs = self._scalar_rhs(block, temps, reduced)
        # sub-step events: the onCondition handlers that read this block's states
        block_names = {str(s) for s in block.states}
        events: list[str] = []
        for h in substep_event_handlers(ir.model, block_names):
            c = stmts.fresh("c")
            events.append(f"{c} = _np.logical_and(_M, {stmts.expr(h.cond)})")
            events.append(f"if _np.count_nonzero({c}):")
            events += ["    " + ln for ln in stmts.block(h.body, c)]
            events.append(f"    _np.logical_or(_changed, {c}, out=_changed)")
        method = block.method
        if method not in ("rk45", "euler", "rk4", "implicit"):
            raise IRError(ir.model, f"the `{method}` solver (states {', '.join(map(str, block.states))}; "
                                    f"pin them to rk45 with `# nmlc: solver = rk45`)", "E0602")
        jac = self._jacobian(block, names) if method == "implicit" else []
        return {"index": index, "states": [self.names[str(s)] for s in block.states], "rhs": rhs, "events": events,
                "method": method, "n_states": ns, "scalar_load": scalar_load, "scalar_rhs": scalar_rhs, "jac": jac}

    def _jacobian(self, block: NumericBlock, names: dict[str, str]) -> list[str]:
        """Lines computing ``_J`` (states x states x neurons), d rhs / d states, for the implicit solver.
        A row of a state ``integrate_odes`` does not advance is zero, as its right-hand side is."""
        ns = len(block.states)
        jac = block.jacobian
        if jac is None or tuple(jac.shape) != (ns, ns):
            raise IRError(self.ir.model, "the implicit solver without the analysis' Jacobian", "E0602")
        temps, reduced = sympy.cse(list(jac), symbols=sympy.numbered_symbols("_jcse"), optimizations="basic")
        names = dict(names)
        for tsym, _ in temps:
            names[str(tsym)] = str(tsym)
        lines = [f"{t} = {self.py(e, names)}" for t, e in temps]
        lines.append(f"_J = _np.zeros(({ns}, {ns}, _y.shape[1]))")
        for k, e in enumerate(reduced):
            row, col = divmod(k, ns)
            if e != 0:
                lines.append(f"if _want[{row}]:")
                lines.append(f"    _J[{row}, {col}] = {self.py(e, names)}")
        return lines

    def _scalar_rhs(self, block: NumericBlock, temps, reduced) -> tuple[list[str], list[str]]:
        """The right-hand side on Python floats for one neuron ``_j``: lines loading what it reads
        (constant during a step, reloaded after an event), and its body."""
        states = {str(s): k for k, s in enumerate(block.states)}
        used: set[str] = set()
        for e in (*[e for _, e in temps], *reduced):
            used |= {str(x) for x in e.free_symbols}
        used -= set(states) | {str(t) for t, _ in temps}
        per_neuron = self._names("[_j]")
        names = {s: f"_y[{k}]" for s, k in states.items()}
        names.update({"t": "(_t0 + _tt)", "__h": "_h"})
        load = ["_h = _s._h", "_t0 = _s._t", "_j1 = _np.array([_j])"]
        for name in sorted(used - {"t", "__h"}):
            if name not in per_neuron:
                raise IRError(self.ir.model, f"the right-hand side reads `{name}`", "E0602")
            local = f"_p_{name}"
            names[name] = local
            load.append(f"{local} = float({per_neuron[name]})")
        for tsym, _ in temps:
            names[str(tsym)] = str(tsym)
        printer = ScalarPrinter(names, {"__nmlc_steps": "_rt_steps", **self.functions})
        body = [f"{t} = {printer.doprint(e)}" for t, e in temps]
        body.append("return [" + ", ".join(f"(({printer.doprint(e)}) if _want[{k}] else 0.0)"
                                           for k, e in enumerate(reduced)) + "]")
        return load, body

    # ------------------------------------------------------------------ render
    def context(self) -> dict:
        ir = self.ir
        stmts = self._stmts(dict(self.names))
        ctx: dict = {"cls": ir.name, "version": __version__, "source_name": Path(ir.model.loc.file).name,
                     "doc_lines": [ln.rstrip() for ln in ir.docstring.splitlines()[:40]], "kind": "neuron"}
        # parameters: declaration order, each may read the earlier ones
        ctx["parameters"] = [{"name": v.name, "attr": py_attr(v.name), "unit": v.unit, "dtype": py_dtype(v.type),
                              "init": self._init(v), "size": self._size(v)} for v in ir.parameters]
        numeric = [(i, b) for i, b in enumerate(ir.plan.blocks) if isinstance(b, NumericBlock)]
        if numeric:
            for tol in ("integrator_atol", "integrator_rtol"):
                if ir.variable(tol) is None:
                    ctx["parameters"].append({"name": tol, "attr": tol, "unit": "", "dtype": "float", "init": "1e-6",
                                              "size": None})
        states = []
        user_state = set()
        internal_defs = self._internal_definitions()
        for v in ir.state:
            key = v.name + DERIV_SUFFIX * v.order
            user_state.add(key)
            states.append({"name": key, "attr": py_attr(key), "unit": v.unit, "dtype": py_dtype(v.type),
                           "init": self._init(v, internal_defs), "exposed": True, "size": self._size(v)})
        for s in ir.ode_states:
            if s not in user_state:
                states.append({"name": s, "attr": py_attr(s), "unit": "", "dtype": "float", "init": "0.0",
                               "exposed": False, "size": None})
        ctx["state"] = states
        ctx["vectors"] = {v["attr"]: v["dtype"] for v in (*ctx["parameters"], *states) if v["size"] is not None}
        ctx["guards"] = self._guards()
        # prepare(): internals, propagators, jumps
        calibrate = [f"_s.{py_attr(v.name)} = _rt_full({self._init(v)}, _s._n, {py_dtype(v.type)})"
                     if v.size is None else
                     f"_s.{py_attr(v.name)}, _s._len_{py_attr(v.name)} = _rt_vfull({self._init(v)}, {self._size(v)}, "
                     f"_s._n, {py_dtype(v.type)})" for v in ir.internals]
        for i, block in enumerate(ir.plan.blocks):
            if isinstance(block, ExactBlock):
                for ps, expr in block.propagators.items():
                    calibrate.append(f"_s.{str(ps)[1:]} = _rt_full({self.py(expr)}, _s._n, float)")
                if block.mode == "matrix_exponential":
                    calibrate += self._expm_lines(block)
        jump_lines = []
        for ks in ir.kernel_states:
            for s, jump in zip(ks.states, ks.jumps):
                calibrate.append(f"_s._jump_{s} = _rt_full({self.py(jump)}, _s._n, float)")
                if jump != 0:
                    name = self.names[s]
                    jump_lines.append(f"{name} += _s._jump_{s} * _spk_{ks.port}")
        for dj in ir.delta_jumps:
            calibrate.append(f"_s._delta_{dj.target}__{dj.port} = _rt_full({self.py(dj.coefficient)}, _s._n, float)")
        ctx["calibrate"] = calibrate
        # ports
        counted = {h.port for h in ir.model.blocks_of(n.OnReceive)}
        ctx["spike_ports"] = [{"name": p.name, "receptor": p.receptor, "sign": p.sign, "index": k,
                               "counted": p.name in counted} for k, p in enumerate(ir.spike_ports)]
        ctx["continuous_ports"] = [{"name": p.name, "receptor": p.receptor, "index": k}
                                   for k, p in enumerate(ir.continuous_ports)]
        # the step: update block, kernel jumps, onReceive, onCondition
        if ir.model.blocks_of(n.UpdateBlock):
            body = []
            for ub in ir.model.blocks_of(n.UpdateBlock):
                body += stmts.block(ub.body, "_M")
            if ir.kernel_states:
                body = ["_s._kadv = _np.zeros(_s._n, dtype=bool)", *body, *self._kernel_catch_up()]
        else:
            body = self._integrate_states(set(ir.ode_states), "_M") or ["pass"]
        after = list(jump_lines)
        for h in sorted(ir.model.blocks_of(n.OnReceive), key=lambda h: _priority(h.priority)):
            c = stmts.fresh("c")
            after.append(f"{c} = _cnt_{h.port} > 0.0")
            after.append(f"if _np.count_nonzero({c}):")
            after += ["    " + ln for ln in stmts.block(h.body, c)]
        for h in sorted(ir.model.blocks_of(n.OnCondition), key=lambda h: _priority(h.priority)):
            c = stmts.fresh("c")
            after.append(f"{c} = _np.logical_and(_M, {stmts.expr(h.cond)})")
            after.append(f"if _np.count_nonzero({c}):")
            after += ["    " + ln for ln in stmts.block(h.body, c)]
        ctx["update_body"] = body
        ctx["after_update"] = after
        # recordables: state, recordable inlines, recordable parameters/internals
        recs = [{"name": st["name"], "expr": f"_s.{st['attr']}"} for st in states if st["size"] is None]
        for name, expr in ir.inlines.items():
            inline = next(i for i in ir.model.equations if isinstance(i, n.Inline) and i.name == name)
            if inline.recordable:
                recs.append({"name": name, "expr": self.py(expr, node=inline)})
        for v in (*ir.parameters, *ir.internals):
            if v.recordable and v.size is None:
                recs.append({"name": v.name, "expr": self.names[v.name]})
        ctx["recordables"] = recs
        # what a synapse's continuous input may read: every scalar state and every inline
        quantities = [{"name": st["name"], "expr": f"_s.{st['attr']}"} for st in states if st["size"] is None]
        for name, expr in ir.inlines.items():
            inline = next(i for i in ir.model.equations if isinstance(i, n.Inline) and i.name == name)
            quantities.append({"name": name, "expr": self.py(expr, node=inline)})
        ctx["quantities"] = quantities
        ctx["functions"] = [self._function(f) for f in ir.model.functions]
        ctx["numeric"] = [self._numeric(i, b, stmts) for i, b in numeric]
        solver = {}
        for block in ir.plan.blocks:
            method = "exact" if isinstance(block, ExactBlock) else block.method
            for s in block.states:
                solver[str(s)] = method
        ctx["solver"] = solver
        ctx["uses_random"] = any(isinstance(x, n.Call) and x.func.startswith("random_") for x in ir.model.walk())
        return ctx

    def render(self) -> GeneratedPython:
        ctx = self.context()
        ctx["runtime"] = runtime_source()
        code = _ENV.get_template("neuron.py.jinja2").render(**ctx)
        return GeneratedPython(self.ir.name, "neuron", f"{self.ir.name}.py", code,
                               [r["name"] for r in ctx["recordables"]])

    # ------------------------------------------------------------------ pieces
    def _init(self, v, subs: dict | None = None) -> str:
        if v.init is None:
            return "0.0" if py_dtype(v.type) != "object" else "''"
        value = self.ir.lowerer(v.init)
        if subs:
            value = value.xreplace(subs)
        return self.py(value, node=v.decl)

    def _internal_definitions(self) -> dict:
        """Each internal's value in terms of parameters (internals substituted): initial values of state
        variables may read internals, which are computed only later (as on the NEST target)."""
        defs: dict = {}
        for v in self.ir.internals:
            if v.size is None and v.init is not None and v.ctype in ("double", "long"):
                value = self.ir.lowerer(v.init).xreplace(defs)
                defs[sympy.Symbol(v.name)] = sympy.Function("__nmlc_long")(value) if v.ctype == "long" else value
        return defs

    def _size(self, v) -> str | None:
        """The Python expression of a vector's declared size (None for a scalar)."""
        return None if v.size is None else self.py(self.ir.lowerer(v.size), node=v.decl)

    def _guards(self) -> list[dict]:
        out = []
        for v in (*self.ir.parameters, *self.ir.state):
            if v.size is not None:
                out.append({"cond": f"_s._len_{py_attr(v.name)} == ({self._size(v)})",
                            "message": py_string(f"{self.ir.name}: {v.name} must have as many elements as its "
                                                 "declared size")})
            g = v.decl.guard
            if g is None or v.decl.names[0].name != v.name:
                continue
            out.append({"cond": self.py(self.ir.lowerer(g), node=g),
                        "message": py_string(f"{self.ir.name}: {v.name}: guard violated")})
        return out

    def _expm_lines(self, block: ExactBlock) -> list[str]:
        size = block.generator.rows
        lines = [f"_gen = _np.zeros((_s._n, {size}, {size}))"]
        for r in range(size):
            for c in range(block.generator.cols):
                if block.generator[r, c] != 0:
                    lines.append(f"_gen[:, {r}, {c}] = ({self.py(block.generator[r, c])}) * _s._h")
        lines.append("_prop = _rt_expm(_gen)")
        lines.append("if not _np.isfinite(_prop).all():")
        message = py_string(f"{self.ir.name}: the propagator matrix exp(M h) is not finite")
        lines.append(f"    raise ValueError({message})")
        lines += [f"_s.{str(ps)[1:]} = _prop[:, {r}, {c}].copy()" for ps, (r, c) in block.positions.items()]
        return lines

    def _function(self, f: n.FunctionDef) -> dict:
        names = self._names("[_i]")
        stmts = self._stmts(names, "_n")
        stmts.in_function = True
        frame = {}
        params = []
        conv = []
        for p in f.params:
            local = stmts._local_name(p.name)
            params.append(local)
            frame[p.name] = local
            stmts.names[f"__local__{p.name}"] = local
            dtype = py_dtype(p.type)
            stmts.local_types[local] = dtype
            conv.append(f"{local} = _rt_full({local}, _n, {dtype})")
        stmts.locals.append(frame)
        body = stmts.block(f.body, "_M", 0)
        stmts.locals.pop()
        ret = py_dtype(f.return_type) if f.return_type is not None and f.return_type.primitive != "void" else None
        return {"name": self.functions[f.name], "params": params, "conv": conv, "body": body,
                "ret": ret if ret is not None else "float"}
