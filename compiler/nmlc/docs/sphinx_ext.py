"""Sphinx extension for nmlc's site: the model catalogue, offline math, NESTML highlighting, the CLI page.

In ``conf.py``: ``extensions = ["nmlc.docs.sphinx_ext"]`` and ``html_math_renderer = "nmlc_mathtext"``.
Configuration values: ``nmlc_library`` (folder of the model library), ``nmlc_catalogue_dir`` (where the
generated pages go, inside the source folder), ``nmlc_results`` (a validation run's results folder to
reuse), ``nmlc_run_cases`` (run stale cases; the environment variable ``NMLC_DOCS_RUN_CASES=0`` turns
it off) and ``nmlc_jobs``. Problems with models become Sphinx warnings, so ``-W`` fails the build.
"""
from __future__ import annotations

import argparse
import html
import os
import posixpath
import re
import shutil
import time
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.parsers.rst import Directive, directives, roles

from .lexer import NestmlLexer
from .mathrender import MathError, render_svg

__all__ = ["setup"]


def _logger():
    from sphinx.util import logging

    return logging.getLogger("nmlc.docs")


# ------------------------------------------------------------------------------------------------ catalogue
def _generate(app: Any) -> None:
    from .pages import generate_catalogue

    src = Path(app.srcdir)
    library = (src / app.config.nmlc_library).resolve()
    out_dir = src / app.config.nmlc_catalogue_dir
    root = library.parent
    results = (src / app.config.nmlc_results).resolve() if app.config.nmlc_results else root / ".nmlc-results"
    run = app.config.nmlc_run_cases and os.environ.get("NMLC_DOCS_RUN_CASES", "1") not in ("0", "false", "no")
    log = _logger()
    t0 = time.perf_counter()
    result = generate_catalogue(library, out_dir, root=root, results_dir=results, run_cases=run,
                                jobs=int(app.config.nmlc_jobs), log=lambda m: log.info(f"[nmlc catalogue] {m}"))
    for problem in result.problems:
        log.warning(f"[nmlc catalogue] {problem}", type="nmlc", subtype="catalogue")
    for note in result.notes:
        log.info(f"[nmlc catalogue] note: {note}")
    took = ", ".join(f"{k} {v:.1f} s" for k, v in result.timings.items())
    log.info(f"[nmlc catalogue] {len(result.entries)} models, {len(result.written)} files updated in "
             f"{time.perf_counter() - t0:.1f} s ({took})")
    app.env.nmlc_catalogue_json = str(out_dir / "catalogue.json")


def _copy_catalogue(app: Any, exception: Exception | None) -> None:
    # catalogue.json is also published at the site's root, where tools look for it
    if exception is not None or app.builder.format != "html":
        return
    path = getattr(app.env, "nmlc_catalogue_json", None)
    if path and Path(path).exists():
        shutil.copyfile(path, Path(app.outdir) / "catalogue.json")


# ------------------------------------------------------------------------------------------------ included pages
_MD_LINK = re.compile(r"(?<!!)\[([^\]]+)\]\(([^)\s]+)\)")


def rewrite_links(text: str, source: Path, srcdir: Path) -> str:
    """Markdown links from ``source`` to other files of the repository become downloads from the site
    (a page shown on the site cannot link to a file that is not part of it)."""
    def fix(m: re.Match) -> str:
        label, target = m.group(1), m.group(2)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#") or target.endswith(".md"):
            return m.group(0)
        path = (source.parent / target.split("#")[0]).resolve()
        if not path.is_file():
            return m.group(0)
        rel = os.path.relpath(path, srcdir)
        return f"{{download}}`{label} <{rel}>`"

    return _MD_LINK.sub(fix, text)


def _include_markdown(app: Any, docname: str, source: list[str]) -> None:
    # pages whose text is a Markdown file elsewhere in the repository (nmlc_include_markdown)
    target = app.config.nmlc_include_markdown.get(docname)
    if not target:
        return
    path = (Path(app.srcdir) / target).resolve()
    app.env.note_dependency(str(path))
    source[0] = rewrite_links(path.read_text(encoding="utf-8"), path, Path(app.srcdir))


# ------------------------------------------------------------------------------------------------ math
def _math_img(self: Any, latex: str, display: bool, node: Any) -> str:
    folder = Path(self.builder.outdir) / self.builder.imagedir / "math"
    try:
        r = render_svg(latex, folder, display)
    except MathError as exc:
        _logger().warning(str(exc), location=node)
        return f'<code class="nmlc-math-error">{html.escape(latex)}</code>'
    src = posixpath.join(self.builder.imgpath, "math", r.path.name)
    # pt, like mathtext's metrics; depth moves the baseline of inline math onto the text's
    style = f"width:{r.width_pt:.2f}pt;height:{r.height_pt:.2f}pt"
    if not display:
        style += f";vertical-align:-{r.depth_pt:.2f}pt"
    return f'<img class="math nmlc-math" src="{src}" alt="{html.escape(latex)}" style="{style}"/>'


def _visit_math(self: Any, node: Any) -> None:
    self.body.append(_math_img(self, node.astext(), False, node))
    raise nodes.SkipNode


def _visit_displaymath(self: Any, node: Any) -> None:
    parts = [p.strip() for p in node.astext().split("\n\n") if p.strip()]
    self.body.append(self.starttag(node, "div", CLASS="math nmlc-displaymath"))
    if node.get("number"):
        self.body.append(f'<span class="eqno">({node["number"]})</span>')
    for p in parts:
        self.body.append(f"<div>{_math_img(self, p, True, node)}</div>")
    self.body.append("</div>\n")
    raise nodes.SkipNode


# ------------------------------------------------------------------------------------------------ roles
def _status_role(cls: str):
    def role(name, rawtext, text, lineno, inliner, options=None, content=None):
        return [nodes.inline(rawtext, text, classes=["nmlc-status", cls])], []

    return role


# ------------------------------------------------------------------------------------------------ CLI page
class _Captured(Exception):
    def __init__(self, parser: argparse.ArgumentParser):
        self.parser = parser


def cli_parser() -> argparse.ArgumentParser:
    """The ``nmlc`` argument parser, taken from ``nmlc.cli.main`` without running any command."""
    from .. import cli

    for name in ("make_parser", "build_parser", "parser"):
        make = getattr(cli, name, None)
        if callable(make):
            return make()
    original = argparse.ArgumentParser.parse_args

    def capture(self, *args, **kwargs):
        raise _Captured(self)

    argparse.ArgumentParser.parse_args = capture  # type: ignore[method-assign]
    try:
        cli.main(["--help"])
    except _Captured as got:
        return got.parser
    finally:
        argparse.ArgumentParser.parse_args = original  # type: ignore[method-assign]
    raise RuntimeError("nmlc.cli.main did not build an argument parser")


def cli_help() -> list[tuple[str, str, str]]:
    """(command, one-line help, full help text) for ``nmlc`` and each subcommand."""
    parser = cli_parser()
    parser.prog = "nmlc"
    out = [("nmlc", parser.description or "", parser.format_help())]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, sub in action.choices.items():
                sub.prog = f"nmlc {name}"
                out.append((f"nmlc {name}", helps.get(name, ""), sub.format_help()))
    return out


class CliDirective(Directive):
    """``.. nmlc-cli::`` -- a section per ``nmlc`` subcommand with its ``--help`` text."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        from .. import cli

        env = self.state.document.settings.env
        env.note_dependency(cli.__file__)
        out: list[nodes.Node] = []
        for command, summary, text in cli_help():
            section = nodes.section(ids=[nodes.make_id(command)])
            section += nodes.title(text=command)
            if summary:
                section += nodes.paragraph(text=summary[0].upper() + summary[1:] + ".")
            section += nodes.literal_block(text, text, language="text")
            out.append(section)
        return out


# ------------------------------------------------------------------------------------------------ setup
def setup(app: Any) -> dict[str, Any]:
    app.add_config_value("nmlc_library", "../library", "env")
    app.add_config_value("nmlc_catalogue_dir", "models", "env")
    app.add_config_value("nmlc_results", "", "env")
    app.add_config_value("nmlc_run_cases", True, "env")
    app.add_config_value("nmlc_jobs", 2, "env")
    app.add_config_value("nmlc_include_markdown", {}, "env")
    app.add_lexer("nestml", NestmlLexer)
    app.add_html_math_renderer("nmlc_mathtext", (_visit_math, None), (_visit_displaymath, None))
    roles.register_local_role("nmlc-pass", _status_role("nmlc-pass"))
    roles.register_local_role("nmlc-fail", _status_role("nmlc-fail"))
    directives.register_directive("nmlc-cli", CliDirective)
    app.connect("builder-inited", _generate)
    app.connect("source-read", _include_markdown)
    app.connect("build-finished", _copy_catalogue)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}

