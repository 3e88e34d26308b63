"""NESTML expressions (syntax tree) as LaTeX, for the equations on the model pages.

The printer works on the parsed tree rather than the lowered sympy form so that the page shows the
model as its author wrote it (inline expressions, ``convolve`` and units stay visible). Its output
uses only the LaTeX subset that matplotlib's mathtext understands, because the site renders math
offline with mathtext (see :mod:`nmlc.docs.mathrender`): no ``cases``/``aligned`` environments,
``\\vee`` instead of ``\\lor``.
"""
from __future__ import annotations

import re

from ..syntax import nodes as n

__all__ = ["equation_latex", "expr_latex", "name_latex", "ode_lhs_latex", "unit_latex"]

_GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu",
          "nu", "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega", "Gamma", "Delta",
          "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi", "Omega"}

# binding strength of each operator (higher binds tighter), as in the grammar
_PREC = {"or": 1, "and": 2, "<": 4, "<=": 4, ">": 4, ">=": 4, "==": 4, "!=": 4, "<>": 4,
         "|": 5, "^": 5, "&": 5, "<<": 5, ">>": 5, "+": 6, "-": 6, "*": 7, "/": 7, "%": 7, "**": 9}
_TERNARY, _NOT, _UNARY, _ATOM = 0, 3, 8, 10
_REL = {"<": "<", "<=": r"\leq", ">": ">", ">=": r"\geq", "==": "=", "!=": r"\neq", "<>": r"\neq"}
_LOGIC = {"and": r"\wedge", "or": r"\vee"}
_BITS = {"|": r"\,|\,", "^": r"\,\mathrm{xor}\,", "&": r"\,\&\,", "<<": r"\ll", ">>": r"\gg"}
_FUNCS = {"exp": r"\exp", "log": r"\ln", "ln": r"\ln", "log10": r"\log_{10}", "sin": r"\sin", "cos": r"\cos",
          "tan": r"\tan", "sinh": r"\sinh", "cosh": r"\cosh", "tanh": r"\tanh", "max": r"\max", "min": r"\min",
          "atan": r"\arctan", "asin": r"\arcsin", "acos": r"\arccos"}


def _escape(text: str) -> str:
    return text.replace("\\", "").replace("_", r"\_").replace("$", r"\$").replace("%", r"\%").replace("&", r"\&")


def name_latex(name: str, order: int = 0) -> str:
    """A variable name in math: ``tau_syn_ex`` -> ``\\tau_{\\mathrm{syn,ex}}``, ``V_m'`` -> ``{V_{m}}^{\\prime}``.

    A one-letter or Greek stem before the first underscore becomes the symbol and the rest its
    subscript; any other name is set upright as a whole (``refr_steps``), which reads better than a
    long word with a subscript.
    """
    parts = name.split("_")
    stem, subs = parts[0], [p for p in parts[1:] if p]
    if stem and (len(stem) == 1 or stem in _GREEK) and subs and "$" not in name:
        base = f"\\{stem}" if stem in _GREEK else stem
        sub = ",".join(subs)
        sub_tex = sub if len(sub) == 1 else rf"\mathrm{{{_escape(sub)}}}"
        text = f"{base}_{{{sub_tex}}}"
    elif name in _GREEK:
        text = f"\\{name}"
    elif len(name) == 1:
        text = name
    else:
        text = rf"\mathrm{{{_escape(name)}}}"
    if order:
        primes = r"\prime" * order
        text = f"{{{text}}}^{{{primes}}}"
    return text


def unit_latex(text: str) -> str:
    """A unit as written (``mV/ms``, ``nS*mV``, ``1/ms``, ``pA**2``) in upright math."""
    text = text.strip()
    if not text:
        return ""
    # names first, so the LaTeX commands added afterwards are not taken for unit names
    out = re.sub(r"[A-Za-z_]+", lambda m: rf"\mathrm{{{_escape(m.group(0))}}}", text)
    out = re.sub(r"\*\*\s*\(?\s*([+-]?\d+)\s*\)?", r"^{\1}", out)
    return re.sub(r"\s*\*\s*", r"\\cdot ", out)


def _number(text: str) -> str:
    m = re.fullmatch(r"(\d+\.?\d*|\.\d+)[eE]([+-]?\d+)", text)
    if m:
        mant, exp = m.group(1), int(m.group(2))
        return (f"{mant} \\times 10^{{{exp}}}" if mant not in ("1", "1.", "1.0") else f"10^{{{exp}}}")
    return text


class _Printer:
    def __init__(self, names: dict[str, str] | None = None):
        self.names = names or {}

    def name(self, name: str, order: int = 0) -> str:
        if name in self.names and not order:
            return self.names[name]
        if name == "e":
            return r"\mathrm{e}"
        if name == "inf":
            return r"\infty"
        return name_latex(name, order)

    def paren(self, text: str) -> str:
        return rf"\left({text}\right)"

    def expr(self, e: n.Expr, outer: int = 0) -> str:
        text, prec = self._expr(e)
        return self.paren(text) if prec < outer else text

    def _expr(self, e: n.Expr) -> tuple[str, int]:
        if isinstance(e, n.Num):
            text = _number(e.text)
            if e.unit is not None:
                return rf"{text}\,{unit_latex(e.unit.text)}", _UNARY
            return text, _ATOM
        if isinstance(e, n.Name):
            text = self.name(e.name, e.order)
            if e.index is not None:
                text += rf"\left[{self.expr(e.index)}\right]"
            return text, _ATOM
        if isinstance(e, n.Attr):
            return rf"\mathrm{{{_escape(e.obj.name)}.{_escape(e.attr)}}}", _ATOM
        if isinstance(e, n.Str):
            return rf'\mathrm{{"{_escape(e.value)}"}}', _ATOM
        if isinstance(e, n.Bool):
            return rf"\mathrm{{{'true' if e.value else 'false'}}}", _ATOM
        if isinstance(e, n.Unary):
            if e.op == "not":
                return rf"\neg {self.expr(e.operand, _NOT)}", _NOT
            op = {"-": "-", "+": "+", "~": r"\sim "}[e.op]
            return f"{op}{self.expr(e.operand, _UNARY)}", _UNARY
        if isinstance(e, n.Binary):
            return self._binary(e)
        if isinstance(e, n.Ternary):
            text = (rf"{self.expr(e.if_true, 1)}\;\mathrm{{if}}\;{self.expr(e.cond, 1)}\;\mathrm{{else}}\;"
                    rf"{self.expr(e.if_false, 1)}")
            return text, _TERNARY
        if isinstance(e, n.Call):
            return self._call(e), _ATOM
        raise TypeError(f"cannot typeset {type(e).__name__}")

    def _binary(self, e: n.Binary) -> tuple[str, int]:
        op, p = e.op, _PREC[e.op]
        if op == "/":
            # -(a)/b reads better as -a/b with the minus in front of the fraction
            if isinstance(e.left, n.Unary) and e.left.op == "-":
                return rf"-\frac{{{self.expr(e.left.operand)}}}{{{self.expr(e.right)}}}", _UNARY
            return rf"\frac{{{self.expr(e.left)}}}{{{self.expr(e.right)}}}", p
        if op == "**":
            base = self.expr(e.left, _ATOM)
            return f"{{{base}}}^{{{self.expr(e.right)}}}", p
        if op in ("+", "-"):
            right = e.right
            r_text, r_prec = self._expr(right)
            # a - (b + c) and a + (-b) need their parentheses
            if r_prec < p or (r_prec == p and op == "-") or (r_prec == _UNARY and r_text.startswith(("-", "+"))):
                r_text = self.paren(r_text)
            return f"{self.expr(e.left, p)} {op} {r_text}", p
        if op == "*":
            left, right = self.expr(e.left, p), self.expr(e.right, p + 1)
            return rf"{left} \cdot {right}", p
        if op == "%":
            return rf"{self.expr(e.left, p)} \,\mathrm{{mod}}\, {self.expr(e.right, p + 1)}", p
        if op in _REL:
            return f"{self.expr(e.left, p + 1)} {_REL[op]} {self.expr(e.right, p + 1)}", p
        if op in _LOGIC:
            return f"{self.expr(e.left, p)} {_LOGIC[op]} {self.expr(e.right, p + 1)}", p
        return f"{self.expr(e.left, p)} {_BITS[op]} {self.expr(e.right, p + 1)}", p

    def _call(self, e: n.Call) -> str:
        args = [self.expr(a) for a in e.args] + [rf"\mathrm{{{_escape(k)}}}={self.expr(v)}" for k, v in e.kwargs]
        f = e.func
        if f == "convolve" and len(e.args) == 2:
            return self.paren(f"{self.expr(e.args[0], _ATOM)} \\ast {self.expr(e.args[1], _ATOM)}")
        if f == "sqrt" and len(args) == 1:
            return rf"\sqrt{{{args[0]}}}"
        if f == "abs" and len(args) == 1:
            return rf"\left|{args[0]}\right|"
        if f == "expm1" and len(args) == 1:
            return rf"\left(\exp{self.paren(args[0])} - 1\right)"
        head = _FUNCS.get(f, rf"\mathrm{{{_escape(f)}}}")
        return head + self.paren(", ".join(args))


def expr_latex(expr: n.Expr, names: dict[str, str] | None = None) -> str:
    """LaTeX for one expression; ``names`` overrides how particular names are set."""
    return _Printer(names).expr(expr)


def ode_lhs_latex(name: str, order: int) -> str:
    """``V_m'`` on the left of an ODE as ``dV_m/dt`` (``d^2x/dt^2`` for second order)."""
    var = name_latex(name)
    if order == 1:
        return rf"\frac{{d{var}}}{{dt}}"
    return rf"\frac{{d^{{{order}}}{var}}}{{dt^{{{order}}}}}"


def equation_latex(item: n.Ode | n.Inline | n.Kernel) -> list[str]:
    """One displayed equation per ODE and inline, one per part of a kernel."""
    if isinstance(item, n.Ode):
        return [f"{ode_lhs_latex(item.lhs.name, item.lhs.order)} = {expr_latex(item.rhs)}"]
    if isinstance(item, n.Inline):
        return [f"{name_latex(item.name)} = {expr_latex(item.rhs)}"]
    out = []
    for lhs, rhs in item.parts:
        left = name_latex(lhs.name, lhs.order) if lhs.order else f"{name_latex(lhs.name)}(t)"
        out.append(f"{left} = {expr_latex(rhs)}")
    return out
