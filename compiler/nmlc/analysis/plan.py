"""Result types of the analysis: exact blocks, numeric blocks and the solver plan that lists them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import sympy

if TYPE_CHECKING:
    from nmlc.analysis.kernels import KernelOde


@dataclass
class ExactBlock:
    """Coupled exactly solvable states, advanced by x(t+h) = P(h) x(t) + q(h).

    ``update`` gives the new value of every state in terms of propagator symbols, old state values and the
    forcing terms in ``columns`` (1 for the parameter-only part, then input expressions).  Every update reads
    values at the start of the step, so a code generator must compute all new values before storing any.

    * ``mode == "closed_form"``: ``propagators`` maps each propagator symbol to its expression in
      parameters and ``h`` (a ``Piecewise`` over ``singular_conditions`` where a closed form needs a limit);
      evaluate them whenever parameters change.
    * ``mode == "matrix_exponential"``: ``propagators`` is empty; compute E = expm(``generator`` * h)
      numerically whenever parameters change and read each propagator symbol at ``positions[symbol]``.

    ``generator`` is the augmented matrix [[A, B], [0, 0]] whose rows and columns follow ``columns``
    (``states`` first); ``positions`` maps each propagator symbol to its (row, column) in exp(generator*h) in
    both modes.  ``note`` says why the matrix exponential was chosen, if it was.
    """

    states: list[sympy.Symbol]
    h: sympy.Symbol
    mode: Literal["closed_form", "matrix_exponential"]
    propagators: dict[sympy.Symbol, sympy.Expr]
    update: dict[sympy.Symbol, sympy.Expr]
    singular_conditions: list[sympy.Rel]
    generator: sympy.Matrix = field(default_factory=lambda: sympy.zeros(0, 0))
    columns: list[sympy.Expr] = field(default_factory=list)
    positions: dict[sympy.Symbol, tuple[int, int]] = field(default_factory=dict)
    note: str = ""


@dataclass
class NumericBlock:
    """Coupled states integrated numerically with ``method`` ("rk45", "euler", "implicit").

    ``jacobian`` is d rhs / d states in the order of ``states`` (for implicit and Rosenbrock methods); it may
    contain ``Derivative`` objects of user functions.  ``external`` lists exactly solved states (pinned
    ``exact``) that the right-hand sides read; they hold their start-of-step value during the step.
    """

    states: list[sympy.Symbol]
    rhs: dict[sympy.Symbol, sympy.Expr]
    jacobian: sympy.Matrix
    method: str
    external: list[sympy.Symbol] = field(default_factory=list)


@dataclass
class SolverPlan:
    """Blocks in a fixed order (exact blocks first), a one-line reason per state and the system's kernels."""

    blocks: list[ExactBlock | NumericBlock]
    reasons: dict[sympy.Symbol, str]
    kernels: dict[str, KernelOde] = field(default_factory=dict)
    h: sympy.Symbol = field(default_factory=lambda: sympy.Symbol("__h"))
