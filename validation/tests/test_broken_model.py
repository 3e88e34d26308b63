"""A library model with a deliberately wrong sign in one ODE fails its spec readably, with a plot.

The library's iaf_psc_exp is copied, the sign of its leak term flipped (the membrane now runs away
from E_L instead of relaxing to it), and the copy is compiled with nmlc and validated against NEST's
built-in iaf_psc_exp and the analytic charging curve, as the library spec does.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from nmlc_validation.harness import Harness

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "library" / "neurons" / "iaf_psc_exp" / "iaf_psc_exp.nestml"
LEAK = "V_m' = -(V_m - E_L) / tau_m"

SPEC = """
model: {nestml: iaf_psc_exp_wrong_sign.nestml}
references:
  nest: {nest_builtin: iaf_psc_exp}
cases:
  current_step:
    resolution: 0.1
    duration: 100.0
    seed: 1
    threads: 1
    stimuli:
      - dc: {port: I_stim, amplitude: 300.0, start: 20.0}
    record: {variables: [V_m], interval: 0.1}
    expect:
      - trace: {variable: V_m, reference: nest, rtol: 0.0, atol: 1.0e-9}
      - expression:
          name: RC charging curve
          variable: V_m
          expr: "E_L + I*tau_m/C_m*(1 - exp(-maximum(t - t_on, 0)/tau_m))"
          constants: {I: 300.0, t_on: 20.1}
          rtol: 0.0
          atol: 1.0e-9
      - spike_times: {reference: nest, atol: 0.1}
"""


@pytest.fixture()
def broken_model(tmp_path: Path) -> Path:
    text = SOURCE.read_text(encoding="utf-8")
    assert text.count(LEAK) == 1, "the library model changed: update LEAK"
    text = text.replace(LEAK, LEAK.replace("= -(", "= +(")).replace("model iaf_psc_exp:",
                                                                     "model iaf_psc_exp_wrong_sign:")
    folder = tmp_path / "iaf_psc_exp_wrong_sign"
    folder.mkdir()
    (folder / "iaf_psc_exp_wrong_sign.nestml").write_text(text, encoding="utf-8")
    (folder / "spec.yaml").write_text(SPEC, encoding="utf-8")
    return folder / "spec.yaml"


def test_wrong_sign_in_ode_fails_with_message_and_plot(broken_model: Path, tmp_path: Path) -> None:
    harness = Harness(results_dir=tmp_path / "results", rootdir=tmp_path, lock_path=tmp_path / "build.lock")
    (result,) = harness.run_spec(harness.load(broken_model))
    assert result.status == "failed", result.report()
    trace, analytic, spikes = result.expectations
    report = result.report()
    # every expectation fails, each with the measured error against its tolerance and where in time
    assert not trace.passed and not analytic.passed and not spikes.passed
    assert "FAIL expect[0].trace (vs 'nest'): max |V_m - nest| = " in report
    assert "FAIL expect[1].expression 'RC charging curve'" in report
    # before the step both sit at E_L, where the flipped leak is zero: the divergence starts with the current
    assert trace.error > 1.0 and trace.t_worst > 20.0
    assert analytic.error > 1.0 and analytic.t_worst > 20.0
    for exp in (trace, analytic):
        png = Path(exp.plot_path)
        assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"plot: {png}" in report
