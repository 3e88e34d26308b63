"""Co-generation: what moves into the neuron, how often it is computed, parameters, third factors, errors."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from nmlc.build import build
from nmlc.diagnostics import NmlcError
from synapse_library import DATA, LIB, NEURON

STATIC = LIB / "static" / "static_synapse.nestml"
STDP = LIB / "stdp" / "stdp_synapse.nestml"


def test_post_trace_moves_into_neuron(lib):
    info = lib.interfaces["stdp_triplet_synapse__with_iaf_psc_exp"]
    assert info.cogeneration["moved"] == ["tr_o1", "tr_o2"]
    assert "tr_o1" not in info.state and "tr_r1" in info.state
    neuron = lib.interfaces[next(k for k, v in lib.models.items() if v == info.cogeneration["neuron_model"])]
    renamed = info.cogeneration["renamed"]
    assert renamed["tr_o2"] in neuron.state and renamed["tau_y"] in neuron.parameters
    plain = lib.interfaces["stdp_triplet_synapse"]
    assert "tr_o1" in plain.state and plain.cogeneration.get("moved") is None
    # the plain neuron and synapse stay available under their own names
    assert lib.models["iaf_psc_exp"] == "iaf_psc_exp_nestml"
    assert lib.models["stdp_synapse"] == "stdp_synapse_nestml"


def _network(nest, neuron: str, synapse: str, n_post: int, n_in: int):
    """n_post neurons, all driven by the same n_in Poisson-driven parrots through plastic synapses."""
    pool = nest.Create("parrot_neuron", n_in)
    pg = nest.Create("poisson_generator", params={"rate": 5.0})
    nest.Connect(pg, pool)
    post = nest.Create(neuron, n_post, params={"I_e": 376.0})
    nest.Connect(pool, post, "all_to_all", syn_spec={"synapse_model": synapse, "weight": 1.0})
    rec_pre, rec_post = nest.Create("spike_recorder"), nest.Create("spike_recorder")
    nest.Connect(pool, rec_pre)
    nest.Connect(post, rec_post)
    return post, rec_pre, rec_post


def test_trace_computed_once_per_neuron(nest_kernel, lib):
    """Counting updates: co-generated, each neuron updates its post trace once per spike for all its
    synapses; plain, every synapse updates its own copy for every postsynaptic spike it processes
    (those that reach it up to its last presynaptic spike)."""
    nest = nest_kernel
    info = lib.interfaces["stdp_synapse__with_iaf_psc_exp"]
    post, _, rec_post = _network(nest, info.cogeneration["neuron_model"], info.registered, 20, 50)
    nest.Simulate(500.0)
    n_spikes = len(rec_post.events["times"])
    assert n_spikes > 100
    assert sum(post.get("post_trace_updates")) == n_spikes
    assert nest.GetDefaults(info.registered)["post_trace_updates"] == 0
    nest.ResetKernel()
    lib.install()
    post, rec_pre, rec_post = _network(nest, lib.models["iaf_psc_exp"], lib.models["stdp_synapse"], 20, 50)
    nest.Simulate(500.0)
    plain_updates = nest.GetDefaults(lib.models["stdp_synapse"])["post_trace_updates"]
    pre_ev, post_ev = rec_pre.events, rec_post.events
    last_pre = {s: pre_ev["times"][pre_ev["senders"] == s].max() for s in set(pre_ev["senders"])}
    delay = 1.0
    expected = sum(int(np.sum(post_ev["times"] + delay <= t + 1e-9)) for t in last_pre.values())
    # (all_to_all: every post spike is counted once per presynaptic parrot that fired after it)
    assert plain_updates == expected > 10 * n_spikes
    print(f"post-trace updates in 500 ms, 20 neurons x 50 synapses: co-generated {n_spikes} (one per spike), "
          f"plain {plain_updates}")


def test_parameters_per_connection_and_defaults(nest_kernel, lib):
    nest = nest_kernel
    syn = lib.models["stdp_synapse"]
    assert nest.GetDefaults(syn)["Wmax"] == 100.0 and nest.GetDefaults(syn)["delay"] == 1.0
    nest.SetDefaults(syn, {"Wmax": 50.0, "lambda": 0.02})
    a = nest.Create("parrot_neuron", 2)
    b = nest.Create(lib.models["iaf_psc_exp"])
    nest.Connect(a[0], b, syn_spec={"synapse_model": syn, "w": 7.0, "alpha": 0.5, "delay": 2.0})
    nest.Connect(a[1], b, syn_spec={"synapse_model": syn, "weight": 3.0})
    c = nest.GetConnections(a, b)
    assert list(c.get("w")) == [7.0, 3.0] and list(c.get("weight")) == [7.0, 3.0]
    assert list(c.get("alpha")) == [0.5, 1.0] and list(c.get("Wmax")) == [50.0, 50.0]
    assert list(c.get("delay")) == [2.0, 1.0]
    c[1].set({"tau_tr_pre": 33.0})
    assert c[1].get("tau_tr_pre") == 33.0
    with pytest.raises(nest.NESTError, match="Wmax"):
        c[0].set({"Wmax": -1.0})


def test_wrong_connection_target_is_rejected(nest_kernel, lib):
    nest = nest_kernel
    syn = lib.interfaces["stdp_synapse__with_iaf_psc_exp"].registered
    a = nest.Create("parrot_neuron")
    plain = nest.Create(lib.models["iaf_psc_exp"])
    with pytest.raises(nest.NESTError, match="can only connect"):
        nest.Connect(a, plain, syn_spec={"synapse_model": syn})


def test_dopamine_synapse_needs_volume_transmitter(nest_kernel, lib):
    nest = nest_kernel
    a = nest.Create("parrot_neuron")
    b = nest.Create(lib.models["iaf_psc_exp"])
    with pytest.raises(nest.NESTError, match="volume transmitter"):
        nest.Connect(a, b, syn_spec={"synapse_model": lib.models["stdp_dopamine_synapse"]})


def test_third_factor_reads_dendritic_current(nest_kernel, lib):
    """stdp_third_factor_synapse against an independent Python evaluation of its rule, using the
    recorded spike times and the neuron's recorded dendritic current at each postsynaptic spike."""
    nest = nest_kernel
    info = lib.interfaces["stdp_third_factor_synapse__with_iaf_psc_exp_dend"]
    renamed = info.cogeneration["renamed"]
    rng = np.random.default_rng(4)
    pre = np.unique(np.round(rng.uniform(1, 2900, 150), 1))
    drive = np.unique(np.round(rng.uniform(1, 2900, 150), 1))
    dend = np.unique(np.round(rng.uniform(1, 2900, 100), 1))
    sg_pre = nest.Create("spike_generator", params={"spike_times": pre})
    sg_post = nest.Create("spike_generator", params={"spike_times": drive})
    sg_dend = nest.Create("spike_generator", params={"spike_times": dend})
    parrot = nest.Create("parrot_neuron")
    post = nest.Create(info.cogeneration["neuron_model"], params={renamed.get("tau_tr_post", "tau_tr_post"): 25.0})
    receptors = lib.interfaces[next(k for k, v in lib.models.items()
                                    if v == info.cogeneration["neuron_model"])].spike_ports
    wr = nest.Create("weight_recorder")
    nest.CopyModel(info.registered, "tf", {"weight_recorder": wr})
    nest.Connect(sg_pre, parrot)
    nest.Connect(sg_post, post, syn_spec={"weight": 5000.0, "delay": 0.1, "receptor_type": receptors["spikes"].receptor})
    nest.Connect(sg_dend, post, syn_spec={"weight": 150.0, "delay": 0.1,
                                          "receptor_type": receptors["dend_spikes"].receptor})
    params = {"weight": 40.0, "lambda": 0.02, "alpha": 0.3, "I_dend_ref": 120.0, "Wmax": 100.0, "tau_tr_pre": 15.0}
    nest.Connect(parrot, post, syn_spec={"synapse_model": "tf", **params, "receptor_type": receptors["spikes"].receptor})
    mm = nest.Create("multimeter", params={"record_from": ["I_dend"], "interval": 0.1})
    nest.Connect(mm, post)
    sr = nest.Create("spike_recorder")
    nest.Connect(post, sr)
    nest.Simulate(3000.0)
    post_t = sr.events["times"]
    i_dend = dict(zip(np.round(mm.events["times"], 1), mm.events["I_dend"]))
    # the parrot relays each presynaptic spike 1 ms after the generator
    w_ref = _third_factor_reference(pre + 1.0, post_t, i_dend, params, tau_post=25.0, delay=1.0)
    w = wr.events["weights"]
    err = float(np.max(np.abs(w - w_ref) / np.abs(w_ref)))
    print(f"third factor: {len(w)} weights, max relative error vs Python {err:.2e}")
    assert len(w) == len(pre) and err <= 1e-9 and np.ptp(w) > 1.0 and w.min() > 0.0


def _third_factor_reference(pre, post, i_dend: dict, p: dict, tau_post: float, delay: float) -> np.ndarray:
    """The rule evaluated event by event from spike times (post spikes reach the synapse one delay later)."""
    w, out = p["weight"], []
    events = sorted([(t + delay, 0, t) for t in post] + [(t, 1, t) for t in pre])
    for t_syn, kind, t in events:
        if kind == 0:  # postsynaptic spike: potentiation gated by I_dend at that spike
            k_pre = sum(np.exp(-(t_syn - tp) / p["tau_tr_pre"]) for tp in pre if tp < t_syn - 1e-9)
            gate = min(max(i_dend[round(t, 1)] / p["I_dend_ref"], 0.0), 1.0)
            w = min(w + gate * p["lambda"] * p["Wmax"] * k_pre, p["Wmax"])
        else:  # presynaptic spike: depression by the post trace just before t - delay
            k_post = sum(np.exp(-(t - delay - tq) / tau_post) for tq in post if tq < t - delay - 1e-9)
            w = max(w - p["alpha"] * p["lambda"] * p["Wmax"] * k_post, 0.0)
            out.append(w)
    return np.asarray(out)


def test_stdsp_with_sequence_learning_neuron(nest_kernel, lib):
    """The sequence-learning rule co-generated with the sequence-learning neuron, against the library
    spec's Python evaluation of the rule (its rate trace z now lives in the neuron)."""
    import importlib.util

    nest = nest_kernel
    info = lib.interfaces["stdsp_synapse__with_iaf_psc_exp_nonlineardendrite"]
    assert info.cogeneration["moved"] == ["z"]
    ref_path = LIB / "stdsp" / "reference_stdsp.py"
    spec = importlib.util.spec_from_file_location("reference_stdsp", ref_path)
    reference = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reference)
    rng = np.random.default_rng(9)
    pre = np.unique(np.round(rng.uniform(1, 1900, 200), 1))
    drive = np.unique(np.round(rng.uniform(1, 1900, 120), 1))
    sg_pre = nest.Create("spike_generator", params={"spike_times": pre})
    sg_post = nest.Create("spike_generator", params={"spike_times": drive})
    parrot = nest.Create("parrot_neuron")
    post = nest.Create(info.cogeneration["neuron_model"])
    wr = nest.Create("weight_recorder")
    params = {"weight": 0.0, "P": 8.0, "delay": 2.0, "lambda_plus": 0.08, "lambda_minus": 0.0015,
              "lambda_h": 0.014, "z_star": 1.0, "P_min": 0.0, "P_max": 20.0, "th_P": 10.0, "J_max": 12.0,
              "tau_plus": 20.0}
    nest.CopyModel(info.registered, "seq", {"weight_recorder": wr})
    nest.Connect(sg_pre, parrot)
    nest.Connect(sg_post, post, syn_spec={"weight": 8000.0, "delay": 0.1})
    nest.Connect(parrot, post, syn_spec={"synapse_model": "seq", **params})
    sr, sr_pre = nest.Create("spike_recorder"), nest.Create("spike_recorder")
    nest.Connect(post, sr)
    nest.Connect(parrot, sr_pre)
    nest.Simulate(2000.0)
    out = reference.simulate({"synapse_parameters": {**params, "tau_h": 440.0}, "delay": 2.0,
                              "pre_spikes": sr_pre.events["times"], "post_spikes": sr.events["times"]})
    w = wr.events["weights"]
    assert len(sr.events["times"]) > 50 and len(w) == len(out["weight"])
    np.testing.assert_allclose(w, out["weight"], rtol=1e-9, atol=1e-9)
    assert set(np.round(w, 9)) == {0.0, 12.0}  # the synapse matured (and some spikes went out silent)
    assert post.get("post_trace_updates") == len(sr.events["times"])


# ------------------------------------------------------------------------------------ errors
@pytest.mark.parametrize("pairs, message", [
    ([("iaf_psc_exp", "static_synapse")], f"{STATIC}:15:1: error[E0603]: neuron `iaf_psc_exp` and synapse "
                                          "`static_synapse` cannot be co-generated: synapse `static_synapse` has no "
                                          "postsynaptic spike port"),
    ([("iaf_psc_exp", "nope_synapse")], "pair iaf_psc_exp:nope_synapse: error[E0604]: no synapse model "
                                        "`nope_synapse` in the input files (found synapses: static_synapse)"),
    ([("static_synapse", "iaf_psc_exp")], "error[E0604]: `static_synapse` is a synapse; a pair is (neuron, synapse)"),
    ([("iaf_psc_exp", "static_synapse")] * 2, "error[E0604]: the pair is named twice"),
    (["iaf_psc_exp"], "a pair is (neuron, synapse)"),
])
def test_wrong_pairs_are_clear_errors(tmp_path: Path, pairs, message):
    with pytest.raises(NmlcError) as exc:
        build([NEURON, STATIC], tmp_path / "cache", pairs=pairs)
    assert message in str(exc.value)
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").rglob("*.so"))


def test_neuron_without_spike_output_cannot_pair(tmp_path: Path):
    silent = tmp_path / "silent.nestml"
    silent.write_text("model silent_neuron:\n    state:\n        V real = 0\n    equations:\n        V' = -V / ms\n"
                      "    input:\n        spikes <- spike\n    onReceive(spikes):\n        V += 1\n")
    with pytest.raises(NmlcError) as exc:
        build([silent, STDP], tmp_path / "cache", pairs=[("silent_neuron", "stdp_synapse")])
    assert "error[E0603]" in str(exc.value) and "has no spike output" in str(exc.value)


def test_continuous_input_needs_a_pair(tmp_path: Path):
    with pytest.raises(NmlcError) as exc:
        build([LIB / "stdp_third_factor" / "stdp_third_factor_synapse.nestml", DATA / "iaf_psc_exp_dend.nestml",
               NEURON], tmp_path / "cache", pairs=[("iaf_psc_exp", "stdp_third_factor_synapse")])
    assert "error[E0603]" in str(exc.value) and "no state variable or inline `I_dend`" in str(exc.value)


def test_unpaired_continuous_input_synapse_is_announced(tmp_path: Path):
    """Built without a pair, a synapse reading its neuron's quantities is left out with a warning, not silently."""
    source = LIB / "stdp_third_factor" / "stdp_third_factor_synapse.nestml"
    module = build([source, NEURON], tmp_path / "cache")
    assert "stdp_third_factor_synapse" not in module.interfaces and "iaf_psc_exp" in module.interfaces
    run = [sys.executable, "-m", "nmlc.cli", "build", str(source), str(NEURON), "-o", str(tmp_path / "cache")]
    r = subprocess.run(run, check=False, capture_output=True, text=True, env={**os.environ})
    assert r.returncode == 0, r.stderr
    assert "warning[W0107]: synapse `stdp_third_factor_synapse` reads `I_dend`" in r.stderr + r.stdout
    assert "--pair NEURON:stdp_third_factor_synapse" in r.stderr + r.stdout
    r = subprocess.run([*run, "--werror"], check=False, capture_output=True, text=True, env={**os.environ})
    assert r.returncode == 1 and "error[W0107]" in r.stderr and "Traceback" not in r.stderr


def test_cli_pair_option_errors(tmp_path: Path):
    run = [sys.executable, "-m", "nmlc.cli", "build", str(NEURON), str(STATIC), "-o", str(tmp_path / "c")]
    r = subprocess.run([*run, "--pair", "iaf_psc_exp"], check=False, capture_output=True, text=True, env={**os.environ})
    assert r.returncode == 1 and "NEURON:SYNAPSE" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([*run, "--pair", "iaf_psc_exp:static_synapse"], check=False, capture_output=True, text=True,
                       env={**os.environ})
    assert r.returncode == 1 and "no postsynaptic spike port" in r.stderr and "Traceback" not in r.stderr
