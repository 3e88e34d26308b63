"""The analysis input (``OdeSystem``) and its validation into a normalised form."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import sympy

from nmlc.analysis.errors import AnalysisError

if TYPE_CHECKING:
    from nmlc.analysis.kernels import KernelOde

#: Methods a model may pin on a state.  "numeric" means "numeric, with the default method".
PIN_METHODS = ("exact", "numeric", "euler", "rk45", "implicit")


@dataclass
class OdeSystem:
    """A first-order ODE system in sympy form, as lowered by the front end.

    ``odes`` maps each state to its right-hand side d state / dt (time unit ms); higher-order equations arrive
    already reduced (``x'' = f`` becomes ``x' = x__d, x__d' = f``).  ``parameters`` are constant during a run,
    ``inputs`` constant within one time step.  Any other free symbol in a right-hand side is an error.
    ``kernels`` are optional kernel ODEs (from :func:`nmlc.analysis.kernel_to_ode`) whose states are added to
    the system; the plan lists them so that the caller knows the jump applied on a spike.
    """

    t: sympy.Symbol
    odes: dict[sympy.Symbol, sympy.Expr]
    parameters: frozenset[sympy.Symbol]
    inputs: frozenset[sympy.Symbol]
    pinned: dict[sympy.Symbol, str] = field(default_factory=dict)
    kernels: tuple[KernelOde, ...] = ()


@dataclass(frozen=True)
class CheckedSystem:
    """A validated system: kernel states merged, right-hand sides sympified, states in a fixed order."""

    t: sympy.Symbol
    states: tuple[sympy.Symbol, ...]
    rhs: Mapping[sympy.Symbol, sympy.Expr]
    parameters: frozenset[sympy.Symbol]
    inputs: frozenset[sympy.Symbol]
    pinned: Mapping[sympy.Symbol, str]
    kernels: tuple[KernelOde, ...]


def _sympify(value: object, what: str) -> sympy.Expr:
    try:
        expr = sympy.sympify(value, strict=True)
    except (sympy.SympifyError, TypeError) as exc:
        raise AnalysisError(f"{what} is not a sympy expression: {value!r}") from exc
    if not isinstance(expr, sympy.Expr):
        raise AnalysisError(f"{what} is not a sympy expression: {value!r}")
    return expr


def _symbol_set(values: object, what: str) -> frozenset[sympy.Symbol]:
    try:
        items = frozenset(values)  # type: ignore[arg-type]
    except TypeError as exc:
        raise AnalysisError(f"{what} must be a set of sympy symbols") from exc
    for item in items:
        if not isinstance(item, sympy.Symbol):
            raise AnalysisError(f"{what} must contain sympy symbols only, got {item!r}")
    return items


def check_system(system: OdeSystem) -> CheckedSystem:
    """Validate ``system`` and return its normalised form; every problem raises :class:`AnalysisError`."""
    if not isinstance(system, OdeSystem):
        raise AnalysisError(f"expected an OdeSystem, got {type(system).__name__}")
    t = system.t
    if not isinstance(t, sympy.Symbol):
        raise AnalysisError(f"the time variable must be a sympy Symbol, got {t!r}")
    if not isinstance(system.odes, Mapping):
        raise AnalysisError("odes must be a mapping from state symbols to right-hand sides")
    parameters = _symbol_set(system.parameters, "parameters")
    inputs = _symbol_set(system.inputs, "inputs")

    rhs: dict[sympy.Symbol, sympy.Expr] = {}
    for state, expr in system.odes.items():
        if not isinstance(state, sympy.Symbol):
            raise AnalysisError(f"state {state!r} must be a sympy Symbol")
        rhs[state] = _sympify(expr, f"right-hand side of d {state}/dt")
    for kernel in system.kernels:
        for state, expr in kernel.odes.items():
            if state in rhs:
                raise AnalysisError(
                    f"kernel {kernel.name!r} defines state {state}, which the system already has"
                )
            rhs[state] = expr
    states = tuple(rhs)
    if not states:
        raise AnalysisError("the ODE system has no states")

    state_set = frozenset(states)
    roles = {"state": state_set, "parameter": parameters, "input": inputs, "time": frozenset({t})}
    role_names = list(roles)
    for a_index, a in enumerate(role_names):
        for b in role_names[a_index + 1 :]:
            both = roles[a] & roles[b]
            if both:
                names = ", ".join(sorted(str(s) for s in both))
                raise AnalysisError(f"symbol(s) {names} declared both as {a} and as {b}")
    by_name: dict[str, sympy.Symbol] = {}
    for symbol in (*states, *sorted(parameters, key=str), *sorted(inputs, key=str), t):
        other = by_name.setdefault(symbol.name, symbol)
        if other != symbol:
            raise AnalysisError(
                f"two different symbols share the name {symbol.name!r} (different assumptions?)"
            )

    allowed = state_set | parameters | inputs | {t}
    for state, expr in rhs.items():
        where = f"d {state}/dt"
        unknown = expr.free_symbols - allowed
        if unknown:
            names = ", ".join(sorted(str(s) for s in unknown))
            raise AnalysisError(
                f"{where} uses undeclared symbol(s) {names}: declare each as a state, parameter or input"
            )
        if expr.has(sympy.Derivative):
            raise AnalysisError(
                f"{where} contains a derivative: reduce higher-order ODEs to first order first"
            )
        if expr.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
            raise AnalysisError(f"{where} contains an infinite or undefined value: {expr}")

    if not isinstance(system.pinned, Mapping):
        raise AnalysisError("pinned must be a mapping from state symbols to method names")
    pinned: dict[sympy.Symbol, str] = {}
    for state, method in system.pinned.items():
        if state not in state_set:
            raise AnalysisError(f"a solver method is pinned on {state}, which is not a state of the system")
        if method not in PIN_METHODS:
            raise AnalysisError(
                f"unknown solver method {method!r} pinned on {state}; choose one of {', '.join(PIN_METHODS)}"
            )
        pinned[state] = method
    return CheckedSystem(t, states, rhs, parameters, inputs, pinned, tuple(system.kernels))
