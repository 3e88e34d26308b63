"""Validate loaded spec data against ``specs/spec.schema.json`` and phrase errors for humans.

jsonschema's raw messages ("... is not valid under any of the given schemas") say little; this module
rewrites them by validator kind and attaches the YAML path and source line of the offending key.
"""
from __future__ import annotations

import difflib
import functools
import json
from pathlib import Path
from typing import Any

import jsonschema

from .errors import SpecIssue
from .yamlsrc import SourceMap

_PACKAGE_SCHEMA = Path(__file__).with_name("spec.schema.json")
_REPO_SCHEMA = Path(__file__).resolve().parents[2] / "specs" / "spec.schema.json"


@functools.lru_cache(maxsize=1)
def load_schema() -> dict:
    """The spec JSON Schema (the package copy links to ``specs/spec.schema.json``)."""
    for candidate in (_PACKAGE_SCHEMA, _REPO_SCHEMA):
        if candidate.is_file():
            return json.loads(candidate.read_text(encoding="utf-8"))
    raise FileNotFoundError(f"spec schema not found at {_PACKAGE_SCHEMA} or {_REPO_SCHEMA}")


@functools.lru_cache(maxsize=1)
def _validator() -> jsonschema.protocols.Validator:
    schema = load_schema()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _quote_list(names: list[str]) -> str:
    return ", ".join(f"'{n}'" for n in names)


def _required_alternatives(subschemas: list[dict]) -> list[str] | None:
    """For ``anyOf``/``oneOf`` made only of ``{"required": [x]}`` return the x's, else None."""
    names = []
    for sub in subschemas:
        if set(sub) != {"required"} or len(sub["required"]) != 1:
            return None
        names.append(sub["required"][0])
    return names


def _describe_types(subschemas: list[dict]) -> str | None:
    kinds = []
    for sub in subschemas:
        if "type" in sub:
            t = sub["type"]
            kinds.append("a list of numbers" if t == "array" else f"a {t}")
        elif "$ref" in sub and sub["$ref"].endswith("/name"):
            kinds.append("a name")
        elif "$ref" in sub and sub["$ref"].endswith(("/positive", "/nonneg")):
            kinds.append("a non-negative number")
        else:
            return None
    return " or ".join(dict.fromkeys(kinds))


def _error_issues(err: jsonschema.ValidationError, smap: SourceMap) -> list[SpecIssue]:
    path = tuple(err.absolute_path)
    inst = err.instance
    v = err.validator

    def issue(msg: str, at: tuple = path) -> SpecIssue:
        return SpecIssue(smap.file, smap.line_of(at), at, msg)

    if v == "additionalProperties" and isinstance(inst, dict):
        allowed = sorted(err.schema.get("properties", {}))
        out = []
        for key in inst:
            if key in allowed:
                continue
            hint = difflib.get_close_matches(str(key), allowed, n=1)
            did_you_mean = f"did you mean '{hint[0]}'? " if hint else ""
            out.append(issue(f"unknown key '{key}' ({did_you_mean}allowed: {', '.join(allowed)})", path + (key,)))
        return out
    if v in ("oneOf", "anyOf") and isinstance(inst, dict):
        names = _required_alternatives(err.validator_value)
        if names is not None:
            present = [n for n in names if n in inst]
            if len(present) > 1 and v == "oneOf":
                return [issue(f"give only one of {_quote_list(names)} (found {_quote_list(present)})")]
            word = "exactly one" if v == "oneOf" else "at least one"
            return [issue(f"needs {word} of {_quote_list(names)}")]
    if v in ("oneOf", "anyOf"):
        kinds = _describe_types(err.validator_value)
        if kinds is not None:
            return [issue(f"{inst!r} must be {kinds}")]
        best = jsonschema.exceptions.best_match(err.context) if err.context else None
        if best is not None:
            return _error_issues(best, smap)
    if "propertyNames" in err.schema_path:
        # jsonschema reports bad keys against the object's path; point at the key's own line instead
        key_path = path + (inst,)
        if v == "enum":
            return [issue(f"key '{inst}' is not allowed here (allowed: {', '.join(err.validator_value)})", key_path)]
        if v == "pattern":
            return [issue(f"'{inst}' is not a valid name (letters, digits and '_', not starting with a digit)",
                          key_path)]
    if v == "dependentRequired":
        for key, needed in err.validator_value.items():
            if key in inst:
                missing = [n for n in needed if n not in inst]
                if missing:
                    return [issue(f"{_quote_list(missing)} is required when '{key}' is given")]
    if v == "minProperties" and isinstance(inst, dict):
        options = sorted(err.schema.get("properties", {}))
        if options:
            return [issue(f"is empty: give one of {', '.join(options)}")]
        return [issue("must not be empty")]
    if v == "maxProperties" and isinstance(inst, dict):
        return [issue(f"give exactly one entry per list item (found {_quote_list(list(inst))}); "
                      f"start a new '- ' item for each")]
    if v in ("minItems", "maxItems") and err.schema.get("description", "").startswith("[start, stop]"):
        return [issue(f"{inst!r} must be a window [start, stop]")]
    if v == "type":
        expected = err.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return [issue(f"expected {'an' if expected[0] in 'aeiou' else 'a'} {expected}, got {inst!r}")]
    return [issue(err.message)]


def schema_issues(data: Any, smap: SourceMap) -> list[SpecIssue]:
    """Every schema violation in ``data`` as a :class:`SpecIssue` (empty when the spec is valid)."""
    issues: list[SpecIssue] = []
    seen: set[str] = set()
    for err in _validator().iter_errors(data):
        for item in _error_issues(err, smap):
            if str(item) not in seen:
                seen.add(str(item))
                issues.append(item)
    return issues
