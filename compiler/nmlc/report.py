"""`nmlc analyze`: how each state variable of a model is integrated, and why.

For every model of a file: per state variable the solver (exact propagator or a numeric method)
with the analysis' reason, the propagator expressions and the parameter values where the
general closed form is singular (handled by a limit form), and for numerically integrated
blocks the stiffness indicator and recommended method. ``benchmark=True`` additionally
integrates each numeric block with an explicit (RK45) and an implicit (Radau) method against a
tight reference and reports error and right-hand-side evaluations.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import sympy

from .diagnostics import Diagnostics, NmlcError


@dataclass
class ModelReport:
    name: str
    rows: list[tuple[str, str, str]] = field(default_factory=list)  # state, solver, reason
    propagators: list[tuple[str, str]] = field(default_factory=list)
    singular: list[str] = field(default_factory=list)
    numeric: list[dict] = field(default_factory=list)

    def text(self) -> str:
        lines = [f"model {self.name}", ""]
        width = max([len(r[0]) for r in self.rows] + [5])
        lines.append(f"  {'state'.ljust(width)}  solver    reason")
        for state, solver, reason in self.rows:
            lines.append(f"  {state.ljust(width)}  {solver.ljust(8)}  {reason}")
        if self.propagators:
            lines += ["", "  propagators (computed once per parameter change, h = resolution):"]
            lines += [f"    {name} = {expr}" for name, expr in self.propagators]
        if self.singular:
            lines += ["", "  singular parameter values (a limit form is used there):"]
            lines += [f"    {cond}" for cond in self.singular]
        for block in self.numeric:
            lines += ["", f"  numeric block {', '.join(block['states'])}: method {block['method']}"]
            if "recommendation" in block:
                lines.append(f"    recommendation: {block['recommendation']}")
            for row in block.get("benchmark", []):
                lines.append(f"    {row}")
        return "\n".join(lines)


def _reason(text: str, state: str) -> str:
    prefix = f"{state}: "
    return text[len(prefix):] if text.startswith(prefix) else text


def analyze_file(path: str | Path, benchmark: bool = False) -> list[ModelReport]:
    from .analysis import ExactBlock, NumericBlock, recommend
    from .frontend import _checked_models, interface_of
    from .ir.model import IRError, build_ir

    diags = Diagnostics()
    checked = _checked_models(Path(path), diags)
    if diags.has_errors:
        raise NmlcError(diags)
    reports = []
    for model, kind, symbols, conversions in checked:
        try:
            ir = build_ir(model, kind, symbols, conversions)
        except IRError as exc:
            raise NmlcError(f"{exc.node.loc}: error[{exc.code}]: {exc}") from exc
        rep = ModelReport(model.name)
        for block in ir.plan.blocks:
            solver = "exact" if isinstance(block, ExactBlock) else block.method
            for s in block.states:
                rep.rows.append((str(s), solver, _reason(ir.plan.reasons.get(s, ""), str(s))))
            if isinstance(block, ExactBlock):
                for name, expr in block.propagators.items():
                    rep.propagators.append((str(name), _short(expr)))
                rep.singular += [str(c) for c in block.singular_conditions]
        numeric = [b for b in ir.plan.blocks if isinstance(b, NumericBlock)]
        if numeric:
            info = interface_of(ir, model.name, str(path))
            values = {k: v.default for k, v in {**info.parameters, **info.state}.items() if v.default is not None}
            values["__h"] = 0.1
            system = ir.system
            for block in numeric:
                entry = {"states": [str(s) for s in block.states], "method": block.method}
                try:
                    rec = recommend(system, values)
                    ratio = f"{rec.stiffness_ratio:.3g}" if rec.stiffness_ratio is not None else "n/a"
                    entry["recommendation"] = f"{rec.method} (stiffness ratio {ratio}): {rec.reason}"
                except Exception as exc:  # the recommendation is advice; report why it is missing
                    entry["recommendation"] = f"not available: {exc}"
                if benchmark:
                    entry["benchmark"] = _benchmark(block, values)
                rep.numeric.append(entry)
        reports.append(rep)
    return reports


def _short(expr: sympy.Expr, limit: int = 160) -> str:
    text = str(expr)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _benchmark(block, values: dict) -> list[str]:
    """Explicit vs implicit integration of the block for 100 ms, inputs at 0.

    The standard stimulus: every state whose initial value is 0 starts at 1 instead (what a spike
    of unit weight does to a synaptic state), so the block's dynamics are actually exercised.
    """
    import numpy as np
    from scipy.integrate import solve_ivp

    states = list(block.states)
    free = sorted({s for e in block.rhs.values() for s in e.free_symbols} - set(states), key=str)
    subs = {}
    for s in free:
        if str(s) == "t":
            continue
        subs[s] = float(values.get(str(s), 0.0))
    exprs = [block.rhs[s].xreplace(subs) for s in states]
    if any(e.atoms(sympy.Function) - e.atoms(sympy.exp, sympy.log) and any(
            type(f).__name__ not in dir(sympy) for f in e.atoms(sympy.Function)) for e in exprs):
        return ["benchmark skipped: the right-hand side calls user functions with statement bodies"]
    f = sympy.lambdify([sympy.Symbol("t"), states], exprs, "numpy")
    y0 = [float(values.get(str(s), 0.0)) or 1.0 for s in states]
    rhs = lambda t, y: np.asarray(f(t, y), dtype=float)  # noqa: E731
    ref = solve_ivp(rhs, (0.0, 100.0), y0, method="Radau", rtol=1e-11, atol=1e-12)
    out = []
    for method in ("RK45", "Radau"):
        sol = solve_ivp(rhs, (0.0, 100.0), y0, method=method, rtol=1e-6, atol=1e-9)
        err = float(np.max(np.abs(sol.y[:, -1] - ref.y[:, -1])))
        out.append(f"{method:6s} rtol 1e-6: final-state error {err:.2e}, {sol.nfev} rhs evaluations")
    return out
