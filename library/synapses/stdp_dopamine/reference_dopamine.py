"""Dopamine-modulated pair STDP evaluated event by event from spike times (Izhikevich 2007; Potjans et al. 2010).

The eligibility trace c changes at spikes: a postsynaptic spike (reaching the synapse one dendritic delay
later) adds A_plus times the presynaptic trace (presynaptic spikes strictly before it, time constant
tau_plus), a presynaptic spike subtracts A_minus times the postsynaptic trace just before
t_pre - delay (time constant tau_minus). Each neuromodulator spike raises the dopamine concentration n
by 1/tau_n. Between events c and n decay exponentially and the weight follows dw/dt = c (n - b), whose
closed form over an interval of length T is

    w += c n (1 - exp(-T/tau_s)) tau_s - b c tau_c (1 - exp(-T/tau_c)),   1/tau_s = 1/tau_c + 1/tau_n,

with the weight clipped to [Wmin, Wmax] at every event. At equal times the order is neuromodulator,
postsynaptic, presynaptic. The weight is reported after every presynaptic spike.

Parameters are read under the nmlc model's names (tau_tr_pre, tau_tr_post) or NEST's (tau_plus for the
synapse, tau_minus of the postsynaptic neuron). NEST also clips at each delivery of its volume
transmitter, so this reference matches NEST only while the weight stays inside its bounds.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

_MOD, _POST, _PRE = 0, 1, 2  # event order at equal times


def _param(p: dict[str, Any], *names: str) -> float:
    for name in names:
        if name in p:
            return float(p[name])
    raise KeyError(f"none of the parameters {', '.join(names)} is given")


def simulate(inp: dict[str, Any]) -> dict[str, Any]:
    """Weights after each presynaptic spike for the recorded spikes of one case (see the module docstring)."""
    syn = inp["synapse_parameters"]
    tau_plus = _param(syn, "tau_tr_pre", "tau_plus")
    tau_minus = _param(syn, "tau_tr_post") if "tau_tr_post" in syn else _param(inp["parameters"], "tau_minus")
    a_plus, a_minus = _param(syn, "A_plus"), _param(syn, "A_minus")
    tau_c, tau_n, b = _param(syn, "tau_c"), _param(syn, "tau_n"), _param(syn, "b")
    w_min, w_max = _param(syn, "Wmin"), _param(syn, "Wmax")
    tau_s = 1.0 / (1.0 / tau_c + 1.0 / tau_n)
    delay = float(inp["delay"])
    pre = np.asarray(inp["pre_spikes"], float)
    post = np.asarray(inp["post_spikes"], float)

    events = sorted([(t, _MOD) for t in np.asarray(inp.get("mod_spikes", []), float)]
                    + [(t + delay, _POST) for t in post] + [(t, _PRE) for t in pre])
    w = float(syn["weight"])
    c, n = float(syn.get("c", 0.0)), float(syn.get("n", 0.0))
    t_last = 0.0
    times, weights = [], []
    for t, kind in events:
        T = t - t_last
        if T > 0:
            w += c * n * tau_s * -math.expm1(-T / tau_s) - b * c * tau_c * -math.expm1(-T / tau_c)
            w = min(max(w, w_min), w_max)
            c *= math.exp(-T / tau_c)
            n *= math.exp(-T / tau_n)
            t_last = t
        if kind == _MOD:
            n += 1.0 / tau_n
        elif kind == _POST:
            earlier = pre[pre < t]
            c += a_plus * float(np.sum(np.exp(-(t - earlier) / tau_plus)))
        else:
            s = t - delay
            earlier = post[post < s]
            c -= a_minus * float(np.sum(np.exp(-(s - earlier) / tau_minus)))
            times.append(t)
            weights.append(w)
    return {"weight_t": np.asarray(times), "weight": np.asarray(weights)}
