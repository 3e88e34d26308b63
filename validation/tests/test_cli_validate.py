"""`nmlc validate` on a folder of broken specs: every problem is printed as file:line: yaml.path, the run
goes on past each broken spec, nothing is skipped, and the exit status says that cases failed."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).parent / "data"
VALIDATION = Path(__file__).resolve().parents[1]
REPO = VALIDATION.parent


def test_validate_reports_every_broken_spec(tmp_path: Path) -> None:
    for name in ("wrong_key", "missing_tolerance", "unknown_port", "unknown_builtin", "unknown_model"):
        (tmp_path / name).mkdir()
        shutil.copy(DATA / "broken" / f"{name}.yaml", tmp_path / name / "spec.yaml")
    shutil.copytree(DATA / "builtin_iaf_psc_exp", tmp_path / "good")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(VALIDATION), str(REPO / "compiler"), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-c", "import sys; from nmlc.cli import main; sys.exit(main())",
                           "validate", ".", "--results", str(tmp_path / "out")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900, check=False)
    err = proc.stderr
    assert proc.returncode == 1, proc.stdout + err
    assert "Traceback" not in proc.stdout + err
    for expected in (
        ("wrong_key/spec.yaml:12: cases.dc_step.stimuli[0].dc.amplitud: unknown key 'amplitud' (did you mean "
         "'amplitude'?"),
        "missing_tolerance/spec.yaml:17: cases.dc_step.expect[0].trace: 'atol' is a required property",
        ("unknown_port/spec.yaml:12: cases.spikes_in.stimuli[0].spike_train.port: unknown spike port 'exc_spike' "
         "(did you mean 'exc_spikes'?"),
        ("unknown_builtin/spec.yaml:2: model.nest_builtin: unknown model: NEST has no built-in neuron model "
         "'iaf_psc_exq'"),
        "unknown_model/spec.yaml:2: model.nestml: unknown model: file ",
    ):
        assert expected in err, err
    # every spec ran: the broken ones as errors, the good one (and wrong_key's intact case) passed
    lines = proc.stdout.splitlines()
    assert lines[-1] == "5 of 10 cases passed", proc.stdout
    assert sum("ERROR" in line for line in lines) == 5, proc.stdout
