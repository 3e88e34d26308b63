"""Error types of the validation harness: spec problems with file, line and YAML path."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .yamlsrc import format_path


@dataclass(frozen=True)
class SpecIssue:
    """One problem in a spec file, printed as ``file:line: yaml.path: message``."""

    file: str
    line: int
    path: tuple[Any, ...]
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {format_path(self.path)}: {self.message}"

    def case_name(self) -> str | None:
        """The case this issue belongs to (``cases.<name>...``), or None for a spec-wide issue."""
        if len(self.path) >= 2 and self.path[0] == "cases":
            return str(self.path[1])
        return None


class SpecError(Exception):
    """A spec that cannot be run; carries every issue found, ``str()`` lists them one per line."""

    def __init__(self, issues: list[SpecIssue] | str):
        if isinstance(issues, str):
            self.issues: list[SpecIssue] = []
            self.text = issues
        else:
            self.issues = sorted(issues, key=lambda i: (i.file, i.line, format_path(i.path)))
            self.text = "\n".join(str(i) for i in self.issues)
        super().__init__(self.text)

    def __str__(self) -> str:
        return self.text


class HarnessError(Exception):
    """A case that could not be run (NEST rejected a parameter, a reference script failed, ...)."""


class BuildError(Exception):
    """The model under test could not be built; ``str()`` is the compiler's full diagnostic.

    ``path`` is the YAML path of the spec entry at fault when the problem is in the spec itself
    (for example an unknown NEST built-in), so it can be reported with file and line."""

    def __init__(self, message: str, path: tuple | None = None):
        super().__init__(message)
        self.path = path
