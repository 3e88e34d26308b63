"""Every library neuron gives bit-identical results with 1 and 2 threads for the same seed.

Ten neurons of each model, driven by fixed spike trains and a current step and coupled to each
other, are simulated with ``local_num_threads`` 1 and 2; every recordable of every neuron and
every spike time must agree exactly. Weights are scaled by each port's weight unit so that the
models are actually driven.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
MODELS = sorted(p for p in (ROOT / "library" / "neurons").glob("*/*.nestml") if p.stem == p.parent.name)

_WEIGHT_BY_UNIT = {"pA": 150.0, "nA": 0.15, "nS": 3.0, "mV": 2.0, "": 1.0}


def _simulate(mod, name: str, threads: int) -> tuple[dict, np.ndarray]:
    import nest

    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.local_num_threads = threads
    nest.rng_seed = 11
    nest.resolution = 0.1
    mod.install()
    info = mod.interfaces[name]
    nodes = nest.Create(info.registered, 10)
    rng = np.random.default_rng(5)
    for port, pinfo in info.spike_ports.items():
        w = _WEIGHT_BY_UNIT.get(pinfo.unit, 1.0) * (-1.0 if pinfo.sign == "inhibitory" else 1.0)
        for node in nodes:
            times = np.round(np.sort(rng.uniform(1.0, 200.0, 40)), 1)
            gen = nest.Create("spike_generator", params={"spike_times": np.unique(times)})
            nest.Connect(gen, node, syn_spec={"weight": w, "receptor_type": pinfo.receptor})
        if pinfo.sign != "inhibitory":  # a fixed ring (random rules would draw per thread)
            for shift in (1, 3):
                nest.Connect(nodes, nodes[shift:] + nodes[:shift], "one_to_one",
                             {"weight": w / 3, "delay": 1.5, "receptor_type": pinfo.receptor})
    for port, pinfo in info.continuous_ports.items():
        dc = nest.Create("step_current_generator", params={"amplitude_times": [20.0, 120.0],
                                                             "amplitude_values": [400.0, 0.0]})
        nest.Connect(dc, nodes, syn_spec={"receptor_type": pinfo.receptor})
    recordables = [r for r in info.recordables]
    mm = nest.Create("multimeter", params={"record_from": recordables, "interval": 0.1})
    nest.Connect(mm, nodes)
    sr = nest.Create("spike_recorder")
    try:
        nest.Connect(nodes, sr)
    except Exception as exc:  # a rate unit (no spike output) has no spikes to compare
        if "does not send output" not in str(exc):
            raise
    nest.Simulate(250.0)
    ev = mm.events
    order = np.lexsort((ev["times"], ev["senders"]))
    traces = {r: np.asarray(ev[r])[order] for r in recordables}
    spikes = np.array(sorted(zip(sr.events["senders"], sr.events["times"])))
    return traces, spikes


@pytest.mark.parametrize("path", MODELS, ids=[p.stem for p in MODELS])
def test_one_and_two_threads_agree(path: Path):
    import nmlc

    mod = nmlc.build([path])
    name = path.stem
    traces1, spikes1 = _simulate(mod, name, 1)
    traces2, spikes2 = _simulate(mod, name, 2)
    assert np.array_equal(spikes1, spikes2), f"{name}: spike trains differ between 1 and 2 threads"
    for r in traces1:
        assert np.array_equal(traces1[r], traces2[r], equal_nan=True), f"{name}: `{r}` differs between 1 and 2 threads"
