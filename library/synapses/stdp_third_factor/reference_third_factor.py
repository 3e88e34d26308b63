"""STDP gated by the postsynaptic dendritic current, evaluated event by event from spike times (Fremaux & Gerstner 2016).

The third factor is the postsynaptic neuron's dendritic current at each postsynaptic spike, computed here
from the dendritic input alone: every spike on the neuron's port ``dend_spikes`` (weight w, reaching the
neuron at t_k) adds w exp(-(t - t_k)/tau_dend) for t >= t_k, with tau_dend the neuron's parameter; it
does not depend on the membrane potential. A postsynaptic spike at t_post reaches the synapse one
dendritic delay later and potentiates by gate * lambda * Wmax * x_pre, with
gate = clip(I_dend(t_post) / I_dend_ref, 0, 1) and x_pre the presynaptic trace (presynaptic spikes strictly
before the arrival, time constant tau_tr_pre), capped at Wmax. A presynaptic spike at t_pre depresses by
alpha * lambda * Wmax * y_post, y_post the postsynaptic trace just before t_pre - delay (time constant
tau_tr_post), floored at 0. At equal times the postsynaptic spike comes first. The weight is reported after
every presynaptic spike.
"""
from __future__ import annotations

from typing import Any

import numpy as np

DEND_PORT = "dend_spikes"  # the neuron's spike port that drives its dendritic current


def dendritic_current(times: np.ndarray, spikes: list[dict[str, Any]], tau_dend: float) -> np.ndarray:
    """I_dend at ``times``: the sum of exponentially decaying jumps of every dendritic spike that arrived."""
    out = np.zeros(len(times))
    for s in spikes:
        if s["port"] != DEND_PORT:
            continue
        arrivals, weights = np.asarray(s["times"], float), np.asarray(s["weights"], float)
        for i, t in enumerate(times):
            # an input arriving in the step that ends at t is already in the state at t
            seen = arrivals <= t + 1e-9
            out[i] += float(np.sum(weights[seen] * np.exp(-(t - arrivals[seen]) / tau_dend)))
    return out


def simulate(inp: dict[str, Any]) -> dict[str, Any]:
    """Weights after each presynaptic spike for the recorded spikes of one case (see the module docstring)."""
    p = inp["synapse_parameters"]
    lam, alpha, w_max = float(p["lambda"]), float(p["alpha"]), float(p["Wmax"])
    tau_pre, tau_post, i_ref = float(p["tau_tr_pre"]), float(p["tau_tr_post"]), float(p["I_dend_ref"])
    delay = float(inp["delay"])
    pre = np.asarray(inp["pre_spikes"], float)
    post = np.asarray(inp["post_spikes"], float)
    gate = np.clip(dendritic_current(post, inp["spikes"], float(inp["parameters"]["tau_dend"])) / i_ref, 0.0, 1.0)

    # (time at the synapse, order at equal times, index)
    events = sorted([(t + delay, 0, k) for k, t in enumerate(post)] + [(t, 1, k) for k, t in enumerate(pre)])
    w = float(p["weight"])
    times, weights = [], []
    for t, kind, k in events:
        if kind == 0:
            x_pre = float(np.sum(np.exp(-(t - pre[pre < t]) / tau_pre)))
            w = min(w + gate[k] * lam * w_max * x_pre, w_max)
        else:
            s = t - delay
            y_post = float(np.sum(np.exp(-(s - post[post < s]) / tau_post)))
            w = max(w - alpha * lam * w_max * y_post, 0.0)
            times.append(t)
            weights.append(w)
    return {"weight_t": np.asarray(times), "weight": np.asarray(weights)}
