"""Offline math for the site: LaTeX rendered to SVG with matplotlib's mathtext.

The site must not load MathJax from a CDN (the docs build and its readers may have no internet), and
a TeX installation is a heavy dependency; matplotlib is already one of nmlc's. Each formula becomes
an SVG file named by the hash of its text, written once and reused by later builds.
"""
from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MathError", "RenderedMath", "render_svg"]

# mathtext renders at this size; the page scales nothing, so it sets the formula's size on screen
INLINE_PT = 12.5
DISPLAY_PT = 15.0


class MathError(ValueError):
    """A formula mathtext cannot parse; the message names the formula and the position."""


@dataclass
class RenderedMath:
    path: Path
    width_pt: float
    height_pt: float
    depth_pt: float  # below the baseline, for aligning inline math with the text


def _normalise(latex: str) -> str:
    """Map common LaTeX that mathtext lacks onto what it has (a formula from a docstring may use them)."""
    text = latex.strip()
    for a, b in ((r"\lor", r"\vee"), (r"\land", r"\wedge"), (r"\le ", r"\leq "), (r"\ge ", r"\geq "),
                 (r"\dfrac", r"\frac"), (r"\tfrac", r"\frac"), (r"\operatorname", r"\mathrm")):
        text = text.replace(a, b)
    text = re.sub(r"\\text\{([^{}]*)\}", r"\\mathrm{\1}", text)
    return " ".join(text.split())


def render_svg(latex: str, folder: Path, display: bool) -> RenderedMath:
    """Render ``latex`` (without ``$``) to ``folder/<hash>.svg``; raises :class:`MathError` if it cannot."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import rc_context
    from matplotlib.font_manager import FontProperties
    from matplotlib.mathtext import MathTextParser

    text = _normalise(latex)
    size = DISPLAY_PT if display else INLINE_PT
    key = hashlib.sha256(f"{size}|{text}".encode()).hexdigest()[:20]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{key}.svg"
    meta = folder / f"{key}.txt"
    with rc_context({"mathtext.fontset": "cm", "svg.fonttype": "path", "svg.hashsalt": "nmlc"}):
        if path.exists() and meta.exists():
            w, h, d = (float(x) for x in meta.read_text().split())
            return RenderedMath(path, w, h, d)
        prop = FontProperties(size=size)
        try:
            w, h, d, *_ = MathTextParser("path").parse(f"${text}$", 72, prop)
        except ValueError as exc:
            raise MathError(f"cannot typeset ${latex}$: {str(exc).strip().splitlines()[-1]}") from None
        from matplotlib.figure import Figure

        fig = Figure(figsize=(max(w, 1.0) / 72, max(h, 1.0) / 72))
        fig.text(0, d / max(h, 1.0), f"${text}$", fontproperties=prop)
        buf = io.BytesIO()
        fig.savefig(buf, format="svg", transparent=True, metadata={"Date": None, "Creator": None})
        path.write_bytes(buf.getvalue())
        meta.write_text(f"{w} {h} {d}")
    return RenderedMath(path, float(w), float(h), float(d))
