"""Clamped additive STDP evaluated event by event in Python from the recorded spike times, independent of
NEST and nmlc.

A postsynaptic spike at t_post reaches the synapse at t_post + d; events are processed in time order,
postsynaptic before presynaptic at equal times. The presynaptic trace sums exp(-(t - t_pre)/tau_tr_pre) over
earlier presynaptic spikes, the postsynaptic trace exp(-(t - t_post - d)/tau_tr_post) over postsynaptic
spikes that reached the synapse at or before t. A postsynaptic spike adds min(lambda * tr_pre, dw_max),
a presynaptic spike subtracts min(alpha * lambda * tr_post, dw_max); the weight is clipped to [Wmin, Wmax]
and recorded after each presynaptic spike.
"""
from __future__ import annotations

import numpy as np


def simulate(inp: dict) -> dict:
    p = inp["synapse_parameters"]
    d = inp["delay"]
    pre = np.asarray(inp["pre_spikes"], float)
    post = np.asarray(inp["post_spikes"], float)
    events = sorted([(tp + d, 0) for tp in post] + [(t, 1) for t in pre])
    w = p["weight"]
    out_t, out_w = [], []
    for t, kind in events:
        if kind == 0:
            tr_pre = float(np.sum(np.exp(-(t - pre[pre < t - 1e-9]) / p["tau_tr_pre"])))
            w = min(max(w + min(p["lambda"] * tr_pre, p["dw_max"]), p["Wmin"]), p["Wmax"])
        else:
            arrived = post[post + d <= t + 1e-9]
            tr_post = float(np.sum(np.exp(-(t - arrived - d) / p["tau_tr_post"])))
            w = min(max(w - min(p["alpha"] * p["lambda"] * tr_post, p["dw_max"]), p["Wmin"]), p["Wmax"])
            out_t.append(t)
            out_w.append(w)
    return {"weight_t": np.asarray(out_t), "weight": np.asarray(out_w), "initial_weight": p["weight"],
            "final_weight": w}
