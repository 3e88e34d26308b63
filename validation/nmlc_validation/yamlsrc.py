"""Load YAML into plain Python data while remembering the source line of every key and item.

The line map lets schema and semantic errors name ``file:line`` and the YAML path of the problem
(``cases.dc_step.expect[0].trace``), which a plain ``yaml.safe_load`` cannot do.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

PathKey = tuple  # tuple of str (mapping keys) and int (sequence indices)


class YamlSyntaxError(Exception):
    """A YAML file that cannot be parsed; ``str()`` is ``file:line: path: message``."""

    def __init__(self, file: str, line: int, path: PathKey, message: str):
        self.file, self.line, self.path, self.message = file, line, path, message
        super().__init__(f"{file}:{line}: {format_path(path)}: {message}")


@dataclass
class SourceMap:
    """Line numbers (1-based) of every mapping key and sequence item, keyed by YAML path."""

    file: str
    lines: dict[PathKey, int] = field(default_factory=dict)

    def line_of(self, path: Iterable[Any]) -> int:
        """Line of ``path``, or of its nearest ancestor that exists (a missing key points at its parent)."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get((), 1)


def format_path(path: Iterable[Any]) -> str:
    """``('cases', 'dc', 'expect', 0, 'trace')`` -> ``cases.dc.expect[0].trace`` (``<root>`` when empty)."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "<root>"


def _convert(loader: yaml.SafeLoader, node: yaml.Node, path: PathKey, smap: SourceMap) -> Any:
    if isinstance(node, yaml.MappingNode):
        explicit = {id(k) for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge"}
        loader.flatten_mapping(node)  # resolve '<<' merge keys so anchors/aliases can share case settings
        result: dict[Any, Any] = {}
        from_merge: set[str] = set()
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if not isinstance(key, (str, int, float, bool)):
                raise YamlSyntaxError(smap.file, line, path, "mapping keys must be scalars")
            key = str(key) if not isinstance(key, str) else key
            merged = id(key_node) not in explicit
            if key in result:
                if merged and key not in from_merge:
                    continue  # an explicit key overrides the merged one, wherever the '<<' stands
                if not merged and key not in from_merge:
                    # yaml.safe_load silently keeps the last duplicate; a duplicated key is almost always a mistake
                    raise YamlSyntaxError(smap.file, line, path + (key,),
                                          f"duplicate key (first defined on line {smap.lines.get(path + (key,), '?')})")
            if merged:
                from_merge.add(key)
            else:
                from_merge.discard(key)
            smap.lines[path + (key,)] = line
            result[key] = _convert(loader, value_node, path + (key,), smap)
        return result
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            smap.lines[path + (i,)] = item.start_mark.line + 1
            items.append(_convert(loader, item, path + (i,), smap))
        return items
    return loader.construct_object(node, deep=True)


def load_yaml_with_lines(path: str | Path, display_name: str | None = None) -> tuple[Any, SourceMap]:
    """Parse ``path``; return ``(data, source_map)``. Raises :class:`YamlSyntaxError` with file and line."""
    name = display_name or str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise YamlSyntaxError(name, 1, (), f"cannot read file: {exc.strerror or exc}") from None
    smap = SourceMap(name)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, smap
        smap.lines[()] = node.start_mark.line + 1
        return _convert(loader, node, (), smap), smap
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = exc.problem or str(exc)
        raise YamlSyntaxError(name, line, (), f"YAML syntax error: {problem}") from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(name, 1, (), f"YAML error: {exc}") from None
    finally:
        loader.dispose()
