"""Per-state local analysis: is a right-hand side affine in the states with parameter-only coefficients?

This looks at one equation at a time; whether the state is exactly solvable also depends on the states it
reads, which :mod:`nmlc.analysis.classify` decides.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy


@dataclass(frozen=True)
class LocalForm:
    """What one right-hand side looks like, seen on its own.

    For an affine right-hand side ``coefficients`` holds the (non-zero) coefficient of every state it reads
    and ``forcing`` the state-free remainder.  ``obstacle`` is ``None`` when the equation is affine with
    coefficients built from parameters only and no explicit time; otherwise it explains why not, in words fit
    for a user.
    """

    state: sympy.Symbol
    dependencies: tuple[sympy.Symbol, ...]
    coefficients: dict[sympy.Symbol, sympy.Expr]
    forcing: sympy.Expr
    obstacle: str | None
    nonlinear: bool


def _is_affine(expr: sympy.Expr, states: frozenset[sympy.Symbol]) -> bool:
    """True when every first derivative with respect to a state is free of states."""
    for state in expr.free_symbols & states:
        if expr.diff(state).free_symbols & states:
            return False
    return True


def nonlinear_parts(expr: sympy.Expr, states: frozenset[sympy.Symbol]) -> list[sympy.Expr]:
    """The smallest subexpressions of ``expr`` that make it non-affine in ``states`` (empty if affine).

    A product of two state-dependent factors is reported whole (``g_ex*(V_m - E_ex)``); a function of a state
    is reported as the function application (``exp((V_m - V_th)/Delta_T)``).  Function applications come
    first, then powers, then products, because they are the more telling explanation.
    """
    found: list[sympy.Expr] = []
    _collect(expr, states, found)
    unique = list(dict.fromkeys(found))

    def rank(part: sympy.Expr) -> tuple[int, str]:
        kind = 0 if isinstance(part, sympy.Function) else 1 if isinstance(part, sympy.Pow) else 2
        return kind, str(part)

    return sorted(unique, key=rank)


def _collect(expr: sympy.Expr, states: frozenset[sympy.Symbol], found: list[sympy.Expr]) -> None:
    if not expr.free_symbols & states or expr in states:
        return
    if isinstance(expr, sympy.Add):
        for arg in expr.args:
            _collect(arg, states, found)
        return
    if isinstance(expr, sympy.Mul):
        with_states = [arg for arg in expr.args if arg.free_symbols & states]
        if len(with_states) >= 2:
            found.append(sympy.Mul(*with_states))
        else:
            _collect(with_states[0], states, found)
        return
    if isinstance(expr, sympy.Piecewise) and not any(c.free_symbols & states for _, c in expr.args):
        # conditions on parameters or inputs only (a refractory clamp): the culprit is inside a branch
        before = len(found)
        for value, _ in expr.args:
            _collect(value, states, found)
        if len(found) > before:
            return
    # A function application, power, Piecewise, ...: affine only in special cases such as a Piecewise whose
    # conditions depend on parameters alone, which the derivative test recognises.
    if not _is_affine(expr, states):
        found.append(expr)


def nonlinear_part(expr: sympy.Expr, states: frozenset[sympy.Symbol]) -> sympy.Expr | None:
    """The most telling non-affine subexpression of ``expr`` (``None`` if affine in ``states``)."""
    parts = nonlinear_parts(expr, states)
    return parts[0] if parts else None


def _short(expr: sympy.Expr, limit: int = 80) -> str:
    """``str(expr)``, cut to ``limit`` characters so that a reason stays one readable line."""
    text = str(expr)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _term_with(expr: sympy.Expr, symbol: sympy.Symbol) -> sympy.Expr:
    """The first additive term of ``expr`` that contains ``symbol`` (for messages)."""
    for term in sympy.Add.make_args(expr):
        if symbol in term.free_symbols:
            return term
    return expr


def local_form(
    state: sympy.Symbol,
    rhs: sympy.Expr,
    states: frozenset[sympy.Symbol],
    inputs: frozenset[sympy.Symbol],
    t: sympy.Symbol,
) -> LocalForm:
    """Analyse the right-hand side of d ``state``/dt."""
    order = sorted(rhs.free_symbols & states, key=str)
    dependencies = tuple(s for s in order if s != state)
    offending = nonlinear_parts(rhs, states)
    if offending:
        shown = ", ".join(_short(part) for part in offending[:3]) + (", ..." if len(offending) > 3 else "")
        label = "nonlinear term" if len(offending) == 1 else "nonlinear terms"
        return LocalForm(state, dependencies, {}, sympy.S.Zero, f"{label} {shown}", True)

    coefficients: dict[sympy.Symbol, sympy.Expr] = {}
    for other in order:
        coefficient = rhs.diff(other)
        if coefficient != 0:
            coefficients[other] = coefficient
    forcing = rhs.xreplace({s: sympy.S.Zero for s in order})

    obstacle = None
    for other, coefficient in coefficients.items():
        if t in coefficient.free_symbols:
            obstacle = f"explicit time dependence in term {_short(_term_with(rhs, t))}"
            break
        read_inputs = sorted(coefficient.free_symbols & inputs, key=str)
        if read_inputs:
            names = ", ".join(str(s) for s in read_inputs)
            obstacle = f"coefficient of {other} depends on input {names}"
            break
    if obstacle is None and t in forcing.free_symbols:
        obstacle = f"explicit time dependence in term {_short(_term_with(forcing, t))}"
    return LocalForm(state, dependencies, coefficients, forcing, obstacle, False)
