"""Draw an expectation's :class:`~.expectations.PlotData` to a PNG: model vs reference, and the residual
with its tolerance band and the worst point marked."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .expectations import ExpectationResult, PlotData


def _draw_series(ax, plot: PlotData) -> None:
    colours = {"model": "C0"}
    for i, (label, x, y, style) in enumerate(plot.series):
        colour = colours.get(label, f"C{i + 1}" if label else "0.4")
        x, y = np.asarray(x, float), np.asarray(y, float)
        if style == "line":
            ax.plot(x, y, color=colour, lw=1.4, label=label)
        elif style == "dashed":
            ax.plot(x, y, color=colour, lw=1.2, ls="--", label=label)
        elif style in ("steps", "steps-dashed"):
            ax.step(x, y, where="post", color=colour, lw=1.3, ls="--" if style == "steps-dashed" else "-",
                    label=label, marker="o", ms=3)
        elif style == "points":
            ax.plot(x, y, "o-", color=colour, ms=5, lw=1, label=label)
        elif style == "bound":
            ax.plot(x, y, "_", color="0.3", ms=14, mew=2, label=label or None)
        elif style == "events":
            ax.vlines(x, y - 0.4, y + 0.4, color=colour, lw=1.2, label=label)
    for y, label in plot.hlines:
        ax.axhline(y, color="0.5", lw=0.8, ls=":", label=label or None)
    seen = set()
    for a, b, label in plot.spans:
        ax.axvspan(a, b, color="0.85", alpha=0.5, lw=0, label=None if label in seen else label)
        seen.add(label)
    if any(s[3] == "events" for s in plot.series):
        ax.set_yticks([s[2][0] if len(s[2]) else 0 for s in plot.series if s[3] == "events"])
        ax.set_yticklabels([s[0] for s in plot.series if s[3] == "events"])
    ax.set_ylabel(plot.ylabel)
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)


def write_plot(result: ExpectationResult, path: Path, header: str) -> Path | None:
    """Write ``result.plot`` to ``path`` (PNG); returns the path, or None when there is nothing to draw."""
    plot = result.plot
    if plot is None:
        return None
    import matplotlib

    matplotlib.use("Agg")  # headless: never needs a display, safe in pytest-xdist workers
    import matplotlib.pyplot as plt

    has_residual = plot.residual is not None and len(plot.residual[0]) > 0
    fig, axes = plt.subplots(2 if has_residual else 1, 1, figsize=(9, 6.5 if has_residual else 4.2), sharex=True,
                             gridspec_kw={"height_ratios": [2, 1]} if has_residual else None, squeeze=False)
    ax = axes[0][0]
    _draw_series(ax, plot)
    status = "PASSED" if result.passed else "FAILED"
    ax.set_title(f"{header}\n{plot.title} [{status}]", fontsize=10)
    if has_residual:
        assert plot.residual is not None
        rax = axes[1][0]
        x, d = np.asarray(plot.residual[0], float), np.asarray(plot.residual[1], float)
        rax.plot(x, d, ".-" if len(x) < 50 else "-", color="C3", lw=1, ms=4, label=plot.residual_label)
        if plot.band is not None:
            bx, allowed = np.asarray(plot.band[0], float), np.asarray(plot.band[1], float)
            rax.fill_between(bx, -allowed, allowed, color="C2", alpha=0.25, lw=0, label="tolerance")
        if plot.worst is not None:
            rax.plot([plot.worst[0]], [plot.worst[1]], "kx", ms=9, mew=2, label=f"worst (t = {plot.worst[0]:.4g})")
        for a, b, _ in plot.spans:
            rax.axvspan(a, b, color="0.85", alpha=0.5, lw=0)
        rax.axhline(0.0, color="0.4", lw=0.6)
        rax.set_ylabel("residual")
        rax.legend(loc="best", fontsize=8)
        rax.grid(alpha=0.3)
        rax.set_xlabel(plot.xlabel)
    else:
        ax.set_xlabel(plot.xlabel)
    fig.text(0.01, 0.005, result.message[:180] + ("..." if len(result.message) > 180 else ""), fontsize=7,
             va="bottom", wrap=True)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
