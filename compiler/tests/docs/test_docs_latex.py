"""Equations as LaTeX: the printer's output for known expressions, and every library formula renders offline."""
from __future__ import annotations

from pathlib import Path

import pytest
from nmlc.diagnostics import Diagnostics
from nmlc.docs.latex import expr_latex, name_latex, ode_lhs_latex, unit_latex
from nmlc.docs.mathrender import MathError, render_svg
from nmlc.docs.modelinfo import read_models, var_math
from nmlc.syntax import nodes as n
from nmlc.syntax import parse_file

ROOT = Path(__file__).resolve().parents[3]
LIBRARY_FILES = sorted((ROOT / "library").glob("*/*/*.nestml"))


def _rhs(tmp_path: Path, expr: str) -> n.Expr:
    src = tmp_path / "m.nestml"
    src.write_text(f"model m:\n    equations:\n        inline x real = {expr}\n", encoding="utf-8")
    unit = parse_file(src, Diagnostics())
    assert unit is not None
    item = unit.models[0].equations[0]
    assert isinstance(item, n.Inline)
    return item.rhs


@pytest.mark.parametrize("name, order, expected", [
    ("V_m", 0, "V_{m}"),
    ("tau_syn_ex", 0, r"\tau_{\mathrm{syn,ex}}"),
    ("refr_steps", 0, r"\mathrm{refr\_steps}"),
    ("lambda", 0, r"\lambda"),
    ("x", 2, r"{x}^{\prime\prime}"),
])
def test_names(name: str, order: int, expected: str) -> None:
    assert name_latex(name, order) == expected


@pytest.mark.parametrize("expr, expected", [
    ("-(V_m - E_L) / tau_m", r"-\frac{V_{m} - E_{L}}{\tau_{m}}"),
    ("a - (b + c)", r"a - \left(b + c\right)"),
    ("a * (b + c)", r"a \cdot \left(b + c\right)"),
    ("a ** 2", "{a}^{2}"),
    ("exp(-t / tau)", r"\exp\left(-\frac{t}{\tau}\right)"),
    ("convolve(K, spikes)", r"\left(K \ast \mathrm{spikes}\right)"),
    ("a >= b and not c", r"a \geq b \wedge \neg c"),
    ("c ? a : b", r"a\;\mathrm{if}\;c\;\mathrm{else}\;b"),
    ("2.5e-3 mV", r"2.5 \times 10^{-3}\,\mathrm{mV}"),
])
def test_expressions(tmp_path: Path, expr: str, expected: str) -> None:
    assert expr_latex(_rhs(tmp_path, expr)) == expected


def test_units_and_derivatives() -> None:
    assert unit_latex("mV/ms") == r"\mathrm{mV}/\mathrm{ms}"
    assert unit_latex("nS*mV") == r"\mathrm{nS}\cdot \mathrm{mV}"
    assert ode_lhs_latex("V_m", 1) == r"\frac{dV_{m}}{dt}"
    assert var_math("V_m'") == r"{V_{m}}^{\prime}"


def test_a_formula_mathtext_cannot_parse_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MathError, match="cannot typeset"):
        render_svg(r"\frac{a}{", tmp_path, display=True)


def test_rendering_is_cached_by_content(tmp_path: Path) -> None:
    first = render_svg(r"\frac{dV_{m}}{dt}", tmp_path, display=True)
    mtime = first.path.stat().st_mtime_ns
    again = render_svg(r"\frac{dV_{m}}{dt}", tmp_path, display=True)
    assert again.path == first.path and again.path.stat().st_mtime_ns == mtime
    assert first.height_pt > first.depth_pt > 0  # a fraction reaches below the baseline
    assert first.path.read_text(encoding="utf-8").lstrip().startswith("<?xml")


@pytest.mark.parametrize("path", LIBRARY_FILES, ids=[p.stem for p in LIBRARY_FILES])
def test_every_library_formula_renders(path: Path, tmp_path: Path) -> None:
    for info in read_models(path):
        formulas = [x for e in info.equations for x in e.latex]
        formulas += [h.condition_latex for h in info.handlers if h.condition_latex]
        formulas += [r.definition for r in info.parameters + info.state + info.internals if r.definition]
        formulas += [var_math(r.name) for r in info.parameters + info.state + info.internals]
        for f in formulas:
            render_svg(f, tmp_path, display=True)  # raises MathError with the formula if mathtext cannot
