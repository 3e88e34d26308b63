"""Run the hand-written hw_iaf_psc_exp module in NEST and report, as JSON, how it compares.

Usage: python nest_checks.py <module.so> <model name>

Runs in its own process (the toolchain tests start it), because a NEST module
cannot be unloaded and NEST prints to stdout on import; everything a test asserts
on is printed as one JSON object on the last line of stdout.
"""

from __future__ import annotations

import json
import sys

import numpy as np

SIM_MS = 1000.0
RESOLUTION_MS = 0.1

# Non-default values everywhere, so that a parameter the model ignores shows up.
PARAMS = {
    "E_L": -68.0,
    "C_m": 220.0,
    "tau_m": 12.5,
    "t_ref": 2.5,
    "V_th": -54.0,
    "V_reset": -71.0,
    "tau_syn_ex": 1.7,
    "tau_syn_in": 3.1,
    "I_e": 95.0,
    "V_m": -66.0,
}
SHARED_PARAMS = ("E_L", "C_m", "tau_m", "t_ref", "V_th", "V_reset", "tau_syn_ex", "tau_syn_in", "I_e", "V_m")


def error_text(action) -> str | None:
    """Run ``action``; return the exception's class and message, or None if it did not raise."""
    try:
        action()
    except Exception as err:  # noqa: BLE001 - we report whatever NEST raised
        return f"{type(err).__name__}: {err}"
    return None


def compare_pair(nest, so_path: str, model: str) -> dict:
    """Drive NEST's iaf_psc_exp and ``model`` with identical input; return traces' differences."""
    nest.ResetKernel()
    nest.resolution = RESOLUTION_MS
    nest.rng_seed = 20240611
    nest.Install(so_path)

    ref = nest.Create("iaf_psc_exp", params=PARAMS)
    new = nest.Create(model, params=PARAMS)
    # A second pair receives current on receptor 1 (filtered through the excitatory synapse).
    ref_f = nest.Create("iaf_psc_exp", params=PARAMS)
    new_f = nest.Create(model, params=PARAMS)
    pairs = {"main": (ref, new), "filtered": (ref_f, new_f)}

    dc = nest.Create("dc_generator", params={"amplitude": 160.0, "start": 50.0, "stop": 700.0})
    steps = nest.Create(
        "step_current_generator",
        params={
            "amplitude_times": [100.0, 250.0, 400.3, 800.0],
            "amplitude_values": [140.0, -90.0, 260.0, 0.0],
        },
    )
    sg_ex = nest.Create("spike_generator", params={"spike_times": [5.0, 20.0, 20.0, 55.5, 300.1, 612.4]})
    sg_in = nest.Create("spike_generator", params={"spike_times": [30.0, 31.2, 450.0, 450.0, 451.0, 905.5]})
    poisson = nest.Create("poisson_generator", params={"rate": 900.0})
    parrots = nest.Create("parrot_neuron", 2)
    nest.Connect(poisson, parrots, "all_to_all")
    parrot_recorder = nest.Create("spike_recorder")
    nest.Connect(parrots, parrot_recorder)

    for reference, candidate in pairs.values():
        for target in (reference, candidate):
            nest.Connect(dc, target)
            nest.Connect(sg_ex, target, syn_spec={"weight": 420.0, "delay": 1.0})
            nest.Connect(sg_in, target, syn_spec={"weight": -380.0, "delay": 2.3})
            nest.Connect(parrots[0], target, syn_spec={"weight": 55.0, "delay": 1.5})
            nest.Connect(parrots[1], target, syn_spec={"weight": -48.0, "delay": 0.8})
    for target in (ref, new):
        nest.Connect(steps, target)
    for target in (ref_f, new_f):
        nest.Connect(steps, target, syn_spec={"receptor_type": 1})

    recorded = ("V_m", "I_syn_ex", "I_syn_in")
    meters, spikes = {}, {}
    for name, (reference, candidate) in pairs.items():
        for role, node in (("ref", reference), ("new", candidate)):
            mm = nest.Create("multimeter", params={"record_from": list(recorded), "interval": RESOLUTION_MS})
            sr = nest.Create("spike_recorder")
            nest.Connect(mm, node)
            nest.Connect(node, sr)
            meters[name, role] = mm
            spikes[name, role] = sr

    # Two calls, so that state carried across Simulate() calls is compared too.
    nest.Simulate(400.0)
    nest.Simulate(SIM_MS - 400.0)

    result = {}
    for name in pairs:
        ev_ref, ev_new = meters[name, "ref"].events, meters[name, "new"].events
        entry = {
            "n_samples": len(ev_new["times"]),
            "times_equal": bool(np.array_equal(ev_ref["times"], ev_new["times"])),
            "spikes_ref": [float(t) for t in spikes[name, "ref"].events["times"]],
            "spikes_new": [float(t) for t in spikes[name, "new"].events["times"]],
            "V_m_range": [float(np.min(ev_ref["V_m"])), float(np.max(ev_ref["V_m"]))],
        }
        for var in recorded:
            if len(ev_ref[var]) == len(ev_new[var]):
                entry[f"max_abs_diff_{var}"] = float(np.max(np.abs(ev_ref[var] - ev_new[var])))
            else:
                entry[f"max_abs_diff_{var}"] = None
        result[name] = entry
    result["parrot_spikes"] = int(parrot_recorder.n_events)
    return result


def check_status(nest, so_path: str, model: str) -> dict:
    """Status dictionaries, validation messages and receptor checks."""
    nest.ResetKernel()
    nest.Install(so_path)
    out: dict = {"second_install": error_text(lambda: nest.Install(so_path))}
    defaults_new = nest.GetDefaults(model)
    defaults_ref = nest.GetDefaults("iaf_psc_exp")
    out["default_mismatches"] = [p for p in SHARED_PARAMS if defaults_new[p] != defaults_ref[p]]
    out["recordables"] = sorted(defaults_new["recordables"])
    out["receptor_types"] = dict(defaults_new["receptor_types"])

    node = nest.Create(model)
    out["error_C_m"] = error_text(lambda: node.set({"C_m": -1.0}))
    out["error_tau"] = error_text(lambda: node.set({"tau_syn_in": 0.0}))
    out["error_V_reset"] = error_text(lambda: node.set({"V_reset": -50.0, "V_th": -55.0}))
    out["error_t_ref"] = error_text(lambda: node.set({"t_ref": -0.5}))
    # A rejected update must leave every parameter as it was.
    error_text(lambda: node.set({"C_m": 100.0, "tau_m": -1.0}))
    out["C_m_after_rejected_set"] = node.get("C_m")
    node.set({"C_m": 300, "V_m": -60})  # integers are accepted for double parameters
    out["C_m_after_int_set"] = node.get("C_m")

    sg = nest.Create("spike_generator")
    out["error_spike_receptor_1"] = error_text(lambda: nest.Connect(sg, node, syn_spec={"receptor_type": 1}))
    dc = nest.Create("dc_generator")
    out["error_current_receptor_2"] = error_text(
        lambda: nest.Connect(dc, node, syn_spec={"receptor_type": 2})
    )
    out["current_receptor_1_ok"] = (
        error_text(lambda: nest.Connect(dc, node, syn_spec={"receptor_type": 1})) is None
    )

    mm = nest.Create("multimeter", params={"record_from": ["nonexistent"]})
    out["error_unknown_recordable"] = error_text(lambda: nest.Connect(mm, node))

    many = nest.Create(model, 5, params={"V_m": nest.random.uniform(-70.0, -60.0)})
    out["random_V_m_distinct"] = len(set(many.get("V_m"))) == 5
    return out


def check_threads(nest, so_path: str, model: str) -> dict:
    """Two threads: the module is re-initialised and each thread's nodes match NEST's model."""
    nest.ResetKernel()
    nest.Install(so_path)
    nest.local_num_threads = 2  # re-registers the module's models
    nest.rng_seed = 7
    params = dict(PARAMS, I_e=420.0)
    ref = nest.Create("iaf_psc_exp", 4, params=params)
    new = nest.Create(model, 4, params=params)
    noise = nest.Create("poisson_generator", params={"rate": 2000.0})
    parrots = nest.Create("parrot_neuron", 4)
    nest.Connect(noise, parrots, "all_to_all")
    nest.Connect(parrots, ref, "one_to_one", syn_spec={"weight": 30.0})
    nest.Connect(parrots, new, "one_to_one", syn_spec={"weight": 30.0})
    sr_ref, sr_new = nest.Create("spike_recorder"), nest.Create("spike_recorder")
    nest.Connect(ref, sr_ref)
    nest.Connect(new, sr_new)
    nest.Simulate(200.0)
    offset = new[0].global_id - ref[0].global_id

    def spike_set(recorder, shift):
        ev = recorder.events
        return sorted((int(s) - shift, round(float(t), 6)) for s, t in zip(ev["senders"], ev["times"]))

    a, b = spike_set(sr_ref, 0), spike_set(sr_new, offset)
    return {"threads": nest.local_num_threads, "n_spikes": len(a), "spikes_equal": a == b}


def main() -> None:
    so_path, model = sys.argv[1], sys.argv[2]
    import nest

    nest.verbosity = nest.VerbosityLevel.ERROR
    report = {
        "compare": compare_pair(nest, so_path, model),
        "status": check_status(nest, so_path, model),
        "threads": check_threads(nest, so_path, model),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
