"""Tests of nmlc.semantics.units: the exact units algebra, symbol lookup, parsing and NEST units."""
from __future__ import annotations

import copy
import math
import pickle
import sys
from fractions import Fraction

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from nmlc.semantics.units import (
    BASE_DIMENSIONS,
    DIMENSIONLESS,
    NEST_CANONICAL,
    IncompatibleUnitsError,
    Unit,
    UnitError,
    canonical_unit,
    format_value,
    lookup_unit,
    parse_unit,
    unit_names,
)

P = parse_unit

# Independent reference data: SI prefix powers and the prefixable symbols with their value
# written in coherent SI as (dims, exact scale).  Dims order: m, kg, s, A, K, mol, cd.
PREFIX_POWERS = {
    "Q": 30, "R": 27, "Y": 24, "Z": 21, "E": 18, "P": 15, "T": 12, "G": 9, "M": 6, "k": 3,
    "h": 2, "da": 1, "d": -1, "c": -2, "m": -3, "u": -6, "µ": -6, "μ": -6, "n": -9, "p": -12,
    "f": -15, "a": -18, "z": -21, "y": -24, "r": -27, "q": -30,
}
VOLT = (2, 1, -3, -1, 0, 0, 0)
PREFIXABLE = {
    "m": ((1, 0, 0, 0, 0, 0, 0), 1),
    "g": ((0, 1, 0, 0, 0, 0, 0), Fraction(1, 1000)),
    "s": ((0, 0, 1, 0, 0, 0, 0), 1),
    "A": ((0, 0, 0, 1, 0, 0, 0), 1),
    "K": ((0, 0, 0, 0, 1, 0, 0), 1),
    "mol": ((0, 0, 0, 0, 0, 1, 0), 1),
    "cd": ((0, 0, 0, 0, 0, 0, 1), 1),
    "V": (VOLT, 1),
    "Ohm": ((2, 1, -3, -2, 0, 0, 0), 1),
    "S": ((-2, -1, 3, 2, 0, 0, 0), 1),
    "F": ((-2, -1, 4, 2, 0, 0, 0), 1),
    "C": ((0, 0, 1, 1, 0, 0, 0), 1),
    "Hz": ((0, 0, -1, 0, 0, 0, 0), 1),
    "N": ((1, 1, -2, 0, 0, 0, 0), 1),
    "Pa": ((-1, 1, -2, 0, 0, 0, 0), 1),
    "J": ((2, 1, -2, 0, 0, 0, 0), 1),
    "W": ((2, 1, -3, 0, 0, 0, 0), 1),
    "L": ((3, 0, 0, 0, 0, 0, 0), Fraction(1, 1000)),
    "M": ((-3, 0, 0, 0, 0, 1, 0), 1000),
    "eV": ((2, 1, -2, 0, 0, 0, 0), Fraction("1.602176634e-19")),
}


def ref(dims: tuple, scale: Fraction | int) -> Unit:
    return Unit(dims, Fraction(scale))


# ---------------------------------------------------------------------------------------------
# algebra
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("lhs, rhs", [
    ("nS*mV", "pA"),
    ("pA/pF", "mV/ms"),
    ("1/Hz", "s"),
    ("(mV/ms)*ms", "mV"),
    ("mV/pA", "GOhm"),
    ("pF/ms", "nS"),
    ("pA*ms", "fC"),
    ("V/A", "Ohm"),
    ("1/Ohm", "S"),
    ("C/V", "F"),
    ("kg*m/s**2", "N"),
    ("N/m**2", "Pa"),
    ("W/A", "V"),
    ("J/s", "W"),
    ("dm**3", "L"),
    ("mmol/L", "mM"),
    ("km*mm", "m**2"),
    ("ms*kHz", "1"),
    ("us**(1/2)", "ms*s**(-1/2)"),
    ("ms**(1/2)*ms**(1/2)", "ms"),
    ("(ms**(1/3))**3", "ms"),
])
def test_identities(lhs: str, rhs: str) -> None:
    a, b = P(lhs), P(rhs)
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b}) == 1


def test_hour_minute_day_are_exact_multiples_of_the_second() -> None:
    s = P("s")
    assert P("min").exact_conversion_factor(s) == 60
    assert P("h").exact_conversion_factor(s) == 3600
    assert P("d").exact_conversion_factor(P("h")) == 24


def test_inequality_by_scale_and_by_dimension() -> None:
    assert P("mV") != P("V")
    assert P("mV").same_dimension(P("V"))
    assert P("ms") != P("mS")
    assert not P("ms").same_dimension(P("mS"))
    assert P("mV/ms") != P("mV")
    assert P("mV") != "mV"  # not a Unit: no accidental equality with the spelling


def test_scales_are_exact_not_float_rounded() -> None:
    assert (P("mV") * P("nS")).scale == 1e-12
    assert P("pA*ms").scale == 1e-15
    assert P("pA/pF").exact_scale == 1
    # Every pair of opposite prefixes cancels exactly, which float products would not all do.
    metre_sq = P("m**2")
    for p, k in PREFIX_POWERS.items():
        for q, j in PREFIX_POWERS.items():
            if k + j == 0:
                assert lookup_unit(p + "m") * lookup_unit(q + "m") == metre_sq, (p, q)
    # A long chain of conversions returns to exactly the unit it started from.
    u = P("mV")
    for step in ("nS", "pF", "GOhm", "ms", "kHz", "uA", "MOhm"):
        u = u * P(step) / P(step)
    assert u == P("mV") and u.exact_scale == Fraction(1, 1000)


def test_dims_are_fractions_and_powers_accept_int_fraction_float() -> None:
    u = P("ms")
    assert all(isinstance(d, Fraction) for d in u.dims)
    assert len(u.dims) == len(BASE_DIMENSIONS) == 7
    assert u ** 2 == u * u
    assert u ** Fraction(1, 2) == u ** 0.5
    assert (u ** Fraction(1, 2)).dims[2] == Fraction(1, 2)
    assert u ** 0 == DIMENSIONLESS
    assert u ** -1 == 1 / u
    with pytest.raises(TypeError):
        u ** "2"
    with pytest.raises(TypeError):
        u ** True
    with pytest.raises(TypeError):
        2 / u  # only 1/unit is a unit
    with pytest.raises(TypeError):
        u * 3


def test_irrational_scales_stay_exact() -> None:
    root = P("ms**(1/2)")
    assert root.exact_scale is None
    assert math.isclose(root.scale, math.sqrt(1e-3), rel_tol=1e-15)
    assert root * root == P("ms")
    assert root.exact_conversion_factor(P("s**(1/2)")) is None
    assert math.isclose(root.conversion_factor(P("s**(1/2)")), math.sqrt(1e-3), rel_tol=1e-15)
    # 10**-6 is a perfect square, so the square root of us is rational again.
    assert P("us**(1/2)").exact_scale == Fraction(1, 1000)


def test_is_dimensionless() -> None:
    assert DIMENSIONLESS.is_dimensionless
    assert P("1").is_dimensionless and P("1") == DIMENSIONLESS
    assert P("mV/V").is_dimensionless and P("mV/V") != DIMENSIONLESS
    assert P("rad") == DIMENSIONLESS
    assert not P("mV").is_dimensionless


def test_unit_is_immutable_and_copies_and_pickles() -> None:
    u = P("nS/ms")
    with pytest.raises(AttributeError):
        u.dims = DIMENSIONLESS.dims  # type: ignore[misc]
    with pytest.raises(AttributeError):
        u.anything = 1  # type: ignore[attr-defined]
    assert copy.copy(u) is u and copy.deepcopy(u) is u
    back = pickle.loads(pickle.dumps(u))
    assert back == u and str(back) == str(u)


def test_constructor() -> None:
    assert Unit((0, 0, 1, 0, 0, 0, 0), 1e-3) == P("ms")
    assert str(Unit((0, 0, 1, 0, 0, 0, 0), "1e-3")) == "ms"
    assert str(Unit(VOLT, Fraction(1, 1000))) == "mV"
    assert str(Unit((1, 1, 0, 0, 0, 0, 0), 1e-6)) in ("um*kg", "m*mg")
    assert P(str(Unit((1, 1, 0, 0, 0, 0, 0), 1e-6))) == Unit((1, 1, 0, 0, 0, 0, 0), 1e-6)
    assert Unit((0,) * 7) == DIMENSIONLESS and str(Unit((0,) * 7)) == "1"
    # A scale no named unit carries still has a readable text.
    assert "m" in str(Unit((1, 0, 0, 0, 0, 0, 0), 7))
    for bad in (0, -1, "abc"):
        with pytest.raises(UnitError):
            Unit((1, 0, 0, 0, 0, 0, 0), bad)
    with pytest.raises(UnitError):
        Unit((1, 0, 0), 1)


# ---------------------------------------------------------------------------------------------
# lookup
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, dims, scale", [
    ("ms", (0, 0, 1, 0, 0, 0, 0), Fraction(1, 1000)),
    ("mS", (-2, -1, 3, 2, 0, 0, 0), Fraction(1, 1000)),
    ("Ms", (0, 0, 1, 0, 0, 0, 0), 10 ** 6),
    ("MS", (-2, -1, 3, 2, 0, 0, 0), 10 ** 6),
    ("Pa", (-1, 1, -2, 0, 0, 0, 0), 1),
    ("mol", (0, 0, 0, 0, 0, 1, 0), 1),
    ("mmol", (0, 0, 0, 0, 0, 1, 0), Fraction(1, 1000)),
    ("cd", (0, 0, 0, 0, 0, 0, 1), 1),
    ("mm", (1, 0, 0, 0, 0, 0, 0), Fraction(1, 1000)),
    ("mM", (-3, 0, 0, 0, 0, 1, 0), 1),
    ("uM", (-3, 0, 0, 0, 0, 1, 0), Fraction(1, 1000)),
    ("kg", (0, 1, 0, 0, 0, 0, 0), 1),
    ("g", (0, 1, 0, 0, 0, 0, 0), Fraction(1, 1000)),
    ("h", (0, 0, 1, 0, 0, 0, 0), 3600),
    ("hPa", (-1, 1, -2, 0, 0, 0, 0), 100),
    ("min", (0, 0, 1, 0, 0, 0, 0), 60),
    ("d", (0, 0, 1, 0, 0, 0, 0), 86400),
    ("dam", (1, 0, 0, 0, 0, 0, 0), 10),
    ("T", (0, 1, -2, -1, 0, 0, 0), 1),
    ("MOhm", (2, 1, -3, -2, 0, 0, 0), 10 ** 6),
    ("GOhm", (2, 1, -3, -2, 0, 0, 0), 10 ** 9),
    ("kΩ", (2, 1, -3, -2, 0, 0, 0), 1000),
    ("kHz", (0, 0, -1, 0, 0, 0, 0), 1000),
    ("ml", (3, 0, 0, 0, 0, 0, 0), Fraction(1, 10 ** 6)),
    ("um", (1, 0, 0, 0, 0, 0, 0), Fraction(1, 10 ** 6)),
    ("µm", (1, 0, 0, 0, 0, 0, 0), Fraction(1, 10 ** 6)),
    ("μm", (1, 0, 0, 0, 0, 0, 0), Fraction(1, 10 ** 6)),
    ("as", (0, 0, 1, 0, 0, 0, 0), Fraction(1, 10 ** 18)),
    ("keV", (2, 1, -2, 0, 0, 0, 0), Fraction("1.602176634e-16")),
])
def test_lookup_exact_meaning(name: str, dims: tuple, scale: Fraction) -> None:
    u = lookup_unit(name)
    assert u is not None
    assert u == ref(dims, scale)
    assert str(u) == name


@pytest.mark.parametrize("name", [
    "real", "integer", "boolean", "string", "void", "", "x", "V_m", "tau", "mv", "MV ", " mV",
    "Kg", "mkg", "kmin", "kh", "kd", "mh", "da", "µ", "u", "MOHM", "mOl", "PA ", "1", "m**2",
])
def test_lookup_rejects_non_units(name: str) -> None:
    assert lookup_unit(name) is None


def test_lookup_rejects_non_strings() -> None:
    with pytest.raises(TypeError):
        lookup_unit(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("base", sorted(PREFIXABLE))
def test_every_prefix_on_every_prefixable_unit(base: str) -> None:
    dims, scale = PREFIXABLE[base]
    for prefix, power in PREFIX_POWERS.items():
        name = prefix + base
        if name == "kg":
            continue  # the kilogram is its own unprefixed symbol; checked in the table above
        u = lookup_unit(name)
        assert u is not None, name
        assert u == ref(dims, Fraction(scale) * Fraction(10) ** power), name


def test_every_name_reads_back_as_itself() -> None:
    names = unit_names()
    assert len(names) > 800
    for name in names:
        u = lookup_unit(name)
        assert u is not None and str(u) == name and P(name) == u


# ---------------------------------------------------------------------------------------------
# parsing
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("mV", "mV"),
    ("nS/ms", "nS/ms"),
    ("pA*ms", "pA*ms"),
    ("1/s", "1/s"),
    ("mV**2", "mV**2"),
    ("ms**-1", "1/ms"),
    ("ms ** - 1", "1/ms"),
    ("ms**+2", "ms**2"),
    ("(mV/ms)**2", "mV**2/ms**2"),
    ("1/(ms*mV)", "1/(ms*mV)"),
    ("mV/ms/ms", "mV/ms**2"),
    ("nS*mV", "nS*mV"),
    ("mV*ms/ms", "mV"),
    ("ms**(-1/2)", "1/ms**(1/2)"),
    ("ms**0.5", "ms**(1/2)"),
    ("ms**(1.5)", "ms**(3/2)"),
    ("((mV))", "mV"),
    ("  nS  /  mV ", "nS/mV"),
    ("1", "1"),
    ("mV**0", "1"),
])
def test_parse_and_spelling(text: str, expected: str) -> None:
    u = P(text)
    assert str(u) == expected
    assert P(expected) == u


@pytest.mark.parametrize("text, column, fragment", [
    ("", 1, "empty"),
    ("   ", 1, "empty"),
    ("mX", 1, "unknown unit 'mX'"),
    ("nS/mX", 4, "unknown unit 'mX'"),
    ("mv", 1, "did you mean"),
    ("real", 1, "not a physical unit"),
    ("1/integer", 3, "not a physical unit"),
    ("2/ms", 1, "only 1"),
    ("ms**2**2", 6, "parentheses"),
    ("(mV/ms", 7, "expected ')'"),
    ("mV)", 3, "without a matching"),
    ("mV*/ms", 4, "expected a unit name"),
    ("mV ms", 4, "expected '*', '/'"),
    ("ms**", 5, "exponent"),
    ("ms**x", 5, "exponent"),
    ("ms**(1/0)", 8, "zero"),
    ("ms**(1/2", 9, "expected ')'"),
    ("ms**(0.5/2)", 5, "integers"),
    ("ms**(1/2.5)", 8, "integer"),
    ("m²", 1, "**"),
    ("m$", 2, "unexpected character"),
    ("ms**123456789", 5, "too large"),
    ("*mV", 1, "expected a unit name"),
])
def test_parse_errors_have_message_and_column(text: str, column: int, fragment: str) -> None:
    with pytest.raises(UnitError) as info:
        P(text)
    err = info.value
    assert err.column == column, str(err)
    assert fragment in err.message
    assert f"column {column}" in str(err)
    assert err.text == text


def test_parse_deep_nesting_is_an_error_not_a_crash() -> None:
    with pytest.raises(UnitError, match="nested"):
        P("(" * 5000 + "mV" + ")" * 5000)
    assert P("(" * 50 + "mV" + ")" * 50) == P("mV")


def test_parse_rejects_non_strings() -> None:
    with pytest.raises(TypeError):
        P(3)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# conversion
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("src, dst, factor", [
    ("V", "mV", 1000),
    ("mV", "V", Fraction(1, 1000)),
    ("s", "ms", 1000),
    ("Hz", "1/ms", Fraction(1, 1000)),
    ("GOhm", "MOhm", 1000),
    ("nS", "pA/mV", 1),
    ("uM", "mmol/L", Fraction(1, 1000)),
    ("h", "ms", 3_600_000),
    ("mV**2", "V**2", Fraction(1, 10 ** 6)),
    ("pA*ms", "nC", Fraction(1, 10 ** 6)),
])
def test_conversion_factor(src: str, dst: str, factor: Fraction) -> None:
    a, b = P(src), P(dst)
    assert a.exact_conversion_factor(b) == factor
    assert a.conversion_factor(b) == float(factor)
    assert b.exact_conversion_factor(a) == 1 / Fraction(factor)


def test_conversion_between_dimensions_raises_with_names() -> None:
    with pytest.raises(IncompatibleUnitsError) as info:
        P("mV").conversion_factor(P("mV/ms"))
    text = str(info.value)
    assert "mV/ms" in text and "voltage/time" in text and "voltage" in text
    assert isinstance(info.value, UnitError)


# ---------------------------------------------------------------------------------------------
# names of dimensions
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, name", [
    ("mV", "voltage"), ("ms", "time"), ("pA", "current"), ("nS", "conductance"),
    ("pF", "capacitance"), ("MOhm", "resistance"), ("pA*ms", "charge"), ("Hz", "frequency"),
    ("1/ms", "frequency"), ("mV/ms", "voltage/time"), ("pA/pF", "voltage/time"),
    ("nS/ms", "conductance/time"), ("pA/ms", "current/time"), ("mV**2", "voltage**2"),
    ("1/mV", "1/voltage"), ("mV*ms", "voltage*time"), ("1/(mV*ms)", "1/(voltage*time)"),
    ("(mV/ms)**2", "(voltage/time)**2"), ("ms**(1/2)", "time**(1/2)"), ("1", "dimensionless"),
    ("mM", "concentration"), ("um", "length"), ("K", "temperature"), ("mV/V", "dimensionless"),
])
def test_dimension_name(text: str, name: str) -> None:
    assert P(text).dimension_name() == name


# ---------------------------------------------------------------------------------------------
# NEST units and formatting
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("given_, expected", [
    ("V", "mV"), ("uV", "mV"), ("s", "ms"), ("h", "ms"), ("nA", "pA"), ("uF", "pF"),
    ("mS", "nS"), ("MOhm", "GOhm"), ("Hz", "1/ms"), ("kHz", "1/ms"), ("V/s", "mV/ms"),
    ("pA/pF", "mV/ms"), ("fC", "pA*ms"), ("uS/s", "nS/ms"), ("1", "1"), ("mV/V", "1"),
])
def test_canonical_unit(given_: str, expected: str) -> None:
    canon = canonical_unit(P(given_))
    assert canon == P(expected)
    assert str(canon) == expected


def test_canonical_unit_outside_the_table() -> None:
    # Inside the span of mV, ms, pA: composed coherently.
    assert canonical_unit(P("V**3/s")) == P("mV**3/ms")
    assert canonical_unit(P("A**2")) == P("pA**2")
    # Outside it (amount of substance, length alone): the unit itself.
    for text in ("mmol/L", "um", "K", "cd"):
        u = P(text)
        assert canonical_unit(u) is u
    with pytest.raises(TypeError):
        canonical_unit("mV")  # type: ignore[arg-type]


def test_nest_canonical_table_is_keyed_by_dims_and_coherent() -> None:
    units = list(NEST_CANONICAL.values())
    for dims, unit in NEST_CANONICAL.items():
        assert unit.dims == dims
        assert canonical_unit(unit) is unit
    # Coherence: products and quotients of canonical units are canonical, no stray factors.
    for a in units:
        for b in units:
            assert canonical_unit(a * b) == a * b, (str(a), str(b))
            assert canonical_unit(a / b) == a / b, (str(a), str(b))
    assert NEST_CANONICAL[P("V").dims] == P("mV")
    assert NEST_CANONICAL[P("s").dims] == P("ms")


@pytest.mark.parametrize("value, unit, text", [
    (-70.0, "mV", "-70 mV"),
    (0.5, "1/ms", "0.5 / ms"),
    (0.02, "1/(mV*ms)", "0.02 / (mV*ms)"),
    (2.5, "1", "2.5"),
    (1e-5, "nS*mV", "1e-05 nS*mV"),
    (250, "pF", "250 pF"),
    (Fraction(1, 4), "ms", "0.25 ms"),
    (float("inf"), "ms", "inf ms"),
    (1e20, "pA", "1e+20 pA"),
])
def test_format_value(value: float, unit: str, text: str) -> None:
    assert format_value(value, P(unit)) == text


def test_format_value_bad_input() -> None:
    with pytest.raises(TypeError):
        format_value("1", P("mV"))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        format_value(1.0, "mV")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# generated units
# ---------------------------------------------------------------------------------------------

COMMON = ["mV", "V", "ms", "s", "pA", "nA", "pF", "nS", "uS", "GOhm", "MOhm", "Hz", "kHz", "mM",
          "um", "µm", "μs", "kg", "g", "L", "mol", "K", "cd", "min", "h", "eV", "Pa", "kΩ", "rad"]
symbols = st.sampled_from(sorted(unit_names())) | st.sampled_from(COMMON)
exponents = st.sampled_from([Fraction(k) for k in (-3, -2, -1, 2, 3)]
                            + [Fraction(1, 2), Fraction(-1, 2), Fraction(3, 2), Fraction(2, 3)])


@st.composite
def unit_trees(draw: st.DrawFn, depth: int = 3) -> Unit:
    if depth == 0 or draw(st.booleans()):
        if draw(st.integers(0, 9)) == 0:
            return DIMENSIONLESS
        u = lookup_unit(draw(symbols))
        assert u is not None
        return u
    op = draw(st.sampled_from("*/^"))
    left = draw(unit_trees(depth - 1))
    if op == "^":
        return left ** draw(exponents)
    right = draw(unit_trees(depth - 1))
    return left * right if op == "*" else left / right


@settings(max_examples=400, deadline=None)
@given(unit_trees())
def test_str_round_trip(u: Unit) -> None:
    text = str(u)
    back = P(text)
    assert back == u
    assert str(back) == text


@settings(max_examples=200, deadline=None)
@given(unit_trees(), unit_trees(), exponents)
def test_group_laws(a: Unit, b: Unit, e: Fraction) -> None:
    assert a * b == b * a
    assert (a * b) / b == a
    assert a / a == DIMENSIONLESS
    assert (a ** e) ** (1 / e) == a
    assert (a * b) ** e == a ** e * b ** e
    assert a.conversion_factor(a) == 1.0
    if a == b:
        assert hash(a) == hash(b)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(symbols, st.integers(-3, 3)), min_size=1, max_size=5))
@example([("YA", 1), ("YA", 3), ("YA", 3), ("YA", 3), ("YA", 3)])  # 1e312: above the doubles
@example([("EA", -3), ("Ykat", -2), ("Ykat", -3), ("Ykat", -3), ("Ykat", -3)])  # 1e-318: subnormal
@example([("EA", -2), ("Ykat", -3), ("Ykat", -3), ("Ykat", -3), ("Ykat", -3)])  # 1e-336: 0.0
def test_value_agrees_with_an_independent_float_computation(factors: list[tuple[str, int]]) -> None:
    u = DIMENSIONLESS
    dims = [Fraction(0)] * 7
    log_scale = 0.0
    for name, e in factors:
        named = lookup_unit(name)
        assert named is not None
        u = u * named ** e
        dims = [d + e * x for d, x in zip(dims, named.dims)]
        log_scale += e * math.log10(named.scale)
    assert list(u.dims) == dims
    # the float scale is the nearest double: inf above the double range, subnormal or 0.0 below the normal one
    top, bottom = math.log10(sys.float_info.max), math.log10(sys.float_info.min)
    if bottom + 1e-6 < log_scale < top - 1e-6:
        assert math.isclose(math.log10(u.scale), log_scale, rel_tol=1e-12, abs_tol=1e-9)
    elif log_scale >= top + 1e-6:
        assert u.scale == math.inf
    elif log_scale <= bottom - 1e-6:
        assert 0.0 <= u.scale < sys.float_info.min
