"""Exact propagators of a linear block with constant coefficients: x(t+h) = P(h) x(t) + q(h).

Method
------
The block's inhomogeneous terms are split into a parameter-only part and input terms (``forcing``), each
given a constant state of its own, so that the augmented generator M = [[A, B], [0, 0]] needs no inverse even
when A is singular (a pure integrator).  Entry (i, j) of exp(M*h) only depends on the states that lie on a
walk from j to i; for those we take the eigenvalues of their strongly connected components (which must be
rational in the parameters: 1x1 components give the diagonal entry, larger ones a factored characteristic
polynomial) in topological order z_1, z_2, ... and use the Newton (Putzer) form

    exp(M*h)[i, j] = sum_k  ((M - z_1) ... (M - z_{k-1}))[i, j] * f[z_1, ..., z_k],

whose coefficients are polynomials in the matrix entries (no division by eigenvalue differences), and whose
divided differences f[...] of exp(z*h) are built by :mod:`nmlc.analysis.divided_differences` so that they stay
accurate when eigenvalues nearly coincide.  For a chain this is the familiar path-sum (for iaf_psc_exp,
P[V, I] = f[-1/tau_syn, -1/tau_m] / C_m).

Degenerate parameters: each pair of distinct eigenvalues in an entry whose difference can vanish (a factor of
the numerator of their difference, e.g. tau_m - tau_syn) is a *singular condition*.  We solve it for one
parameter, substitute, and recompute the entry (recursively, up to ``MAX_COINCIDENCE_DEPTH`` coincidences),
giving a ``Piecewise`` whose first branches are the limit forms and whose last branch is the general form.

Non-rational parameter expressions in the coefficients (exp(p), a Piecewise of parameters, user functions of
parameters) are masked by dummy symbols while the field arithmetic runs, and put back at the end.

The block is returned in matrix-exponential mode instead if a component's eigenvalues are not rational in
the parameters, an entry combines more distinct eigenvalues than :func:`divided_differences.is_stable`
accepts, the block has more than ``MAX_CLOSED_FORM_SIZE`` columns, or sympy exceeds the time budget.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import sympy
from sympy.polys.fields import sfield
from sympy.polys.polyerrors import CoercionFailed

from nmlc.analysis.divided_differences import exp_divided_difference, is_stable
from nmlc.analysis.graph import reachable, strongly_connected_components
from nmlc.analysis.linearity import LocalForm
from nmlc.analysis.plan import ExactBlock

#: Augmented blocks larger than this go straight to matrix-exponential mode.
MAX_CLOSED_FORM_SIZE = 16
#: The note of a block that fell back to the matrix exponential because sympy ran out of time.
TIME_BUDGET_NOTE = "the closed form exceeded the analysis time budget"
#: How many simultaneous eigenvalue coincidences get their own limit form.
MAX_COINCIDENCE_DEPTH = 3


class _TimeUp(Exception):
    """The closed form took longer than the caller's budget."""


class _Unstable(Exception):
    """An entry needs a divided difference without an accurate closed form (too many distinct eigenvalues)."""


class _NotRational(Exception):
    """Some component has eigenvalues that are not rational functions of the parameters."""


@dataclass(frozen=True)
class AffineBlock:
    """x' = A x + B u for one block: ``generator`` is [[A, B], [0, 0]], rows/columns follow ``columns``."""

    states: list[sympy.Symbol]
    columns: list[sympy.Expr]
    column_names: list[str]
    generator: sympy.Matrix


def _split_forcing(forcing: sympy.Expr, inputs: frozenset[sympy.Symbol]) -> dict[sympy.Expr, sympy.Expr]:
    """Write ``forcing`` as sum(coefficient * key) with parameter-only coefficients.

    Key 1 collects the parameter-only part; every other key is an input-dependent factor.
    """
    if not forcing.free_symbols & inputs:
        return {sympy.S.One: forcing} if forcing != 0 else {}
    parts: dict[sympy.Expr, sympy.Expr] = {}
    for term in sympy.Add.make_args(sympy.expand_mul(forcing)):
        with_inputs = [f for f in sympy.Mul.make_args(term) if f.free_symbols & inputs]
        rest = [f for f in sympy.Mul.make_args(term) if not f.free_symbols & inputs]
        key = sympy.Mul(*with_inputs)
        parts[key] = parts.get(key, sympy.S.Zero) + sympy.Mul(*rest)
    return {key: value for key, value in parts.items() if value != 0}


def _rational(expr: sympy.Expr) -> sympy.Expr:
    """Floats from literals become exact rationals (0.1 -> 1/10): the closed form needs exact zero tests."""
    floats = expr.atoms(sympy.Float)
    if not floats:
        return expr
    return expr.xreplace({f: sympy.nsimplify(f, rational=True) for f in floats})


def affine_block(
    states: Sequence[sympy.Symbol], forms: Mapping[sympy.Symbol, LocalForm], inputs: frozenset[sympy.Symbol]
) -> AffineBlock:
    """Assemble the augmented generator of an exactly solvable block."""
    forcing = {x: _split_forcing(forms[x].forcing, inputs) for x in states}
    keys: list[sympy.Expr] = []
    if any(sympy.S.One in parts for parts in forcing.values()):
        keys.append(sympy.S.One)
    others = {key for parts in forcing.values() for key in parts if key != 1}
    keys.extend(sorted(others, key=sympy.default_sort_key))
    columns: list[sympy.Expr] = [*states, *keys]
    names = [str(x) for x in states]
    for position, key in enumerate(keys):
        if key == 1:
            names.append("const")
        elif isinstance(key, sympy.Symbol):
            names.append(str(key))
        else:
            names.append(f"u{position}")
    size = len(columns)
    generator = sympy.zeros(size, size)
    index = {x: k for k, x in enumerate(states)}
    for row, x in enumerate(states):
        for other, coefficient in forms[x].coefficients.items():
            generator[row, index[other]] = _rational(coefficient)
        for key, coefficient in forcing[x].items():
            generator[row, len(states) + keys.index(key)] = _rational(coefficient)
    return AffineBlock(list(states), columns, names, generator)


def _mask(matrix: sympy.Matrix) -> tuple[sympy.Matrix, dict[sympy.Symbol, sympy.Expr]]:
    """Replace every maximal non-rational subexpression (exp(p), Piecewise, user functions, sqrt, ...) by a
    dummy symbol, so that the entries live in a rational function field; returns the masked matrix and the
    dummy -> expression map to undo it."""
    masks: dict[sympy.Expr, sympy.Dummy] = {}

    def visit(expr: sympy.Expr) -> sympy.Expr:
        if expr.is_Symbol or expr.is_Number:
            return expr
        if isinstance(expr, (sympy.Add, sympy.Mul)):
            return expr.func(*[visit(arg) for arg in expr.args])
        if isinstance(expr, sympy.Pow) and expr.exp.is_Integer:
            return visit(expr.base) ** expr.exp
        if expr not in masks:
            masks[expr] = sympy.Dummy(f"m{len(masks)}")
        return masks[expr]

    masked = matrix.applyfunc(visit)
    return masked, {dummy: expr for expr, dummy in masks.items()}


@dataclass(frozen=True)
class _Coincidence:
    relation: sympy.Rel
    substitution: tuple[sympy.Symbol, sympy.Expr] | None


def _relation(factor: sympy.Expr) -> sympy.Rel:
    """Eq(positive terms, negated negative terms) of ``factor``, e.g. tau_m - tau_s -> Eq(tau_m, tau_s)."""
    terms = sympy.Add.make_args(sympy.expand(factor))
    left = [term for term in terms if not term.could_extract_minus_sign()]
    right = [-term for term in terms if term.could_extract_minus_sign()]
    return sympy.Eq(sympy.Add(*left), sympy.Add(*right), evaluate=False)


@lru_cache(maxsize=4096)
def _coincidences(
    a: sympy.Expr, b: sympy.Expr, parameters: frozenset[sympy.Symbol]
) -> tuple[_Coincidence, ...]:
    """Parameter conditions under which eigenvalues ``a`` and ``b`` coincide (none if they never can)."""
    numerator, _ = sympy.fraction(sympy.cancel(a - b))
    if numerator.is_number:
        return ()
    found = []
    _, factors = sympy.factor_list(numerator)
    for factor, _ in factors:
        if factor.is_number:
            continue
        substitution = None
        # Eliminate the alphabetically last parameter that occurs linearly (tau_syn in tau_m - tau_syn), so
        # that the limit form is written in the remaining ones.
        for symbol in sorted(factor.free_symbols & parameters, key=str, reverse=True):
            poly = sympy.Poly(factor, symbol)
            if poly.degree() == 1:
                slope, offset = poly.all_coeffs()
                substitution = (symbol, sympy.cancel(-offset / slope))
                break
        found.append(_Coincidence(_relation(factor), substitution))
    return tuple(found)


Term = tuple[sympy.Expr, tuple[tuple[sympy.Expr, int], ...]]


@lru_cache(maxsize=1024)
def _component_roots(entries: tuple[tuple[sympy.Expr, ...], ...]) -> tuple[sympy.Expr, ...] | None:
    """Eigenvalues (with multiplicity) of a small matrix, if all are rational in its symbols; cached."""
    if len(entries) == 2:
        # the reduced form of a second-order ODE: a zero discriminant (alpha kernels) needs no factoring
        (a, b), (c, d) = entries
        trace = a + d
        if sympy.cancel(trace**2 - 4 * (a * d - b * c)) == 0:
            return (sympy.cancel(trace / 2),) * 2
    characteristic = sympy.Matrix(entries).charpoly()
    s = characteristic.gen  # a PurePoly carries its own dummy generator
    numerator, _ = sympy.fraction(sympy.together(characteristic.as_expr()))
    _, factors = sympy.factor_list(sympy.expand(numerator))
    values: list[sympy.Expr] = []
    for factor, power in factors:
        poly = sympy.Poly(factor, s)
        if poly.degree() == 0:
            continue
        if poly.degree() > 1:
            return None
        slope, offset = poly.all_coeffs()
        values.extend([sympy.cancel(-offset / slope)] * power)
    return tuple(values)


class _Expansion:
    """Newton-form terms of every needed entry of exp(M*h) for one (possibly substituted) generator.

    Arithmetic runs in the rational function field of the generator's entries (sympy's sparse ``FracField``),
    which is canonical, so zero tests are exact and no ``cancel`` calls are needed.
    """

    def __init__(self, generator: sympy.Matrix, rows: int, deadline: float) -> None:
        self.size = generator.rows
        self.deadline = deadline
        nonzero = {
            (r, c): generator[r, c]
            for r in range(self.size)
            for c in range(self.size)
            if generator[r, c] != 0
        }
        # the trailing 1 keeps the list non-empty for an all-zero generator (x' = 0)
        self.field, values = sfield([*nonzero.values(), sympy.S.One])
        self.entries = {key: value for key, value in zip(nonzero, values[:-1], strict=True) if value}
        self.successors: dict[int, list[int]] = {c: [] for c in range(self.size)}
        predecessors: dict[int, list[int]] = {r: [] for r in range(self.size)}
        for r, c in self.entries:
            if r != c:
                self.successors[c].append(r)
                predecessors[r].append(c)
        components = strongly_connected_components(list(range(self.size)), self.successors)
        components.reverse()  # topological order: sources first
        self.components = components
        self.eigenvalues = [self._component_eigenvalues(comp) for comp in components]
        self.reach_from = {c: reachable(c, self.successors) for c in range(self.size)}
        self.reach_to = {r: reachable(r, predecessors) for r in range(rows)}
        self.expressions: dict[object, sympy.Expr] = {}
        self.terms: dict[tuple[int, int], list[Term]] = {}
        for r in range(rows):
            for c in range(self.size):
                if r in self.reach_from[c]:
                    if time.monotonic() > self.deadline:
                        raise _TimeUp
                    terms = self._newton(r, c)
                    if terms:
                        self.terms[r, c] = terms

    def _expr(self, element: object) -> sympy.Expr:
        if element not in self.expressions:
            self.expressions[element] = element.as_expr()  # type: ignore[attr-defined]
        return self.expressions[element]

    def _component_eigenvalues(self, component: list[int]) -> list[object]:
        if len(component) == 1:
            node = component[0]
            return [self.entries.get((node, node), self.field.zero)]
        block = tuple(
            tuple(self.entries[r, c].as_expr() if (r, c) in self.entries else sympy.S.Zero for c in component)
            for r in component
        )
        roots = _component_roots(block)
        if roots is None:
            raise _NotRational
        try:
            return [self.field.from_expr(root) for root in roots]
        except (ValueError, sympy.PolynomialError) as exc:
            raise _NotRational from exc

    def _newton(self, row: int, column: int) -> list[Term]:
        inside = self.reach_from[column] & self.reach_to[row]
        points: list[object] = []
        for k, comp in enumerate(self.components):
            if comp[0] in inside:
                points.extend(self.eigenvalues[k])
        vector = {column: self.field.one}
        terms: list[Term] = []
        for k, z in enumerate(points):
            coefficient = vector.get(row)
            if coefficient:
                terms.append((self._expr(coefficient), self._group(points[: k + 1])))
            if k == len(points) - 1:
                break
            # vector <- (M - z) vector, restricted to the states on walks from column to row
            new: dict[int, object] = {}
            for c, value in vector.items():
                new[c] = new.get(c, self.field.zero) - z * value
                for r in (c, *self.successors[c]):
                    if r in inside and (r, c) in self.entries:
                        new[r] = new.get(r, self.field.zero) + self.entries[r, c] * value
            vector = {r: value for r, value in new.items() if value}
            if not vector:
                break
        return terms

    def _group(self, points: Sequence[object]) -> tuple[tuple[sympy.Expr, int], ...]:
        counts: dict[object, int] = {}
        for z in points:
            counts[z] = counts.get(z, 0) + 1
        return tuple((self._expr(z), count) for z, count in counts.items())


class _ClosedForm:
    """Builds the Piecewise expression of every entry, recomputing the expansion under each coincidence."""

    def __init__(
        self, block: AffineBlock, parameters: frozenset[sympy.Symbol], h: sympy.Symbol, deadline: float
    ) -> None:
        self.block = block
        self.parameters = parameters
        self.h = h
        self.deadline = deadline
        self.rows = len(block.states)
        self.expansions: dict[frozenset, _Expansion | None] = {}
        self.conditions: set[sympy.Rel] = set()

    def expansion(self, substitution: dict[sympy.Symbol, sympy.Expr]) -> _Expansion | None:
        key = frozenset(substitution.items())
        if key not in self.expansions:
            generator = self.block.generator
            if substitution:
                generator = generator.xreplace(substitution)
                if any(entry.has(sympy.zoo, sympy.nan, sympy.oo) for entry in generator):
                    self.expansions[key] = None
                    return None
            try:
                self.expansions[key] = _Expansion(generator, self.rows, self.deadline)
            except _NotRational:
                if not substitution:
                    raise
                self.expansions[key] = None
        return self.expansions[key]

    def branches(
        self, substitution: dict[sympy.Symbol, sympy.Expr], row: int, column: int, depth: int
    ) -> list[tuple[sympy.Expr, sympy.Basic, frozenset]] | None:
        """(expression, condition, substitution key) for entry (row, column), the last with condition True.

        A branch reached twice (tau_a == tau_b == tau_c via either pair first) is kept only the first time:
        the later copy could never be selected.
        """
        if time.monotonic() > self.deadline:
            raise _TimeUp
        expansion = self.expansion(substitution)
        if expansion is None:
            return None
        terms = expansion.terms.get((row, column), [])
        general = sympy.Add(*[c * exp_divided_difference(points, self.h) for c, points in terms])
        result: list[tuple[sympy.Expr, sympy.Basic, frozenset]] = []
        reached: set[frozenset] = {frozenset(substitution.items())}
        if depth < MAX_COINCIDENCE_DEPTH:
            seen: dict[sympy.Rel, _Coincidence] = {}
            for _, points in terms:
                values = [z for z, _ in points]
                for a_index, a in enumerate(values):
                    for b in values[a_index + 1 :]:
                        for coincidence in _coincidences(a, b, self.parameters):
                            seen.setdefault(coincidence.relation, coincidence)
            for relation in sorted(seen, key=sympy.default_sort_key):
                self.conditions.add(relation)
                coincidence = seen[relation]
                if coincidence.substitution is None:
                    continue
                symbol, value = coincidence.substitution
                composed = {k: sympy.cancel(v.xreplace({symbol: value})) for k, v in substitution.items()}
                composed[symbol] = value
                inner = self.branches(composed, row, column, depth + 1)
                if inner is None:
                    continue
                for expression, condition, key in inner:
                    if key in reached:
                        continue
                    reached.add(key)
                    both = relation if condition is sympy.true else sympy.And(relation, condition)
                    result.append((expression, both, key))
        result.append((general, sympy.true, frozenset(substitution.items())))
        return result

    def entry(self, row: int, column: int) -> sympy.Expr:
        branches = self.branches({}, row, column, 0) or [(sympy.S.Zero, sympy.true, frozenset())]
        if len(branches) == 1:
            return branches[0][0]
        return sympy.Piecewise(
            *[(expression, condition) for expression, condition, _ in branches], evaluate=False
        )


class _Namer:
    """``__P__<row>__<column>`` names, unique across a plan.

    Names made ambiguous by ``__`` inside state names (row ``a``, column ``b__c`` against row ``a__b``,
    column ``c``) get a numeric suffix.  ``taken`` is shared by all blocks of one plan and extended here.
    """

    def __init__(self, block: AffineBlock, taken: set[str]) -> None:
        self.block = block
        self.taken = taken
        self.names: dict[tuple[int, int], sympy.Symbol] = {}

    def __getitem__(self, key: tuple[int, int]) -> sympy.Symbol:
        if key not in self.names:
            row, column = key
            name = f"__P__{self.block.column_names[row]}__{self.block.column_names[column]}"
            candidate, counter = name, 1
            while candidate in self.taken:
                candidate, counter = f"{name}__{counter}", counter + 1
            self.taken.add(candidate)
            self.names[key] = sympy.Symbol(candidate)
        return self.names[key]


def exact_block(
    states: Sequence[sympy.Symbol],
    forms: Mapping[sympy.Symbol, LocalForm],
    parameters: frozenset[sympy.Symbol],
    inputs: frozenset[sympy.Symbol],
    h: sympy.Symbol,
    deadline: float,
    taken: set[str] | None = None,
) -> ExactBlock:
    """Closed-form propagators of one exactly solvable block, or its generator if no closed form is
    practical.  ``taken`` collects the propagator names used so far in the plan (see :class:`_Namer`)."""
    block = affine_block(states, forms, inputs)
    size = len(block.columns)
    note = ""
    entries: dict[tuple[int, int], sympy.Expr] | None = None
    conditions: list[sympy.Rel] = []
    if size > MAX_CLOSED_FORM_SIZE:
        note = f"block of {size} coupled terms is larger than {MAX_CLOSED_FORM_SIZE}"
    else:
        try:
            masked, unmask = _mask(block.generator)
            # A parameter hidden inside a masked expression cannot be eliminated consistently; the dummy can.
            hidden = set().union(*(expr.free_symbols for expr in unmask.values()))
            eliminable = frozenset(parameters - hidden) | frozenset(unmask)
            closed = _ClosedForm(
                AffineBlock(block.states, block.columns, block.column_names, masked), eliminable, h, deadline
            )
            base = closed.expansion({})
            assert base is not None  # the unsubstituted generator has no infinite entries
            for terms in base.terms.values():
                for _, points in terms:
                    if not is_stable(points):
                        raise _Unstable(len(points), sum(m for _, m in points))
            entries = {key: closed.entry(*key).xreplace(unmask) for key in sorted(base.terms)}
            conditions = sorted((c.xreplace(unmask) for c in closed.conditions), key=sympy.default_sort_key)
        except _NotRational:
            note = "eigenvalues of a coupled sub-block are not rational in the parameters"
        except _TimeUp:
            note = TIME_BUDGET_NOTE
        except (sympy.PolynomialError, CoercionFailed, NotImplementedError) as exc:
            # an expression sympy's polynomial machinery cannot handle: the numeric route still works
            note = f"sympy could not build a closed form ({type(exc).__name__}: {exc})"
        except _Unstable as unstable:
            distinct, total = unstable.args
            note = (
                f"an entry combines {distinct} distinct eigenvalues ({total} with multiplicity), for which "
                "no closed form stays accurate when they nearly coincide"
            )

    symbols = _Namer(block, taken if taken is not None else set())
    propagators: dict[sympy.Symbol, sympy.Expr] = {}
    positions: dict[sympy.Symbol, tuple[int, int]] = {}
    update: dict[sympy.Symbol, sympy.Expr] = {}
    if entries is None:
        structure = _structure(block.generator, len(block.states))
        for key in structure:
            symbol = symbols[key]
            positions[symbol] = key
        for row, x in enumerate(block.states):
            update[x] = sympy.Add(
                *[symbols[row, column] * block.columns[column] for (r, column) in structure if r == row]
            )
        mode = "matrix_exponential"
    else:
        for row, x in enumerate(block.states):
            parts = []
            for (r, column), value in entries.items():
                if r != row or value == 0:
                    continue
                if value.is_number:
                    # e.g. the 1 on the diagonal of a pure integrator: no propagator constant needed
                    parts.append(value * block.columns[column])
                    continue
                symbol = symbols[row, column]
                propagators[symbol] = value
                positions[symbol] = (row, column)
                parts.append(symbol * block.columns[column])
            update[x] = sympy.Add(*parts)
        mode = "closed_form"
    return ExactBlock(
        states=list(block.states),
        h=h,
        mode=mode,
        propagators=propagators,
        update=update,
        singular_conditions=conditions,
        generator=block.generator,
        columns=list(block.columns),
        positions=positions,
        note=note,
    )


def _structure(generator: sympy.Matrix, rows: int) -> list[tuple[int, int]]:
    """Entries of exp(M*h) that can be non-zero: (row, column) with row reachable from column."""
    successors: dict[int, list[int]] = {c: [] for c in range(generator.cols)}
    for r in range(generator.rows):
        for c in range(generator.cols):
            if r != c and generator[r, c] != 0:
                successors[c].append(r)
    found = []
    for column in range(generator.cols):
        for row in sorted(reachable(column, successors)):
            if row < rows:
                found.append((row, column))
    return sorted(found)
