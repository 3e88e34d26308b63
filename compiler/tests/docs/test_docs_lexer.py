"""The NESTML Pygments lexer: every library model lexes without error tokens, and tokens get the right kinds."""
from __future__ import annotations

from pathlib import Path

import pytest
from nmlc.docs.lexer import NestmlLexer
from pygments.token import Comment, Error, Keyword, Name, Number, Operator, String

ROOT = Path(__file__).resolve().parents[3]
LIBRARY_FILES = sorted((ROOT / "library").glob("*/*/*.nestml"))

SAMPLE = '''\
"""doc"""
model m:
    parameters:
        tau ms = 10 ms   # time constant
    equations:
        kernel K = exp(-t / tau)
        V' = -V / tau + convolve(K, spikes) * pA
    input:
        spikes <- excitatory spike
    update:
        integrate_odes()
        if V >= 1.5e-3:
            emit_spike()
'''


def _tokens(text: str) -> list[tuple[object, str]]:
    return [(t, v) for t, v in NestmlLexer().get_tokens(text) if v.strip()]


def test_sample_tokens_have_the_expected_kinds() -> None:
    toks = {v: t for t, v in _tokens(SAMPLE)}
    assert toks['"""'] in String.Doc
    assert toks["model"] in Keyword
    assert toks["m"] in Name.Class
    assert toks["parameters"] in Keyword
    assert toks["# time constant"] in Comment
    assert toks["kernel"] in Keyword
    assert toks["V'"] in Name.Variable
    assert toks["convolve"] in Name.Builtin
    assert toks["<-"] in Operator
    assert toks["excitatory"] in Keyword
    assert toks["1.5e-3"] in Number
    assert toks["emit_spike"] in Name.Builtin


def test_unknown_characters_are_error_tokens() -> None:
    # the lexer is not permissive by accident: a character NESTML does not have is flagged
    assert any(t in Error for t, _ in _tokens("model m:\n    x real = 1 ` 2\n"))


@pytest.mark.parametrize("path", LIBRARY_FILES, ids=[p.stem for p in LIBRARY_FILES])
def test_library_models_lex_without_errors(path: Path) -> None:
    bad = [v for t, v in _tokens(path.read_text(encoding="utf-8")) if t in Error]
    assert not bad, f"{path}: characters the NESTML lexer does not know: {bad[:10]}"


def test_registered_with_pygments_under_its_alias() -> None:
    # Sphinx registers the lexer itself; this checks the class carries what Pygments' registry reads
    assert "nestml" in NestmlLexer.aliases and "*.nestml" in NestmlLexer.filenames
