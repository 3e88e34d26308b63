"""Every library spec case on both targets: the NEST module and the Python module must record the same.

Exact models and synapses are compared over the first ``EXACT_DURATION`` ms of each case (all of
most cases): traces within 1e-9 (mV, pA, nS), identical spike times, weights within 1e-9 relative.
Numerically integrated models run the same adaptive Dormand-Prince on both targets; they are compared
over the first ``NUMERIC_DURATION`` ms of each case, traces within ``NUMERIC_TOLERANCE_UNITS`` (100) solver
tolerances (atol + rtol |y|) and identical spikes.
``python -m nmlc_validation.python_target`` prints the same comparison as a table (whole cases by default).
"""
from __future__ import annotations

import pytest
from nmlc_validation.errors import BuildError
from nmlc_validation.harness import Harness, discover
from nmlc_validation.python_target import cross_target_case

from .conftest import LIB, ROOT

NUMERIC_DURATION = 300.0  # ms
EXACT_DURATION = 5000.0  # ms: the long statistical cases (200 s) are compared over their first 5 s


def _specs():
    h = Harness(rootdir=ROOT)
    out = []
    for path in discover([LIB]):
        spec = h.load(path)
        if spec.model is None or spec.model.nestml is None or spec.issues:
            continue
        out.extend(pytest.param(path, case, id=f"{spec.model_label}::{case}") for case in spec.case_names)
    return out


@pytest.fixture(scope="module")
def harnesses():
    nest_h = Harness(rootdir=ROOT, target="nest")
    py_h = Harness(rootdir=ROOT, target="python")
    specs = [nest_h.load(p) for p in discover([LIB])]
    specs = [s for s in specs if s.model is not None and s.model.nestml is not None and not s.issues]
    nest_h.prebuild(specs)  # the same sources as the library spec run: one shared, cached NEST build
    py_h.prebuild(specs)
    return nest_h, py_h


@pytest.mark.parametrize("path, case_name", _specs())
def test_targets_agree(harnesses, path, case_name):
    nest_h, py_h = harnesses
    spec = nest_h.load(path)
    try:
        py_h.subject(spec)
    except BuildError as exc:  # a model the Python target cannot build: the build error says why
        if "E0602" in str(exc):
            pytest.skip(f"not supported by the Python target: {str(exc).splitlines()[0]}")
        raise
    row = cross_target_case(nest_h, py_h, spec, case_name, EXACT_DURATION, NUMERIC_DURATION)
    if not row.comparable:
        pytest.skip(f"the model draws random numbers, which differ between the targets: {row.message}")
    assert row.passed, row.message
    if row.solver == "exact":
        assert row.max_trace_diff <= 1e-9 and row.max_spike_dt == 0.0
