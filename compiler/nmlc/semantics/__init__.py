"""Semantic analysis of NESTML models: names, scopes, types and physical units.

``check_file`` parses and checks a file, ``check_unit`` checks an already parsed one; both report
every problem of every model into one :class:`~nmlc.diagnostics.Diagnostics` and return a
:class:`CheckedModel` per model (also when errors were found: callers test ``diags.has_errors``).
"""
from __future__ import annotations

from pathlib import Path

from ..diagnostics import Diagnostics
from ..syntax import nodes as n
from ..syntax import parse_file
from .checker import CheckedModel, check_model

__all__ = ["CheckedModel", "check_file", "check_unit"]


def check_unit(unit: n.CompilationUnit, diags: Diagnostics) -> list[CheckedModel]:
    """Check every model of a parsed file; two models of one name are reported (E0206)."""
    out: list[CheckedModel] = []
    seen: dict[str, n.Model] = {}
    for model in unit.models:
        if model.name in seen:
            diags.report("E0206", model.loc, name=model.name,
                         hint=f"the first definition is at line {seen[model.name].loc.line}")
        else:
            seen[model.name] = model
        try:
            out.append(check_model(model, diags))
        except Exception as exc:  # a bug in the checker must not become a traceback for the user
            diags.report("E0001", model.loc, detail=f"{type(exc).__name__}: {exc}")
    return out


def check_file(path: str | Path, diags: Diagnostics, werror: bool = False) -> list[CheckedModel]:
    """Parse and check a file; [] when it cannot be parsed. ``werror`` reports warnings as errors."""
    saved = diags.warnings_as_errors
    diags.warnings_as_errors = saved or werror
    try:
        unit = parse_file(path, diags)
        if unit is None:
            return []
        return check_unit(unit, diags)
    finally:
        diags.warnings_as_errors = saved



