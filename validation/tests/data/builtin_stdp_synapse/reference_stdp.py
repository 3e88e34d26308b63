"""Pair-based additive/multiplicative STDP (Guetig et al. 2003 form, all-to-all pairing), applied in Python to
the recorded pre- and postsynaptic spike times, independent of NEST and nmlc.

Weights change at each presynaptic spike t (as seen at the synapse, after the dendritic delay d):
facilitation from every post spike t_post in (t_last - d, t - d] by lambda*Wmax*(1-w/Wmax)^mu_plus*K_plus
(K_plus decaying with tau_plus from earlier pre spikes), then depression by
alpha*lambda*Wmax*(w/Wmax)^mu_minus*K_minus(t - d) (K_minus summing post spikes with tau_minus).
"""
from __future__ import annotations

import math

import numpy as np


def simulate(inp: dict) -> dict:
    sp, npar = inp["synapse_parameters"], inp["parameters"]
    tau_plus, tau_minus = sp["tau_plus"], npar["tau_minus"]
    lam, alpha, mu_p, mu_m, w_max = sp["lambda"], sp["alpha"], sp["mu_plus"], sp["mu_minus"], sp["Wmax"]
    d = inp["delay"]
    pre = np.asarray(inp["pre_spikes"], float)
    post = np.asarray(inp["post_spikes"], float)
    w = sp["weight"]
    k_plus, t_last = 0.0, None
    out_t, out_w = [], []
    for t in pre:
        if t_last is not None:
            for tp in post[(post > t_last - d + 1e-9) & (post <= t - d + 1e-9)]:
                dt = t_last - (tp + d)
                if tp + d > t_last:  # only post spikes after the last pre spike facilitate
                    wn = w / w_max
                    wn += lam * (1.0 - wn) ** mu_p * k_plus * math.exp(dt / tau_plus)
                    w = min(wn, 1.0) * w_max
        k_minus = sum(math.exp(-(t - d - tp) / tau_minus) for tp in post if tp < t - d - 1e-9)
        wn = w / w_max
        wn -= alpha * lam * wn ** mu_m * k_minus
        w = max(wn, 0.0) * w_max
        k_plus = (k_plus * math.exp((t_last - t) / tau_plus) if t_last is not None else 0.0) + 1.0
        t_last = t
        out_t.append(t)  # the weight recorder stamps an update with the presynaptic spike time
        out_w.append(w)
    return {"weight_t": np.asarray(out_t), "weight": np.asarray(out_w), "initial_weight": sp["weight"],
            "final_weight": w}
