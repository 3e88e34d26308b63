"""Exact grid simulation of iaf_psc_exp_nonlineardendrite (Bouhadjar et al. 2022) with scipy's matrix
exponential.

The linear state (V_m, I_syn_ex, I_syn_in, dI_dend_syn, I_dend_syn, plus a constant 1 carrying the
drive) is advanced over each step with ``scipy.linalg.expm`` of the system matrix built here from the
model equations; the dAP plateau current is part of the constant drive of a step. The discrete events
follow the model description of Bouhadjar et al. (2022) on NEST's time grid: a current that reaches the
neuron at t acts in the step starting at t; a spike arriving at t is added at the end of the step ending
at t (dendritic spikes only when no plateau runs and the soma is not refractory, as a jump of
w e / tau_syn_dend in the alpha driver); a dAP starts when the dendritic alpha current reaches theta_dAP,
replacing it by the plateau for steps(tau_dAP) steps, after which the dendritic current is zero; a somatic
spike (V_m >= V_th) resets V_m, ends any plateau and holds the dendritic current at zero while the soma is
clamped for steps(t_ref) steps.
"""
from __future__ import annotations

import numpy as np
from scipy.linalg import expm

_VARS = ("V_m", "I_syn_ex", "I_syn_in", "dI_dend_syn", "I_dend_syn")


def _matrix(p: dict, drive: float, clamped: bool) -> np.ndarray:
    """Generator of z' = M z, z = (V_m, I_ex, I_in, dI_dend_syn, I_dend_syn, 1); V_m frozen when clamped."""
    m = np.zeros((6, 6))
    if not clamped:
        m[0, 0] = -1.0 / p["tau_m"]
        m[0, 1] = m[0, 2] = m[0, 4] = 1.0 / p["C_m"]
        m[0, 5] = p["E_L"] / p["tau_m"] + drive / p["C_m"]
    m[1, 1] = -1.0 / p["tau_syn_ex"]
    m[2, 2] = -1.0 / p["tau_syn_in"]
    m[3, 3] = -1.0 / p["tau_syn_dend"]
    m[4, 3] = 1.0
    m[4, 4] = -1.0 / p["tau_syn_dend"]
    return m


def _current_per_step(inp: dict, n_steps: int) -> np.ndarray:
    h = inp["resolution"]
    current = np.zeros(n_steps)
    starts = np.arange(n_steps) * h
    for cur in inp["currents"]:
        for t_on, amp, t_next in zip(cur["times"], cur["amplitudes"], list(cur["times"][1:]) + [np.inf]):
            current[(starts >= t_on - h / 2) & (starts < t_next - h / 2)] += amp
    return current


def simulate(inp: dict) -> dict:
    p = inp["parameters"]
    h = inp["resolution"]
    n_steps = round(inp["duration"] / h)
    i_stim = _current_per_step(inp, n_steps)
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
    refractory, plateau = round(p["t_ref"] / h), round(p["tau_dAP"] / h)
    cache: dict[tuple[float, bool], np.ndarray] = {}
    z = np.array([p.get("V_m", p["E_L"]), p.get("I_syn_ex", 0.0), p.get("I_syn_in", 0.0),
                  p.get("dI_dend_syn", 0.0), p.get("I_dend_syn", 0.0), 1.0])
    i_dap = p.get("I_dAP", 0.0)
    refr, dap = 0, 0
    names = _VARS + ("I_dAP", "I_dend")
    trace = np.empty((n_steps, len(names)))
    spikes = []
    for k in range(n_steps):
        clamped = refr > 0
        if clamped:
            refr -= 1
        key = (p["I_e"] + i_stim[k] + i_dap, clamped)
        if key not in cache:
            cache[key] = expm(_matrix(p, *key) * h)
        z = cache[key] @ z
        if dap > 0:
            dap -= 1
            if dap == 0:
                i_dap = 0.0
        z[1] += w_ex[k]
        z[2] += w_in[k]
        if dap == 0 and refr == 0:
            z[3] += w_d[k] * np.e / p["tau_syn_dend"]
        if z[4] >= p["theta_dAP"] and dap == 0:
            dap = plateau
            i_dap = p["I_plateau"]
            z[3] = z[4] = 0.0
        if z[0] >= p["V_th"]:
            spikes.append((k + 1) * h)
            refr = refractory
            z[0] = p["V_reset"]
            dap, i_dap = 0, 0.0
            z[3] = z[4] = 0.0
        trace[k] = [*z[:5], i_dap, z[4] + i_dap]
    t = np.asarray(inp["record"]["times"], float)
    idx = np.clip(np.round(t / h).astype(int) - 1, 0, n_steps - 1)
    out: dict = {"t": t, "spikes": np.asarray(spikes)}
    for i, name in enumerate(names):
        if name in inp["record"]["variables"]:
            out[name] = trace[idx, i]
    return out
