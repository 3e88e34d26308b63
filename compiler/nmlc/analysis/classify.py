"""Split the states of a system into exactly solvable blocks and numerically integrated blocks.

Rules (documented in docs and tested):

* a state is *exactly solvable* when its right-hand side is affine in the states with coefficients built from
  parameters only (no time, no inputs), and every state it reads is exactly solvable;
* an exactly solvable state that a numerically integrated state reads is integrated numerically along with it
  (as NEST's conductance-based models do with their conductances), unless the model pins it ``exact``; then
  the numeric block reads its value at the start of the step;
* a pin ``numeric``/``euler``/``rk45``/``implicit`` forces a state into a numeric block; a pin ``exact`` on a
  state that is not exactly solvable is an error.

Exact states are grouped into weakly connected components of the dependency graph; numeric states likewise.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from nmlc.analysis.errors import AnalysisError
from nmlc.analysis.graph import weakly_connected_components
from nmlc.analysis.linearity import LocalForm, local_form
from nmlc.analysis.system import CheckedSystem

DEFAULT_METHOD = "rk45"
_NUMERIC_PINS = ("numeric", "euler", "rk45", "implicit")


@dataclass(frozen=True)
class Classification:
    """The outcome: blocks of states and, per state, why it landed where it did.

    ``why`` holds the part of the reason after the dash; the method name is added once blocks are known.
    """

    forms: dict[sympy.Symbol, LocalForm]
    exact_groups: list[list[sympy.Symbol]]
    numeric_groups: list[tuple[list[sympy.Symbol], str]]
    why: dict[sympy.Symbol, str]


def _names(symbols: list[sympy.Symbol]) -> str:
    return ", ".join(str(s) for s in symbols)


def classify(system: CheckedSystem) -> Classification:
    """Classify every state of ``system``; raises :class:`AnalysisError` for contradictory pins."""
    states = system.states
    state_set = frozenset(states)
    forms = {x: local_form(x, system.rhs[x], state_set, system.inputs, system.t) for x in states}
    readers: dict[sympy.Symbol, list[sympy.Symbol]] = {x: [] for x in states}
    for x in states:
        for dependency in forms[x].dependencies:
            readers[dependency].append(x)

    why: dict[sympy.Symbol, str] = {}
    exact: set[sympy.Symbol] = set()
    for x in states:
        pin = system.pinned.get(x)
        obstacle = forms[x].obstacle
        if obstacle is not None:
            if pin == "exact":
                raise AnalysisError(f"{x} is pinned 'exact' but cannot be solved exactly: {obstacle}")
            why[x] = obstacle
        elif pin in _NUMERIC_PINS:
            why[x] = f"pinned '{pin}' by the model (linear, constant coefficients)"
        else:
            exact.add(x)

    # Fixed point of two rules: an exact state reading a numeric one becomes numeric, and an exact state read
    # by a numeric one is integrated along with it (unless pinned exact).
    changed = True
    while changed:
        changed = False
        for x in states:
            if x not in exact:
                continue
            numeric_dependencies = [d for d in forms[x].dependencies if d not in exact]
            if numeric_dependencies:
                if system.pinned.get(x) == "exact":
                    raise AnalysisError(
                        f"{x} is pinned 'exact' but depends on {_names(numeric_dependencies)}, "
                        "which is solved numerically"
                    )
                exact.discard(x)
                why[x] = f"linear, but depends on {_names(numeric_dependencies)} (numeric)"
                changed = True
                continue
            numeric_readers = [r for r in readers[x] if r not in exact and r != x]
            if numeric_readers and system.pinned.get(x) != "exact":
                exact.discard(x)
                verb = "depends" if len(numeric_readers) == 1 else "depend"
                why[x] = f"linear, but {_names(numeric_readers)} (numeric) {verb} on it"
                changed = True

    successors = {x: [r for r in readers[x]] for x in states}
    exact_order = [x for x in states if x in exact]
    numeric_order = [x for x in states if x not in exact]
    exact_groups = weakly_connected_components(exact_order, successors)
    numeric_groups = []
    for group in weakly_connected_components(numeric_order, successors):
        pins = sorted(
            {system.pinned[x] for x in group if system.pinned.get(x) in _NUMERIC_PINS} - {"numeric"}
        )
        if len(pins) > 1:
            detail = ", ".join(f"{x} '{system.pinned[x]}'" for x in group if system.pinned.get(x) in pins)
            raise AnalysisError(
                f"conflicting solver pins in one coupled numeric block ({_names(group)}): {detail}"
            )
        numeric_groups.append((group, pins[0] if pins else DEFAULT_METHOD))

    for x in exact:
        dependencies = list(forms[x].dependencies)
        text = "linear, constant coefficients"
        if dependencies:
            text += ", depends on " + ", ".join(f"{d} (exact)" for d in dependencies)
        if system.pinned.get(x) == "exact":
            text += "; pinned 'exact' by the model"
            numeric_readers = [r for r in readers[x] if r not in exact]
            if numeric_readers:
                text += f"; {_names(numeric_readers)} (numeric) read its value at the start of each step"
        why[x] = text
    return Classification(forms, exact_groups, numeric_groups, why)
