"""Print sympy expressions as vectorised NumPy code for the Python target.

The printer derives from the NEST target's C++ printer on purpose: sums, products, powers and
exact rationals are printed by the same code, so a propagator is evaluated with the same
floating-point operations in the same order on both targets (that is what lets the cross-target
comparison of exact models hold to round-off). Only what differs between C++ and Python is
overridden: function names (``std::exp`` -> ``_np.exp``), conditionals (``?:`` -> ``_np.where``,
which evaluates both branches, hence the ``errstate`` guards in the generated module), boolean
operators, and calls of user functions, which take the model's variable namespace ``_s`` and the
index ``_i`` of the neurons they act on.
"""
from __future__ import annotations

import keyword
from collections.abc import Mapping

import sympy

from ..nest.printer import NestCppPrinter

# sympy function classes -> NumPy (or runtime) functions of the same arguments
_FUNCS = {
    "exp": "_np.exp", "expm1": "_np.expm1", "log": "_np.log", "log10": "_np.log10", "log2": "_np.log2",
    "log1p": "_np.log1p", "sin": "_np.sin", "cos": "_np.cos", "tan": "_np.tan", "asin": "_np.arcsin",
    "acos": "_np.arccos", "atan": "_np.arctan", "atan2": "_np.arctan2", "sinh": "_np.sinh", "cosh": "_np.cosh",
    "tanh": "_np.tanh", "asinh": "_np.arcsinh", "acosh": "_np.arccosh", "atanh": "_np.arctanh",
    "Abs": "_np.abs", "sign": "_np.sign", "floor": "_np.floor", "ceiling": "_np.ceil", "erf": "_rt_erf",
    "erfc": "_rt_erfc", "exp2": "_np.exp2", "hypot": "_np.hypot", "gamma": "_rt_gamma",
}

#: names that generated code uses for itself; a model variable may not take them
PY_RESERVED = frozenset({"_np", "_s", "_i", "_M", "_rt", "self"}) | frozenset(keyword.kwlist)


def py_attr(name: str) -> str:
    """The attribute under which a model variable is stored (Python keywords get a ``_kw`` suffix)."""
    return name + "_kw" if keyword.iskeyword(name) else name


class NumpyPrinter(NestCppPrinter):
    """sympy -> NumPy with the generator's name table (symbol name -> Python expression)."""

    def __init__(self, names: Mapping[str, str], functions: Mapping[str, str] | None = None):
        super().__init__(names, {})
        self.py_functions = dict(functions or {})

    # --- functions
    def _print(self, expr, **kwargs) -> str:
        # sympy dispatches math functions to per-class C++ methods; intercept them by class name first
        if isinstance(expr, sympy.Function):
            name = type(expr).__name__
            if name in self.py_functions:
                return f"{self.py_functions[name]}(_s, _i, {', '.join(self._print(a) for a in expr.args)})"
            if name in _FUNCS:
                return f"{_FUNCS[name]}({', '.join(self._print(a) for a in expr.args)})"
        return super()._print(expr, **kwargs)

    def _print_Function(self, expr: sympy.Function) -> str:
        raise KeyError(f"no NumPy function for `{type(expr).__name__}`")

    def _print_Mod(self, expr) -> str:
        return f"_np.fmod({self._print(expr.args[0])}, {self._print(expr.args[1])})"

    def _print_Heaviside(self, expr) -> str:
        return f"_np.where({self._print(expr.args[0])} < 0.0, 0.0, 1.0)"

    def _minmax(self, expr, func: str) -> str:
        # nested pairwise, the same grouping as the C++ printer's std::min(a, std::min(b, c))
        args = [self._print(a) for a in expr.args]
        out = args[-1]
        for a in reversed(args[:-1]):
            out = f"{func}({a}, {out})"
        return out

    def _print_Min(self, expr) -> str:
        return self._minmax(expr, "_np.minimum")

    def _print_Max(self, expr) -> str:
        return self._minmax(expr, "_np.maximum")

    def _print_Pow(self, expr: sympy.Pow) -> str:
        base, exp = expr.args
        if exp.is_Integer and 1 <= abs(int(exp)) <= 4:
            return super()._print_Pow(expr)  # products, exactly as on the NEST target
        if exp == sympy.Rational(1, 2):
            return f"_np.sqrt({self._print(base)})"
        if exp == -sympy.Rational(1, 2):
            return f"1.0/_np.sqrt({self._print(base)})"
        return f"_np.power({self._print(base)}, {self._print(exp)})"

    # --- conditionals and logic
    def _print_Piecewise(self, expr: sympy.Piecewise) -> str:
        out = None
        for value, cond in reversed(expr.args):
            v = self._print(value)
            if out is None or cond == sympy.true:
                out = v
            else:
                out = f"_np.where({self._print(cond)}, {v}, {out})"
        return out if out is not None else "_np.nan"

    def _print_Relational(self, expr) -> str:
        op = {"==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}[expr.rel_op]
        # parenthesised: Python chains comparisons (a < b < c), C does not
        return f"({self._print(expr.lhs)} {op} {self._print(expr.rhs)})"

    def _print_And(self, expr) -> str:
        args = [self._print(a) for a in expr.args]
        out = args[0]
        for a in args[1:]:
            out = f"_np.logical_and({out}, {a})"
        return out

    def _print_Or(self, expr) -> str:
        args = [self._print(a) for a in expr.args]
        out = args[0]
        for a in args[1:]:
            out = f"_np.logical_or({out}, {a})"
        return out

    _print_OrderedAnd = _print_And
    _print_OrderedOr = _print_Or

    def _print_Not(self, expr) -> str:
        return f"_np.logical_not({self._print(expr.args[0])})"

    def _print_BooleanTrue(self, expr) -> str:
        return "True"

    def _print_BooleanFalse(self, expr) -> str:
        return "False"

    def _print_Infinity(self, expr) -> str:
        return "_np.inf"

    def _print_NegativeInfinity(self, expr) -> str:
        return "(-_np.inf)"

    def _print_NaN(self, expr) -> str:
        return "_np.nan"

    def _print_Indexed(self, expr) -> str:
        # a vector is stored as rows of a 2-D array plus each row's length (see the runtime's _rt_vget)
        label = str(expr.base.label)
        if label not in self.names or f"__len_{label}" not in self.names:
            raise KeyError(f"`{label}` is not a vector of this model")
        return f"_rt_vget({self.names[label]}, {self.names[f'__len_{label}']}, {self._print(expr.indices[0])})"


def py_string(text: str) -> str:
    """A Python string literal for arbitrary user text."""
    return repr(str(text))


# scalar (Python float) versions: math functions that return inf/nan where NumPy would, instead of raising
_SCALAR_FUNCS = {
    "exp": "_rt_sexp", "expm1": "_rt_sexpm1", "log": "_rt_slog", "log10": "_rt_slog10", "log2": "_rt_slog2",
    "log1p": "_rt_slog1p", "sin": "_math.sin", "cos": "_math.cos", "tan": "_math.tan", "asin": "_rt_sasin",
    "acos": "_rt_sacos", "atan": "_math.atan", "atan2": "_math.atan2", "sinh": "_rt_ssinh", "cosh": "_rt_scosh",
    "tanh": "_math.tanh", "asinh": "_math.asinh", "acosh": "_rt_sacosh", "atanh": "_rt_satanh", "Abs": "abs",
    "sign": "_rt_ssign", "floor": "_rt_sfloor", "ceiling": "_rt_sceil", "erf": "_math.erf", "erfc": "_math.erfc",
    "exp2": "_rt_sexp2", "hypot": "_math.hypot", "gamma": "_rt_sgamma",
}


class ScalarPrinter(NumpyPrinter):
    """sympy -> code on Python floats (one neuron): the fast path of numeric integration for few neurons.

    Arithmetic is printed exactly as by :class:`NumpyPrinter` (so as on the NEST target); only
    functions, conditionals and logic differ. User functions, which act on arrays, are called with
    the one neuron's index and their single result unpacked.
    """

    def _print(self, expr, **kwargs) -> str:
        if isinstance(expr, sympy.Function):
            name = type(expr).__name__
            if name in self.py_functions:
                args = ", ".join(self._print(a) for a in expr.args)
                return f"float({self.py_functions[name]}(_s, _j1, {args})[0])"
            if name in _SCALAR_FUNCS:
                return f"{_SCALAR_FUNCS[name]}({', '.join(self._print(a) for a in expr.args)})"
        return NestCppPrinter._print(self, expr, **kwargs)

    def _print_Mod(self, expr) -> str:
        return f"_math.fmod({self._print(expr.args[0])}, {self._print(expr.args[1])})"

    def _print_Heaviside(self, expr) -> str:
        return f"(0.0 if {self._print(expr.args[0])} < 0.0 else 1.0)"

    def _print_Min(self, expr) -> str:
        return self._minmax(expr, "min")

    def _print_Max(self, expr) -> str:
        return self._minmax(expr, "max")

    def _print_Pow(self, expr: sympy.Pow) -> str:
        base, exp = expr.args
        if exp.is_Integer and 1 <= abs(int(exp)) <= 4:
            return NestCppPrinter._print_Pow(self, expr)
        if exp == sympy.Rational(1, 2):
            return f"_rt_ssqrt({self._print(base)})"
        if exp == -sympy.Rational(1, 2):
            return f"1.0/_rt_ssqrt({self._print(base)})"
        return f"_rt_spow({self._print(base)}, {self._print(exp)})"

    def _print_Piecewise(self, expr: sympy.Piecewise) -> str:
        out = None
        for value, cond in reversed(expr.args):
            v = self._print(value)
            out = v if out is None or cond == sympy.true else f"({v} if {self._print(cond)} else {out})"
        return out if out is not None else "_math.nan"

    def _print_And(self, expr) -> str:
        return "(" + " and ".join(self._print(a) for a in expr.args) + ")"

    def _print_Or(self, expr) -> str:
        return "(" + " or ".join(self._print(a) for a in expr.args) + ")"

    _print_OrderedAnd = _print_And
    _print_OrderedOr = _print_Or

    def _print_Not(self, expr) -> str:
        return f"(not {self._print(expr.args[0])})"

    def _print_Infinity(self, expr) -> str:
        return "_math.inf"

    def _print_NegativeInfinity(self, expr) -> str:
        return "(-_math.inf)"

    def _print_NaN(self, expr) -> str:
        return "_math.nan"

    def _print_Indexed(self, expr) -> str:
        raise KeyError("a vector variable in a numerically integrated ODE")
