"""The harness end to end with real NEST simulations (NEST built-ins as the model under test)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import nmlc_validation as nv
from nmlc_validation.harness import Harness

DATA = Path(__file__).parent / "data"
BROKEN = DATA / "broken"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def harness(tmp_path: Path) -> Harness:
    return Harness(results_dir=tmp_path / "results", rootdir=REPO, lock_path=tmp_path / "build.lock")


def _run_file(harness: Harness, path: Path) -> dict[str, nv.CaseResult]:
    spec = harness.load(path)
    return {r.case: r for r in harness.run_spec(spec)}


def test_builtin_neuron_spec_passes_and_writes_json(tmp_path: Path) -> None:
    results = nv.run([DATA / "builtin_iaf_psc_exp"], results_dir=tmp_path / "res", rootdir=REPO)
    by_case = {r.case: r for r in results}
    assert set(by_case) == {"dc_step", "spiking", "synaptic_input", "random_input"}
    for r in results:
        assert r.passed, r.report()
    data = json.loads(Path(by_case["dc_step"].json_path).read_text())
    assert data["status"] == "passed" and data["kind"] == "neuron"
    assert "scipy" in data["provenance"] and "Python reference" in data["provenance"]["scipy"]
    v_model = np.asarray(data["recordings"]["model"]["main"]["values"]["V_m"])
    v_ref = np.asarray(data["recordings"]["nest"]["main"]["values"]["V_m"])
    assert v_model.shape == v_ref.shape == (999,)
    # the analytic expectation measured a real, tiny error, not a skipped comparison
    analytic = next(e for e in data["expectations"] if e["kind"] == "expression")
    assert analytic["passed"] and analytic["error"] < 1e-9 and analytic["data"]["n_samples"] == 999
    table = nv.summary_table(results)
    assert table.splitlines()[0].split() == ["model", "kind", "solver", "cases", "passed", "failed", "max", "error",
                                             "per", "case"]
    row = table.splitlines()[2]
    assert row.split()[:6] == ["iaf_psc_exp", "neuron", "-", "4", "4", "0"] and "dc_step:" in row


def test_builtin_synapse_spec_passes(tmp_path: Path) -> None:
    (result,) = nv.run([DATA / "builtin_stdp_synapse"], results_dir=tmp_path / "res", rootdir=REPO)
    assert result.passed, result.report()
    window = next(e for e in result.expectations if e.kind == "stdp_window")
    dw = window.data["weight_change"]
    assert dw[0] < 0 < dw[1] and dw[2] < dw[1]  # depression, potentiation, decaying with |dt|


def test_broken_reference_mapping_fails_readably_with_plot(harness: Harness) -> None:
    result = _run_file(harness, BROKEN / "wrong_mapping.yaml")["dc_step"]
    assert result.status == "failed"
    report = result.report()
    assert "validation/tests/data/broken/wrong_mapping.yaml::dc_step: 1 of 2 expectations failed" in report
    assert "FAIL expect[0].trace (vs 'nest'): max |V_m - nest| = " in report
    assert "worst at t = " in report and "vs allowed 1e-06" in report
    trace = result.expectations[0]
    assert trace.error > 1.0 and 20.0 < trace.t_worst <= 100.0
    png = Path(trace.plot_path)
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert f"plot: {png}" in report


def test_deliberately_broken_model_fails_against_analytic_solution(harness: Harness, tmp_path: Path) -> None:
    text = (DATA / "builtin_iaf_psc_exp" / "spec.yaml").read_text()
    folder = tmp_path / "broken_model"
    folder.mkdir()
    shutil.copy(DATA / "builtin_iaf_psc_exp" / "reference_iaf.py", folder)
    # the model's membrane capacitance is halved; the analytic solution keeps the documented 250 pF
    text = text.replace("  C_m: 250.0\n", "  C_m: 125.0\n").replace("I*tau_m/C_m", "I*tau_m/250.0")
    (folder / "spec.yaml").write_text(text)
    result = _run_file(harness, folder / "spec.yaml")["dc_step"]
    assert result.status == "failed"
    analytic = result.expectations[0]
    assert not analytic.passed and "analytic subthreshold response" in analytic.label
    assert analytic.error == pytest.approx(12.0, rel=0.05)  # 300 pA * 10 ms / 125 pF vs / 250 pF at the plateau
    assert Path(analytic.plot_path).is_file()
    # the scipy reference reads the model's own (broken) parameters, so it agrees with the model
    assert result.expectations[2].passed


@pytest.mark.parametrize("name, case, expected", [
    ("unknown_port.yaml", "spikes_in",
     "unknown_port.yaml:12: cases.spikes_in.stimuli[0].spike_train.port: unknown spike port 'exc_spike' "
     "(did you mean 'exc_spikes'?"),
    ("unknown_port.yaml", "spikes_in",
     "unknown_port.yaml:14: cases.spikes_in.record.variables[0]: unknown variable 'V_mem' (did you mean 'V_m'?"),
    ("unknown_builtin.yaml", "quiet",
     "unknown_builtin.yaml:2: model.nest_builtin: unknown model: NEST has no built-in neuron model 'iaf_psc_exq' "
     "(did you mean 'iaf_psc_exp'?)"),
    ("missing_tolerance.yaml", "dc_step",
     "missing_tolerance.yaml:17: cases.dc_step.expect[0].trace: 'atol' is a required property"),
    ("unknown_model.yaml", "dc_step", "unknown_model.yaml:2: model.nestml: unknown model: file"),
])
def test_broken_specs_become_error_results(harness: Harness, name: str, case: str, expected: str) -> None:
    result = _run_file(harness, BROKEN / name)[case]
    assert result.status == "error" and not result.passed
    assert f"validation/tests/data/broken/{expected}" in result.report()
    assert json.loads(Path(result.json_path).read_text())["status"] == "error"


def test_wrong_key_fails_only_its_case(harness: Harness) -> None:
    results = _run_file(harness, BROKEN / "wrong_key.yaml")
    assert results["dc_step"].status == "error" and "unknown key 'amplitud'" in results["dc_step"].message
    assert results["other"].passed


def _stored_spec(folder: Path, fmt: str) -> Path:
    shutil.copy(DATA / "builtin_iaf_psc_exp" / "reference_iaf.py", folder)
    (folder / "spec.yaml").write_text(f"""
model:
  nest_builtin: iaf_psc_exp
  spike_ports: {{exc: {{receptor: 0, sign: excitatory}}}}
  current_ports: {{I: {{receptor: 0}}}}
references:
  scipy: {{python: reference_iaf.py}}
  golden: {{stored: "golden_{{case}}.{fmt}", generated_by: scipy}}
cases:
  step:
    resolution: 0.1
    duration: 40.0
    seed: 1
    threads: 1
    stimuli: [{{dc: {{port: I, amplitude: 400.0, start: 5.0}}}}]
    record: {{variables: [V_m], interval: 0.2}}
    expect:
      - trace: {{variable: V_m, reference: golden, rtol: 0.0, atol: 1.0e-6}}
  without_golden:
    resolution: 0.1
    duration: 20.0
    seed: 1
    threads: 1
    record: {{variables: [V_m], interval: 0.2}}
    expect:
      - trace: {{variable: V_m, reference: scipy, rtol: 0.0, atol: 1.0e-6}}
""")
    return folder / "spec.yaml"


@pytest.mark.parametrize("fmt", ["npz", "csv", "csv.gz"])
def test_stored_reference_roundtrip(harness: Harness, tmp_path: Path, fmt: str) -> None:
    spec_path = _stored_spec(tmp_path, fmt)
    missing = _run_file(harness, spec_path)["step"]
    assert not missing.passed and "nox -s references" in missing.report()
    written = harness.regenerate(harness.load(spec_path))
    assert written == [tmp_path / f"golden_step.{fmt}"]  # not one for the case that does not use it
    fresh = Harness(results_dir=tmp_path / "r2", rootdir=tmp_path, lock_path=tmp_path / "l")
    result = _run_file(fresh, spec_path)["step"]
    assert result.passed, result.report()
    assert "stored reference golden_step" in result.provenance["golden"]
    assert "reference_iaf.py" in result.provenance["golden"]
    if fmt == "npz":
        with np.load(written[0]) as data:
            prov = json.loads(str(data["provenance"]))
        assert prov["generated_by"] == "scipy" and prov["command"] == "nox -s references" and prov["case"] == "step"


def test_python_reference_problems_are_reported(harness: Harness, tmp_path: Path) -> None:
    spec_path = _stored_spec(tmp_path, "npz")
    text = spec_path.read_text().replace("reference: golden", "reference: scipy")
    spec_path.write_text(text)
    (tmp_path / "reference_iaf.py").write_text("def simulate(inp):\n    return {}\n")
    res = _run_file(harness, spec_path)["step"]
    assert not res.passed and "needs a module docstring" in res.report()
    (tmp_path / "reference_iaf.py").write_text('"""Broken on purpose."""\ndef simulate(inp):\n    return 1 / 0\n')
    harness2 = Harness(results_dir=tmp_path / "r2", rootdir=tmp_path, lock_path=tmp_path / "l")
    import nmlc_validation.references as refs

    refs._loaded.clear()
    res = _run_file(harness2, spec_path)["step"]
    assert not res.passed and "ZeroDivisionError: division by zero (reference_iaf.py line 3)" in res.report()


def test_nest_rejecting_a_parameter_is_a_readable_error(harness: Harness, tmp_path: Path) -> None:
    spec_path = _stored_spec(tmp_path, "npz")
    spec_path.write_text(spec_path.read_text().replace("cases:\n", "parameters: {C_m: -5.0}\ncases:\n"))
    res = _run_file(harness, spec_path)["step"]
    assert res.status == "error"
    assert "NEST rejected C_m = -5.0" in res.message


def test_reference_without_a_model_variable_records_the_rest(harness: Harness, tmp_path: Path) -> None:
    # iaf_cond_exp records g_ex, iaf_psc_exp does not: the reference still runs and records V_m, and only
    # the expectation that compares g_ex with it fails, saying what is missing
    (tmp_path / "spec.yaml").write_text("""
model:
  nest_builtin: iaf_cond_exp
  spike_ports: {exc: {receptor: 0, sign: excitatory}}
  current_ports: {I: {receptor: 0}}
references:
  nest: {nest_builtin: iaf_psc_exp, copy_same_names: false}
cases:
  step:
    resolution: 0.1
    duration: 40.0
    seed: 1
    threads: 1
    stimuli: [{dc: {port: I, amplitude: 100.0, start: 5.0}}]
    record: {variables: [V_m, g_ex], interval: 0.1}
    expect:
      - trace: {variable: V_m, reference: nest, rtol: 0.0, atol: 100.0}
      - trace: {variable: g_ex, reference: nest, rtol: 0.0, atol: 100.0}
""")
    result = _run_file(harness, tmp_path / "spec.yaml")["step"]
    v_m, g_ex = result.expectations
    assert v_m.passed and v_m.error > 0.0  # a real comparison of two different models
    assert not g_ex.passed and "has no recorded trace of 'g_ex' (has: V_m)" in g_ex.message
