"""Evaluate expectations on recorded data: each returns a pass/fail with the measured error, the allowed
tolerance, where in time it was worst, and the data for a model-vs-reference plot.

The functions here work on plain arrays (:class:`~.simulate.Recording`), so they can be tested on
constructed data without NEST.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .exprs import ExpressionError, evaluate
from .simulate import Recording
from .spec import CaseSpec, ExpectationSpec
from .stimuli import variant_id


@dataclass
class PlotData:
    """What to draw for one expectation: series on top, a residual (with its tolerance band) below."""

    title: str
    xlabel: str
    ylabel: str
    series: list[tuple[str, np.ndarray, np.ndarray, str]] = field(default_factory=list)  # label, x, y, style
    residual: tuple[np.ndarray, np.ndarray] | None = None
    residual_label: str = "residual"
    band: tuple[np.ndarray, np.ndarray] | None = None  # x, allowed |residual|
    worst: tuple[float, float] | None = None           # x, residual at the worst point
    spans: list[tuple[float, float, str]] = field(default_factory=list)
    hlines: list[tuple[float, str]] = field(default_factory=list)


@dataclass
class ExpectationResult:
    """Outcome of one expectation. ``ratio`` = error / allowed error (<= 1 passes) where that makes sense."""

    label: str
    kind: str
    passed: bool
    message: str
    error: float | None = None
    unit: str = ""
    tolerance: str = ""
    ratio: float | None = None
    t_worst: float | None = None
    reference: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    plot: PlotData | None = None
    plot_path: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "kind": self.kind, "passed": self.passed, "message": self.message,
                "error": _finite(self.error), "unit": self.unit, "tolerance": self.tolerance,
                "ratio": _finite(self.ratio), "t_worst": self.t_worst, "reference": self.reference,
                "data": self.data, "plot": self.plot_path}


def _finite(x: float | None) -> float | str | None:
    if x is None:
        return None
    return float(x) if np.isfinite(x) else str(x)


class Unavailable(Exception):
    """The data an expectation needs is missing (reference failed, variable not recorded, ...)."""


@dataclass
class EvalContext:
    """Access to what a case recorded, for the evaluators."""

    case: CaseSpec
    model_runs: dict[str, Recording]
    references: dict[str, dict[str, Recording]]
    reference_errors: dict[str, str]
    parameters: dict[str, Any]
    units: dict[str, str]

    def model(self, variant: str = "main") -> Recording:
        return self.model_runs[variant]

    def ref(self, name: str, variant: str = "main") -> Recording:
        if name in self.reference_errors:
            raise Unavailable(f"reference '{name}' could not be run: {self.reference_errors[name]}")
        if name not in self.references or variant not in self.references[name]:
            raise Unavailable(f"reference '{name}' produced no data for {variant}")
        return self.references[name][variant]

    def unit(self, variable: str) -> str:
        return self.units.get(variable, "")


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _window(case: CaseSpec, params: dict) -> tuple[float, float]:
    w = params.get("window")
    return (float(w[0]), float(w[1])) if w else (0.0, case.duration)


def _in_window(times: np.ndarray, window: tuple[float, float]) -> np.ndarray:
    return times[(times >= window[0]) & (times <= window[1])]


def _trace(rec: Recording, variable: str, who: str) -> tuple[np.ndarray, np.ndarray]:
    if variable not in rec.values:
        raise Unavailable(f"{who} has no recorded trace of '{variable}' (has: {', '.join(rec.values) or 'none'})")
    return rec.t, rec.values[variable]


def _align(t: np.ndarray, t_ref: np.ndarray, y_ref: np.ndarray, who: str) -> np.ndarray:
    """Reference values at the model's sample times (exact when the grids agree, linear otherwise)."""
    if len(t_ref) == len(t) and np.allclose(t_ref, t, rtol=0, atol=1e-9):
        return y_ref
    if len(t_ref) == 0:
        raise Unavailable(f"{who} has no samples")
    if t[0] < t_ref[0] - 1e-9 or t[-1] > t_ref[-1] + 1e-9:
        raise Unavailable(f"{who} covers only [{_fmt(t_ref[0])}, {_fmt(t_ref[-1])}] ms, the model was sampled "
                          f"over [{_fmt(t[0])}, {_fmt(t[-1])}] ms")
    return np.interp(t, t_ref, y_ref)


def compare_arrays(t: np.ndarray, y: np.ndarray, r: np.ndarray, rtol: float, atol: float,
                   keep: np.ndarray) -> dict[str, Any]:
    """Element-wise ``|y - r| <= atol + rtol * |r|`` over ``keep``: worst ratio, its index and counts."""
    d = y - r
    allowed = atol + rtol * np.abs(r)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(allowed > 0, np.abs(d) / allowed, np.where(d == 0, 0.0, np.inf))
    ratio = np.where(np.isnan(d), np.inf, ratio)
    ratio = np.where(keep, ratio, 0.0)
    idx = int(np.argmax(ratio)) if len(ratio) else 0
    abs_d = np.where(keep & ~np.isnan(d), np.abs(d), 0.0)
    return {
        "d": d, "allowed": allowed, "ratio": ratio, "worst": idx,
        "max_abs": float(np.max(abs_d)) if len(abs_d) else 0.0,
        "max_ratio": float(ratio[idx]) if len(ratio) else 0.0,
        "n_bad": int(np.sum(ratio > 1.0)), "n": int(np.sum(keep)),
        "nan": bool(np.any(np.isnan(y[keep]))) if len(y) else False,
    }


def _spike_mask(t: np.ndarray, spikes: list[np.ndarray], mask: dict | None) -> tuple[np.ndarray, list]:
    keep = np.ones(len(t), dtype=bool)
    spans = []
    if mask:
        before, after = float(mask["before"]), float(mask["after"])
        for s in np.unique(np.concatenate([np.asarray(x, float) for x in spikes]) if spikes else np.empty(0)):
            keep &= ~((t >= s - before) & (t <= s + after))
            spans.append((s - before, s + after, "masked"))
    return keep, spans


def _trace_result(exp: ExpectationSpec, ctx: EvalContext, variable: str, t: np.ndarray, y: np.ndarray,
                  r: np.ndarray, other_label: str, spikes: list[np.ndarray]) -> ExpectationResult:
    p = exp.params
    rtol, atol = float(p["rtol"]), float(p["atol"])
    unit = ctx.unit(variable)
    window = _window(ctx.case, p)
    keep = (t >= window[0]) & (t <= window[1])
    mask_keep, spans = _spike_mask(t, spikes, p.get("mask_spikes"))
    keep &= mask_keep
    tol = f"rtol={rtol:g}, atol={atol:g} {unit}".rstrip()
    if not np.any(keep):
        return ExpectationResult(exp.label, exp.kind, False, "no samples left to compare inside the window after "
                                 "masking spikes", unit=unit, tolerance=tol, reference=p.get("reference"))
    c = compare_arrays(t, y, r, rtol, atol, keep)
    i = c["worst"]
    plot = PlotData(
        title=f"{exp.label}: {variable}", xlabel="t (ms)", ylabel=f"{variable} ({unit})" if unit else variable,
        series=[("model", t, y, "line"), (other_label, t, r, "dashed")],
        residual=(t, np.where(keep, c["d"], np.nan)), residual_label=f"model - {other_label}",
        band=(t, np.where(keep, c["allowed"], np.nan)), worst=(float(t[i]), float(c["d"][i])),
        spans=spans + ([(0.0, window[0], "outside window")] if window[0] > 0 else [])
        + ([(window[1], ctx.case.duration, "outside window")] if window[1] < ctx.case.duration else []),
    )
    passed = c["n_bad"] == 0 and not c["nan"]
    if c["nan"]:
        msg = f"model trace of {variable} contains NaN (first at t = {_fmt(float(t[np.argmax(np.isnan(y))]))} ms)"
    else:
        msg = (f"max |{variable} - {other_label}| = {_fmt(c['max_abs'])} {unit}; worst at t = {_fmt(float(t[i]))} ms: "
               f"|difference| {_fmt(abs(float(c['d'][i])))} vs allowed {_fmt(float(c['allowed'][i]))} "
               f"(atol {atol:g} + rtol {rtol:g} * |{other_label}|); {c['n_bad']} of {c['n']} samples outside")
    return ExpectationResult(exp.label, exp.kind, passed, msg, error=c["max_abs"], unit=unit, tolerance=tol,
                             ratio=c["max_ratio"], t_worst=float(t[i]), reference=p.get("reference"),
                             data={"variable": variable, "n_samples": c["n"], "n_outside": c["n_bad"],
                                   "window": list(window)}, plot=plot)


def eval_trace(exp: ExpectationSpec, ctx: EvalContext) -> ExpectationResult:
    p = exp.params
    var, ref = p["variable"], p["reference"]
    t, y = _trace(ctx.model(), var, "the model")
    rec = ctx.ref(ref)
    t_r, y_r = _trace(rec, var, f"reference '{ref}'")
    r = _align(t, t_r, y_r, f"reference '{ref}'")
    return _trace_result(exp, ctx, var, t, y, r, ref, [ctx.model().spikes, rec.spikes])


def eval_expression(exp: ExpectationSpec, ctx: EvalContext) -> ExpectationResult:
    p = exp.params
    var = p["variable"]
    t, y = _trace(ctx.model(), var, "the model")
    names = {k: float(v) for k, v in ctx.parameters.items()
             if isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool)}
    names.update({k: float(v) for k, v in p.get("constants", {}).items()})
    names["t"] = t
    try:
        r = np.broadcast_to(evaluate(p["expr"], names), t.shape).astype(float)
    except ExpressionError as exc:
        raise Unavailable(str(exc)) from None
    return _trace_result(exp, ctx, var, t, y, r, "expression", [ctx.model().spikes])


def eval_spike_times(exp: ExpectationSpec, ctx: EvalContext) -> ExpectationResult:
    p = exp.params
    atol = float(p["atol"])
    window = _window(ctx.case, p)
    model = _in_window(ctx.model().spikes, window)
    if "reference" in p:
        other = p["reference"]
        expected = _in_window(ctx.ref(other).spikes, window)
    else:
        other = "expected"
        expected = _in_window(np.asarray(p["times"], float), window)
    n = min(len(model), len(expected))
    d = model[:n] - expected[:n]
    bad = np.nonzero(np.abs(d) > atol)[0]
    plot = PlotData(title=f"{exp.label}: spike times", xlabel="t (ms)", ylabel="spikes",
                    series=[("model", model, np.full(len(model), 1.0), "events"),
                            (other, expected, np.full(len(expected), 0.0), "events")],
                    residual=(expected[:n], d), residual_label=f"model - {other} (ms)",
                    band=(expected[:n], np.full(n, atol)))
    max_abs = float(np.max(np.abs(d))) if n else 0.0
    worst = int(np.argmax(np.abs(d))) if n else None
    if worst is not None:
        plot.worst = (float(expected[worst]), float(d[worst]))
    data = {"model": model.tolist(), "expected": expected.tolist(), "window": list(window)}
    tol = f"atol={atol:g} ms"
    if len(model) != len(expected):
        first = int(bad[0]) if len(bad) else n
        def at(times: np.ndarray) -> str:
            return f"at {_fmt(times[first])} ms" if first < len(times) else "missing"

        where = (f"; the first {first} spikes agree, spike #{first + 1} is {at(model)} in the model and "
                 f"{at(expected)} in {other}")
        t_first = float(model[first]) if first < len(model) else float(expected[first])
        return ExpectationResult(exp.label, exp.kind, False,
                                 f"model fired {len(model)} spikes, {other} {len(expected)} in "
                                 f"[{_fmt(window[0])}, {_fmt(window[1])}] ms{where}",
                                 error=float("inf"), unit="ms", tolerance=tol, ratio=float("inf"), t_worst=t_first,
                                 reference=p.get("reference"), data=data, plot=plot)
    passed = len(bad) == 0
    msg = (f"{n} spikes; max |model - {other}| = {_fmt(max_abs)} ms"
           + (f" at spike #{worst + 1} (t = {_fmt(expected[worst])} ms)" if worst is not None else "")
           + f"; allowed {atol:g} ms" + (f"; {len(bad)} spikes outside" if len(bad) else ""))
    return ExpectationResult(exp.label, exp.kind, passed, msg, error=max_abs, unit="ms", tolerance=tol,
                             ratio=(max_abs / atol if atol > 0 else (0.0 if max_abs == 0 else float("inf"))),
                             t_worst=float(expected[worst]) if worst is not None else None,
                             reference=p.get("reference"), data=data, plot=plot)


def _check_scalar(value: float, p: dict, ref_value: float | None, name: str, unit: str) -> tuple[bool, str, float]:
    """Bounds and reference checks of a scalar; returns (passed, explanation, ratio)."""
    problems, parts, ratio = [], [f"{name} = {_fmt(value)} {unit}".rstrip()], 0.0
    if not np.isfinite(value):
        return False, f"{name} is {value}", float("inf")
    if "min" in p:
        parts.append(f"min {_fmt(p['min'])}")
        if value < p["min"]:
            problems.append(f"below min {_fmt(p['min'])} by {_fmt(p['min'] - value)}")
    if "max" in p:
        parts.append(f"max {_fmt(p['max'])}")
        if value > p["max"]:
            problems.append(f"above max {_fmt(p['max'])} by {_fmt(value - p['max'])}")
    if ref_value is not None:
        allowed = float(p["atol"]) + float(p["rtol"]) * abs(ref_value)
        d = abs(value - ref_value)
        ratio = d / allowed if allowed > 0 else (0.0 if d == 0 else float("inf"))
        parts.append(f"reference '{p['reference']}' {_fmt(ref_value)}, |difference| {_fmt(d)} vs allowed "
                     f"{_fmt(allowed)} (atol {p['atol']:g} + rtol {p['rtol']:g} * |reference|)")
        if d > allowed:
            problems.append(f"differs from reference '{p['reference']}' by {_fmt(d)} (allowed {_fmt(allowed)})")
    if problems:
        ratio = max(ratio, 1.0 + 1e-12) if ratio <= 1 else ratio
    return not problems, "; ".join(parts) + ("" if not problems else " -> " + "; ".join(problems)), ratio


def _scalar_result(exp: ExpectationSpec, value: float, ref_value: float | None, name: str, unit: str,
                   plot: PlotData | None, data: dict) -> ExpectationResult:
    p = exp.params
    passed, msg, ratio = _check_scalar(value, p, ref_value, name, unit)
    err = abs(value - ref_value) if ref_value is not None else None
    tol_parts = [f"{k}={p[k]:g}" for k in ("min", "max", "rtol", "atol") if k in p]
    return ExpectationResult(exp.label, exp.kind, passed, msg, error=err, unit=unit, tolerance=", ".join(tol_parts),
                             ratio=ratio, reference=p.get("reference"),
                             data={**data, "value": value, "reference_value": ref_value}, plot=plot)


def _raster_plot(exp: ExpectationSpec, ctx: EvalContext, window: tuple[float, float], ref: str | None) -> PlotData:
    series = [("model", ctx.model().spikes, np.full(len(ctx.model().spikes), 1.0), "events")]
    if ref is not None:
        spikes = ctx.ref(ref).spikes
        series.append((ref, spikes, np.full(len(spikes), 0.0), "events"))
    spans = [(0.0, window[0], "outside window")] if window[0] > 0 else []
    spans += [(window[1], ctx.case.duration, "outside window")] if window[1] < ctx.case.duration else []
    return PlotData(title=f"{exp.label}", xlabel="t (ms)", ylabel="spikes", series=series, spans=spans)


def eval_spike_count(exp: ExpectationSpec, ctx: EvalContext) -> ExpectationResult:
    p = exp.params
    window = _window(ctx.case, p)
    n = len(_in_window(ctx.model().spikes, window))
    ref = p.get("reference")
    n_ref = len(_in_window(ctx.ref(ref).spikes, window)) if ref else None
    problems = []
    if "equals" in p and n != p["equals"]:
        problems.append(f"expected exactly {p['equals']}")
    if "min" in p and n < p["min"]:
        problems.append(f"expected at least {p['min']}")
    if "max" in p and n > p["max"]:
        problems.append(f"expected at most {p['max']}")
    if n_ref is not None and abs(n - n_ref) > p["atol"]:
        problems.append(f"reference '{ref}' fired {n_ref} (allowed difference {p['atol']})")
    msg = f"model fired {n} spikes in [{_fmt(window[0])}, {_fmt(window[1])}] ms"
    msg += (" -> " + "; ".join(problems)) if problems else (f" (reference {n_ref})" if n_ref is not None else "")
    tol = ", ".join(f"{k}={p[k]}" for k in ("equals", "min", "max", "atol") if k in p)
    return ExpectationResult(exp.label, exp.kind, not problems, msg,
                             error=float(abs(n - n_ref)) if n_ref is not None else None, unit="spikes",
                             tolerance=tol, ratio=None, reference=ref, data={"count": n, "reference_count": n_ref},
                             plot=_raster_plot(exp, ctx, window, ref))


def _rate(spikes: np.ndarray, window: tuple[float, float]) -> float:
    return len(_in_window(spikes, window)) / ((window[1] - window[0]) / 1000.0)


def eval_firing_rate(exp: ExpectationSpec, ctx: EvalContext) -> ExpectationResult:
    p = exp.params
    window = _window(ctx.case, p)
    ref = p.get("reference")
    value = _rate(ctx.model().spikes, window)
    ref_value = _rate(ctx.ref(ref).spikes, window) if ref else None
    return _scalar_result(exp, value, ref_value, "firing rate", "Hz", _raster_plot(exp, ctx, window, ref),
                          {"window": list(window)})


def isi_statistic(spikes: np.ndarray, statistic: str) -> float:
    """One statistic of the inter-spike intervals (ms; cv dimensionless); NaN with fewer than 2 spikes."""
    isi = np.diff(np.sort(spikes))
    if len(isi) == 0:
        return float("nan")
    if statistic == "cv":
        return float(np.std(isi) / np.mean(isi)) if np.mean(isi) > 0 else float("nan")
    return float({"mean": np.mean, "std": np.std, "min": np.min, "max": np.max, "median": np.median}[statistic](isi))


def eval_isi(exp: ExpectationSpec, ctx: EvalContext) -> ExpectationResult:
    p = exp.params
    window = _window(ctx.case, p)
    stat = p["statistic"]
    spikes = _in_window(ctx.model().spikes, window)
    if len(spikes) < 2:
        return ExpectationResult(exp.label, exp.kind, False,
                                 f"ISI {stat} needs at least 2 spikes in [{_fmt(window[0])}, {_fmt(window[1])}] ms, "
                                 f"the model fired {len(spikes)}", reference=p.get("reference"),
                                 plot=_raster_plot(exp, ctx, window, p.get("reference")))
    ref = p.get("reference")
    ref_value = isi_statistic(_in_window(ctx.ref(ref).spikes, window), stat) if ref else None
    unit = "" if stat == "cv" else "ms"
    return _scalar_result(exp, isi_statistic(spikes, stat), ref_value, f"ISI {stat}", unit,
                          _raster_plot(exp, ctx, window, ref), {"window": list(window), "statistic": stat})


def eval_resting_potential(exp: ExpectationSpec, ctx: EvalContext) -> ExpectationResult:
    p = exp.params
    var = p["variable"]
    window = _window(ctx.case, p)
    t, y = _trace(ctx.model(), var, "the model")
    sel = (t >= window[0]) & (t <= window[1])
    if not np.any(sel):
        raise Unavailable(f"no samples of {var} in the window {list(window)}")
    value = float(np.mean(y[sel]))
    ref = p.get("reference")
    ref_value = None
    series = [("model", t, y, "line")]
    if ref:
        t_r, y_r = _trace(ctx.ref(ref), var, f"reference '{ref}'")
        ref_value = float(np.mean(_align(t, t_r, y_r, f"reference '{ref}'")[sel]))
        series.append((ref, t_r, y_r, "dashed"))
    unit = ctx.unit(var)
    hl = [(float(p[k]), k) for k in ("min", "max") if k in p]
    plot = PlotData(title=f"{exp.label}: {var}", xlabel="t (ms)", ylabel=f"{var} ({unit})" if unit else var,
                    series=series, hlines=hl,
                    spans=[(0.0, window[0], "outside window")] if window[0] > 0 else [])
    result = _scalar_result(exp, value, ref_value, f"mean {var}", unit, plot, {"window": list(window)})
    if "max_range" in p:
        rng = float(np.ptp(y[sel]))
        result.data["range"] = rng
        if rng > p["max_range"]:
            result.passed = False
            result.message += f"; not at rest: {var} varies by {_fmt(rng)} {unit} in the window (max_range {p['max_range']:g})"
    return result


def eval_psp(exp: ExpectationSpec, ctx: EvalContext) -> ExpectationResult:
    p = exp.params
    var, onset = p["variable"], float(p["onset"])
    window = _window(ctx.case, p)

    def measure(t: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
        before = np.nonzero(t <= onset + 1e-9)[0]
        baseline = float(y[before[-1]]) if len(before) else float(y[0])
        sel = np.nonzero((t >= onset) & (t <= window[1]))[0]
        if len(sel) == 0:
            raise Unavailable(f"no samples of {var} between onset {onset} ms and {window[1]} ms")
        dev = y[sel] - baseline
        k = int(np.argmax(np.abs(dev)))
        return float(dev[k]), float(t[sel][k] - onset), baseline

    t, y = _trace(ctx.model(), var, "the model")
    amp, ttp, base = measure(t, y)
    ref = p.get("reference")
    unit = ctx.unit(var)
    series = [("model", t, y, "line")]
    ref_amp = None
    if ref:
        t_r, y_r = _trace(ctx.ref(ref), var, f"reference '{ref}'")
        ref_amp, ref_ttp, _ = measure(t_r, y_r)
        series.append((ref, t_r, y_r, "dashed"))
    problems, ratio = [], 0.0
    for name, value, bounds, u in (("amplitude", amp, p.get("amplitude", {}), unit),
                                   ("time to peak", ttp, p.get("time_to_peak", {}), "ms")):
        if "min" in bounds and value < bounds["min"]:
            problems.append(f"{name} {_fmt(value)} {u} below min {_fmt(bounds['min'])}")
        if "max" in bounds and value > bounds["max"]:
            problems.append(f"{name} {_fmt(value)} {u} above max {_fmt(bounds['max'])}")
    err = None
    if ref_amp is not None:
        allowed = float(p["atol"]) + float(p["rtol"]) * abs(ref_amp)
        err = abs(amp - ref_amp)
        ratio = err / allowed if allowed > 0 else (0.0 if err == 0 else float("inf"))
        if err > allowed:
            problems.append(f"amplitude differs from reference '{ref}' ({_fmt(ref_amp)} {unit}) by {_fmt(err)} "
                            f"(allowed {_fmt(allowed)})")
    msg = f"PSP amplitude {_fmt(amp)} {unit}, time to peak {_fmt(ttp)} ms (baseline {_fmt(base)} {unit})"
    if problems:
        msg += " -> " + "; ".join(problems)
    plot = PlotData(title=f"{exp.label}: {var}", xlabel="t (ms)", ylabel=f"{var} ({unit})" if unit else var,
                    series=series, hlines=[(base, "baseline"), (base + amp, "peak")],
                    spans=[(window[0], onset, "before onset")] if window[0] < onset else [])
    return ExpectationResult(exp.label, exp.kind, not problems, msg, error=err, unit=unit,
                             tolerance=", ".join(f"{k}={p[k]}" for k in ("amplitude", "time_to_peak", "rtol", "atol")
                                                 if k in p),
                             ratio=ratio if ref_amp is not None else None, t_worst=onset + ttp, reference=ref,
                             data={"amplitude": amp, "time_to_peak": ttp, "baseline": base,
                                   "reference_amplitude": ref_amp}, plot=plot)


def eval_fi_curve(exp: ExpectationSpec, ctx: EvalContext) -> ExpectationResult:
    p = exp.params
    window = _window(ctx.case, p)
    ref = p.get("reference")
    currents, rates, ref_rates, problems = [], [], [], []
    worst_ratio = 0.0
    for k, point in enumerate(p["points"]):
        vid = variant_id(exp, k)
        rate = _rate(ctx.model(vid).spikes, window)
        currents.append(float(point["current"]))
        rates.append(rate)
        label = f"I = {_fmt(point['current'])} pA"
        if "min" in point and rate < point["min"]:
            problems.append(f"{label}: {_fmt(rate)} Hz below min {_fmt(point['min'])}")
        if "max" in point and rate > point["max"]:
            problems.append(f"{label}: {_fmt(rate)} Hz above max {_fmt(point['max'])}")
        if ref:
            r_ref = _rate(ctx.ref(ref, vid).spikes, window)
            ref_rates.append(r_ref)
            allowed = float(p["atol"]) + float(p["rtol"]) * abs(r_ref)
            d = abs(rate - r_ref)
            worst_ratio = max(worst_ratio, d / allowed if allowed > 0 else (0.0 if d == 0 else float("inf")))
            if d > allowed:
                problems.append(f"{label}: {_fmt(rate)} Hz vs reference {_fmt(r_ref)} Hz (allowed {_fmt(allowed)})")
    x = np.asarray(currents)
    series = [("model", x, np.asarray(rates), "points")]
    if ref:
        series.append((ref, x, np.asarray(ref_rates), "points"))
    for k, point in enumerate(p["points"]):
        for key in ("min", "max"):
            if key in point:
                series.append(("bound" if k == 0 and key == "min" else "", np.asarray([point["current"]]),
                               np.asarray([point[key]]), "bound"))
    plot = PlotData(title=f"{exp.label}: f-I curve", xlabel="current (pA)", ylabel="rate (Hz)", series=series)
    if ref:
        plot.residual = (x, np.asarray(rates) - np.asarray(ref_rates))
        plot.residual_label = f"model - {ref} (Hz)"
        plot.band = (x, float(p["atol"]) + float(p["rtol"]) * np.abs(np.asarray(ref_rates)))
    msg = "rates " + ", ".join(f"{_fmt(c)} pA: {_fmt(r)} Hz" for c, r in zip(currents, rates))
    if problems:
        msg += " -> " + "; ".join(problems)
    return ExpectationResult(exp.label, exp.kind, not problems, msg, unit="Hz",
                             error=max((abs(a - b) for a, b in zip(rates, ref_rates)), default=None),
                             tolerance=", ".join(f"{k}={p[k]:g}" for k in ("rtol", "atol") if k in p) or "per-point bounds",
                             ratio=worst_ratio if ref else None, reference=ref,
                             data={"currents": currents, "rates": rates, "reference_rates": ref_rates or None},
                             plot=plot)


def eval_weight_trajectory(exp: ExpectationSpec, ctx: EvalContext) -> ExpectationResult:
    p = exp.params
    ref = p["reference"]
    m, r = ctx.model(), ctx.ref(ref)
    if m.weight is None or m.weight_t is None:
        raise Unavailable("the model recorded no weights (is this a synapse spec?)")
    if r.weight is None or r.weight_t is None:
        raise Unavailable(f"reference '{ref}' recorded no weights")
    rtol, atol = float(p["rtol"]), float(p["atol"])
    tol = f"rtol={rtol:g}, atol={atol:g}"
    plot = PlotData(title=f"{exp.label}: weight", xlabel="t (ms)", ylabel="weight",
                    series=[("model", m.weight_t, m.weight, "steps"), (ref, r.weight_t, r.weight, "steps-dashed")])
    if len(m.weight) != len(r.weight):
        return ExpectationResult(exp.label, exp.kind, False,
                                 f"model recorded {len(m.weight)} weight updates, reference '{ref}' {len(r.weight)}",
                                 error=float("inf"), tolerance=tol, ratio=float("inf"), reference=ref, plot=plot)
    shift = np.abs(m.weight_t - r.weight_t)
    if len(shift) and np.max(shift) > 1e-6:
        k = int(np.argmax(shift > 1e-6))
        return ExpectationResult(exp.label, exp.kind, False,
                                 f"weight update #{k + 1} happens at t = {_fmt(m.weight_t[k])} ms in the model but at "
                                 f"{_fmt(r.weight_t[k])} ms in reference '{ref}'", error=float("inf"), tolerance=tol,
                                 ratio=float("inf"), t_worst=float(m.weight_t[k]), reference=ref, plot=plot)
    keep = np.ones(len(m.weight), dtype=bool)
    c = compare_arrays(m.weight_t, m.weight, r.weight, rtol, atol, keep)
    i = c["worst"]
    plot.residual = (m.weight_t, c["d"])
    plot.residual_label = f"model - {ref}"
    plot.band = (m.weight_t, c["allowed"])
    if len(c["d"]):
        plot.worst = (float(m.weight_t[i]), float(c["d"][i]))
    t_worst = float(m.weight_t[i]) if len(m.weight_t) else None
    msg = (f"{len(m.weight)} weight updates; max |model - {ref}| = {_fmt(c['max_abs'])}"
           + (f"; worst at t = {_fmt(t_worst)} ms: {_fmt(abs(float(c['d'][i])))} vs allowed "
              f"{_fmt(float(c['allowed'][i]))}" if t_worst is not None else "")
           + (f"; {c['n_bad']} updates outside" if c["n_bad"] else ""))
    return ExpectationResult(exp.label, exp.kind, c["n_bad"] == 0, msg, error=c["max_abs"], tolerance=tol,
                             ratio=c["max_ratio"], t_worst=t_worst, reference=ref,
                             data={"n_updates": len(m.weight)}, plot=plot)


def _measured_dt(rec: Recording, nominal: float) -> float:
    """Mean post-minus-pre spike time over the pairings (the last pre spike is the read-out)."""
    pre = rec.pre_spikes[:-1] if rec.pre_spikes is not None and len(rec.pre_spikes) > 1 else np.empty(0)
    post = rec.spikes
    if len(pre) == 0 or len(post) == 0:
        return float("nan")
    diffs = []
    for tp in pre:
        k = int(np.argmin(np.abs(post - (tp + nominal))))
        diffs.append(post[k] - tp)
    return float(np.mean(diffs))


def eval_stdp_window(exp: ExpectationSpec, ctx: EvalContext) -> ExpectationResult:
    p = exp.params
    ref = p.get("reference")
    dts, dws, ref_dws, problems = [], [], [], []
    worst_ratio = 0.0
    for k, point in enumerate(p["points"]):
        vid = variant_id(exp, k)
        rec = ctx.model(vid)
        if rec.final_weight is None or rec.initial_weight is None:
            raise Unavailable("the model recorded no weights (is this a synapse spec?)")
        dt = _measured_dt(rec, float(point["dt"]))
        dw = rec.final_weight - rec.initial_weight
        label = f"dt {_fmt(point['dt'])} ms"
        if not np.isfinite(dt):
            problems.append(f"{label}: the drive made no post spike (raise drive_weight)")
        dts.append(dt if np.isfinite(dt) else float(point["dt"]))
        dws.append(dw)
        sign = point.get("sign")
        if sign == "potentiation" and not dw > 0:
            problems.append(f"{label}: expected potentiation, weight changed by {_fmt(dw)}")
        if sign == "depression" and not dw < 0:
            problems.append(f"{label}: expected depression, weight changed by {_fmt(dw)}")
        if "min_abs" in point and abs(dw) < point["min_abs"]:
            problems.append(f"{label}: |change| {_fmt(abs(dw))} below min_abs {_fmt(point['min_abs'])}")
        if "max_abs" in point and abs(dw) > point["max_abs"]:
            problems.append(f"{label}: |change| {_fmt(abs(dw))} above max_abs {_fmt(point['max_abs'])}")
        if ref:
            rr = ctx.ref(ref, vid)
            rdw = (rr.final_weight or 0.0) - (rr.initial_weight or 0.0)
            ref_dws.append(rdw)
            allowed = float(p["atol"]) + float(p["rtol"]) * abs(rdw)
            d = abs(dw - rdw)
            worst_ratio = max(worst_ratio, d / allowed if allowed > 0 else (0.0 if d == 0 else float("inf")))
            if d > allowed:
                problems.append(f"{label}: change {_fmt(dw)} vs reference {_fmt(rdw)} (allowed {_fmt(allowed)})")
    x = np.asarray(dts)
    series = [("model", x, np.asarray(dws), "points")]
    if ref:
        series.append((ref, x, np.asarray(ref_dws), "points"))
    plot = PlotData(title=f"{exp.label}: STDP window", xlabel="t_post - t_pre (ms)", ylabel="weight change",
                    series=series, hlines=[(0.0, "")])
    if ref:
        plot.residual = (x, np.asarray(dws) - np.asarray(ref_dws))
        plot.residual_label = f"model - {ref}"
        plot.band = (x, float(p["atol"]) + float(p["rtol"]) * np.abs(np.asarray(ref_dws)))
    msg = "weight change " + ", ".join(f"{_fmt(t)} ms: {_fmt(w)}" for t, w in zip(dts, dws))
    if problems:
        msg += " -> " + "; ".join(problems)
    return ExpectationResult(exp.label, exp.kind, not problems, msg,
                             error=max((abs(a - b) for a, b in zip(dws, ref_dws)), default=None),
                             tolerance=", ".join(f"{k}={p[k]:g}" for k in ("rtol", "atol") if k in p) or "per-point sign/size",
                             ratio=worst_ratio if ref else None, reference=ref,
                             data={"dt_nominal": [pt["dt"] for pt in p["points"]], "dt_measured": dts,
                                   "weight_change": dws, "reference_weight_change": ref_dws or None}, plot=plot)


WEIGHT_STATISTICS = ("min", "max", "final", "change", "range", "max_increase", "max_decrease")


def weight_sequence(rec: Recording, window: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Times and values of the weight before the window (the initial weight, or the last update before the
    window's start) followed by every weight recorded inside the window."""
    if rec.weight is None or rec.weight_t is None or rec.initial_weight is None:
        raise Unavailable("no weights were recorded (is this a synapse spec?)")
    before = rec.weight_t < window[0]
    w0 = float(rec.weight[before][-1]) if np.any(before) else float(rec.initial_weight)
    t0 = float(rec.weight_t[before][-1]) if np.any(before) else 0.0
    inside = (rec.weight_t >= window[0]) & (rec.weight_t <= window[1])
    return np.concatenate([[t0], rec.weight_t[inside]]), np.concatenate([[w0], rec.weight[inside]])


def weight_statistic(values: np.ndarray, statistic: str) -> float:
    """One of :data:`WEIGHT_STATISTICS` of a weight sequence (its first entry is the starting weight)."""
    steps = np.diff(values)
    if statistic == "min":
        return float(np.min(values))
    if statistic == "max":
        return float(np.max(values))
    if statistic == "final":
        return float(values[-1])
    if statistic == "change":
        return float(values[-1] - values[0])
    if statistic == "range":
        return float(np.ptp(values))
    if statistic == "max_increase":  # largest rise from one recorded weight to the next (0 if none)
        return float(max(np.max(steps, initial=0.0), 0.0))
    if statistic == "max_decrease":  # largest fall, as a positive number (0 if none)
        return float(max(-np.min(steps, initial=0.0), 0.0))
    raise ValueError(f"unknown weight statistic {statistic!r}")


def eval_weights(exp: ExpectationSpec, ctx: EvalContext) -> ExpectationResult:
    p = exp.params
    window = _window(ctx.case, p)
    stat = p["statistic"]
    t, w = weight_sequence(ctx.model(), window)
    value = weight_statistic(w, stat)
    ref = p.get("reference")
    series = [("model", t, w, "steps")]
    ref_value = None
    if ref:
        rt, rw = weight_sequence(ctx.ref(ref), window)
        ref_value = weight_statistic(rw, stat)
        series.append((ref, rt, rw, "steps-dashed"))
    plot = PlotData(title=f"{exp.label}: weight {stat}", xlabel="t (ms)", ylabel="weight", series=series,
                    hlines=[(float(p[k]), k) for k in ("min", "max") if k in p and stat in ("min", "max", "final")])
    if window != (0.0, ctx.case.duration):
        plot.spans = [(0.0, window[0], "outside window")] if window[0] > 0 else []
        plot.spans += [(window[1], ctx.case.duration, "outside window")] if window[1] < ctx.case.duration else []
    return _scalar_result(exp, value, ref_value, f"weight {stat.replace('_', ' ')}", "", plot,
                          {"statistic": stat, "n_updates": int(len(w) - 1)})


EVALUATORS: dict[str, Callable[[ExpectationSpec, EvalContext], ExpectationResult]] = {
    "trace": eval_trace, "expression": eval_expression, "spike_times": eval_spike_times,
    "spike_count": eval_spike_count, "firing_rate": eval_firing_rate, "isi": eval_isi,
    "resting_potential": eval_resting_potential, "psp": eval_psp, "fi_curve": eval_fi_curve,
    "weight_trajectory": eval_weight_trajectory, "stdp_window": eval_stdp_window, "weights": eval_weights,
}


def evaluate_expectation(exp: ExpectationSpec, ctx: EvalContext) -> ExpectationResult:
    """Evaluate one expectation; missing data becomes a failed result with the reason, never an exception."""
    try:
        return EVALUATORS[exp.kind](exp, ctx)
    except Unavailable as exc:
        return ExpectationResult(exp.label, exp.kind, False, str(exc), reference=exp.reference)
