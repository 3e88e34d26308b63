"""docs/language.md stays true: its complete examples check, and it lists every diagnostic code."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from nmlc import errorcodes
from nmlc.diagnostics import Diagnostics
from nmlc.semantics import check_unit
from nmlc.syntax import parse_text

DOC = Path(__file__).resolve().parents[3] / "docs" / "language.md"
TEXT = DOC.read_text(encoding="utf-8")
EXAMPLES = re.findall(r"```nestml\n(.*?)```", TEXT, re.S)


def test_doc_has_examples():
    assert len(EXAMPLES) >= 4


@pytest.mark.parametrize("index", range(len(EXAMPLES)))
def test_doc_example_checks(index):
    diags = Diagnostics()
    unit = parse_text(EXAMPLES[index], f"language.md#example{index}", diags)
    assert unit is not None, diags.render()
    check_unit(unit, diags)
    assert not diags.has_errors, diags.render()


def test_doc_lists_every_code():
    listed = set(re.findall(r"^\| ([EW]\d{4}) \|", TEXT, re.M))
    assert listed == set(errorcodes.CATALOGUE)
