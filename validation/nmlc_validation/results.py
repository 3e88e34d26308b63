"""Case results: the data class, the human-readable failure report, JSON output and the summary table."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .expectations import ExpectationResult


@dataclass
class CaseResult:
    """Outcome of one case. ``status`` is ``passed``, ``failed`` (an expectation failed) or ``error``
    (the spec is invalid, the model did not build, or the case could not be simulated)."""

    spec: str
    model: str
    kind: str
    case: str
    status: str
    message: str = ""
    solver: str = ""
    expectations: list[ExpectationResult] = field(default_factory=list)
    provenance: dict[str, str] = field(default_factory=dict)
    json_path: str | None = None

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def node_id(self) -> str:
        return f"{self.spec}::{self.case}"

    def worst(self) -> ExpectationResult | None:
        """The expectation with the largest error ratio (failed ones first)."""
        if not self.expectations:
            return None

        def key(e: ExpectationResult) -> tuple:
            r = e.ratio if e.ratio is not None else (1.0 if not e.passed else 0.0)
            return (not e.passed, r if not math.isnan(r) else math.inf)

        return max(self.expectations, key=key)

    def report(self) -> str:
        """Readable report: each expectation's outcome, the error vs tolerance, where, and the plot path."""
        if self.status == "error":
            return f"{self.node_id}: {self.message}"
        failed = [e for e in self.expectations if not e.passed]
        lines = [f"{self.node_id}: {len(failed)} of {len(self.expectations)} expectations failed"
                 if failed else f"{self.node_id}: all {len(self.expectations)} expectations passed"]
        for e in self.expectations:
            ref = f" (vs '{e.reference}')" if e.reference else ""
            lines.append(f"  {'FAIL' if not e.passed else 'ok  '} {e.label}{ref}: {e.message}")
            if not e.passed and e.tolerance:
                lines.append(f"       tolerance: {e.tolerance}")
            if e.plot_path and not e.passed:
                lines.append(f"       plot: {e.plot_path}")
        for name, prov in self.provenance.items():
            lines.append(f"  {name}: {prov}")
        if self.json_path:
            lines.append(f"  results: {self.json_path}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {"spec": self.spec, "model": self.model, "kind": self.kind, "solver": self.solver, "case": self.case,
                "status": self.status, "message": self.message, "provenance": self.provenance,
                "expectations": [e.to_json() for e in self.expectations]}


def _num(x: Any) -> float | None:
    if x is None:
        return None
    return float(x)  # JSON stores inf/nan as strings; float() reads them back


def result_from_json(data: dict[str, Any]) -> CaseResult:
    """Rebuild a :class:`CaseResult` (without plots' data or recordings) from its JSON file contents."""
    exps = [ExpectationResult(e["label"], e["kind"], bool(e["passed"]), e["message"], error=_num(e.get("error")),
                              unit=e.get("unit", ""), tolerance=e.get("tolerance", ""), ratio=_num(e.get("ratio")),
                              t_worst=e.get("t_worst"), reference=e.get("reference"), data=e.get("data", {}),
                              plot_path=e.get("plot"))
            for e in data.get("expectations", [])]
    return CaseResult(data["spec"], data["model"], data["kind"], data["case"], data["status"],
                      data.get("message", ""), data.get("solver", ""), exps, data.get("provenance", {}))


def write_json(result: CaseResult, path: Path, recordings: dict[str, Any] | None) -> Path:
    """Write the case's results (and, if given, its recordings) as JSON for later reuse (docs, dashboards)."""
    data = result.to_json()
    if recordings is not None:
        data["recordings"] = recordings
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, default=_jsonable), encoding="utf-8")
    return path


def _jsonable(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    return str(obj)


def _error_text(e: ExpectationResult | None) -> str:
    if e is None:
        return "-"
    if e.error is None:
        return "ok" if e.passed else "FAIL"
    if math.isinf(e.error):
        return "mismatch"
    unit = f" {e.unit}" if e.unit else ""
    return f"{e.error:.2g}{unit}"


def summary_table(results: list[CaseResult]) -> str:
    """A plain-text table, one row per spec: model, kind, solver, cases, passed, failed, max error per case."""
    rows: dict[str, list[CaseResult]] = {}
    for r in results:
        rows.setdefault(r.spec, []).append(r)
    header = ["model", "kind", "solver", "cases", "passed", "failed", "max error per case"]
    table = [header]
    for spec, items in rows.items():
        first = items[0]
        per_case = []
        for r in items:
            text = "ERROR" if r.status == "error" else _error_text(r.worst())
            per_case.append(f"{r.case}: {text}")
        table.append([first.model, first.kind, first.solver or "-", str(len(items)),
                      str(sum(r.passed for r in items)), str(sum(not r.passed for r in items)), ", ".join(per_case)])
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    out = []
    for n, row in enumerate(table):
        out.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    total = len(results)
    passed = sum(r.passed for r in results)
    out.append(f"{passed} of {total} cases passed")
    return "\n".join(out)
