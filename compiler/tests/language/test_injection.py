"""No user text reaches generated C++ unchecked: injection attempts through every place it can appear.

User text reaches the NEST target in the model docstring and the comments beside declarations
(both become C++ comments), in ``print``/``println`` strings (C++ string literals), in names (C++
identifiers) and in number literals (C++ numbers). Each place is fed quotes, backslashes (a
trailing one continues a C++ ``//`` comment), line breaks, ``*/``, ``/*``, trigraphs and
preprocessor lines. The generated sources are then scanned as C++ sees them (line splicing,
comments, string literals): the attack marker must never appear in live code. Names the target
cannot use are rejected with E0600. One module is compiled and run in NEST to show that the
printed text and the parameter values arrive exactly as written.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from nmlc.build import _generate
from nmlc.diagnostics import NmlcError

MARK = "PWNED"

# every comment and string below tries to end its comment or string and start live code
NEURON = r'''# inj docstring */ int PWNED_1 = 0; /* \
# #include <PWNED_2> ??/
# "quote */ PWNED_3 'apostrophe
model inj_neuron:
    parameters:
        tau ms = 10 ms   # doc */ int PWNED_4; /* \
        a_tenth real = 0.1   # \
        near_one real = 1.0000000000000002
        long_digits real = 0.12345678901234567891
        huge_int real = 123456789012345678901234567890
        past_2_53 real = 9007199254740993
        denormal real = 5e-324
        smallest_normal real = 2.2250738585072014e-308
        largest real = 1.7976931348623157e308
        in_volts mV = 1 V   # stored as 1000 (mV)
        in_nano pA = 0.1 nA   # stored as 100 (pA)
    state:
        V real = 1    # state ??/
    equations:
        V' = -V / tau
    input:
        spikes <- spike   # port */ PWNED_5 /*
        I_stim pA <- continuous   # \
    output:
        spike
    update:
        integrate_odes()
        println("q\" bs\\ */ PWNED_6 /* ??= \n #define PWNED_7 1")
        print("tab\there\\")
        println(" // PWNED_8 \\")
'''

# what NEST must print per step for the println/print calls above
PRINTED = "q\" bs\\ */ PWNED_6 /* ??= \n #define PWNED_7 1\ntab\there\\ // PWNED_8 \\\n"

SYNAPSE = r'''# syn docstring */ PWNED_9 /* \
model inj_synapse:
    parameters:
        w real = 1   # weight */ PWNED_10 /* \
        d ms = 1 ms
    input:
        pre_spikes <- spike
    output:
        spike
    onReceive(pre_spikes):
        println("*/ PWNED_11 \"\\")
        emit_spike(w, d)
'''

# literals of NEURON whose value in NEST must equal Python's correctly rounded reading
LITERALS = {"a_tenth": "0.1", "near_one": "1.0000000000000002", "long_digits": "0.12345678901234567891",
            "huge_int": "123456789012345678901234567890", "past_2_53": "9007199254740993",
            "denormal": "5e-324", "smallest_normal": "2.2250738585072014e-308", "largest": "1.7976931348623157e308"}


def live_code(cpp: str) -> str:
    """``cpp`` with comments and string/character literals removed, read the way a C++ compiler does."""
    text = cpp.replace("\\\n", "")  # translation phase 2: a backslash-newline splices lines (also in // comments)
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            assert end >= 0, "unterminated /* comment"
            i = end + 2
            out.append(" ")
        elif text[i] in "\"'":
            quote, j = text[i], i + 1
            while j < n and text[j] != quote:
                assert text[j] != "\n", f"line break in a literal near {text[i:i + 60]!r}"
                j += 2 if text[j] == "\\" else 1
            assert j < n, "unterminated literal"
            out.append('""')
            i = j + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _sources(tmp_path: Path, text: str, name: str) -> dict[str, str]:
    path = tmp_path / f"{name}.nestml"
    path.write_text(text)
    sources, _, _ = _generate([path], "nmlc_injection_test", "_nestml", False)
    return sources


def neutralised(text: str) -> str:
    """The same model with every comment removed and every string replaced by a harmless one."""
    out = []
    for line in text.split("\n"):
        line = re.sub(r'"(?:[^"\\\n]|\\.)*"', '"x"', line)
        out.append(line.split("#", 1)[0].rstrip())
    return "\n".join(out)


def test_scanner_sees_an_escape():
    # the scanner itself must notice the attacks this file guards against
    assert MARK in live_code("// comment\nint PWNED;")
    assert MARK not in live_code("// comment \\\nint PWNED;")  # spliced into the comment
    assert MARK in live_code("/* a */ PWNED /* b */")
    assert MARK in live_code('"a\\\\" PWNED "b"')
    assert MARK not in live_code('"a\\" PWNED"')
    assert neutralised('x = 1  # c "d"\nprint("a\\" # b")') == 'x = 1\nprint("x")'


@pytest.mark.parametrize("name, text", [("inj_neuron", NEURON), ("inj_synapse", SYNAPSE)])
def test_user_text_stays_in_comments_and_strings(tmp_path, name, text):
    sources = _sources(tmp_path, text, name)
    clean = _sources(tmp_path, neutralised(text), name)
    assert MARK in sources[f"{name}.cpp"]  # the text does reach the sources (comments, strings) ...
    assert sorted(sources) == sorted(clean)
    for file, src in sources.items():
        live = live_code(src)
        assert MARK not in live, file  # ... but never as code,
        # and it neither adds nor removes code: a trailing backslash in a comment must not splice the
        # next generated line into that comment
        assert live.split() == live_code(clean[file]).split(), file


@pytest.mark.parametrize("name", ["class", "int", "new", "std", "nest", "P_", "S_", "V_", "B_", "__x", "NULL"])
@pytest.mark.parametrize("where", ["parameter", "state", "function", "port"])
def test_names_the_target_cannot_use_are_rejected(tmp_path, name, where):
    body = {
        "parameter": f"    parameters:\n        {name} real = 1\n",
        "state": f"    state:\n        {name} real = 1\n",
        "function": f"    function {name}(x real) real:\n        return x\n",
        "port": f"    input:\n        {name} pA <- continuous\n",
    }[where]
    path = tmp_path / "names.nestml"
    path.write_text("model names_neuron:\n" + body + "    update:\n        V = V\n    state:\n        V real = 0\n")
    with pytest.raises(NmlcError) as exc:
        _generate([path], "nmlc_injection_test", "_nestml", False)
    message = str(exc.value)
    assert "E0600" in message and f"`{name}`" in message and "Traceback" not in message


@pytest.mark.parametrize("name", ["class", "std", "nest", "Module", "nmlc_abi", "__m"])
def test_model_names_the_target_cannot_use_are_rejected(tmp_path, name):
    path = tmp_path / "m.nestml"
    path.write_text(f"model {name}:\n    state:\n        V real = 1\n    equations:\n        V' = -V / ms\n"
                    "    update:\n        integrate_odes()\n")
    with pytest.raises(NmlcError) as exc:
        _generate([path], "nmlc_injection_test", "_nestml", False)
    assert "E0600" in str(exc.value)


_RUN = textwrap.dedent("""
    import json, sys
    import nest
    import nmlc
    nest.verbosity = nest.VerbosityLevel.ERROR
    mod = nmlc.build([sys.argv[1]])
    mod.install()
    defaults = nest.GetDefaults(mod.models["inj_neuron"])
    sys.stdout.write("<<<")
    sys.stdout.flush()
    neuron = nest.Create(mod.models["inj_neuron"])
    nest.Simulate(2 * nest.resolution)
    sys.stdout.flush()
    print(">>>" + json.dumps({k: float(v) for k, v in defaults.items() if isinstance(v, (int, float))}))
""")


def test_compiled_module_prints_and_stores_user_text_exactly(tmp_path):
    path = tmp_path / "inj_neuron.nestml"
    path.write_text(NEURON)
    r = subprocess.run([sys.executable, "-c", _RUN, str(path)], capture_output=True, text=True, check=False,
                       env={**os.environ}, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    printed, _, tail = r.stdout.partition("<<<")[2].partition(">>>")
    assert printed == PRINTED * 2  # two steps, each printing exactly the user's strings
    values = json.loads(tail)
    for name, literal in LITERALS.items():
        assert values[name] == float(literal), name  # emitted exactly: the same double as Python reads
    assert values["in_volts"] == 1000.0 and values["in_nano"] == 100.0  # converted by prefix, exactly
