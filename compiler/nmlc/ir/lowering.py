"""Lower NESTML expressions to sympy.

Values follow the language's unit rules: a variable is its stored number (in its declared
unit), a unit name used as a value is 1, ``10 mV`` is 10, and wherever the checker recorded a
magnitude conversion the lowered value is multiplied by that exact factor. Literals become
exact rationals where their decimal text allows it, so the C++ printed later reproduces the
double the user wrote.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Callable

import sympy
from sympy.codegen.cfunctions import expm1, log10

from ..syntax import nodes as n

DERIV_SUFFIX = "__d"
CONV_SEPARATOR = "__X__"


def _fold(printer, function: str, args) -> str:
    """``numpy.<function>`` applied left to right over ``args`` (for lambdify's NumPy printer)."""
    out = printer._print(args[0])
    for a in args[1:]:
        out = f"{printer._module_format('numpy.' + function)}({out}, {printer._print(a)})"
    return out


def _latex_operand(printer, arg) -> str:
    text = printer._print(arg)
    return rf"\left({text}\right)" if isinstance(arg, (OrderedAnd, OrderedOr)) else text


class OrderedAnd(sympy.logic.boolalg.BooleanFunction):
    """``a and b`` with its operands kept in the order written.

    sympy's ``And`` sorts its arguments, and the printers would then evaluate them in that order; a guard
    such as ``i < n and x[i] > 0`` must be tested left to right (C++ ``&&`` short-circuits), or the
    second operand reads past the end of ``x``.
    """

    @classmethod
    def eval(cls, *args):
        return None

    def _latex(self, printer) -> str:
        return r" \wedge ".join(_latex_operand(printer, a) for a in self.args)

    def _pythoncode(self, printer) -> str:
        return "(" + " and ".join(printer._print(a) for a in self.args) + ")"

    def _numpycode(self, printer) -> str:
        return _fold(printer, "logical_and", self.args)


class OrderedOr(sympy.logic.boolalg.BooleanFunction):
    """``a or b`` with its operands kept in the order written (see :class:`OrderedAnd`)."""

    @classmethod
    def eval(cls, *args):
        return None

    def _latex(self, printer) -> str:
        return r" \vee ".join(_latex_operand(printer, a) for a in self.args)

    def _pythoncode(self, printer) -> str:
        return "(" + " or ".join(printer._print(a) for a in self.args) + ")"

    def _numpycode(self, printer) -> str:
        return _fold(printer, "logical_or", self.args)


class LoweringError(Exception):
    def __init__(self, node: n.Node, message: str):
        super().__init__(message)
        self.node = node


def state_symbol(name: str, order: int = 0) -> sympy.Symbol:
    """The sympy symbol of a state or its derivative (``x'`` of a second-order ODE is ``x__d``)."""
    return sympy.Symbol(name + DERIV_SUFFIX * order)


def sym(name: str) -> sympy.Symbol:
    return sympy.Symbol(name)


def number(text: str) -> sympy.Expr:
    """An exact sympy number for a literal: an Integer or a Rational when the text is short."""
    try:
        frac = Fraction(text)
    except ValueError:
        return sympy.Float(float(text), 17)
    if frac.denominator < 2**53 and abs(frac.numerator) < 2**53:
        return sympy.Rational(frac.numerator, frac.denominator)
    return sympy.Float(float(text), 17)


def factor(value: float) -> sympy.Expr:
    return number(repr(value))


_FUNCS: dict[str, Callable[..., sympy.Expr]] = {
    "exp": sympy.exp, "ln": sympy.log, "log": sympy.log, "log10": log10, "expm1": expm1, "sin": sympy.sin,
    "cos": sympy.cos, "tan": sympy.tan, "sinh": sympy.sinh, "cosh": sympy.cosh, "tanh": sympy.tanh,
    "asin": sympy.asin, "acos": sympy.acos, "atan": sympy.atan, "erf": sympy.erf, "erfc": sympy.erfc,
    "sqrt": sympy.sqrt, "abs": sympy.Abs, "floor": sympy.floor, "ceil": sympy.ceiling, "sign": sympy.sign,
    "pow": lambda a, b: a**b, "min": sympy.Min, "max": sympy.Max,
    "clip": lambda x, lo, hi: sympy.Min(sympy.Max(x, lo), hi),
    "heaviside": lambda x: sympy.Heaviside(x, 1),
    "round": lambda x: sympy.floor(x + sympy.Rational(1, 2)),
}

_RELATIONS = {"<": sympy.Lt, "<=": sympy.Le, ">": sympy.Gt, ">=": sympy.Ge, "==": sympy.Eq, "!=": sympy.Ne,
              "<>": sympy.Ne}


class Lowerer:
    """Turns expressions of one model into sympy, given how each name is to be read.

    ``resolve(name_node)`` returns the sympy value of a plain name (a state symbol, a parameter
    symbol, an inlined expression, 1 for a unit). ``convolve(call)`` returns the symbol that
    stands for a convolution, ``call_user(call, args)`` a user function's value.
    """

    def __init__(self, resolve: Callable[[n.Name], sympy.Expr], conversions: dict[int, float],
                 convolve: Callable[[n.Call], sympy.Expr], call_user: Callable[[n.Call, list], sympy.Expr]):
        self.resolve = resolve
        self.conversions = conversions
        self.convolve = convolve
        self.call_user = call_user

    def __call__(self, expr: n.Expr) -> sympy.Expr:
        value = self._lower(expr)
        conv = self.conversions.get(id(expr))
        if conv is not None and conv != 1.0:
            value = value * factor(conv)
        return value

    def _lower(self, e: n.Expr) -> sympy.Expr:
        if isinstance(e, n.Num):
            return number(e.text)
        if isinstance(e, n.Bool):
            return sympy.true if e.value else sympy.false
        if isinstance(e, n.Name) and e.index is not None:
            base = self.resolve(n.Name(e.loc, e.name, e.order))
            if not isinstance(base, sympy.Symbol):
                raise LoweringError(e, f"`{e.name}` is not a vector")
            return sympy.Indexed(sympy.IndexedBase(base), self(e.index))
        if isinstance(e, (n.Name, n.Attr)):
            return self.resolve(e)
        if isinstance(e, n.Unary):
            inner = self(e.operand)
            if e.op == "-":
                return -inner
            if e.op == "+":
                return inner
            if e.op == "not":
                return sympy.Not(inner)
            raise LoweringError(e, f"operator `{e.op}` cannot appear in equations")
        if isinstance(e, n.Binary):
            left, right = self(e.left), self(e.right)
            op = e.op
            if op == "+":
                return left + right
            if op == "-":
                return left - right
            if op == "*":
                return left * right
            if op == "/":
                return left / right
            if op == "**":
                return left**right
            if op == "%":
                return sympy.Mod(left, right)
            if op in _RELATIONS:
                return _RELATIONS[op](left, right)
            if op == "and":
                return OrderedAnd(left, right)
            if op == "or":
                return OrderedOr(left, right)
            raise LoweringError(e, f"operator `{op}` cannot appear in equations")
        if isinstance(e, n.Ternary):
            return sympy.Piecewise((self(e.if_true), self(e.cond)), (self(e.if_false), True))
        if isinstance(e, n.Call):
            if e.func == "convolve":
                return self.convolve(e)
            args = [self(a) for a in e.args]
            if e.func in _FUNCS:
                return _FUNCS[e.func](*args)
            if e.func in ("resolution", "timestep"):
                return sym("__h")
            return self.call_user(e, args)
        raise LoweringError(e, f"`{type(e).__name__}` cannot appear in equations")
