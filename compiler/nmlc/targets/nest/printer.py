"""Print sympy expressions as C++ for the NEST target.

Names are mapped to their storage by a lookup table the generator builds (``P_.tau_m``,
``S_.V_m``, ``V_.__P__V_m__V_m``, locals); small integer powers become products, because
``std::pow`` on the hot path is slow; numbers keep 17 significant digits so every double
round-trips.
"""
from __future__ import annotations

from typing import Mapping

import sympy
from sympy.printing.cxx import CXX11CodePrinter

CPP_RESERVED = frozenset("""
alignas alignof and and_eq asm auto bitand bitor bool break case catch char char8_t char16_t char32_t class compl
concept const consteval constexpr constinit const_cast continue co_await co_return co_yield decltype default delete
do double dynamic_cast else enum explicit export extern false float for friend goto if inline int long mutable
namespace new noexcept not not_eq nullptr operator or or_eq private protected public register reinterpret_cast
requires return short signed sizeof static static_assert static_cast struct switch template this thread_local throw
true try typedef typeid typename union unsigned using virtual void volatile wchar_t while xor xor_eq
std nest P_ S_ V_ B_ NULL errno assert main
""".split())


class NestCppPrinter(CXX11CodePrinter):
    """sympy -> C++ with the generator's name table."""

    def __init__(self, names: Mapping[str, str], functions: Mapping[str, str] | None = None):
        super().__init__({"precision": 17, "user_functions": {}})
        self.names = names
        self.functions = dict(functions or {})

    def _print_Symbol(self, expr: sympy.Symbol) -> str:
        name = expr.name
        if name in self.names:
            return self.names[name]
        raise KeyError(f"no C++ name for symbol `{name}`")

    def _print_Pow(self, expr: sympy.Pow) -> str:
        base, exp = expr.args
        if exp.is_Integer and 1 <= abs(int(exp)) <= 4:
            b = self.parenthesize(base, sympy.printing.precedence.PRECEDENCE["Mul"] + 1)
            prod = "*".join([b] * abs(int(exp)))
            # parenthesised: the product replaces a Pow, which binds tighter than `*` and `/`
            return f"({prod})" if int(exp) > 1 else (prod if int(exp) == 1 else f"(1.0/({prod}))")
        if exp == sympy.Rational(1, 2):
            return f"std::sqrt({self._print(base)})"
        if exp == -sympy.Rational(1, 2):
            return f"1.0/std::sqrt({self._print(base)})"
        return f"std::pow({self._print(base)}, {self._print(exp)})"

    def _print_Function(self, expr: sympy.Function) -> str:
        name = type(expr).__name__
        if name in self.functions:
            return f"{self.functions[name]}({', '.join(self._print(a) for a in expr.args)})"
        return super()._print_Function(expr)

    def _print_Indexed(self, expr: sympy.Indexed) -> str:
        base = self._print(expr.base.label)
        return f"{base}[ static_cast< size_t >( {self._print(expr.indices[0])} ) ]"

    def _print_Infinity(self, expr) -> str:
        return "std::numeric_limits<double>::infinity()"

    def _print_NegativeInfinity(self, expr) -> str:
        return "(-std::numeric_limits<double>::infinity())"

    def _print_OrderedAnd(self, expr) -> str:
        return "(" + " && ".join(self._print(a) for a in expr.args) + ")"

    def _print_OrderedOr(self, expr) -> str:
        return "(" + " || ".join(self._print(a) for a in expr.args) + ")"

    def _print_BooleanTrue(self, expr) -> str:
        return "true"

    def _print_BooleanFalse(self, expr) -> str:
        return "false"

    def _print_Rational(self, expr: sympy.Rational) -> str:
        if expr.q == 1:
            return f"{expr.p}.0"
        return f"({expr.p}.0/{expr.q}.0)"

    _division_depth = 0

    def _print_Mul(self, expr: sympy.Mul) -> str:
        # inside a product with a divisor, integers print as doubles: `3/N` must not become
        # integer division when N is a `long`
        divides = any(f.is_Pow and f.exp.is_negative for f in expr.args)
        self._division_depth += divides
        try:
            return super()._print_Mul(expr)
        finally:
            self._division_depth -= divides

    def _print_Min(self, expr) -> str:
        # std::min/std::max need both arguments of one type: integers among doubles print as doubles
        self._division_depth += 1
        try:
            return super()._print_Min(expr)
        finally:
            self._division_depth -= 1

    def _print_Max(self, expr) -> str:
        self._division_depth += 1
        try:
            return super()._print_Max(expr)
        finally:
            self._division_depth -= 1

    def _print_Integer(self, expr: sympy.Integer) -> str:
        # elsewhere plain integers keep `long` counters integral (`r == 0`, `r -= 1`); two Integers
        # never divide each other in sympy (that is a Rational, printed with `.0`)
        if self._division_depth or abs(expr.p) >= 2**31:
            return f"{expr.p}.0" if abs(expr.p) < 2**53 else repr(float(expr.p))
        return str(expr.p)

    def _print_Exp1(self, expr) -> str:
        return "2.718281828459045"

    def _print_Pi(self, expr) -> str:
        return "3.141592653589793"


def cpp_string(text: str) -> str:
    """A C++ string literal for arbitrary user text (escaped; no trigraphs, no line breaks)."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "?":
            out.append("\\?")
        elif 32 <= ord(ch) < 127:
            out.append(ch)
        else:
            for byte in ch.encode("utf-8"):
                out.append(f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


def cpp_comment(text: str) -> str:
    """User text made safe inside a ``//`` comment: one line, no backslash line continuation."""
    return " ".join(text.replace("\\", "/").split())
