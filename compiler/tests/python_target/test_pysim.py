"""The minimal simulator: timing of spikes, currents and samples, plastic synapses, connection rules."""
from __future__ import annotations

import numpy as np
import pytest
from nmlc.pysim import Network, SimulationError, WeightRecorder


def test_spikes_between_neurons_arrive_after_the_delay(built):
    """A neuron spiking at t drives another through a static connection: the PSC starts at t + d."""
    net = Network(0.1)
    src = net.create(built["iaf_psc_exp"], 1, {"I_e": 1000.0})
    dst = net.create(built["iaf_psc_exp"], 1)
    net.connect(src, dst, weight=100.0, delay=2.0, port="exc_spikes")
    rec = net.spike_recorder(src)
    mm = net.multimeter(dst, ["I_syn_ex"], 0.1)
    net.simulate(50.0)
    t_spike = rec.events["times"][0]
    t, i_syn = mm.events["times"], mm.events["I_syn_ex"][:, 0]
    first = t[np.nonzero(i_syn)[0][0]]
    assert first == pytest.approx(t_spike + 2.0, abs=1e-9)
    assert i_syn[np.nonzero(i_syn)[0][0]] == 100.0


def test_all_to_all_and_sign_routing(built):
    net = Network(0.1)
    gen_e = net.spike_generator([1.0], [50.0])
    gen_i = net.spike_generator([1.0], [-30.0])
    pop = net.create(built["iaf_psc_exp"], 3)
    net.connect(gen_e, pop, rule="all_to_all", delay=1.0)  # receptor 0: routed by sign
    net.connect(gen_i, pop, rule="all_to_all", delay=1.0)
    mm = net.multimeter(pop, ["I_syn_ex", "I_syn_in"], 0.1)
    net.simulate(3.0)
    ev = mm.events
    k = np.nonzero(np.isclose(ev["times"], 2.0))[0][0]
    assert ev["I_syn_ex"][k].tolist() == [50.0] * 3 and ev["I_syn_in"][k].tolist() == [-30.0] * 3


def test_multimeter_holds_back_the_last_slice_like_nest(built):
    net = Network(0.1)
    pop = net.create(built["iaf_psc_exp"], 1)
    net.connect(net.spike_generator([1.0]), pop, delay=1.0)  # min_delay = 1 ms = 10 steps
    mm = net.multimeter(pop, ["V_m"], 0.1)
    net.simulate(5.0)
    assert mm.events["times"][-1] == pytest.approx(4.0)
    net.simulate(5.0)  # the held-back samples appear once the simulation continues
    assert mm.events["times"][-1] == pytest.approx(9.0) and len(mm.events["times"]) == 90


def _tsodyks_reference(times, U, tau_psc, tau_rec, tau_fac, w):
    """Tsodyks-Markram: exact decay of x, y, u between spikes, then u += U(1 - u), release u x."""
    x, y, u, last, out = 1.0, 0.0, 0.0, 0.0, []
    for t in times:
        dt = t - last
        z0 = 1.0 - x
        z = z0 * np.exp(-dt / tau_rec) + y / tau_rec * (np.exp(-dt / tau_psc) - np.exp(-dt / tau_rec)) \
            / (1.0 / tau_rec - 1.0 / tau_psc)
        x, y, u = 1.0 - z, y * np.exp(-dt / tau_psc), u * np.exp(-dt / tau_fac)
        u += U * (1.0 - u)
        released = u * x
        x -= released
        y += released
        out.append(w * released)
        last = t
    return np.array(out)


def test_tsodyks_synapse_weights_follow_the_model(built):
    net = Network(0.1)
    pre = net.create("parrot_neuron", 1)
    post = net.create(built["iaf_psc_exp"], 1)
    times = [10.0, 20.0, 25.0, 60.0, 61.0, 300.0]
    net.connect(net.spike_generator(times), pre, delay=0.1)
    wr = WeightRecorder(net.tics_per_step)
    params = {"U": 0.4, "tau_psc": 3.0, "tau_rec": 400.0, "tau_fac": 20.0, "weight": 250.0}
    proj = net.connect(pre, post, synapse=built["tsodyks_synapse"], synapse_params=params, delay=1.0,
                       port="exc_spikes", weight_recorder=wr)
    net.simulate(400.0)
    ev = wr.events
    arrive = np.array(times) + 0.1  # the parrot repeats each spike one step later
    assert np.allclose(ev["times"], arrive, atol=1e-9)
    ref = _tsodyks_reference(arrive, 0.4, 3.0, 400.0, 20.0, 250.0)
    assert np.allclose(ev["weights"], ref, rtol=1e-12, atol=1e-12)
    assert proj.get("delay")[0] == pytest.approx(1.0)


def test_stdp_synapse_sees_post_spikes_through_the_dendritic_delay(built):
    """Pre before post potentiates, post before pre depresses (additive STDP, traces exact)."""
    weights = {}
    for label, pre_t, post_t in (("causal", 50.0, 55.0), ("acausal", 55.0, 50.0)):
        net = Network(0.1)
        pre = net.create("parrot_neuron", 1)
        post = net.create(built["iaf_psc_exp"], 1)
        net.connect(net.spike_generator([pre_t, 200.0]), pre, delay=0.1)
        net.connect(net.spike_generator([post_t - 1.0]), post, weight=20000.0, delay=1.0, port="exc_spikes")
        proj = net.connect(pre, post, synapse=built["stdp_synapse"], delay=1.0, port="exc_spikes",
                           synapse_params={"weight": 10.0, "lambda": 0.1, "Wmax": 100.0})
        rec = net.spike_recorder(post)
        net.simulate(300.0)
        assert len(rec.events["times"]) >= 1
        weights[label] = proj.get("weight")[0]
    assert weights["causal"] > 10.0 > weights["acausal"]


# --------------------------------------------------------------- neuromodulation, continuous synapse inputs
@pytest.fixture(scope="module")
def modulated(py_cache):
    import nmlc

    from .conftest import LIB, ROOT

    return nmlc.build([LIB / "synapses" / "stdp_dopamine" / "stdp_dopamine_synapse.nestml",
                       LIB / "synapses" / "stdp_third_factor" / "stdp_third_factor_synapse.nestml",
                       LIB / "neurons" / "iaf_psc_exp" / "iaf_psc_exp.nestml",
                       ROOT / "compiler" / "tests" / "synapses" / "data" / "iaf_psc_exp_dend.nestml"],
                      py_cache / "modulated", target="python")


def _dopamine_net(mod, dopa_times, interval=1, b=0.0):
    net = Network(0.1)
    post = net.create(mod["iaf_psc_exp"], 1, {"I_e": 380.0})
    pre = net.create("parrot_neuron", 1)
    net.connect(net.spike_generator([20.0, 80.0, 140.0, 200.0, 260.0]), pre, delay=0.1)
    vt = net.volume_transmitter(interval)
    if dopa_times:
        relay = net.create("parrot_neuron", 1)
        net.connect(net.spike_generator(dopa_times), relay, delay=0.1)
        net.connect(relay, vt, delay=0.1)
    wr = WeightRecorder(net.tics_per_step)
    proj = net.connect(pre, post, synapse=mod["stdp_dopamine_synapse"], delay=1.0, port="exc_spikes",
                       synapse_params={"w": 50.0, "b": b, "A_plus": 1.0, "A_minus": 1.5}, weight_recorder=wr,
                       volume_transmitter=vt)
    return net, proj, wr


def test_dopamine_gates_the_weight_change(modulated):
    """Without dopamine (and baseline 0) pairings change only the eligibility trace; with it the weight moves."""
    net, proj, _ = _dopamine_net(modulated, [])
    net.simulate(300.0)
    assert proj.get("weight")[0] == 50.0 and proj.get("c")[0] != 0.0 and proj.get("n")[0] == 0.0
    net, proj, wr = _dopamine_net(modulated, [30.0, 31.0, 90.0, 150.0, 150.0])
    net.simulate(300.0)
    assert proj.get("weight")[0] != 50.0 and proj.get("n")[0] > 0.0
    assert len(wr.events["weights"]) == 5


def test_the_volume_transmitter_updates_its_synapses_at_its_interval(modulated):
    """Between presynaptic spikes only the transmitter's update advances the synapse: its last update time
    is the end of the last slice whose number is a multiple of deliver_interval."""
    for interval, expected in ((1, 300.0), (7, 299.6)):  # min_delay 1 step: slices of 0.1 ms
        net, proj, _ = _dopamine_net(modulated, [30.0], interval)
        net.simulate(300.0)
        assert proj.synapse.last_times([0])[0] == pytest.approx(expected, abs=1e-9)


def test_a_modulated_synapse_needs_a_volume_transmitter(modulated):
    net = Network(0.1)
    pre, post = net.create("parrot_neuron", 1), net.create(modulated["iaf_psc_exp"], 1)
    with pytest.raises(SimulationError, match="neuromodulatory port: give it a volume transmitter"):
        net.connect(pre, post, synapse=modulated["stdp_dopamine_synapse"], port="exc_spikes")
    with pytest.raises(SimulationError, match="takes no volume transmitter"):
        net.connect(net.create("parrot_neuron", 1), post, synapse=modulated["stdp_third_factor_synapse"],
                    port="exc_spikes", volume_transmitter=net.volume_transmitter())
    with pytest.raises(SimulationError, match="deliver_interval must be a positive integer"):
        net.volume_transmitter(0)


def test_a_synapse_reads_the_neurons_quantity_at_each_postsynaptic_spike(modulated):
    """stdp_third_factor potentiates by clip(I_dend / I_dend_ref, 0, 1) lambda Wmax tr_pre at every post
    spike: with I_dend held at a known value when the neuron fires, the weight follows by hand."""
    net = Network(0.1)
    post = net.create(modulated["iaf_psc_exp_dend"], 1, {"tau_dend": 1e9})  # I_dend stays where it is set
    post.set({"I_dend": 60.0})
    pre = net.create("parrot_neuron", 1)
    net.connect(net.spike_generator([10.0]), pre, delay=0.1)
    net.connect(net.spike_generator([19.0]), post, weight=30000.0, delay=1.0, port="spikes")  # fires at 20.x
    params = {"w": 10.0, "lambda": 0.1, "Wmax": 100.0, "I_dend_ref": 120.0, "tau_tr_pre": 20.0, "alpha": 0.0}
    proj = net.connect(pre, post, synapse=modulated["stdp_third_factor_synapse"], delay=1.0, port="spikes",
                       synapse_params=params)
    rec = net.spike_recorder(post)
    net.connect(net.spike_generator([100.0]), pre, delay=0.1)  # a second pre spike replays the post spike
    net.simulate(150.0)
    t_post = rec.events["times"]
    assert len(t_post) >= 1 and np.all(t_post < 100.0)
    # per post spike: the presynaptic trace when it arrives (delay 1 ms) and I_dend when the neuron fired
    tr_pre = np.exp(-((t_post + 1.0) - 10.1) / 20.0)
    gate = 60.0 * np.exp(-t_post / 1e9) / 120.0
    assert proj.get("weight")[0] == pytest.approx(10.0 + np.sum(gate * 0.1 * 100.0 * tr_pre), rel=1e-12)
    with pytest.raises(SimulationError, match="reads the continuous input"):
        net.connect(pre, net.create(modulated["iaf_psc_exp"], 1), synapse=modulated["stdp_third_factor_synapse"],
                    port="exc_spikes")
