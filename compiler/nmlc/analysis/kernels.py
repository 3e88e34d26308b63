"""Convolution kernels as linear ODEs: find the minimal homogeneous constant-coefficient ODE of a kernel.

A kernel k(t) satisfies such an ODE exactly when it is an exponential polynomial, a finite sum of
c * t**j * exp(lambda*t) with c and lambda free of t (sines and cosines are rewritten as exponentials).  The
minimal order is the sum over distinct rates lambda of (highest power j + 1); the characteristic polynomial is
prod (s - lambda)**(j_max + 1).  We return the ODE in companion form on the states name, name__d,
name__d__d, ... (the kernel and its derivatives) with the initial values (k(0), k'(0), ...), which are the
jump added, times the spike weight, on every spike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from math import comb, factorial

import sympy

from nmlc.analysis.errors import AnalysisError
from nmlc.analysis.linearity import nonlinear_part


@dataclass
class KernelOde:
    """A kernel as ODE states.  For a delta kernel there are no states: a spike jumps the target directly
    by ``delta_scale`` times its weight."""

    name: str
    states: list[sympy.Symbol]
    odes: dict[sympy.Symbol, sympy.Expr]
    initial_values: list[sympy.Expr]
    is_delta: bool = False
    delta_scale: sympy.Expr = field(default_factory=lambda: sympy.S.One)

    @property
    def jump(self) -> dict[sympy.Symbol, sympy.Expr]:
        """Value added to each state per unit spike weight."""
        return dict(zip(self.states, self.initial_values, strict=True))


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not name.isidentifier():
        raise AnalysisError(f"kernel name must be an identifier, got {name!r}")
    return name


def state_names(name: str, order: int) -> list[sympy.Symbol]:
    """name, name__d, name__d__d, ... (``order`` symbols)."""
    return [sympy.Symbol(name + "__d" * k) for k in range(order)]


def _linear_in_t(arg: sympy.Expr, t: sympy.Symbol) -> tuple[sympy.Expr, sympy.Expr] | None:
    """(slope, offset) when ``arg`` is slope*t + offset with both free of t."""
    slope = sympy.diff(arg, t)
    if t in slope.free_symbols:
        return None
    offset = sympy.expand(arg - slope * t)
    if t in offset.free_symbols:
        return None
    return slope, offset


def _distribute(expr: sympy.Expr) -> list[list[sympy.Expr]]:
    """Expand products over sums into a list of terms, each a list of factors.

    Unlike ``sympy.expand`` this never rewrites exp(-t/a)/(a - b) as 1/(a*exp(t/a) - b*exp(t/a)).
    """
    if isinstance(expr, sympy.Add):
        return [term for arg in expr.args for term in _distribute(arg)]
    if isinstance(expr, sympy.Mul):
        terms: list[list[sympy.Expr]] = [[]]
        for factor in expr.args:
            terms = [left + right for left in terms for right in _distribute(factor)]
        return terms
    if (
        isinstance(expr, sympy.Pow)
        and isinstance(expr.base, sympy.Add)
        and expr.exp.is_Integer
        and 1 < expr.exp <= 8
    ):
        return _distribute(sympy.Mul(*[expr.base] * int(expr.exp), evaluate=False))
    return [[expr]]


def _exponential_terms(
    expr: sympy.Expr, t: sympy.Symbol, name: str
) -> dict[tuple[sympy.Expr, int], sympy.Expr]:
    """Parse ``expr`` into {(rate, power of t): coefficient}; raise if it is not an exponential polynomial."""
    terms: dict[tuple[sympy.Expr, int], sympy.Expr] = {}
    for factors in _distribute(expr):
        coefficient: sympy.Expr = sympy.S.One
        rate: sympy.Expr = sympy.S.Zero
        power = 0
        for factor in factors:
            if t not in factor.free_symbols:
                coefficient *= factor
                continue
            if factor == t:
                power += 1
                continue
            if (
                isinstance(factor, sympy.Pow)
                and factor.base == t
                and factor.exp.is_Integer
                and factor.exp > 0
            ):
                power += int(factor.exp)
                continue
            linear = None
            if isinstance(factor, sympy.exp):
                linear = _linear_in_t(factor.args[0], t)
                log_base: sympy.Expr = sympy.S.One
            elif isinstance(factor, sympy.Pow) and t not in factor.base.free_symbols:
                linear = _linear_in_t(factor.exp, t)
                log_base = sympy.log(factor.base)
            if linear is None:
                raise AnalysisError(
                    f"kernel {name!r} satisfies no linear ODE with constant coefficients: factor {factor} "
                    "is not of the form t**k or exp(a*t + b)"
                )
            slope, offset = linear
            rate += slope * log_base
            coefficient *= sympy.exp(offset * log_base)
        key = (sympy.cancel(rate), power)
        terms[key] = terms.get(key, sympy.S.Zero) + coefficient
    cleaned = {}
    for key, coefficient in terms.items():
        coefficient = sympy.cancel(coefficient)
        if coefficient != 0:
            cleaned[key] = coefficient
    return cleaned


def _real(expr: sympy.Expr) -> sympy.Expr:
    """Remove the imaginary unit left over from rewriting sines and cosines (conjugate pairs cancel)."""
    if not expr.has(sympy.I):
        return expr
    simplified = sympy.simplify(sympy.expand(expr))
    return simplified


def _delta_kernel(expr: sympy.Expr, t: sympy.Symbol, name: str) -> KernelOde:
    scale: sympy.Expr = sympy.S.Zero
    for term in sympy.Add.make_args(sympy.expand(expr)):
        deltas = [f for f in sympy.Mul.make_args(term) if isinstance(f, sympy.DiracDelta)]
        rest = sympy.Mul(*[f for f in sympy.Mul.make_args(term) if not isinstance(f, sympy.DiracDelta)])
        if len(deltas) != 1 or deltas[0].args != (t,) or t in rest.free_symbols:
            raise AnalysisError(
                f"kernel {name!r} mixes a delta with other terms ({term}); a delta kernel must be c*delta(t)"
            )
        scale += rest
    return KernelOde(name, [], {}, [], is_delta=True, delta_scale=sympy.cancel(scale))


def kernel_to_ode(expr: sympy.Expr, t: sympy.Symbol, name: str) -> KernelOde:
    """The minimal-order linear ODE of a kernel k(t) given in function form (see the module docstring).

    ``delta(t)`` (``DiracDelta(t)``, optionally times a t-free factor) gives a ``KernelOde`` with
    ``is_delta=True`` and no states.  ``Heaviside(t)`` factors are dropped (kernels are used for t >= 0).
    Raises :class:`AnalysisError` for kernels without such an ODE, e.g. 1/(1 + t).
    """
    name = _check_name(name)
    if not isinstance(t, sympy.Symbol):
        raise AnalysisError(f"the kernel's time variable must be a sympy Symbol, got {t!r}")
    try:
        expr = sympy.sympify(expr, strict=True)
    except (sympy.SympifyError, TypeError) as exc:
        raise AnalysisError(f"kernel {name!r} is not a sympy expression: {expr!r}") from exc
    if expr.has(sympy.DiracDelta):
        return _delta_kernel(expr, t, name)
    expr = expr.replace(lambda e: isinstance(e, sympy.Heaviside) and e.args[0] == t, lambda e: sympy.S.One)
    if expr.has(sympy.sin, sympy.cos, sympy.sinh, sympy.cosh):
        expr = expr.rewrite(sympy.exp)
    terms = _exponential_terms(expr, t, name)
    if not terms:
        raise AnalysisError(f"kernel {name!r} is identically zero")

    multiplicity: dict[sympy.Expr, int] = {}
    for rate, power in terms:
        multiplicity[rate] = max(multiplicity.get(rate, 0), power + 1)
    order = sum(multiplicity.values())
    s = sympy.Dummy("s")
    characteristic = sympy.Poly(
        sympy.expand(sympy.Mul(*[(s - rate) ** m for rate, m in multiplicity.items()])), s
    )
    coefficients = [_real(sympy.cancel(c)) for c in reversed(characteristic.all_coeffs())]  # a_0 .. a_n
    if any(c.has(sympy.I) for c in coefficients):
        raise AnalysisError(f"kernel {name!r} is complex-valued")

    states = state_names(name, order)
    odes: dict[sympy.Symbol, sympy.Expr] = {}
    for k in range(order - 1):
        odes[states[k]] = states[k + 1]
    odes[states[-1]] = -sympy.Add(*[coefficients[k] * states[k] for k in range(order)])

    # d^m/dt^m [t^j exp(rate t)] at t = 0 is C(m, j) j! rate^(m-j) for m >= j, else 0
    initial_values = []
    for m in range(order):
        value = sympy.Add(
            *[
                coefficient * comb(m, power) * factorial(power) * rate ** (m - power)
                for (rate, power), coefficient in terms.items()
                if m >= power
            ]
        )
        initial_values.append(_real(sympy.cancel(value)))
    if any(v.has(sympy.I) for v in initial_values):
        raise AnalysisError(f"kernel {name!r} is complex-valued")
    return KernelOde(name, states, odes, initial_values)


def kernel_from_odes(
    name: str,
    odes: Mapping[sympy.Symbol, sympy.Expr],
    initial_values: Mapping[sympy.Symbol, sympy.Expr] | Sequence[sympy.Expr],
    t: sympy.Symbol | None = None,
    allowed: Iterable[sympy.Symbol] | None = None,
) -> KernelOde:
    """A kernel given in ODE form: check that the ODEs are linear and homogeneous with constant coefficients.

    ``initial_values`` (by state, or aligned with ``odes``) are the jump per unit spike weight.  Coefficients
    may not contain ``t`` or the kernel states; if ``allowed`` is given, they may only contain those symbols.
    """
    name = _check_name(name)
    states = list(odes)
    if not states:
        raise AnalysisError(f"kernel {name!r} has no ODEs")
    state_set = frozenset(states)
    for state in states:
        if not isinstance(state, sympy.Symbol):
            raise AnalysisError(f"kernel {name!r}: state {state!r} must be a sympy Symbol")
    allowed_set = None if allowed is None else frozenset(allowed) | state_set
    checked: dict[sympy.Symbol, sympy.Expr] = {}
    for state in states:
        try:
            rhs = sympy.sympify(odes[state], strict=True)
        except (sympy.SympifyError, TypeError) as exc:
            raise AnalysisError(f"kernel {name!r}: d {state}/dt is not a sympy expression") from exc
        offending = nonlinear_part(rhs, state_set)
        if offending is not None:
            raise AnalysisError(f"kernel {name!r}: d {state}/dt is not linear (term {offending})")
        if t is not None and t in rhs.free_symbols:
            raise AnalysisError(f"kernel {name!r}: d {state}/dt depends explicitly on {t}")
        if sympy.cancel(rhs.xreplace({x: 0 for x in states})) != 0:
            raise AnalysisError(
                f"kernel {name!r}: d {state}/dt is not homogeneous (it has a term without a state)"
            )
        if allowed_set is not None:
            unknown = rhs.free_symbols - allowed_set
            if unknown:
                names = ", ".join(sorted(str(u) for u in unknown))
                raise AnalysisError(
                    f"kernel {name!r}: d {state}/dt uses symbol(s) {names} that are not parameters"
                )
        checked[state] = rhs
    if isinstance(initial_values, Mapping):
        missing = [str(x) for x in states if x not in initial_values]
        if missing:
            raise AnalysisError(f"kernel {name!r}: no initial value for {', '.join(missing)}")
        values = [sympy.sympify(initial_values[x]) for x in states]
    else:
        values = [sympy.sympify(v) for v in initial_values]
        if len(values) != len(states):
            raise AnalysisError(f"kernel {name!r}: {len(values)} initial values for {len(states)} states")
    return KernelOde(name, states, checked, values)
