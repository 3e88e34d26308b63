"""Spike-port signs follow NESTML: an `inhibitory` port holds the magnitude -w of its (negative) weights.

Models written for NESTML subtract the inhibitory input (`I_syn_exc - I_syn_inh`); with the sign kept, their
inhibition would excite. The model below is written in that style and must match NEST's iaf_psc_exp, and a
model with one unmarked port sees every weight with its sign.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from nmlc.build import build

_NESTML_STYLE = """
model lif_exp_neuron:
    state:
        V_m mV = E_L
        refr_t ms = 0 ms
        I_syn_inh pA = 0 pA
    equations:
        kernel K_exc = exp(-t / tau_syn_exc)
        recordable inline I_syn_exc pA = convolve(K_exc, exc_spikes) * pA * s
        I_syn_inh' = -I_syn_inh / tau_syn_inh
        V_m' = -(V_m - E_L) / tau_m + (I_syn_exc - I_syn_inh + I_e + I_stim) / C_m
        refr_t' = -1e3 * ms/s
    parameters:
        C_m pF = 250 pF
        tau_m ms = 10 ms
        tau_syn_inh ms = 2 ms
        tau_syn_exc ms = 2 ms
        refr_T ms = 2 ms
        E_L mV = -70 mV
        V_reset mV = -70 mV
        V_th mV = -55 mV
        I_e pA = 0 pA
    input:
        exc_spikes <- excitatory spike
        inh_spikes <- inhibitory spike
        all_spikes <- spike
        I_stim pA <- continuous
    output:
        spike
    update:
        if refr_t > 0 ms:
            integrate_odes(I_syn_inh, refr_t)
        else:
            integrate_odes(I_syn_inh, V_m)
    onReceive(inh_spikes):
        I_syn_inh += inh_spikes * pA * s
    onCondition(refr_t <= 0 ms and V_m >= V_th):
        refr_t = refr_T
        V_m = V_reset
        emit_spike()
"""

_SIGNED = """
model signed_sum:
    state:
        total real = 0
        received integer = 0
    input:
        spikes <- spike(weight real)
    onReceive(spikes):
        total += spikes.weight
        received += 1
"""


def _drive(nest, neuron) -> None:
    exc = nest.Create("poisson_generator", params={"rate": 8000.0})
    inh = nest.Create("poisson_generator", params={"rate": 3000.0})
    parrots = nest.Create("parrot_neuron", 2)
    nest.Connect(exc, parrots[0])
    nest.Connect(inh, parrots[1])
    nest.Connect(parrots[0], neuron, syn_spec={"weight": 30.0})
    nest.Connect(parrots[1], neuron, syn_spec={"weight": -40.0})
    step = nest.Create("step_current_generator",
                       params={"amplitude_times": [100.0, 300.0], "amplitude_values": [300.0, -100.0]})
    nest.Connect(step, neuron)


def test_inhibitory_port_holds_magnitudes_as_in_nestml(tmp_path: Path):
    import nest

    source = tmp_path / "lif_exp_neuron.nestml"
    source.write_text(_NESTML_STYLE)
    module = build([source])
    traces = {}
    for model, params in ((module.models["lif_exp_neuron"], {"I_e": 200.0}), ("iaf_psc_exp", {"I_e": 200.0})):
        nest.ResetKernel()
        nest.set(rng_seed=3)
        module.install()
        neuron = nest.Create(model, params=params)
        _drive(nest, neuron)
        recorder = nest.Create("multimeter", params={"record_from": ["V_m"], "interval": 0.1})
        spikes = nest.Create("spike_recorder")
        nest.Connect(recorder, neuron)
        nest.Connect(neuron, spikes)
        nest.Simulate(600.0)
        traces[model] = (recorder.events["V_m"], spikes.events["times"])
    (v_ours, s_ours), (v_nest, s_nest) = traces.values()
    assert len(s_nest) > 5
    np.testing.assert_array_equal(s_ours, s_nest)
    assert np.max(np.abs(v_ours - v_nest)) < 1e-9


def test_unmarked_port_keeps_the_sign(tmp_path: Path):
    import nest

    source = tmp_path / "signed_sum.nestml"
    source.write_text(_SIGNED)
    module = build([source])
    nest.ResetKernel()
    module.install()
    neuron = nest.Create(module.models["signed_sum"])
    for weight, time in ((2.5, 1.0), (-4.0, 2.0)):
        generator = nest.Create("spike_generator", params={"spike_times": [time]})
        nest.Connect(generator, neuron, syn_spec={"weight": weight})
    nest.Simulate(5.0)
    assert neuron.get("received") == 2
    assert neuron.get("total") == -1.5
