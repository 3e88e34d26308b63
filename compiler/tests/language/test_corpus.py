"""The model corpus: every valid model checks without errors, every invalid one fails as it states.

Each file under ``invalid/`` starts with one or more ``# expect: CODE @ LINE`` comments; the check
must report exactly those errors (code and line), no others, and render them in the
``FILE:LINE:COL: error[CODE]: message`` form with the source line and a caret.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from nmlc import errorcodes
from nmlc.diagnostics import Diagnostics
from nmlc.semantics import check_file

HERE = Path(__file__).parent
VALID = sorted((HERE / "valid").glob("*.nestml"))
INVALID = sorted((HERE / "invalid").glob("*.nestml"))
EXPECT = re.compile(rb"^# expect: (E\d{4}) @ (\d+)\s*$", re.M)


def _expected(path: Path) -> set[tuple[str, int]]:
    return {(code.decode(), int(line)) for code, line in EXPECT.findall(path.read_bytes())}


def test_corpus_sizes():
    assert len(INVALID) >= 60
    assert len(VALID) >= 20
    keywords = {re.search(r"^(neuron|synapse|model) \w+:", p.read_text(encoding="utf-8"), re.M).group(1)
                for p in VALID}
    assert keywords == {"neuron", "synapse", "model"}  # both dialects


@pytest.mark.parametrize("path", VALID, ids=[p.name for p in VALID])
def test_valid_model_checks(path: Path):
    diags = Diagnostics()
    models = check_file(path, diags)
    assert not diags.has_errors, diags.render()
    assert models and all(m.kind in ("neuron", "synapse") for m in models)


@pytest.mark.parametrize("path", INVALID, ids=[p.name for p in INVALID])
def test_invalid_model_reports_expected_errors(path: Path):
    expected = _expected(path)
    assert expected, f"{path.name} states no `# expect:` line"
    diags = Diagnostics()
    check_file(path, diags)
    got = {(d.code, d.loc.line) for d in diags.errors}
    assert got == expected, diags.render()
    rendered = diags.render()
    for code, line in expected:
        head = re.search(rf"^{re.escape(str(path))}:{line}:(\d+): error\[{code}\]: (.+)$", rendered, re.M)
        assert head, rendered
        assert head.group(2).strip()
    if all(line > 0 for _, line in expected):
        assert "^" in rendered  # a caret under the culprit


def test_every_invalid_code_is_catalogued():
    codes = {code for p in INVALID for code, _ in _expected(p)}
    assert codes <= set(errorcodes.CATALOGUE)
    # the corpus exercises every phase of the front end
    assert {c[:3] for c in codes} >= {"E01", "E02", "E03", "E04", "E05"}


def test_all_errors_of_a_file_in_one_run():
    path = HERE / "invalid" / "multiple_errors.nestml"
    assert len(_expected(path)) >= 4
    diags = Diagnostics()
    check_file(path, diags)
    assert len(diags.errors) == len(_expected(path))
