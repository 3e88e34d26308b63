"""Generated neurons in NEST: the units of a module (neuron cores without NEST headers, grouped NEST
units) and nmlc's adapter node (status checks and rollback, receptors, routing, recording, copies)."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from nmlc.build import build

ROOT = Path(__file__).resolve().parents[3]
ADAPT = ROOT / "library" / "neurons" / "iaf_psc_exp_adapt_curr" / "iaf_psc_exp_adapt_curr.nestml"
MULTI = ROOT / "library" / "neurons" / "iaf_psc_exp_multisynapse" / "iaf_psc_exp_multisynapse.nestml"
STDP = ROOT / "library" / "synapses" / "stdp" / "stdp_synapse.nestml"


@pytest.fixture(scope="module")
def neurons():
    return build([ADAPT, MULTI])


def _kernel(module):
    import nest

    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    module.install()
    return nest


def _includes(text: str) -> list[str]:
    return re.findall(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]', text, re.MULTILINE)


def test_neuron_units_compile_without_nest_headers():
    from nmlc.targets.nest.support import plan_units, runtime_support_dir
    from nmlc.targets.nest.toolchain import find_toolchain

    module = build([ADAPT, STDP])
    folder = module.path.parent
    sources = {p.name: p.read_text() for p in folder.glob("*.cpp")}
    neuron, synapse = sources["iaf_psc_exp_adapt_curr.cpp"], sources["stdp_synapse.cpp"]
    registration = sources[f"{module.name}.cpp"]
    assert _includes(neuron) == ["nmlc_core.h"]
    assert _includes(registration) == ["nmlc_core.h"]
    assert _includes(synapse)[0] == "nmlc_nest_pch.h"
    # without NEST's (and Boost's) include folders on the path, only a NEST-free unit compiles
    toolchain = find_toolchain()
    runtime = runtime_support_dir(toolchain)
    for name in ("iaf_psc_exp_adapt_curr.cpp", f"{module.name}.cpp"):
        proc = subprocess.run([*toolchain.cxx_argv(), *toolchain.cxxflags, "-fsyntax-only", "-I", str(runtime),
                               str(folder / name)], capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr[-3000:]
    proc = subprocess.run([*toolchain.cxx_argv(), *toolchain.cxxflags, "-fsyntax-only", "-I", str(runtime),
                           str(folder / "stdp_synapse.cpp")], capture_output=True, text=True, check=False)
    assert proc.returncode != 0
    # NEST units are compiled in as few groups as there are jobs; neuron cores get -O3
    groups, flags = plan_units(sources, 2)
    assert ["stdp_synapse.cpp"] in groups
    assert flags[groups.index(["stdp_synapse.cpp"])] == []
    core = next(i for i, g in enumerate(groups) if "iaf_psc_exp_adapt_curr.cpp" in g)
    assert flags[core] == ["-O3"]


def test_bad_status_is_rejected_and_nothing_changes(neurons):
    nest = _kernel(neurons)
    model = neurons.models["iaf_psc_exp_adapt_curr"]
    n = nest.Create(model, 3)
    tau, v = n[0].get("tau_adapt"), n[0].get("V_m")
    with pytest.raises(Exception, match="tau_adapt"):
        n[0].set({"V_m": v + 5.0, "tau_adapt": -1.0})
    assert n[0].get("tau_adapt") == tau
    assert n[0].get("V_m") == v  # the state is kept back with the parameters
    n.set(tau_adapt=nest.random.uniform(50.0, 150.0))  # a NEST Parameter: one draw per node
    values = n.get("tau_adapt")
    assert len(set(values)) == 3 and all(50.0 <= x <= 150.0 for x in values)


def test_receptors_recordables_and_routing(neurons):
    nest = _kernel(neurons)
    model = neurons.models["iaf_psc_exp_multisynapse"]
    n = nest.Create(model)
    assert n.get("receptor_types") == {"SPIKES_1": 1, "SPIKES_2": 2, "SPIKES_3": 3}
    recordables = n.get("recordables")
    assert recordables == sorted(neurons.interfaces["iaf_psc_exp_multisynapse"].recordables)
    sg = nest.Create("spike_generator", params={"spike_times": [1.0]})
    for bad in (0, 4):
        with pytest.raises(Exception, match="[Rr]eceptor"):
            nest.Connect(sg, n, syn_spec={"receptor_type": bad})
    nest.Connect(sg, n, syn_spec={"receptor_type": 2, "weight": 10.0, "delay": 1.0})
    mm = nest.Create("multimeter", params={"record_from": ["I_syn", "I_syn_1", "I_syn_2"], "interval": 0.1})
    nest.Connect(mm, n)
    nest.Simulate(5.0)  # the multimeter holds samples up to the last full min-delay slice
    ev = mm.events
    assert np.all(ev["I_syn_1"] == 0.0)
    received = ev["I_syn_2"][ev["I_syn_2"] > 0.0]
    assert len(received) > 5 and received[0] == pytest.approx(10.0, rel=1e-12)  # the spike's weight
    np.testing.assert_allclose(received[1:] / received[:-1], np.exp(-0.1 / 5.0), rtol=1e-12)  # tau_syn_2 = 5 ms
    np.testing.assert_array_equal(ev["I_syn"], ev["I_syn_2"])


def test_copied_models_and_defaults_keep_their_values(neurons):
    nest = _kernel(neurons)
    model = neurons.models["iaf_psc_exp_adapt_curr"]
    nest.CopyModel(model, "adapt_copy", {"tau_adapt": 77.0})
    assert nest.GetDefaults("adapt_copy")["tau_adapt"] == 77.0
    assert nest.Create("adapt_copy").get("tau_adapt") == 77.0
    assert nest.Create(model).get("tau_adapt") == nest.GetDefaults(model)["tau_adapt"] != 77.0


def test_current_source_connected_between_runs(neurons):
    # A node reads its current rings only once a current source is connected to it: connecting one
    # after a first Simulate must give the trace of a node connected from the start.
    model = neurons.models["iaf_psc_exp_adapt_curr"]
    traces = []
    for connect_late in (False, True):
        nest = _kernel(neurons)
        n = nest.Create(model)
        scg = nest.Create("step_current_generator", params={"amplitude_times": [20.0, 35.0],
                                                            "amplitude_values": [300.0, 0.0]})
        mm = nest.Create("multimeter", params={"record_from": ["V_m"], "interval": 0.1})
        nest.Connect(mm, n)
        if not connect_late:
            nest.Connect(scg, n)
        nest.Simulate(10.0)
        if connect_late:
            nest.Connect(scg, n)
        nest.Simulate(40.0)
        traces.append(mm.events["V_m"])
    np.testing.assert_array_equal(traces[0], traces[1])
    rest = traces[0][0]
    assert traces[0][150] == rest and traces[0][300] > rest + 5.0  # flat before 20 ms, driven after
