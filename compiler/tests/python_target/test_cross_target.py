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


# ------------------------------------------------------------- features no library model exercises
STIFF_LIF = """model stiff_lif:
    parameters:
        C_m pF = 250 pF
        tau_m ms = 10 ms
        tau_w ms = 0.05 ms   # the fast adaptation current makes the system stiff
        a nS = 2 nS
        E_L mV = -70 mV
        V_th mV = -50 mV
        V_reset mV = -65 mV
        I_e pA = 600 pA
    state:
        V_m mV = -70 mV   # nmlc: solver = implicit
        w pA = 0 pA
    equations:
        V_m' = -(V_m - E_L) / tau_m + (I_e - w + 2 pA * exp((V_m - V_th) / 2 mV)) / C_m
        w' = (a * (V_m - E_L) - w) / tau_w
    output:
        spike
    update:
        integrate_odes()
    onCondition(V_m >= V_th):
        V_m = V_reset
        emit_spike()
"""

SCHEDULE_LIF = """model schedule_lif:
    parameters:
        n_steps integer = 3 [[n_steps >= 1]]
        step_times[n_steps] ms = 10 ms
        step_amps[n_steps] pA = 0 pA
        C_m pF = 250 pF
        tau_m ms = 10 ms
        E_L mV = -70 mV
        V_th mV = -55 mV
    state:
        V_m mV = -70 mV
        I_sched pA = 0 pA
        k integer = 0
        entered[n_steps] ms = -1 ms   # when each entry of the schedule took effect
    equations:
        V_m' = -(V_m - E_L) / tau_m + I_sched / C_m
    output:
        spike
    update:
        while k < n_steps and step_times[k] <= t:
            I_sched = step_amps[k]
            entered[k] = t
            k += 1
        integrate_odes()
    onCondition(V_m >= V_th):
        V_m = E_L
        emit_spike()
"""

CASES = [("stiff_lif", {"I_e": 900.0, "integrator_atol": 1e-8, "integrator_rtol": 1e-8}, "numeric"),
         ("schedule_lif", {"n_steps": 3, "step_times": [20.0, 150.0, 300.0], "step_amps": [500.0, 1200.0, 0.0]},
          "exact")]


def test_implicit_solver_and_vectors_agree_across_targets(tmp_path_factory):
    """The Rosenbrock solver and vector variables: the NEST module and the Python module record the same."""
    import nest
    import nmlc
    import numpy as np
    from nmlc.pysim import Network
    from nmlc_validation.python_target import EXACT_ATOL, NUMERIC_TOLERANCE_UNITS

    folder = tmp_path_factory.mktemp("cross_features")
    (folder / "stiff_lif.nestml").write_text(STIFF_LIF)
    (folder / "schedule_lif.nestml").write_text(SCHEDULE_LIF)
    files = [folder / "stiff_lif.nestml", folder / "schedule_lif.nestml"]
    nest_mod = nmlc.build(files)  # the shared cache: compiled once per compiler version
    py_mod = nmlc.build(files, folder / "py", target="python")
    assert py_mod.interfaces["stiff_lif"].solver["V_m"] == "implicit"
    duration = 400.0
    nest.verbosity = nest.VerbosityLevel.ERROR
    for name, params, kind in CASES:
        nest.ResetKernel()
        nest.resolution = 0.1
        nest_mod.install()
        nrn = nest.Create(nest_mod.models[name], 1, params)
        mm = nest.Create("multimeter", {"record_from": ["V_m"], "interval": 0.1})
        sr = nest.Create("spike_recorder")
        nest.Connect(mm, nrn)
        nest.Connect(nrn, sr)
        nest.Simulate(duration)
        v_nest = np.asarray(mm.get("events")["V_m"], float)
        s_nest = np.sort(np.asarray(sr.get("events")["times"], float))

        net = Network(0.1)
        pop = net.create(py_mod[name], 1, params)
        pm = net.multimeter(pop, ["V_m"], 0.1)
        rec = net.spike_recorder(pop)
        net.simulate(duration)
        v_py = pm.events["V_m"][:, 0]
        s_py = rec.events["times"]

        n = min(v_nest.size, v_py.size)
        assert n > 3000 and s_nest.size > 5
        assert np.array_equal(s_nest, s_py), f"{name}: spike times differ"
        diff = np.abs(v_nest[:n] - v_py[:n])
        if kind == "exact":
            assert diff.max() <= EXACT_ATOL
        else:
            bound = NUMERIC_TOLERANCE_UNITS * (params["integrator_atol"] + params["integrator_rtol"] * np.abs(v_nest[:n]))
            assert np.all(diff <= bound), f"{name}: max difference {diff.max():.3g}"
