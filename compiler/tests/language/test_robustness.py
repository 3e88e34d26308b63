"""Hostile input: every file gives a clean diagnostic or a success, never a traceback or a hang.

Covers empty and comment-only files, binary garbage, NUL bytes, invalid UTF-8, a byte-order mark,
CRLF and lone-CR line endings, tabs versus spaces, pathologically deep nesting, very long lines and
very large files, and paths that are not readable files.
"""
from __future__ import annotations

import random
from pathlib import Path

import pytest

from nmlc import errorcodes
from nmlc.diagnostics import Diagnostics
from nmlc.semantics import check_file
from nmlc.syntax.parser import MAX_FILE_BYTES, MAX_NESTING, MAX_TREE_DEPTH

VALID = Path(__file__).parent / "valid"
SMALL = (VALID / "lif_alpha_kernels.nestml").read_text()


def run(tmp_path: Path, data: bytes | str, name: str = "input.nestml") -> tuple[list, Diagnostics]:
    path = tmp_path / name
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8", newline="")
    else:
        path.write_bytes(data)
    diags = Diagnostics()
    models = check_file(path, diags)
    for d in diags.items:
        assert d.code in errorcodes.CATALOGUE
        assert d.code != "E0001", diags.render()
    diags.render()  # rendering never fails either
    return models, diags


def error_codes(diags: Diagnostics) -> list[str]:
    return [d.code for d in diags.errors]


@pytest.mark.parametrize("text", ["", "\n\n\n", "   \n\t\n", "# only a comment\n", '"""only a docstring"""\n'])
def test_files_without_a_model(tmp_path, text):
    models, diags = run(tmp_path, text)
    assert models == [] and error_codes(diags) == ["E0108"]


def test_binary_garbage(tmp_path):
    rng = random.Random(1234)
    for i in range(20):
        blob = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 2000)))
        models, diags = run(tmp_path, blob, f"blob{i}.nestml")
        assert models == [] and diags.has_errors


def test_nul_byte_is_located(tmp_path):
    models, diags = run(tmp_path, SMALL.replace("state:", "sta\x00te:", 1).encode())
    [err] = diags.errors
    assert err.code == "E0102" and (err.loc.line, err.loc.col) == (3, 8)


def test_invalid_utf8_is_located(tmp_path):
    data = SMALL.encode().replace(b"# LIF neuron", b"# LIF n\xc3\xa9ur\xff", 1)
    models, diags = run(tmp_path, data)
    [err] = diags.errors
    assert err.code == "E0101" and (err.loc.line, err.loc.col) == (1, 11)
    assert "0xff" in err.message


def test_utf8_text_with_bom_and_non_ascii_comments(tmp_path):
    models, diags = run(tmp_path, "\ufeff# Membranpotential für Zellen, µV und Ω\n" + SMALL)
    assert not diags.has_errors and len(models) == 1


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_other_line_endings_are_valid(tmp_path, newline):
    models, diags = run(tmp_path, SMALL.replace("\n", newline))
    assert not diags.has_errors, diags.render()
    # positions refer to the lines as the user sees them
    _, bad = run(tmp_path, SMALL.replace("tau_m ms = 10 ms", "tau_m ms = 10 mss").replace("\n", newline), "bad.nestml")
    assert [(d.code, d.loc.line) for d in bad.errors] == [("E0300", 16)]


def test_tabs_only_indentation_is_valid(tmp_path):
    models, diags = run(tmp_path, SMALL.replace("    ", "\t"))
    assert not diags.has_errors, diags.render()


def test_tabs_and_spaces_mixed_is_an_error(tmp_path):
    text = SMALL.replace("        V_m mV = E_L", "\t        V_m mV = E_L")
    models, diags = run(tmp_path, text)
    assert models == [] and error_codes(diags) == ["E0106"]


@pytest.mark.parametrize("depth, ok", [(MAX_NESTING - 5, True), (MAX_NESTING + 1, False), (5000, False)])
def test_deep_parentheses(tmp_path, depth, ok):
    expr = "(" * depth + "1" + ")" * depth
    models, diags = run(tmp_path, f"model d_neuron:\n    state:\n        x real = {expr}\n    update:\n        x = x\n")
    assert (not diags.has_errors) == ok
    if not ok:
        assert error_codes(diags) == ["E0107"]


@pytest.mark.parametrize("terms, ok", [(150, True), (MAX_TREE_DEPTH + 50, False), (20000, False)])
def test_long_operator_chains(tmp_path, terms, ok):
    expr = " - ".join(["x"] * terms)
    models, diags = run(tmp_path, f"model d_neuron:\n    state:\n        x real = 1\n    update:\n        x = {expr}\n")
    assert (not diags.has_errors) == ok, diags.render()[:500]
    if not ok:
        assert error_codes(diags) == ["E0111"]


@pytest.mark.parametrize("levels, ok", [(60, True), (MAX_TREE_DEPTH + 20, False)])
def test_deeply_nested_blocks(tmp_path, levels, ok):
    lines = ["model d_neuron:", "    state:", "        x real = 0", "    update:"]
    for i in range(levels):
        lines.append("    " * (i + 2) + "if x < 1:")
    lines.append("    " * (levels + 2) + "x += 1")
    models, diags = run(tmp_path, "\n".join(lines) + "\n")
    assert (not diags.has_errors) == ok, diags.render()[:500]


def test_unary_chain(tmp_path):
    models, diags = run(tmp_path, "model d_neuron:\n    state:\n        x real = " + "-" * 10000 + "1\n"
                                  "    update:\n        x = x\n")
    assert error_codes(diags) == ["E0111"]


def test_very_long_line(tmp_path):
    comment = "# " + "x" * 200_000 + "\n"
    models, diags = run(tmp_path, comment + SMALL)
    assert not diags.has_errors and len(models) == 1


def test_large_file_of_many_models(tmp_path):
    parts = [SMALL.replace("lif_alpha_kernels_neuron", f"m{i}_neuron") for i in range(40)]
    models, diags = run(tmp_path, "\n".join(parts))
    assert not diags.has_errors and len(models) == 40


def test_oversized_file_is_refused(tmp_path):
    filler = "#" * 99 + "\n"
    data = SMALL + filler * (MAX_FILE_BYTES // 100 + 1)
    models, diags = run(tmp_path, data)
    assert models == [] and error_codes(diags) == ["E0110"]


def test_many_errors_in_one_file_are_all_reported(tmp_path):
    body = "\n".join(f"        x{i} = undefined_{i}" for i in range(300))
    models, diags = run(tmp_path, f"model e_neuron:\n    update:\n{body}\n")
    assert len(diags.errors) == 600  # each line: an undeclared target and an undeclared value


def test_directory_instead_of_file(tmp_path):
    diags = Diagnostics()
    assert check_file(tmp_path, diags) == [] and error_codes(diags) == ["E0100"]
