"""Library synapses against NEST's built-in counterparts: the weight after every presynaptic spike.

Each case drives a parrot neuron with random presynaptic spike times and forces the postsynaptic
neuron to fire at random times (a strong input 0.1 ms before), once with the nmlc synapse and once
with NEST's built-in, and compares the weights a weight_recorder saw. Both the co-generated pair
(post traces moved into the neuron) and the plain synapse (which reads the neuron's spike history)
are checked; a second set of trains puts presynaptic spikes exactly one delay after postsynaptic
ones, where the event order matters.
"""
from __future__ import annotations

import numpy as np
import pytest
from synapse_library import PAIRED

DELAY = 1.0
T_END = 3000.0


def _trains(nest, seed: int, n_pre: int = 120, n_post: int = 120, coincident: bool = False):
    """Random presynaptic spike times and postsynaptic drive times (both on the 0.1 ms grid).

    A presynaptic spike at t leaves the parrot at t + 1 ms and meets a postsynaptic spike at t_post when
    t + 1 - DELAY == t_post. Random trains keep presynaptic spikes away from such coincidences; with
    ``coincident`` every third postsynaptic spike gets a presynaptic spike exactly there.
    """
    rng = np.random.default_rng(seed)
    pre = np.unique(np.round(rng.uniform(1.0, T_END - 50.0, n_pre), 1))
    drive = np.unique(np.round(rng.uniform(1.0, T_END - 50.0, n_post), 1))
    post = _post_times(nest, drive)
    near = np.min(np.abs(pre[:, None] + 1.0 - DELAY - post[None, :]), axis=1) < 0.35
    pre = pre[~near]
    if coincident:
        pre = np.unique(np.concatenate([pre, post[::3] - 1.0 + DELAY]))
    return np.round(pre, 1), drive


def _post_times(nest, drive) -> np.ndarray:
    """When NEST's iaf_psc_exp fires under the drive alone (the plastic input is too weak to shift it)."""
    nest.ResetKernel()
    sg = nest.Create("spike_generator", params={"spike_times": drive})
    n = nest.Create("iaf_psc_exp")
    sr = nest.Create("spike_recorder")
    nest.Connect(sg, n, syn_spec={"weight": 5000.0, "delay": 0.1})
    nest.Connect(n, sr)
    nest.Simulate(T_END)
    times = sr.events["times"]
    nest.ResetKernel()
    return times


def run(nest, neuron: str, synapse: str, neuron_params: dict, syn_params: dict, pre, post_drive,
        setup=None, n_syn: int = 1, delays=None):
    """Simulate; returns (weight times, weights, post spike times, status of the synapse model copy)."""
    sg_pre = nest.Create("spike_generator", params={"spike_times": pre})
    sg_post = nest.Create("spike_generator", params={"spike_times": post_drive})
    parrots = nest.Create("parrot_neuron", n_syn)
    post = nest.Create(neuron, params=neuron_params)
    wr = nest.Create("weight_recorder")
    extra = setup(nest) if setup else {}
    nest.CopyModel(synapse, "syn_under_test", {"weight_recorder": wr, **extra})
    nest.Connect(sg_pre, parrots)
    nest.Connect(sg_post, post, syn_spec={"weight": 5000.0, "delay": 0.1})
    for i, parrot in enumerate(parrots):
        d = DELAY if delays is None else delays[i]
        nest.Connect(parrot, post, syn_spec={"synapse_model": "syn_under_test", "delay": d, **syn_params})
    sr = nest.Create("spike_recorder")
    nest.Connect(post, sr)
    nest.Simulate(T_END)
    ev = wr.events
    order = np.lexsort((ev["senders"], ev["times"]))
    return ev["times"][order], ev["weights"][order], sr.events["times"], post


def _max_rel(a, b):
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-12)))


# model, NEST built-in, nmlc synapse parameters, NEST synapse parameters, nmlc post-trace parameters
# (moved into the neuron when co-generated), NEST neuron parameters
STDP = {"weight": 1.0, "Wmax": 2.5, "lambda": 0.01, "alpha": 1.05}
CASES = {
    "stdp_synapse": ("stdp_synapse", {**STDP, "tau_tr_pre": 15.0}, {**STDP, "tau_plus": 15.0, "mu_plus": 0.0,
                                                                      "mu_minus": 0.0},
                     {"tau_tr_post": 25.0}, {"tau_minus": 25.0}),
    "stdp_guetig_synapse": ("stdp_synapse", {**STDP, "tau_tr_pre": 15.0, "mu_plus": 0.4, "mu_minus": 0.7},
                            {**STDP, "tau_plus": 15.0, "mu_plus": 0.4, "mu_minus": 0.7},
                            {"tau_tr_post": 25.0}, {"tau_minus": 25.0}),
    # NEST's nearest-neighbour rules count t = 0 as a previous presynaptic spike: tr_pre starts at 1
    "stdp_nn_symm_synapse": ("stdp_nn_symm_synapse", {**STDP, "tau_tr_pre": 15.0, "mu_plus": 0.5, "tr_pre": 1.0},
                             {**STDP, "tau_plus": 15.0, "mu_plus": 0.5}, {"tau_tr_post": 25.0},
                             {"tau_minus": 25.0}),
    "stdp_nn_pre_centered_synapse": ("stdp_nn_pre_centered_synapse", {**STDP, "tau_tr_pre": 15.0},
                                     {**STDP, "tau_plus": 15.0}, {"tau_tr_post": 25.0}, {"tau_minus": 25.0}),
    "stdp_nn_restr_synapse": ("stdp_nn_restr_synapse", {**STDP, "tau_tr_pre": 15.0, "tr_pre": 1.0},
                              {**STDP, "tau_plus": 15.0}, {"tau_tr_post": 25.0}, {"tau_minus": 25.0}),
    "stdp_triplet_synapse": ("stdp_triplet_synapse",
                             {"weight": 1.0, "Wmax": 2.5, "tau_plus": 16.8, "tau_x": 101.0, "A2_plus": 0.01,
                              "A3_plus": 0.012, "A2_minus": 0.014, "A3_minus": 0.005},
                             {"weight": 1.0, "Wmax": 2.5, "tau_plus": 16.8, "tau_plus_triplet": 101.0,
                              "Aplus": 0.01, "Aplus_triplet": 0.012, "Aminus": 0.014, "Aminus_triplet": 0.005},
                             {"tau_minus": 33.7, "tau_y": 125.0}, {"tau_minus": 33.7, "tau_minus_triplet": 125.0}),
}


def _names(lib, synapse: str, cogen: bool):
    """(neuron model, synapse model, renaming of moved names) of the co-generated or plain variant."""
    if not cogen:
        return lib.models["iaf_psc_exp"], lib.models[synapse], {}
    info = lib.interfaces[f"{synapse}__with_iaf_psc_exp"]
    return info.cogeneration["neuron_model"], info.registered, info.cogeneration["renamed"]


def _split(params: dict, renamed: dict, cogen: bool) -> tuple[dict, dict]:
    """Post-trace parameters go to the neuron when co-generated, else they stay on the synapse."""
    if cogen:
        return {renamed.get(k, k): v for k, v in params.items()}, {}
    return {}, dict(params)


@pytest.mark.parametrize("cogen", [True, False], ids=["cogen", "plain"])
@pytest.mark.parametrize("coincident", [False, True], ids=["random", "coincident"])
@pytest.mark.parametrize("model", sorted(CASES))
def test_weights_match_nest_builtin(nest_kernel, lib, model, cogen, coincident):
    nest = nest_kernel
    builtin, ours, theirs, post_params, nest_neuron_params = CASES[model]
    pre, drive = _trains(nest, 11 + sorted(CASES).index(model), coincident=coincident)
    lib.install()
    ref_t, ref_w, ref_spikes, _ = run(nest, "iaf_psc_exp", builtin, nest_neuron_params, theirs, pre, drive)
    nest.ResetKernel()
    lib.install()
    neuron, synapse, renamed = _names(lib, model, cogen)
    nparams, sparams = _split(post_params, renamed, cogen)
    t, w, spikes, _ = run(nest, neuron, synapse, nparams, {**ours, **sparams}, pre, drive)
    assert len(pre) >= 100 and len(ref_spikes) >= 100
    np.testing.assert_array_equal(spikes, ref_spikes)
    np.testing.assert_array_equal(t, ref_t)
    err = _max_rel(w, ref_w)
    print(f"{model} ({'cogen' if cogen else 'plain'}, {'coincident' if coincident else 'random'}): "
          f"{len(w)} weights, max relative error {err:.2e}, weights {ref_w.min():.3f}..{ref_w.max():.3f}")
    if coincident and not cogen:
        # a plain synapse keeps its own post trace: a post spike exactly one delay before a pre spike
        # is already in it when the pre spike depresses (NEST's get_K_value leaves it out), so only
        # the co-generated synapse is exact at coincidences; the plain one deviates there
        assert err > 1e-6
        return
    assert err <= 1e-9
    assert np.ptp(ref_w) > 0.05 * np.mean(ref_w)  # the trains really changed the weight


def test_tsodyks_matches_nest(nest_kernel, lib):
    nest = nest_kernel
    pre, drive = _trains(nest, 5)
    lib.install()
    params = {"U": 0.4, "tau_psc": 3.0, "tau_rec": 400.0, "tau_fac": 30.0, "weight": 250.0}
    ref_t, ref_w, _, _ = run(nest, "iaf_psc_exp", "tsodyks_synapse", {}, params, pre, drive)
    nest.ResetKernel()
    lib.install()
    t, w, _, _ = run(nest, lib.models["iaf_psc_exp"], lib.models["tsodyks_synapse"], {}, params, pre, drive)
    np.testing.assert_array_equal(t, ref_t)
    err = _max_rel(w, ref_w)
    print(f"tsodyks_synapse: {len(w)} spikes, max relative error {err:.2e}")
    assert len(w) >= 100 and err <= 1e-9 and np.ptp(ref_w) > 1.0


def test_static_matches_nest(nest_kernel, lib):
    nest = nest_kernel
    pre, drive = _trains(nest, 6)
    lib.install()
    ref_t, ref_w, ref_s, _ = run(nest, "iaf_psc_exp", "static_synapse", {}, {"weight": 300.0}, pre, drive)
    nest.ResetKernel()
    lib.install()
    t, w, s, _ = run(nest, lib.models["iaf_psc_exp"], lib.models["static_synapse"], {}, {"weight": 300.0}, pre,
                     drive)
    np.testing.assert_array_equal(t, ref_t)
    np.testing.assert_array_equal(w, ref_w)
    np.testing.assert_array_equal(s, ref_s)


def _dopamine_setup(dopa_times):
    def setup(nest):
        sg = nest.Create("spike_generator", params={"spike_times": dopa_times})
        dopa = nest.Create("parrot_neuron", 2)
        vt = nest.Create("volume_transmitter")
        nest.Connect(sg, dopa)
        nest.Connect(dopa, vt)
        return {"volume_transmitter": vt}
    return setup


@pytest.mark.parametrize("cogen", [True, False], ids=["cogen", "plain"])
def test_dopamine_matches_nest(nest_kernel, lib, cogen):
    nest = nest_kernel
    pre, drive = _trains(nest, 7)
    lib.install()
    rng = np.random.default_rng(8)
    dopa = np.unique(np.round(rng.uniform(1.0, T_END - 50.0, 150), 1))
    common = {"A_plus": 0.5, "A_minus": 0.6, "tau_c": 300.0, "tau_n": 150.0, "b": 0.002, "Wmin": 10.0,
              "Wmax": 90.0}
    theirs = {**common, "tau_plus": 15.0}
    ref_t, ref_w, _, _ = run(nest, "iaf_psc_exp", "stdp_dopamine_synapse", {"tau_minus": 25.0}, {"weight": 40.0},
                             pre, drive, setup=lambda k: {**_dopamine_setup(dopa)(k), **theirs})
    nest.ResetKernel()
    lib.install()
    neuron, synapse, renamed = _names(lib, "stdp_dopamine_synapse", cogen)
    nparams, sparams = _split({"tau_tr_post": 25.0}, renamed, cogen)
    t, w, _, _ = run(nest, neuron, synapse, nparams, {"weight": 40.0, **sparams}, pre, drive,
                     setup=lambda k: {**_dopamine_setup(dopa)(k), **common, "tau_tr_pre": 15.0})
    np.testing.assert_array_equal(t, ref_t)
    err = _max_rel(w, ref_w)
    print(f"stdp_dopamine_synapse ({'cogen' if cogen else 'plain'}): {len(w)} weights, "
          f"max relative error {err:.2e}, weights {ref_w.min():.3f}..{ref_w.max():.3f}")
    assert len(w) >= 100 and err <= 1e-6 and np.ptp(ref_w) > 1.0


def test_triplet_history_kept_for_every_synapse(nest_kernel, lib):
    """Many triplet synapses with different delays and sparse, staggered presynaptic spikes read the same
    neuron's history long after many postsynaptic spikes: pruning must keep every entry until all of them
    have read it, or their o2 values (and weights) go wrong."""
    nest = nest_kernel
    rng = np.random.default_rng(21)
    n_syn = 6
    delays = [1.0, 2.5, 4.0, 1.0, 7.3, 3.2]
    pre = np.unique(np.round(rng.uniform(1.0, T_END - 50.0, 30), 1))
    drive = np.unique(np.round(rng.uniform(1.0, T_END - 50.0, 300), 1))
    _, ours, theirs, post_params, nest_neuron = CASES["stdp_triplet_synapse"]
    ref_t, ref_w, _, _ = run(nest, "iaf_psc_exp", "stdp_triplet_synapse", nest_neuron, theirs, pre, drive,
                             n_syn=n_syn, delays=delays)
    nest.ResetKernel()
    lib.install()
    neuron, synapse, renamed = _names(lib, "stdp_triplet_synapse", True)
    nparams, _ = _split(post_params, renamed, True)
    t, w, _, _ = run(nest, neuron, synapse, nparams, ours, pre, drive, n_syn=n_syn, delays=delays)
    np.testing.assert_array_equal(t, ref_t)
    err = _max_rel(w, ref_w)
    print(f"triplet, {n_syn} synapses with delays {delays}: max relative error {err:.2e}")
    assert err <= 1e-9


def test_several_synapse_types_share_one_neuron(nest_kernel, lib):
    """stdp and triplet synapses onto one co-generated neuron: each reads its own moved traces."""
    nest = nest_kernel
    info = lib.interfaces["stdp_synapse__with_iaf_psc_exp"]
    neuron = info.cogeneration["neuron_model"]
    assert len(lib.interfaces[next(k for k, v in lib.models.items() if v == neuron)].cogeneration["synapses"]) \
        == len(PAIRED)
    pre, drive = _trains(nest, 31)
    lib.install()
    sg_pre = nest.Create("spike_generator", params={"spike_times": pre})
    sg_post = nest.Create("spike_generator", params={"spike_times": drive})
    parrot = nest.Create("parrot_neuron")
    post = nest.Create(neuron)
    nest.Connect(sg_pre, parrot)
    nest.Connect(sg_post, post, syn_spec={"weight": 5000.0, "delay": 0.1})
    sr = nest.Create("spike_recorder")
    nest.Connect(post, sr)
    for s in ("stdp_synapse", "stdp_triplet_synapse", "stdp_guetig_synapse"):
        nest.Connect(parrot, post, syn_spec={"synapse_model": lib.interfaces[f"{s}__with_iaf_psc_exp"].registered,
                                             "weight": 40.0})
    nest.Simulate(T_END)
    weights = nest.GetConnections(parrot).get("weight")
    assert len(set(np.round(weights, 12))) == 3
    # every moved trace of every synapse type is updated once per postsynaptic spike, by the neuron
    assert post.get("post_trace_updates") == len(sr.events["times"]) > 50
