"""The sequence-learning plasticity rule (Bouhadjar et al. 2022) evaluated event by event in Python from the
recorded spike times, independent of NEST and nmlc.

A postsynaptic spike at t_post reaches the synapse at t_post + d; events are processed in time order,
postsynaptic before presynaptic at equal times. At a postsynaptic spike the rate trace z (decaying with
tau_h) grows by 1, then the permanence P changes by lambda_plus * x * P_max - lambda_h * (z - z_star) * P_max,
x summing exp(-(t - t_pre)/tau_plus) over earlier presynaptic spikes; at a presynaptic spike P drops by
lambda_minus * P_max. P stays in [P_min, P_max]; the weight is J_max while P > th_P, else 0, and is recorded
after each presynaptic spike.
"""
from __future__ import annotations

import numpy as np


def simulate(inp: dict) -> dict:
    p = inp["synapse_parameters"]
    d = inp["delay"]
    pre = np.asarray(inp["pre_spikes"], float)
    post = np.asarray(inp["post_spikes"], float)
    events = sorted([(tp + d, 0) for tp in post] + [(t, 1) for t in pre])
    perm, w = p["P"], p["weight"]
    out_t, out_w = [], []
    for t, kind in events:
        if kind == 0:
            arrived = post[post + d <= t + 1e-9]
            z = float(np.sum(np.exp(-(t - arrived - d) / p["tau_h"])))
            x = float(np.sum(np.exp(-(t - pre[pre < t - 1e-9]) / p["tau_plus"])))
            perm += p["lambda_plus"] * x * p["P_max"] - p["lambda_h"] * (z - p["z_star"]) * p["P_max"]
        else:
            perm -= p["lambda_minus"] * p["P_max"]
        perm = min(max(perm, p["P_min"]), p["P_max"])
        w = p["J_max"] if perm > p["th_P"] else 0.0
        if kind == 1:
            out_t.append(t)
            out_w.append(w)
    return {"weight_t": np.asarray(out_t), "weight": np.asarray(out_w), "initial_weight": p["weight"],
            "final_weight": w}
