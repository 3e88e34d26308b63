"""Print NESTML statements as vectorised, masked NumPy code for the Python target.

Every statement acts on all neurons of a model at once. Control flow becomes masks: an ``if``
splits the current mask into the neurons taking each branch (a branch no neuron takes is
skipped), a ``while`` loop runs while any neuron of its mask still satisfies the condition, and
an assignment writes only the neurons of the current mask (``_rt_put``). Per neuron this is the
sequential meaning of the model, because neurons never read each other's variables. A ``return``
inside a function marks its neurons done; the following statements of the function run only for
the others. An element of a vector (``x[k] = v``) is stored per neuron at that neuron's index.

Expressions go through the same sympy lowering as the equations (and as the NEST target's
statements), so a name means the same here as in an ODE.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable

import sympy

from ...ir.lowering import Lowerer
from ...ir.model import IRError, ModelIR
from ...syntax import nodes as n
from ..common import StatementLowering, print_segments
from .printer import NumpyPrinter, py_string

INDENT = "    "
_DTYPES = {"integer": "int", "boolean": "bool", "string": "object"}


def py_dtype(type_: n.TypeExpr | None) -> str:
    return _DTYPES.get(type_.primitive or "", "float") if type_ is not None else "float"


class StatementPrinter(StatementLowering):
    """Prints statement lists of one model as masked NumPy code.

    ``names`` maps symbol names to Python expressions; ``integrate(requested, mask)`` and
    ``emit(args, mask)`` expand ``integrate_odes`` and ``emit_spike``/``deliver_spike``;
    ``size`` is the Python expression of the number of entries every array has.
    """

    def __init__(self, ir: ModelIR, names: dict[str, str], integrate: Callable[[list[str], str], list[str]],
                 emit: Callable[[list[str], str], list[str]], builder_resolve: Callable[[n.Name], sympy.Expr],
                 conversions: dict[int, float], functions: dict[str, str], size: str = "_s._n"):
        self.ir = ir
        self.names = names
        self.integrate = integrate
        self.emit = emit
        self.base_resolve = builder_resolve
        self.functions = functions
        self.size = size
        self.locals: list[dict[str, str]] = [{}]
        self.local_types: dict[str, str] = {}
        self.lower = Lowerer(self._resolve, conversions, self._convolve, self._call)
        self.printer = NumpyPrinter(self.names, {"__nmlc_steps": "_rt_steps", "random_normal": "_rt_random_normal",
                                                 "random_uniform": "_rt_random_uniform",
                                                 "random_poisson": "_rt_random_poisson", **functions})
        self._ids = itertools.count()
        self.in_function = False  # inside a user function: `return` is allowed

    def fresh(self, stem: str) -> str:
        return f"_{stem}{next(self._ids)}"

    # --- expressions (names, port attributes and calls: StatementLowering)
    def expr(self, e: n.Expr) -> str:
        if isinstance(e, n.Str):
            return py_string(e.value)
        value = self.lower(e)
        try:
            return self.printer.doprint(value)
        except KeyError as exc:
            raise IRError(e, f"this expression ({exc.args[0]})", "E0602") from None

    def _target(self, target: n.Name) -> tuple[str, str]:
        """(array expression, dtype) of an assignment target."""
        for frame in reversed(self.locals):
            if target.name in frame:
                return frame[target.name], self.local_types.get(frame[target.name], "float")
        s = self.ir.symbols.get(target.name)
        if s is None or s.kind not in ("state", "parameter", "internal"):
            raise IRError(target, f"`{target.name}` cannot be assigned", "E0207")
        key = target.name + "__d" * target.order
        var = self.ir.variable(target.name)
        return self.names[key], py_dtype(var.type if var is not None else None)

    def _vector_store(self, s: n.Assign, mask: str) -> str:
        """``x[k] = value`` (or ``x[k] += value``) on the neurons of ``mask``."""
        name = s.target.name
        var = self.ir.variable(name)
        if any(name in frame for frame in self.locals) or var is None or var.size is None:
            raise IRError(s.target, f"`{name}` is not a vector of the model's parameters, state or internals",
                          "E0207" if var is None or var.size is None else "E0602")
        base, length = self.names[name], self.names[f"__len_{name}"]
        index = self.expr(s.target.index)
        value = self.expr(s.value)
        if s.op != "=":
            value = f"_rt_vget({base}, {length}, {index}) {s.op[0]} ({value})"
        return f"_rt_vput({base}, {length}, {index}, {value}, {mask}, {py_string(f'{self.ir.name}: {name}')})"

    # --- statements
    def block(self, stmts: list[n.Stmt], mask: str, depth: int = 0) -> list[str]:
        self.locals.append({})
        out: list[str] = []
        for s in stmts:
            out.extend(self.stmt(s, mask, depth))
            if self.in_function and _has_return(s):
                # neurons that returned take no part in the rest of the function
                live = self.fresh("m")
                out.append(f"{INDENT * depth}{live} = _np.logical_and({mask}, _np.logical_not(_done))")
                mask = live
        self.locals.pop()
        return out or [f"{INDENT * depth}pass"]

    def _local_name(self, name: str) -> str:
        return f"{name}_kw" if name in ("lambda", "in", "is", "not", "and", "or", "if", "else", "for", "while",
                                        "def", "class", "return", "pass", "from", "import", "with", "as", "del",
                                        "global", "yield", "try", "raise", "assert", "None", "True", "False",
                                        "break", "continue", "elif", "except", "finally", "nonlocal", "async",
                                        "await") or name.startswith("_") else name

    def stmt(self, s: n.Stmt, mask: str, depth: int) -> list[str]:
        pad = INDENT * depth
        if isinstance(s, n.Declaration):
            dtype = py_dtype(s.type)
            lines = []
            for dn in s.names:
                if dn.size is not None:
                    raise IRError(dn, "a local vector variable", "E0602")
                init = self.expr(s.init) if s.init is not None else ("0.0" if dtype != "object" else "''")
                local = self._local_name(dn.name)
                lines.append(f"{pad}{local} = _rt_full({init}, {self.size}, {dtype})")
                self.locals[-1][dn.name] = local
                self.local_types[local] = dtype
                self.names[f"__local__{dn.name}"] = local
            return lines
        if isinstance(s, n.Assign) and s.target.index is not None:
            return [pad + self._vector_store(s, mask)]
        if isinstance(s, n.Assign):
            target, _ = self._target(s.target)
            value = self.expr(s.value)
            if s.op != "=":
                value = f"{target} {s.op[0]} ({value})"
            return [f"{pad}_rt_put({target}, {value}, {mask})"]
        if isinstance(s, n.If):
            lines = []
            rest = mask
            for cond, body in s.branches:
                c = self.fresh("c")
                m = self.fresh("m")
                lines.append(f"{pad}{c} = {self.expr(cond)}")
                lines.append(f"{pad}{m} = _np.logical_and({rest}, {c})")
                lines.append(f"{pad}if _np.count_nonzero({m}):")
                lines.extend(self.block(body, m, depth + 1))
                r = self.fresh("m")
                lines.append(f"{pad}{r} = _np.logical_and({rest}, _np.logical_not({c}))")
                rest = r
            if s.orelse is not None:
                lines.append(f"{pad}if _np.count_nonzero({rest}):")
                lines.extend(self.block(s.orelse, rest, depth + 1))
            return lines
        if isinstance(s, n.While):
            m = self.fresh("m")
            return [f"{pad}{m} = _np.array({mask}, dtype=bool)", f"{pad}while True:",
                    f"{pad}{INDENT}{m} = _np.logical_and({m}, {self.expr(s.cond)})",
                    f"{pad}{INDENT}if not _np.count_nonzero({m}):", f"{pad}{INDENT * 2}break",
                    *self.block(s.body, m, depth + 1)]
        if isinstance(s, n.For):
            var = self._local_name(s.var)
            self.locals.append({s.var: var})
            self.local_types[var] = "int"
            self.names[f"__local__{s.var}"] = var
            start, stop, step = self.expr(s.start), self.expr(s.stop), self.expr(s.step)
            m = self.fresh("m")
            cmp = ">=" if isinstance(s.step, n.Unary) and s.step.op == "-" else "<="
            body = self.block(s.body, m, depth + 1)
            self.locals.pop()
            return [f"{pad}{var} = _rt_full({start}, {self.size}, int)", f"{pad}{m} = _np.array({mask}, dtype=bool)",
                    f"{pad}while True:", f"{pad}{INDENT}{m} = _np.logical_and({m}, {var} {cmp} ({stop}))",
                    f"{pad}{INDENT}if not _np.count_nonzero({m}):", f"{pad}{INDENT * 2}break", *body,
                    f"{pad}{INDENT}{var} = {var} + _np.trunc({step}).astype(_np.int64)"]
        if isinstance(s, n.Return):
            if not self.in_function:
                raise IRError(s, "`return` outside a function", "E0401")
            lines = []
            if s.value is not None:
                lines.append(f"{pad}_rt_put(_ret, {self.expr(s.value)}, _np.logical_and({mask}, "
                             f"_np.logical_not(_done)))")
            lines.append(f"{pad}_np.logical_or(_done, {mask}, out=_done)")
            return lines
        if isinstance(s, n.CallStmt):
            return self.call_stmt(s.call, mask, depth)
        raise IRError(s, f"the statement `{type(s).__name__}`", "E0602")

    def call_stmt(self, call: n.Call, mask: str, depth: int) -> list[str]:
        pad = INDENT * depth
        if call.func == "integrate_odes":
            names = []
            for a in call.args:
                if not isinstance(a, n.Name):
                    raise IRError(a, "integrate_odes() takes state variable names", "E0302")
                names.append(a.name)
            return [pad + line for line in self.integrate(names, mask)]
        if call.func in ("emit_spike", "deliver_spike"):
            return [pad + line for line in self.emit([self.expr(a) for a in call.args], mask)]
        if call.func in ("print", "println"):
            parts = [py_string(p) if isinstance(p, str) else self.expr(p)
                     for a in call.args for p in print_segments(self.ir, a)]
            if call.func == "println":
                parts.append("'\\n'")
            return [f"{pad}_rt_print({mask}, {', '.join(parts)})"]
        if call.func in self.functions:
            args = "".join(f"{self.expr(a)}, " for a in call.args)
            return [f"{pad}{self.functions[call.func]}(_s, _i, {args}_mask={mask})"]
        raise IRError(call, f"`{call.func}()` cannot be used as a statement here", "E0401")


def _has_return(s: n.Stmt) -> bool:
    return any(isinstance(x, n.Return) for x in s.walk())
