"""``analyze``: from an ``OdeSystem`` to a ``SolverPlan`` (classification, propagators, numeric blocks,
reasons).

Results are cached on the ``srepr`` of the input, so a model analysed twice (for example by the compiler and
by ``nmlc analyze``) costs sympy time once.  Each state's reason is also logged (level DEBUG) on the
``nmlc.analysis`` logger.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict

import sympy

from nmlc.analysis.classify import classify
from nmlc.analysis.errors import AnalysisError
from nmlc.analysis.plan import ExactBlock, NumericBlock, SolverPlan
from nmlc.analysis.propagators import TIME_BUDGET_NOTE, exact_block
from nmlc.analysis.system import OdeSystem, check_system

_LOG = logging.getLogger("nmlc.analysis")

#: The step-size symbol of every propagator.
H = sympy.Symbol("__h")
_CACHE_SIZE = 256
_cache: OrderedDict[str, SolverPlan] = OrderedDict()


def _cache_key(system: OdeSystem, timeout: float) -> str:
    kernels = tuple(
        (k.name, tuple(k.odes.items()), tuple(k.initial_values), k.is_delta, k.delta_scale)
        for k in system.kernels
    )
    return (
        sympy.srepr(
            (
                system.t,
                tuple(system.odes.items()),
                tuple(sorted(system.parameters, key=sympy.default_sort_key)),
                tuple(sorted(system.inputs, key=sympy.default_sort_key)),
                tuple(
                    sorted(
                        ((k, sympy.Symbol(v)) for k, v in system.pinned.items()), key=sympy.default_sort_key
                    )
                ),
                kernels,
            )
        )
        + f"|{timeout!r}"
    )


def _copy(plan: SolverPlan) -> SolverPlan:
    """A copy whose containers the caller may change without corrupting the cache.

    Sympy objects are immutable and shared.
    """
    blocks: list[ExactBlock | NumericBlock] = []
    for block in plan.blocks:
        if isinstance(block, ExactBlock):
            blocks.append(
                ExactBlock(
                    list(block.states),
                    block.h,
                    block.mode,
                    dict(block.propagators),
                    dict(block.update),
                    list(block.singular_conditions),
                    block.generator.copy(),
                    list(block.columns),
                    dict(block.positions),
                    block.note,
                )
            )
        else:
            blocks.append(
                NumericBlock(
                    list(block.states),
                    dict(block.rhs),
                    block.jacobian.copy(),
                    block.method,
                    list(block.external),
                )
            )
    return SolverPlan(blocks, dict(plan.reasons), dict(plan.kernels), plan.h)


def analyze(system: OdeSystem, timeout: float = 10.0) -> SolverPlan:
    """Choose a solver for every state of ``system`` and compute exact propagators where possible.

    ``timeout`` (seconds) bounds the sympy time spent on closed forms; blocks not finished by then are
    returned in matrix-exponential mode.  Raises :class:`AnalysisError` for invalid input.
    """
    if not isinstance(timeout, (int, float)) or not timeout > 0:
        raise AnalysisError(f"timeout must be a positive number of seconds, got {timeout!r}")
    checked = check_system(system)
    key = _cache_key(system, timeout)
    if key in _cache:
        _cache.move_to_end(key)
        return _copy(_cache[key])

    started = time.monotonic()
    deadline = started + timeout
    classification = classify(checked)
    forms = classification.forms
    blocks: list[ExactBlock | NumericBlock] = []
    reasons: dict[sympy.Symbol, str] = {}
    taken: set[str] = set()  # propagator names, unique across the plan
    for group in classification.exact_groups:
        block = exact_block(group, forms, checked.parameters, checked.inputs, H, deadline, taken)
        blocks.append(block)
        label = "exact" if block.mode == "closed_form" else "exact (matrix exponential)"
        for x in group:
            reason = f"{x}: {label} – {classification.why[x]}"
            if block.note:
                reason += f"; closed form impractical: {block.note}"
            reasons[x] = reason
    for group, method in classification.numeric_groups:
        rhs = {x: checked.rhs[x] for x in group}
        jacobian = sympy.Matrix([rhs[x] for x in group]).jacobian(group)
        members = set(group)
        external = [
            x for x in checked.states if x not in members and any(x in forms[y].dependencies for y in group)
        ]
        blocks.append(NumericBlock(list(group), rhs, jacobian, method, external))
        for x in group:
            reasons[x] = f"{x}: numeric {method} – {classification.why[x]}"
    ordered = {x: reasons[x] for x in checked.states}
    for reason in ordered.values():
        _LOG.debug("%s", reason)
    _LOG.debug("analysis of %d states took %.3f s", len(checked.states), time.monotonic() - started)
    plan = SolverPlan(blocks, ordered, {k.name: k for k in checked.kernels}, H)
    # a fallback caused by a slow moment must not stick: only complete results are cached
    if not any(isinstance(b, ExactBlock) and b.note == TIME_BUDGET_NOTE for b in blocks):
        _cache[key] = plan
    if len(_cache) > _CACHE_SIZE:
        _cache.popitem(last=False)
    return _copy(plan)


def clear_cache() -> None:
    """Forget cached plans (for benchmarks that want to time the sympy work)."""
    _cache.clear()
