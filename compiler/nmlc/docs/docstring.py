"""Model docstrings: split into title, sections and references (with DOIs), and turn into safe reST.

Library models follow NESTML's docstring convention: a first line ``name - short description``,
then sections under underlined headings (``Description``, ``References``, ...), written in
reStructuredText with references as ``.. [1] ...`` entries. A docstring that is not valid reST is
shown as plain text instead of breaking the docs build (``Section.valid`` says which).
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass, field

__all__ = ["Docstring", "Reference", "Section", "parse_docstring", "rst_problems"]

_HEADING_CHARS = set("=-+~^*#\"'`:.,_!$%&()/;<>?@[]{}|")
_DOI = re.compile(r"(?:https?://(?:dx\.)?doi\.org/|doi:\s*|DOI:?\s*)?(10\.\d{4,9}/[^\s,;]+)")
_URL = re.compile(r"https?://[^\s<>`]+")
_ENTRY = re.compile(r"^\.\.\s+\[([^\]]+)\]\s*(.*)$")
_LIST_ITEM = re.compile(r"^(?:\d+[.)]|[-*])\s+(.*)$")


@dataclass
class Reference:
    """One literature reference: its label, its text on one line, its DOI (if any) and a link."""

    label: str
    text: str
    doi: str | None = None

    @property
    def url(self) -> str | None:
        if self.doi:
            return f"https://doi.org/{self.doi}"
        m = _URL.search(self.text)
        return m.group(0).rstrip(".)") if m else None


@dataclass
class Section:
    heading: str
    body: str


@dataclass
class Docstring:
    """A parsed model docstring."""

    title: str = ""
    summary: str = ""
    sections: list[Section] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)

    def section(self, heading: str) -> Section | None:
        for s in self.sections:
            if s.heading.lower() == heading.lower():
                return s
        return None

    @property
    def description(self) -> str:
        """The description's text (its own section, or whatever precedes the first heading)."""
        s = self.section("Description") or self.section("")
        return s.body if s else ""


def _is_underline(line: str, title: str) -> bool:
    stripped = line.rstrip()
    return (len(stripped) >= 3 and len(set(stripped)) == 1 and stripped[0] in _HEADING_CHARS
            and len(stripped) >= len(title.rstrip()) - 2 and title.strip() != "")


def _dedent(lines: list[str]) -> str:
    while lines and not lines[0].strip():
        lines = lines[1:]
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    indents = [len(x) - len(x.lstrip()) for x in lines if x.strip()]
    cut = min(indents) if indents else 0
    return "\n".join(x[cut:] if x.strip() else "" for x in lines)


def _find_doi(text: str) -> str | None:
    m = _DOI.search(text)
    return m.group(1).rstrip(".)") if m else None


def _references(body: str) -> list[Reference]:
    """Entries are ``.. [label] text`` blocks (continuation lines indented) or list items."""
    refs: list[Reference] = []
    current: list[str] | None = None
    label = ""
    for line in body.splitlines():
        m = _ENTRY.match(line.strip()) if not line.startswith((" ", "\t")) else None
        item = _LIST_ITEM.match(line) if not line.startswith((" ", "\t")) else None
        if m or item:
            if current is not None:
                refs.append(Reference(label, " ".join(current)))
            if m:
                label, current = m.group(1), [m.group(2).strip()]
            else:
                label, current = str(len(refs) + 1), [item.group(1).strip()]  # type: ignore[union-attr]
        elif line.strip() and current is not None:
            current.append(line.strip())
        elif line.strip():  # free text with no entry syntax: one reference per paragraph
            label, current = str(len(refs) + 1), [line.strip()]
        elif current is not None and not m:
            refs.append(Reference(label, " ".join(current)))
            current = None
    if current is not None:
        refs.append(Reference(label, " ".join(current)))
    for r in refs:
        r.text = re.sub(r"\s+", " ", r.text).strip()
        r.doi = _find_doi(r.text)
    return [r for r in refs if r.text]


def parse_docstring(text: str) -> Docstring:
    """Split a docstring into its parts; never fails (an unstructured docstring becomes one section)."""
    lines = text.expandtabs(4).splitlines()
    doc = Docstring()
    while lines and not lines[0].strip():
        lines.pop(0)
    if lines and not (len(lines) > 1 and _is_underline(lines[1], lines[0])):
        doc.title = lines.pop(0).strip()
        parts = re.split(r"\s+[-\u2013\u2014:]\s+", doc.title, maxsplit=1)
        doc.summary = parts[1].strip() if len(parts) == 2 else ""
    heading, body = "", []
    i = 0
    while i < len(lines):
        if i + 1 < len(lines) and lines[i].strip() and _is_underline(lines[i + 1], lines[i]):
            if heading or _dedent(body):
                doc.sections.append(Section(heading, _dedent(body)))
            heading, body = lines[i].strip(), []
            i += 2
            continue
        body.append(lines[i])
        i += 1
    if heading or _dedent(body):
        doc.sections.append(Section(heading, _dedent(body)))
    refs = doc.section("References")
    if refs is not None:
        doc.references = _references(refs.body)
    if not doc.summary and doc.description:
        first = doc.description.split("\n\n")[0].replace("\n", " ")
        doc.summary = re.split(r"(?<=[.!?])\s", first, maxsplit=1)[0]
    return doc


def rst_problems(text: str) -> list[str]:
    """docutils' warnings and errors for a piece of reST (empty when it is valid)."""
    from docutils.core import publish_doctree

    stream = io.StringIO()
    try:
        # report_level 2 sends every warning and error to the stream; docutils drops most of them from
        # the tree after its transforms, so the stream is the reliable place to read them
        publish_doctree(text, settings_overrides={"report_level": 2, "halt_level": 5, "warning_stream": stream,
                                                  "file_insertion_enabled": False, "raw_enabled": False})
    except Exception as exc:  # noqa: BLE001 -- docutils raises many kinds on malformed input, even at halt_level 5
        return [str(exc)]
    return [line.strip() for line in stream.getvalue().splitlines()
            if re.search(r"\((WARNING|ERROR|SEVERE)/\d\)", line)]
