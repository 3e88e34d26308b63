"""Property-based test: mutated models only ever check successfully or yield diagnostics.

Hypothesis takes models of the valid corpus and mutates them at the byte level (deletions,
insertions of tokens, bytes and line breaks, duplicated, swapped and truncated lines, renamed
identifiers, changed units and indentation). Whatever comes out, the checker must return normally
with well-formed diagnostics that point into the file, never raise, and never report an internal
error (E0001).
"""
from __future__ import annotations

import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nmlc import errorcodes
from nmlc.diagnostics import Diagnostics
from nmlc.semantics import check_file

VALID = sorted((Path(__file__).parent / "valid").glob("*.nestml"))
SOURCES = [p.read_bytes() for p in VALID]

TOKENS = [b"(", b")", b"[", b"]", b"[[", b"]]", b":", b",", b"'", b"''", b"=", b"+=", b"*=", b"**", b"/", b"-",
          b"?", b"...", b"<-", b".", b"@", b"\"", b"\"\"\"", b"#", b"\\\n", b"\n", b"\r\n", b"\t", b"    ", b"\x00",
          b"\xff", b"\xc3", b"mV", b"ms", b"pA", b"1/ms", b"d", b"t", b"e", b"inf", b"real", b"integer",
          b"boolean", b"string", b"void", b"if", b"elif", b"else", b"for", b"while", b"return", b"step", b"in",
          b"and", b"or", b"not", b"true", b"state", b"parameters", b"internals", b"equations", b"input",
          b"output", b"update", b"kernel", b"inline", b"recordable", b"function", b"spike", b"continuous",
          b"onReceive(", b"onCondition(", b"convolve(", b"integrate_odes(", b"emit_spike(", b"delta(t)",
          b"sift(", b"x'", b"V_m", b"V_m'", b"0", b"1e3", b".5", b"10 mV", b"model", b"neuron", b"synapse"]


@st.composite
def mutated(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(SOURCES)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["delete", "insert", "byte", "dup_line", "swap_lines", "truncate",
                                   "rename", "unit", "indent"]))
        pos = draw(st.integers(0, max(len(data), 1) - 1)) if data else 0
        if op == "delete" and data:
            del data[pos:pos + draw(st.integers(1, 40))]
        elif op == "insert":
            data[pos:pos] = draw(st.sampled_from(TOKENS))
        elif op == "byte":
            data[pos:pos] = bytes([draw(st.integers(0, 255))])
        elif op == "truncate":
            del data[pos:]
        elif op in ("dup_line", "swap_lines", "indent"):
            lines = bytes(data).split(b"\n")
            i = draw(st.integers(0, len(lines) - 1))
            j = draw(st.integers(0, len(lines) - 1))
            if op == "dup_line":
                lines.insert(j, lines[i])
            elif op == "swap_lines":
                lines[i], lines[j] = lines[j], lines[i]
            else:
                lines[i] = draw(st.sampled_from([b"", b" ", b"  ", b"\t", b"        "])) + lines[i].lstrip()
            data = bytearray(b"\n".join(lines))
        elif op == "rename":
            names = sorted(set(re.findall(rb"\b[A-Za-z_][A-Za-z_0-9]*\b", bytes(data))))
            if names:
                old = draw(st.sampled_from(names))
                new = draw(st.sampled_from(names + [b"t", b"mV", b"d", b"undeclared_name", b"exp"]))
                count = draw(st.integers(1, 3))
                data = bytearray(re.sub(rb"\b" + re.escape(old) + rb"\b", new, bytes(data), count=count))
        elif op == "unit":
            units = [b"mV", b"ms", b"pA", b"nS", b"pF", b"real", b"1/ms", b"mV/ms", b"s", b"Hz", b"V"]
            found = [m.start() for m in re.finditer(rb"\b(mV|ms|pA|nS|pF|real)\b", bytes(data))]
            if found:
                at = draw(st.sampled_from(found))
                end = re.match(rb"[A-Za-z]+", bytes(data[at:])).end()
                data[at:at + end] = draw(st.sampled_from(units))
    return bytes(data)


_DIR = tempfile.TemporaryDirectory(prefix="nmlc-props-")
# the fields of the catalogue's message templates: one left in a message is a formatting bug
PLACEHOLDERS = {f for entry in errorcodes.CATALOGUE.values() for f in re.findall(r"{(\w+)", entry.message)}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_models_check_or_diagnose(data: bytes):
    path = Path(_DIR.name) / "mutant.nestml"
    path.write_bytes(data)
    diags = Diagnostics()
    models = check_file(path, diags)  # must not raise
    n_lines = data.count(b"\n") + data.count(b"\r") + 2
    for d in diags.items:
        assert d.code in errorcodes.CATALOGUE
        assert d.code != "E0001", d.message
        assert d.severity in ("error", "warning")
        assert 0 <= d.loc.line <= n_lines and d.loc.col >= 0
        assert d.message and not any(f"{{{field}}}" in d.message for field in PLACEHOLDERS)
    diags.render()
    if not diags.has_errors:
        assert models, "a successful check returns the checked models"
