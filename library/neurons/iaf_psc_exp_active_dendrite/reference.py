"""Exact grid simulation of iaf_psc_exp_active_dendrite with scipy's matrix exponential.

The linear state (V_m, V_d, I_syn_ex, I_syn_in, I_syn_d, dI_dAP, I_dAP, plus a constant 1 that carries
the drive) is advanced over each step with ``scipy.linalg.expm`` of the system matrix, built here from
the model's equations independently of nmlc. Event handling follows the model's documented semantics
and NEST's timing: a current that reaches the neuron at t acts in the step starting at t; after each
step the refractory counters count down and a refractory soma is set back to V_reset; spikes arriving at
the end of the step are added (receptor 0 by sign to the somatic currents, dend_spikes to the dendritic
one); then a dAP starts if V_d >= V_th_d and the dendrite is not refractory (dI_dAP jumps by
I_dAP_peak e / tau_dAP, which makes I_dAP an alpha function peaking at I_dAP_peak after tau_dAP), and
the soma spikes if V_m >= V_th.
"""
from __future__ import annotations

import numpy as np
from scipy.linalg import expm

_VARS = ("V_m", "V_d", "I_syn_ex", "I_syn_in", "I_syn_d", "dI_dAP", "I_dAP")


def _matrix(p: dict, drive_soma: float, drive_dend: float) -> np.ndarray:
    """Generator of z' = M z with z = (V_m, V_d, I_ex, I_in, I_d, dI_dAP, I_dAP, 1)."""
    m = np.zeros((8, 8))
    cm, cd, gc = p["C_m"], p["C_d"], p["g_c"]
    m[0, 0] = -1.0 / p["tau_m"] - gc / cm
    m[0, 1] = gc / cm
    m[0, 2] = m[0, 3] = 1.0 / cm
    m[0, 7] = p["E_L"] / p["tau_m"] + (p["I_e"] + drive_soma) / cm
    m[1, 1] = -1.0 / p["tau_d"] - gc / cd
    m[1, 0] = gc / cd
    m[1, 4] = m[1, 6] = 1.0 / cd
    m[1, 7] = p["E_L"] / p["tau_d"] + drive_dend / cd
    m[2, 2] = -1.0 / p["tau_syn_ex"]
    m[3, 3] = -1.0 / p["tau_syn_in"]
    m[4, 4] = -1.0 / p["tau_syn_d"]
    m[5, 5] = -1.0 / p["tau_dAP"]
    m[6, 5] = 1.0
    m[6, 6] = -1.0 / p["tau_dAP"]
    return m


def _current_per_step(inp: dict, port: str, n_steps: int) -> np.ndarray:
    h = inp["resolution"]
    current = np.zeros(n_steps)
    starts = np.arange(n_steps) * h
    for cur in inp["currents"]:
        if cur["port"] != port:
            continue
        for t_on, amp, t_next in zip(cur["times"], cur["amplitudes"], list(cur["times"][1:]) + [np.inf]):
            current[(starts >= t_on - h / 2) & (starts < t_next - h / 2)] += amp
    return current


def simulate(inp: dict) -> dict:
    p = inp["parameters"]
    h = inp["resolution"]
    n_steps = round(inp["duration"] / h)
    i_soma = _current_per_step(inp, "I_stim", n_steps)
    i_dend = _current_per_step(inp, "I_stim_d", n_steps)
    w_ex, w_in, w_d = np.zeros(n_steps), np.zeros(n_steps), np.zeros(n_steps)
    for sp in inp["spikes"]:
        for t, w in zip(sp["times"], sp["weights"]):
            k = round(t / h) - 1
            if not 0 <= k < n_steps:
                continue
            if sp["port"] == "dend_spikes":
                w_d[k] += w
            else:
                (w_ex if w >= 0 else w_in)[k] += w
    refractory, refractory_d = round(p["t_ref"] / h), round(p["t_ref_d"] / h)
    cache: dict[tuple[float, float], np.ndarray] = {}
    z = np.array([p.get("V_m", p["E_L"]), p.get("V_d", p["E_L"]), p.get("I_syn_ex", 0.0), p.get("I_syn_in", 0.0),
                  p.get("I_syn_d", 0.0), p.get("dI_dAP", 0.0), p.get("I_dAP", 0.0), 1.0])
    refr, refr_d = 0, 0
    trace = np.empty((n_steps, 7))
    spikes = []
    for k in range(n_steps):
        key = (i_soma[k], i_dend[k])
        if key not in cache:
            cache[key] = expm(_matrix(p, *key) * h)
        z = cache[key] @ z
        if refr_d > 0:
            refr_d -= 1
        if refr > 0:
            refr -= 1
            z[0] = p["V_reset"]
        z[2] += w_ex[k]
        z[3] += w_in[k]
        z[4] += w_d[k]
        if z[1] >= p["V_th_d"] and refr_d == 0:
            refr_d = refractory_d
            z[5] += p["I_dAP_peak"] * np.e / p["tau_dAP"]
        if z[0] >= p["V_th"]:
            spikes.append((k + 1) * h)
            refr = refractory
            z[0] = p["V_reset"]
        trace[k] = z[:7]
    t = np.asarray(inp["record"]["times"], float)
    idx = np.clip(np.round(t / h).astype(int) - 1, 0, n_steps - 1)
    out: dict = {"t": t, "spikes": np.asarray(spikes)}
    for i, name in enumerate(_VARS):
        if name in inp["record"]["variables"]:
            out[name] = trace[idx, i]
    return out
