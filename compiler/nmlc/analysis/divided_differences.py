"""Divided differences of z -> exp(z*h) as sympy expressions that stay accurate near coincident points.

Every entry of exp(A*h) is a sum of such divided differences over eigenvalues of A (Newton form, see
:mod:`nmlc.analysis.propagators`).  With eigenvalues a and b, the textbook closed form
``(exp(a*h) - exp(b*h))/(a - b)`` loses all accuracy as a -> b.  Our remedy, used for every divided difference
over two distinct eigenvalues a (multiplicity p) and b (multiplicity q):

    f[a^p, b^q] = exp(b*h) * h**(p+q-1) * Phi_pq(x),   x = (a - b)*h,
    Phi_pq(x)   = sum_m  C(m+p-1, p-1) * x**m / (m+p+q-1)!

The series is used (Horner form, truncated where the next term is below 1e-18 relative) while
|x| < max(2, p+q)/4; the residue closed form, whose rounding error grows like (p+q)!/|x|**(p+q-1), is used
otherwise (the radius grows with p+q to keep that error near 1e-14).  Neither branch can
overflow for stable systems, and both are finite at x == 0.

Three distinct eigenvalues (at most ``MAX_THREE_POINTS`` points with multiplicity): if some pair p, q is
well separated (|(p - q)*h| >= 1/4) we use the recurrence f[Z] = (f[Z without p] - f[Z without q]) / (q - p),
whose parts have fewer points and are again stable; if all three are within 1/4 of each other, a two-variable
Taylor series.  Four or more distinct eigenvalues use the residue form only (accurate unless two of them
nearly coincide); :func:`is_stable` says which divided differences have an accurate form, and the
propagator code uses the matrix exponential for blocks that need any other.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache, lru_cache
from math import comb, factorial

import sympy


def taylor_radius(points: int) -> sympy.Rational:
    """Below this |x| the Taylor series is used for a two-eigenvalue divided difference over ``points``
    points."""
    return sympy.Rational(max(2, points), 4)


#: Pairs closer than this (in units of 1/h) count as "close" among three distinct eigenvalues.
THREE_POINT_RADIUS = sympy.Rational(1, 4)
#: Largest number of points (with multiplicity) given the stable three-eigenvalue treatment.
MAX_THREE_POINTS = 4
#: Largest number of points over two distinct eigenvalues (measured error <= 3e-14 up to here).
MAX_TWO_POINTS = 8
_TAYLOR_TOLERANCE = 1e-18


def is_stable(points: Sequence[tuple[sympy.Expr, int]]) -> bool:
    """True when the divided difference over ``points`` has a form accurate near coinciding eigenvalues."""
    total = sum(m for _, m in points)
    return (
        len(points) == 1
        or (len(points) == 2 and total <= MAX_TWO_POINTS)
        or (len(points) == 3 and total <= MAX_THREE_POINTS)
    )


def _taylor_terms(p: int, q: int) -> int:
    """Number of series terms so that the first omitted one is below tolerance at |x| = taylor_radius."""
    n = p + q
    radius = float(taylor_radius(n))
    m = 0
    while comb(m + p - 1, p - 1) * radius**m * factorial(n - 1) / factorial(m + n - 1) > _TAYLOR_TOLERANCE:
        m += 1
    return m


@cache
def _phi_coefficients(p: int, q: int) -> tuple[sympy.Rational, ...]:
    n = p + q
    return tuple(
        sympy.Rational(comb(m + p - 1, p - 1), factorial(m + n - 1)) for m in range(_taylor_terms(p, q))
    )


def phi_series(x: sympy.Expr, p: int, q: int) -> sympy.Expr:
    """The truncated series Phi_pq(x) in Horner form."""
    result: sympy.Expr = sympy.S.Zero
    for coefficient in reversed(_phi_coefficients(p, q)):
        result = coefficient + x * result if result != 0 else coefficient
    return result


def residue_form(points: Sequence[tuple[sympy.Expr, int]], h: sympy.Symbol) -> sympy.Expr:
    """Closed form of the divided difference as a sum of residues of exp(z*h)/prod (z - mu)^m.

    ``points`` are distinct eigenvalues with multiplicities.  The residue at mu_i is
    sum_r h**(m_i-1-r)/(m_i-1-r)! * g_r, with g_r the Taylor coefficients at w = 0 of
    prod_{j != i} (w + D_ij)**(-m_j), D_ij = mu_i - mu_j; these follow from binomial series, so no symbolic
    differentiation is needed.  Differences D_ij are put over a common denominator (``cancel``) so that e.g.
    1/tau_a - 1/tau_b is evaluated as (tau_b - tau_a)/(tau_a*tau_b), exact in floating point for close values.
    """
    total: sympy.Expr = sympy.S.Zero
    for i, (mu_i, m_i) in enumerate(points):
        taylor: list[sympy.Expr] = [sympy.S.One] + [sympy.S.Zero] * (m_i - 1)
        for j, (mu_j, m_j) in enumerate(points):
            if j == i:
                continue
            gap = sympy.cancel(mu_i - mu_j)
            series = [(-1) ** s * comb(m_j + s - 1, s) * gap ** (-m_j - s) for s in range(m_i)]
            taylor = [sympy.Add(*[taylor[a] * series[r - a] for a in range(r + 1)]) for r in range(m_i)]
        residue = sympy.Add(*[h ** (m_i - 1 - r) / factorial(m_i - 1 - r) * taylor[r] for r in range(m_i)])
        total += sympy.exp(mu_i * h) * residue
    return total


def _three_point_series(points: Sequence[tuple[sympy.Expr, int]], h: sympy.Symbol) -> sympy.Expr:
    """f[a^p, b^q, c^r] = exp(c*h) h^(n-1) sum_m h_m(x^p, y^q) / (m+n-1)!, x = (a-c)h, y = (b-c)h.

    h_m is the complete homogeneous symmetric polynomial of degree m over the multiset; with the radius 1/4
    the series is truncated where the omitted terms are below 1e-18 relative.
    """
    (a, p), (b, q), (c, r) = points
    n = p + q + r
    x = sympy.cancel(a - c) * h
    y = sympy.cancel(b - c) * h
    radius = float(THREE_POINT_RADIUS)

    def weight(i: int, j: int) -> int:
        return comb(i + p - 1, p - 1) * comb(j + q - 1, q - 1)

    degree = 0
    while (
        sum(weight(i, degree - i) for i in range(degree + 1))
        * radius**degree
        * factorial(n - 1)
        / factorial(degree + n - 1)
        > _TAYLOR_TOLERANCE
    ):
        degree += 1
    total: sympy.Expr = sympy.S.Zero
    for i in reversed(range(degree)):
        inner: sympy.Expr = sympy.S.Zero
        for j in reversed(range(degree - i)):
            coefficient = sympy.Rational(weight(i, j), factorial(i + j + n - 1))
            inner = coefficient + y * inner if inner != 0 else coefficient
        total = inner + x * total if total != 0 else inner
    return sympy.exp(c * h) * h ** (n - 1) * total


def _without(points: tuple[tuple[sympy.Expr, int], ...], index: int) -> tuple[tuple[sympy.Expr, int], ...]:
    """The multiset with one copy of points[index] removed."""
    value, count = points[index]
    if count == 1:
        return points[:index] + points[index + 1 :]
    return points[:index] + ((value, count - 1),) + points[index + 1 :]


def _three_point(points: tuple[tuple[sympy.Expr, int], ...], h: sympy.Symbol) -> sympy.Expr:
    branches = []
    for i in range(3):
        for j in range(i + 1, 3):
            gap = sympy.cancel(points[j][0] - points[i][0])
            recurrence = (
                exp_divided_difference(_without(points, i), h)
                - exp_divided_difference(_without(points, j), h)
            ) / gap
            branches.append((recurrence, sympy.Abs(gap * h) >= THREE_POINT_RADIUS))
    branches.append((_three_point_series(points, h), True))
    return sympy.Piecewise(*branches, evaluate=False)


@lru_cache(maxsize=4096)
def exp_divided_difference(points: tuple[tuple[sympy.Expr, int], ...], h: sympy.Symbol) -> sympy.Expr:
    """Divided difference of z -> exp(z*h) over distinct ``points`` (eigenvalue, multiplicity); cached."""
    if not points:
        raise ValueError("a divided difference needs at least one point")
    if len(points) == 1:
        mu, m = points[0]
        return h ** (m - 1) / factorial(m - 1) * sympy.exp(mu * h)
    if len(points) == 2:
        (a, p), (b, q) = points
        x = sympy.cancel(a - b) * h
        near = sympy.exp(b * h) * h ** (p + q - 1) * phi_series(x, p, q)
        far = residue_form(points, h)
        return sympy.Piecewise((near, sympy.Abs(x) < taylor_radius(p + q)), (far, True), evaluate=False)
    if len(points) == 3 and sum(m for _, m in points) <= MAX_THREE_POINTS:
        return _three_point(tuple(points), h)
    return residue_form(points, h)
