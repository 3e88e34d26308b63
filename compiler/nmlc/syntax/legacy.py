"""Block syntax of NESTML 2-5: blocks closed by ``end`` lines, indentation not significant.

Files written for NESTML up to version 5 close every block (model, variable blocks, ``update``,
``if``/``elif``/``else``, ``for``, ``while``, functions) with a line holding only ``end``. The grammar
delimits blocks by indentation, so :func:`normalise_end_blocks` rewrites such a file before it is
parsed: the ``end`` lines become empty lines (line numbers stay as written) and, only where the
original indentation does not already show the nesting, each line is re-indented by its depth.
Files without ``end`` lines are returned unchanged.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_INDENT_UNIT = "    "
_CONTINUE_BLOCK = re.compile(r"(else|elif)\b")


@dataclass
class _Line:
    index: int  # position in the file's list of lines
    code: str  # the code of the line without comment, stripped
    depth: int = 0  # block depth the line belongs to
    is_end: bool = False
    continuation: bool = False  # inside brackets, after a backslash, or inside a docstring


def _code_of(line: str, in_doc: bool) -> tuple[str, bool]:
    """The code of one physical line (strings kept, comment dropped) and whether a ``\"\"\"`` string
    is still open at its end."""
    out: list[str] = []
    i = 0
    in_string = False
    while i < len(line):
        if in_doc:
            close = line.find('"""', i)
            if close < 0:
                return "".join(out), True
            out.append("S")  # a docstring counts as one opaque token
            i = close + 3
            in_doc = False
            continue
        ch = line[i]
        if in_string:
            if ch == "\\":
                i += 2
                continue
            if ch == '"':
                in_string = False
            i += 1
            continue
        if line.startswith('"""', i):
            in_doc = True
            i += 3
            continue
        if ch == '"':
            in_string = True
            out.append("S")
        elif ch == "#":
            break
        else:
            out.append(ch)
        i += 1
    return "".join(out), in_doc


def _scan(lines: list[str]) -> list[_Line]:
    """Logical lines with their block depth, continuation lines marked."""
    out: list[_Line] = []
    depth = 0
    brackets = 0
    in_doc = False
    backslash = False
    for index, raw in enumerate(lines):
        starts_in_doc = in_doc
        code, in_doc = _code_of(raw, in_doc)
        stripped = code.strip()
        continuation = starts_in_doc or brackets > 0 or backslash
        for ch in code:
            if ch in "([":
                brackets += 1
            elif ch in ")]":
                brackets = max(brackets - 1, 0)
        backslash = code.rstrip().endswith("\\")
        if not stripped:
            continue
        item = _Line(index, stripped, continuation=continuation)
        out.append(item)
        if continuation:
            item.depth = depth
            continue
        if stripped == "end":
            depth = max(depth - 1, 0)
            item.depth = depth
            item.is_end = True
            continue
        if _CONTINUE_BLOCK.match(stripped) and stripped.endswith(":"):
            item.depth = max(depth - 1, 0)  # else/elif continue the block of their `if`
            continue
        item.depth = depth
        # a header ends with `:` once its brackets are closed (`output: spike` is not one)
        if stripped.endswith(":") and brackets == 0 and not backslash:
            depth += 1
    return out


def _width(line: str) -> int:
    return len(line.expandtabs(8)) - len(line.lstrip(" \t").expandtabs(8))


def _indentation_consistent(lines: list[str], items: list[_Line]) -> bool:
    """Whether the indentation as written already gives every line its block depth."""
    widths: list[int] = []
    for item in items:
        if item.continuation or item.is_end:
            continue
        width = _width(lines[item.index])
        d = item.depth
        if d > len(widths):
            return False
        del widths[d + 1:]
        if d == len(widths):
            if widths and width <= widths[-1]:
                return False
            widths.append(width)
        elif width != widths[d]:
            return False
    return True


_END_START = re.compile(r"^[ \t\r\f\v]*end\b", re.M)


def uses_end_blocks(text: str) -> bool:
    """Whether a file closes blocks with ``end`` lines (NESTML 2-5)."""
    # A line whose code is `end` starts with `end` after its indentation; most files have none,
    # and this regex rules them out without the character-by-character scan below.
    if not _END_START.search(text):
        return False
    return any(_code_of(line, False)[0].strip() == "end" for line in text.split("\n"))


def normalise_end_blocks(text: str) -> str:
    """The file with ``end``-closed blocks turned into indented blocks; unchanged if it has no ``end``."""
    if not uses_end_blocks(text):
        return text
    lines = text.split("\n")
    items = _scan(lines)
    if not any(item.is_end for item in items):
        return text  # only inside a docstring
    empty_headers = _empty_blocks(items)
    consistent = _indentation_consistent(lines, items)
    shift = 0
    for item in items:
        line = lines[item.index]
        if item.is_end or item.index in empty_headers:
            lines[item.index] = ""
            continue
        if consistent:
            continue
        current = line[: len(line) - len(line.lstrip(" \t"))]
        if item.continuation:
            # keep the line's position relative to the line it continues
            width = max(_width(line) + shift, 0)
            lines[item.index] = " " * width + line.lstrip(" \t")
            continue
        wanted = _INDENT_UNIT * item.depth
        shift = len(wanted) - len(current.expandtabs(8))
        lines[item.index] = wanted + line.lstrip(" \t")
    return "\n".join(lines)


def _empty_blocks(items: list[_Line]) -> set[int]:
    """Headers directly followed by their ``end`` (an empty block, which the grammar has no form for)."""
    out: set[int] = set()
    for prev, item in zip(items, items[1:]):
        if item.is_end and not prev.is_end and not prev.continuation and prev.code.endswith(":") \
                and prev.depth == item.depth:
            out.add(prev.index)
    return out
