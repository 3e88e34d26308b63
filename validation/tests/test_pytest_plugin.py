"""The pytest plugin in a separate pytest process: item ids, pytest-xdist (-n 2), failing broken specs."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
VALIDATION = Path(__file__).resolve().parents[1]
REPO = VALIDATION.parent


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("proj")
    lib = root / "library" / "neurons"
    shutil.copytree(DATA / "builtin_iaf_psc_exp", lib / "iaf_psc_exp")
    (lib / "broken").mkdir()
    shutil.copy(DATA / "broken" / "missing_tolerance.yaml", lib / "broken" / "spec.yaml")
    (lib / "typo").mkdir()
    shutil.copy(DATA / "broken" / "unknown_port.yaml", lib / "typo" / "spec.yaml")
    shutil.copytree(DATA / "builtin_stdp_synapse", root / "library" / "synapses" / "stdp")
    (root / "conftest.py").write_text('pytest_plugins = ["nmlc_validation.pytest_plugin"]\n')
    (root / "pytest.ini").write_text("[pytest]\n")  # makes this folder pytest's rootdir
    return root


def _pytest(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(VALIDATION), str(REPO / "compiler"), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=project, env=env,
                          capture_output=True, text=True, timeout=900)


def test_collects_one_item_per_case_with_xdist(project: Path) -> None:
    proc = _pytest(project, "-n", "2", "--collect-only", "-q", "library")
    ids = {line.strip() for line in proc.stdout.splitlines() if "::" in line}
    assert ids == {
        "library/neurons/iaf_psc_exp/spec.yaml::dc_step",
        "library/neurons/iaf_psc_exp/spec.yaml::spiking",
        "library/neurons/iaf_psc_exp/spec.yaml::synaptic_input",
        "library/neurons/iaf_psc_exp/spec.yaml::random_input",
        "library/neurons/broken/spec.yaml::dc_step",
        "library/neurons/typo/spec.yaml::spikes_in",
        "library/synapses/stdp/spec.yaml::pairing",
    }, proc.stdout + proc.stderr


def test_one_model_folder_selects_only_its_cases(project: Path) -> None:
    proc = _pytest(project, "--collect-only", "-q", "library/neurons/iaf_psc_exp")
    ids = [line.strip() for line in proc.stdout.splitlines() if "::" in line]
    assert len(ids) == 4 and all(i.startswith("library/neurons/iaf_psc_exp/spec.yaml::") for i in ids)


def test_run_with_two_workers_passes_good_cases_and_fails_broken_specs(project: Path) -> None:
    proc = _pytest(project, "-n", "2", "library", "--nmlc-results", str(project / "out"))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "5 passed" in out and "2 failed" in out, out
    assert ("library/neurons/broken/spec.yaml:17: cases.dc_step.expect[0].trace: 'atol' is a required property"
            in out)
    assert ("library/neurons/typo/spec.yaml:12: cases.spikes_in.stimuli[0].spike_train.port: unknown spike port "
            "'exc_spike'") in out
    assert "Traceback" not in out
    # the controller prints the summary table gathered from both workers' results
    assert "nmlc validation summary" in out
    assert any(line.startswith("iaf_psc_exp") and " 4 " in line for line in out.splitlines())
    assert (project / "out" / "library" / "neurons" / "iaf_psc_exp" / "dc_step.json").is_file()
