"""Target-independent parts of code generation: what a name, a port attribute or a call in a statement
means, what ``print`` shows, and which ``onCondition`` handlers act within a step.

Every target prints the update block, event handlers and functions from the same lowering: a name is a
local variable of an enclosing block, a spike port (its summed weight this step) or whatever the
equations call it; ``steps()``, ``sift()``, the random functions and the model's own functions become
sympy function calls that each target's printer maps to its code. Only where values live and how
statements are spelled differ between targets, so that is all a target's ``StatementPrinter`` adds.
"""
from __future__ import annotations

import re

import sympy

from ..ir.lowering import sym
from ..ir.model import IRError, event_attribute_is_weight
from ..syntax import nodes as n

RANDOM_FUNCTIONS = ("random_normal", "random_uniform", "random_poisson")


class StatementLowering:
    """Name resolution for a statement printer's :class:`~nmlc.ir.lowering.Lowerer` (a mixin).

    The printer provides ``ir`` (the ModelIR), ``locals`` (a stack of frames, NESTML name -> target
    name), ``base_resolve`` (the equations' name resolution) and ``functions`` (the model's user
    functions, keyed by NESTML name).
    """

    def _resolve(self, node: n.Name | n.Attr) -> sympy.Expr:
        if isinstance(node, n.Attr):
            s = self.ir.symbols.get(node.obj.name)
            if s is not None and s.kind == "spike_port" and isinstance(s.node, n.InputPort) and \
                    event_attribute_is_weight(s.node, node.attr):
                return sym(f"__spk_{node.obj.name}")
            raise IRError(node, f"`{node.obj.name}.{node.attr}` is not an input port attribute", "E0200")
        for frame in reversed(self.locals):
            if node.name in frame:
                return sym(f"__local__{node.name}")
        s = self.ir.symbols.get(node.name)
        if s is not None and s.kind == "spike_port":
            return sym(f"__spk_{node.name}")
        return self.base_resolve(node)

    def _convolve(self, call: n.Call) -> sympy.Expr:
        raise IRError(call, "convolve() can only be used in the equations block", "E0401")

    def _call(self, call: n.Call, args: list) -> sympy.Expr:
        if call.func == "steps":
            return sympy.Function("__nmlc_steps")(*args)
        if call.func == "sift":
            port = call.args[0]
            if not isinstance(port, n.Name):
                raise IRError(call, "sift() takes a spike input port as its first argument", "E0302")
            return sym(f"__spk_{port.name}") * args[1]
        if call.func in RANDOM_FUNCTIONS:
            return sympy.Function(call.func)(*args)
        if call.func in self.functions:
            return sympy.Function(call.func)(*args)
        raise IRError(call, f"undeclared function `{call.func}`", "E0202")


def _priority(expr: n.Expr | None) -> float:
    return -expr.value if isinstance(expr, n.Num) else 0.0


def integration_guards(model: n.Model) -> set[str]:
    """Names read by the conditions of the update block's ``if``/``while`` statements that decide which
    ``integrate_odes`` call runs (a refractory counter, for instance)."""
    guards: set[str] = set()
    for ub in model.blocks_of(n.UpdateBlock):
        for node in ub.walk():
            if isinstance(node, n.If):
                conds = [c for c, _ in node.branches]
            elif isinstance(node, n.While):
                conds = [node.cond]
            else:
                continue
            if any(isinstance(x, n.Call) and x.func == "integrate_odes" for x in node.walk()):
                guards |= {x.name for c in conds for x in c.walk() if isinstance(x, n.Name)}
    return guards


def substep_event_handlers(model: n.Model, block_states: set[str]) -> list[n.OnCondition]:
    """The ``onCondition`` handlers checked after every accepted sub-step of a numeric block whose states
    are ``block_states``, in priority order.

    A handler qualifies when its condition reads one of those states and it is a reset: it assigns what
    its condition reads (``V_prev < V_th and V_m >= V_th`` with an after-hyperpolarisation kick stays
    true and is checked once, after the step), and it starts no refractory period the update block
    reads to choose what to integrate (the reset state must then hold until the step ends, as NESTML
    checks onCondition after the step)."""
    guards = integration_guards(model)
    out = []
    for h in sorted(model.blocks_of(n.OnCondition), key=lambda h: _priority(h.priority)):
        read = {node.name for node in h.cond.walk() if isinstance(node, n.Name)}
        if not read & block_states:
            continue
        assigned = {node.target.name for node in h.walk() if isinstance(node, n.Assign)}
        if not assigned & read or assigned & guards:
            continue
        out.append(h)
    return out


_INTERPOLATION = re.compile(r"\{([A-Za-z_$][A-Za-z_0-9$]*)\}")


def print_segments(ir, arg: n.Expr) -> list[str | n.Expr]:
    """What ``print``/``println`` shows for one argument, as text pieces and expressions: a string with
    each ``{name}`` replaced by the variable's value followed by its unit (as NESTML prints it), or the
    value of any other expression."""
    if not isinstance(arg, n.Str):
        return [arg]
    parts: list[str | n.Expr] = []
    pos = 0
    for m in _INTERPOLATION.finditer(arg.value):
        if m.start() > pos:
            parts.append(arg.value[pos:m.start()])
        parts.append(n.Name(arg.loc, m.group(1)))
        var = ir.variable(m.group(1))
        unit = var.unit if var is not None else ("ms" if m.group(1) == "t" else "")
        if unit:
            parts.append(" " + unit)
        pos = m.end()
    if pos < len(arg.value) or not parts:
        parts.append(arg.value[pos:])
    return parts


def share_exponentials(exprs: list[sympy.Expr]) -> list[sympy.Expr]:
    """Rewrite ``exp(a*x + c)`` with a numeric constant ``c`` as ``exp(a*x) * exp(c)``, for the right-hand
    sides of numerically integrated ODEs.

    Rate functions such as Hodgkin-Huxley's ``alpha_m(V)`` and ``beta_h(V)`` are exponentials of the same
    ``V / 10`` shifted by different constants; once the constants are factored out, common subexpression
    elimination computes each distinct exponential once per evaluation (4 instead of 6 in ``hh_psc_alpha``),
    and the right-hand side is evaluated 6 times per solver step. ``exp(c)`` is folded to a number; a
    constant larger than 30 in magnitude is left inside, so that no intermediate overflows where the
    original would not. Both targets use this, so that their arithmetic stays identical.
    """
    def split(e: sympy.Expr) -> sympy.Expr:
        if not isinstance(e, sympy.exp):
            return e
        arg = sympy.expand(e.args[0])
        if not isinstance(arg, sympy.Add):
            return e
        const = sum((t for t in arg.args if t.is_number), sympy.Integer(0))
        if const == 0 or abs(float(const)) > 30:
            return e
        return sympy.exp(arg - const) * sympy.Float(float(sympy.exp(const)), 17)

    return [sympy.sympify(x).replace(lambda e: isinstance(e, sympy.exp), split) for x in exprs]
