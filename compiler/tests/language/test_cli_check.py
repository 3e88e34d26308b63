"""`nmlc check` on the model corpus, through the command line as a user runs it.

Every invalid model: exit 1, each expected error printed as ``FILE:LINE:COL: error[CODE]: message``
on the line its ``# expect:`` comment names, and no Python traceback. Every valid model: exit 0.
The in-process runs go through :func:`nmlc.cli.main` (argument parsing included); one subprocess
run over the whole corpus checks the real console command, its exit code and its output streams.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from nmlc.cli import main

HERE = Path(__file__).parent
VALID = sorted((HERE / "valid").glob("*.nestml"))
INVALID = sorted((HERE / "invalid").glob("*.nestml"))
EXPECT = re.compile(rb"^# expect: (E\d{4}) @ (\d+)\s*$", re.MULTILINE)


def _expected(path: Path) -> set[tuple[str, int]]:
    return {(code.decode(), int(line)) for code, line in EXPECT.findall(path.read_bytes())}


def _error_heads(stderr: str, path: Path) -> set[tuple[str, int]]:
    """(code, line) of every ``FILE:LINE:COL: error[CODE]:`` line about ``path``."""
    pattern = rf"^{re.escape(str(path))}:(\d+):\d+: error\[(E\d{{4}})\]: \S"
    return {(code, int(line)) for line, code in re.findall(pattern, stderr, re.MULTILINE)}


@pytest.mark.parametrize("path", INVALID, ids=[p.name for p in INVALID])
def test_cli_rejects_invalid_model_on_the_expected_line(path: Path, capsys):
    rc = main(["check", str(path)])
    out, err = capsys.readouterr()
    assert rc == 1, err
    assert _error_heads(err, path) == _expected(path), err
    assert "Traceback" not in out + err
    assert re.search(r"^nmlc check: \d+ error\(s\) in 1 file\(s\)$", err, re.MULTILINE)


@pytest.mark.parametrize("path", VALID, ids=[p.name for p in VALID])
def test_cli_accepts_valid_model(path: Path, capsys):
    rc = main(["check", str(path)])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "error" not in err


def test_console_command_over_the_whole_corpus():
    # one process, every file: all errors of all files are reported, exit 1, no traceback
    r = subprocess.run([sys.executable, "-m", "nmlc.cli", "check", *map(str, INVALID + VALID)],
                       capture_output=True, text=True, errors="replace", check=False, env={**os.environ},
                       timeout=600)
    assert r.returncode == 1
    assert "Traceback" not in r.stdout + r.stderr
    for path in INVALID:
        assert _error_heads(r.stderr, path) == _expected(path), path.name
    for path in VALID:
        assert not _error_heads(r.stderr, path), path.name
    total = sum(len(_expected(p)) for p in INVALID)
    assert f"nmlc check: {total} error(s) in {len(INVALID) + len(VALID)} file(s)" in r.stderr


def test_werror_turns_a_warning_into_a_failure(tmp_path: Path, capsys):
    # an unused parameter is a warning: exit 0 normally, 1 with --werror
    f = tmp_path / "unused.nestml"
    f.write_text("model unused_neuron:\n    parameters:\n        tau ms = 10 ms\n        unused mV = 1 mV\n"
                 "    state:\n        V real = 1\n    equations:\n        V' = -V / tau\n"
                 "    update:\n        integrate_odes()\n")
    assert main(["check", str(f)]) == 0
    err = capsys.readouterr().err
    assert re.search(rf"^{re.escape(str(f))}:4:\d+: warning\[W\d{{4}}\]: .*unused", err, re.MULTILINE), err
    assert main(["check", "--werror", str(f)]) == 1
    err = capsys.readouterr().err
    assert re.search(rf"^{re.escape(str(f))}:4:\d+: error\[W\d{{4}}\]: .*unused", err, re.MULTILINE), err


def test_missing_file_is_a_diagnostic(tmp_path: Path, capsys):
    missing = tmp_path / "nope.nestml"
    assert main(["check", str(missing)]) == 1
    err = capsys.readouterr().err
    assert f"{missing}:" in err and "error[E0100]" in err and "Traceback" not in err
