"""End-to-end accuracy of the numeric solver choice: our V_m error is no larger than NEST's built-in's.

For each numerically integrated library model (conductance-based and Hodgkin-Huxley neurons) and each of its
spec cases that run the model, NEST's hand-written built-in (default settings) and the independent scipy
reference (``reference.py`` beside the model) under identical input, this runs the case through the validation
harness and compares the two errors against the scipy reference: max |V_m(ours) - V_m(scipy)| must not exceed
max |V_m(built-in) - V_m(scipy)|. The cases include the degenerate time constants tau_m == tau_syn
(``equal_time_constants``), where the traces must also stay finite.

The spec files check each error against a fixed tolerance; only this test compares the two errors with each
other, which the spec format cannot express.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
MODELS = ("iaf_cond_exp", "iaf_cond_alpha", "hh_psc_alpha", "aeif_cond_exp")
CASES = ("scipy_accuracy", "equal_time_constants")


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    nmlc_validation = pytest.importorskip("nmlc_validation")
    return nmlc_validation.Harness(results_dir=tmp_path_factory.mktemp("accuracy"), rootdir=REPO, plots="none")


def _recordings(result) -> dict:
    import json

    with open(result.json_path, encoding="utf-8") as fh:
        return json.load(fh)["recordings"]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("model", MODELS)
def test_our_error_is_no_larger_than_the_builtins(harness, model: str, case: str, record_property) -> None:
    spec = harness.load(REPO / "library" / "neurons" / model / "spec.yaml")
    result = harness.run_case(spec, case)
    assert result.status != "error", result.report()
    rec = _recordings(result)
    missing = {"model", "nest", "scipy"} - set(rec)
    assert not missing, f"{model}::{case} lacks recordings {missing}: the case must use both references"
    runs = {name: rec[name]["main"] for name in ("model", "nest", "scipy")}
    v = {name: np.asarray(r["values"]["V_m"], dtype=float) for name, r in runs.items()}
    for name, trace in v.items():
        assert np.all(np.isfinite(trace)), f"{model}::{case}: V_m of '{name}' is not finite"
    counts = {name: len(r["spikes"]) for name, r in runs.items()}
    # equal spike counts make the trace errors comparable (a shifted spike would dominate either error)
    assert counts["model"] == counts["nest"] == counts["scipy"], f"{model}::{case}: spike counts {counts}"
    ours = float(np.max(np.abs(v["model"] - v["scipy"])))
    builtin = float(np.max(np.abs(v["nest"] - v["scipy"])))
    record_property("V_m_error_ours_mV", ours)
    record_property("V_m_error_builtin_mV", builtin)
    record_property("spike_count", counts["model"])
    print(f"{model}::{case}: max |V_m - scipy| ours {ours:.3g} mV, built-in {builtin:.3g} mV, "
          f"{counts['model']} spikes")
    assert ours <= builtin, (f"{model}::{case}: our V_m error {ours:.3g} mV exceeds the built-in's {builtin:.3g} mV "
                             f"(both against the scipy reference)")
