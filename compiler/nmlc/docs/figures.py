"""The catalogue's figures, drawn from a case's stored results (JSON with recordings).

For every expectation the harness' own evaluator runs again on the stored recordings to get its plot
data (model against reference, the residual with its tolerance band, rasters, f-I curves, STDP
windows, weight trajectories), and :func:`nmlc_validation.plotting.write_plot` draws it with the
stored verdict, so a figure always shows the same pass/fail and error as the validation table. Each
case also gets an overview (every recorded trace with the references overlaid, the spike raster,
the weights), and the model a thumbnail. Bare spike rasters of count, rate and ISI expectations are
left out when the overview shows the same raster (their numbers are in the validation table).
Figures are redrawn only when the case's results, the spec or the drawing code change (a stamp
file per case).
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Figure", "case_figures", "thumbnail"]

_STAMP_VERSION = "4"


@dataclass
class Figure:
    """A PNG (relative to the folder of the case's figures) and its caption (reST)."""

    file: str
    caption: str
    kind: str  # overview | expectation


def _recording(data: dict[str, Any]):
    from nmlc_validation.simulate import Recording

    def arr(key: str) -> np.ndarray | None:
        return np.asarray(data[key], float) if data.get(key) is not None else None

    return Recording(t=np.asarray(data.get("t", []), float),
                     values={k: np.asarray(v, float) for k, v in data.get("values", {}).items()},
                     spikes=np.asarray(data.get("spikes", []), float), pre_spikes=arr("pre_spikes"),
                     weight_t=arr("weight_t"), weight=arr("weight"), initial_weight=data.get("initial_weight"),
                     final_weight=data.get("final_weight"))


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")


def _fmt(x: Any) -> str:
    if x is None:
        return "–"
    if isinstance(x, str):
        return x
    if isinstance(x, float) and (math.isinf(x) or math.isnan(x)):
        return str(x)
    return f"{x:.3g}"


def _caption(case: str, exp: dict[str, Any]) -> str:
    ref = f" against ``{exp['reference']}``" if exp.get("reference") else ""
    verdict = "passed" if exp.get("passed") else "**FAILED**"
    err = f"; measured error {_fmt(exp.get('error'))} {exp.get('unit', '')}".rstrip() if exp.get("error") is not None \
        else ""
    tol = f"; tolerance {exp['tolerance']}" if exp.get("tolerance") else ""
    return f"Case ``{case}``, ``{exp['label']}``{ref}: {verdict}{err}{tol}."


def _envelope(n: int, y: np.ndarray, bins: int) -> np.ndarray:
    """Indices that keep each bin's first, minimum and maximum sample, in order: a line drawn through
    them looks the same at screen resolution as one through all samples, and costs a fraction."""
    edges = np.linspace(0, n, bins + 1).astype(int)
    keep = [np.array([0, n - 1])]
    yy = np.where(np.isnan(y), 0.0, y)
    for a, b in itertools.pairwise(edges):
        if b > a:
            seg = yy[a:b]
            keep.append(np.array([a, a + int(np.argmin(seg)), a + int(np.argmax(seg))]))
    return np.unique(np.concatenate(keep))


def lighten(plot: Any, max_points: int = 4000, bins: int = 1200) -> Any:
    """The same plot with long line series, residual and tolerance band reduced to their envelope."""
    series = []
    for label, x, y, style in plot.series:
        x, y = np.asarray(x, float), np.asarray(y, float)
        if style in ("line", "dashed") and len(x) > max_points:
            idx = _envelope(len(x), y, bins)
            x, y = x[idx], y[idx]
        series.append((label, x, y, style))
    plot.series = series
    if plot.residual is not None and len(plot.residual[0]) > max_points:
        rx, ry = np.asarray(plot.residual[0], float), np.asarray(plot.residual[1], float)
        idx = _envelope(len(rx), ry, bins)
        if plot.band is not None and len(plot.band[0]) == len(rx):
            bx, ballowed = np.asarray(plot.band[0], float), np.asarray(plot.band[1], float)
            plot.band = (bx[idx], ballowed[idx])
        plot.residual = (rx[idx], ry[idx])
    return plot


def _thin(t: list, y: list) -> tuple[np.ndarray, np.ndarray]:
    t_arr, y_arr = np.asarray(t, float), np.asarray(y, float)
    if len(t_arr) > 4000:
        idx = _envelope(len(t_arr), y_arr, 1200)
        return t_arr[idx], y_arr[idx]
    return t_arr, y_arr


def _overview(data: dict[str, Any], case: str, path: Path, title: str) -> bool:
    """Every recorded trace of the model (solid) and of each reference (dashed), spikes, weights."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    recs = data.get("recordings") or {}
    model = (recs.get("model") or {}).get("main")
    if not model:
        return False
    refs = {name: v["main"] for name, v in recs.items() if name != "model" and isinstance(v, dict) and "main" in v}
    variables = list(model.get("values", {}))
    has_spikes = bool(model.get("spikes")) or any(r.get("spikes") for r in refs.values())
    has_weights = bool(model.get("weight"))
    panels = len(variables) + (1 if has_spikes else 0) + (1 if has_weights else 0)
    if panels == 0:
        return False
    heights = [2.0] * len(variables) + ([0.9] if has_spikes else []) + ([1.6] if has_weights else [])
    fig, axes = plt.subplots(panels, 1, figsize=(9, 0.6 + sum(heights)), sharex=True, squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    axes = [a[0] for a in axes]
    k = 0
    for var in variables:
        ax = axes[k]
        k += 1
        ax.plot(*_thin(model["t"], model["values"][var]), color="C0", lw=1.2, label="model")
        for i, (name, r) in enumerate(refs.items()):
            if var in r.get("values", {}):
                ax.plot(*_thin(r["t"], r["values"][var]), color=f"C{i + 1}", lw=1.0, ls="--", label=name)
        ax.set_ylabel(var)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right", fontsize=7)
    if has_spikes:
        ax = axes[k]
        k += 1
        rows = [("model", model.get("spikes", []))] + [(n, r.get("spikes", [])) for n, r in refs.items()]
        for i, (name, spikes) in enumerate(rows):
            ax.vlines(spikes, i - 0.4, i + 0.4, color=f"C{i}", lw=1.0)
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels([r[0] for r in rows], fontsize=8)
        ax.set_ylim(-0.6, len(rows) - 0.4)
        ax.invert_yaxis()
        ax.set_ylabel("spikes")
        ax.grid(alpha=0.3, axis="x")
    if has_weights:
        ax = axes[k]
        ax.step(model["weight_t"], model["weight"], where="post", color="C0", marker="o", ms=3, label="model")
        for i, (name, r) in enumerate(refs.items()):
            if r.get("weight"):
                ax.step(r["weight_t"], r["weight"], where="post", color=f"C{i + 1}", ls="--", marker="x", ms=4,
                        label=name)
        ax.set_ylabel("weight")
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=7)
    axes[-1].set_xlabel("t (ms)")
    axes[0].set_title(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return True


def _context(spec: Any, case_spec: Any, data: dict[str, Any], parameters: dict[str, float],
             units: dict[str, str]):
    from nmlc_validation.expectations import EvalContext

    recs = data.get("recordings") or {}
    model_runs = {v: _recording(r) for v, r in (recs.get("model") or {}).items()}
    references = {name: {v: _recording(r) for v, r in variants.items()} for name, variants in recs.items()
                  if name != "model"}
    params = dict(parameters)
    params.update(data.get("parameters") or {})  # exact values, when the harness stores them
    return EvalContext(case_spec, model_runs, references, {}, params, units)


def _stamp(json_path: Path, spec_path: Path, extra: str) -> str:
    import nmlc_validation.expectations as ex
    import nmlc_validation.plotting as pl

    h = hashlib.sha256(_STAMP_VERSION.encode())
    for p in (json_path, spec_path, Path(__file__), Path(pl.__file__), Path(ex.__file__)):
        h.update(p.read_bytes())
    h.update(extra.encode())
    return h.hexdigest()


def case_figures(spec: Any, case: str, json_path: Path, out_dir: Path, parameters: dict[str, float],
                 units: dict[str, str], model_label: str) -> list[Figure]:
    """Draw (or reuse) the figures of one case into ``out_dir``; returns them in page order."""
    from nmlc_validation.expectations import evaluate_expectation
    from nmlc_validation.plotting import write_plot
    from nmlc_validation.results import result_from_json

    out_dir.mkdir(parents=True, exist_ok=True)
    stamp_file = out_dir / f"{_safe(case)}.stamp.json"
    stamp = _stamp(json_path, spec.path, json.dumps([parameters, units], sort_keys=True, default=str))
    if stamp_file.exists():
        try:
            saved = json.loads(stamp_file.read_text(encoding="utf-8"))
            if saved.get("stamp") == stamp and all((out_dir / f["file"]).exists() for f in saved["figures"]):
                return [Figure(**f) for f in saved["figures"]]
        except (ValueError, KeyError, TypeError):
            pass
    for old in out_dir.glob(f"{_safe(case)}__*.png"):  # figures of an earlier drawing may no longer be wanted
        old.unlink()
    data = json.loads(json_path.read_text(encoding="utf-8"))
    figures: list[Figure] = []
    name = f"{_safe(case)}__overview.png"
    overview = _overview(data, case, out_dir / name, f"{model_label}: case {case} (all recordings)")
    if overview:
        figures.append(Figure(name, f"Case ``{case}``: every recorded trace of the model (solid) with the "
                                    f"references' (dashed), the spike raster and the weights.", "overview"))
    case_spec = spec.cases.get(case)
    stored = result_from_json(data).expectations
    if case_spec is not None and data.get("recordings") and len(stored) == len(case_spec.expectations):
        ctx = _context(spec, case_spec, data, parameters, units)
        for exp_spec, result, raw in zip(case_spec.expectations, stored, data.get("expectations", [])):
            again = evaluate_expectation(exp_spec, ctx)
            if again.plot is None:
                continue
            if overview and again.plot.residual is None and all(x[3] == "events" for x in again.plot.series):
                continue  # a bare spike raster (counts, rates, ISIs): the case's overview already shows it
            result.plot = lighten(again.plot)  # the stored verdict and message, freshly computed plot data
            file = f"{_safe(case)}__{exp_spec.index}_{exp_spec.kind}.png"
            header = f"{model_label}: case {case}"
            if write_plot(result, out_dir / file, header) is not None:
                figures.append(Figure(file, _caption(case, raw), "expectation"))
    stamp_file.write_text(json.dumps({"stamp": stamp, "figures": [asdict(f) for f in figures]}, indent=1),
                          encoding="utf-8")
    return figures


def thumbnail(source: Path, target: Path, width_px: int = 240) -> Path:
    """A small copy of a figure for the catalogue table (the first panel region, scaled down)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.image as mpimg
    import matplotlib.pyplot as plt

    if target.exists() and target.stat().st_mtime >= source.stat().st_mtime:
        return target
    img = mpimg.imread(source)
    h, w = img.shape[:2]
    crop = img[: min(h, int(w * 0.42)), :]  # the top panel: wide and short, readable when small
    ch, cw = crop.shape[:2]
    fig = plt.figure(figsize=(width_px / 100, width_px / 100 * ch / cw), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(crop, interpolation="antialiased")
    ax.axis("off")
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=100)
    plt.close(fig)
    return target
