"""Diagnostics: source locations, the Diagnostic record, collection and rendering.

Every message the compiler shows a user is a :class:`Diagnostic` made from an entry of
:mod:`nmlc.errorcodes`; this module only knows how to locate and print them, in the
``FILE:LINE:COL: error[CODE]: message`` form followed by the source line and a caret.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from . import errorcodes


@dataclass(frozen=True)
class Loc:
    """A position in a source file: 1-based line and column, with an optional end."""

    file: str
    line: int
    col: int
    end_line: int | None = None
    end_col: int | None = None

    def __str__(self) -> str:
        # line 0: the diagnostic concerns something outside any source text (e.g. a pair named on the command line)
        return f"{self.file}:{self.line}:{self.col}" if self.line > 0 else self.file


UNKNOWN_LOC = Loc("<unknown>", 0, 0)


@dataclass
class Diagnostic:
    """One error or warning, located in a source file."""

    code: str
    severity: str  # "error" | "warning"
    message: str
    loc: Loc
    hint: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def render(self, sources: "SourceMap | None" = None) -> str:
        head = f"{self.loc}: {self.severity}[{self.code}]: {self.message}"
        lines = [head]
        text = sources.line(self.loc.file, self.loc.line) if sources is not None else None
        if text is not None and self.loc.line > 0:
            gutter = f"{self.loc.line:>4} | "
            shown = text.replace("\t", " ")
            lines.append(gutter + shown)
            width = 1
            if self.loc.end_line == self.loc.line and self.loc.end_col and self.loc.end_col > self.loc.col:
                width = self.loc.end_col - self.loc.col
            caret_col = max(self.loc.col - 1, 0)
            lines.append(" " * (len(gutter) - 2) + "| " + " " * caret_col + "^" * max(width, 1))
        if self.hint:
            lines.append(f"  = help: {self.hint}")
        for note in self.notes:
            lines.append(f"  = note: {note}")
        return "\n".join(lines)


class SourceMap:
    """Source texts by file name, for showing the offending line under a diagnostic."""

    def __init__(self) -> None:
        self._lines: dict[str, list[str]] = {}

    def add(self, file: str, text: str) -> None:
        self._lines[file] = text.splitlines()

    def line(self, file: str, lineno: int) -> str | None:
        lines = self._lines.get(file)
        if lines is None or not 1 <= lineno <= len(lines):
            return None
        return lines[lineno - 1]


class Diagnostics:
    """Collects the diagnostics of one compiler run, in the order they were found."""

    def __init__(self, warnings_as_errors: bool = False) -> None:
        self.items: list[Diagnostic] = []
        self.sources = SourceMap()
        self.warnings_as_errors = warnings_as_errors

    def report(self, code: str, loc: Loc, hint: str | None = None, **args: object) -> Diagnostic:
        """Report the catalogue entry ``code`` at ``loc``, formatting its message with ``args``."""
        entry = errorcodes.CATALOGUE[code]
        severity = entry.severity
        if severity == "warning" and self.warnings_as_errors:
            severity = "error"
        diag = Diagnostic(code, severity, entry.message.format(**args), loc, hint)
        self.items.append(diag)
        return diag

    def extend(self, diags: Iterable[Diagnostic]) -> None:
        self.items.extend(diags)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.is_error]

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.items)

    def sorted(self) -> list[Diagnostic]:
        return sorted(self.items, key=lambda d: (d.loc.file, d.loc.line, d.loc.col))

    def render(self) -> str:
        return "\n".join(d.render(self.sources) for d in self.sorted())


class NmlcError(Exception):
    """Raised by the public API when a compilation fails; ``str()`` is the rendered diagnostics."""

    def __init__(self, diagnostics: Diagnostics | str):
        if isinstance(diagnostics, Diagnostics):
            self.diagnostics: Diagnostics | None = diagnostics
            text = diagnostics.render()
        else:
            self.diagnostics = None
            text = diagnostics
        super().__init__(text)
