"""hodgkin_huxley (seed talk model, Wang-Buzsaki kinetics) integrated by scipy's DOP853 (rtol 1e-12).

An independent high-accuracy reference for library/neurons/hodgkin_huxley: the five states (V_m, m, h, n and the
synaptic current I_syn of the exponential kernel, dI_syn/dt = -I_syn / tau_syn) are integrated with
``scipy.integrate.solve_ivp`` (DOP853, rtol 1e-12, atol 1e-12, steps of at most h so that the values read from the
dense output at grid points are as accurate as the steps; in NEST units), restarting at every spike arrival and
current change; a spike of weight w arriving at grid time t adds w to I_syn at t. The rates are those of Wang &
Buzsaki (1996) with the temperature factor 5 on every gate, as documented in the model. A spike is emitted at grid
time t_k when V(t_{k-1}) < V_threshold <= V(t_k). DOP853 is used because restarting LSODA at every event costs it
accuracy (see iaf_cond_exp/reference.py).
"""
from __future__ import annotations

import math

import numpy as np
from scipy.integrate import solve_ivp

RTOL = 1e-12
ATOL = 1e-12


def _rates(V: float) -> tuple[float, float, float, float, float, float]:
    """alpha_m, beta_m, alpha_h, beta_h, alpha_n, beta_n in 1/ms at V (mV)."""
    a_m = -0.5 * (V + 35.0) / (math.exp(-0.1 * (V + 35.0)) - 1.0)
    b_m = 20.0 * math.exp(-(V + 60.0) / 18.0)
    a_h = 0.35 * math.exp(-(V + 58.0) / 20.0)
    b_h = 5.0 / (math.exp(-0.1 * (V + 28.0)) + 1.0)
    a_n = -0.05 * (V + 34.0) / (math.exp(-0.1 * (V + 34.0)) - 1.0)
    b_n = 0.625 * math.exp(-(V + 44.0) / 80.0)
    return a_m, b_m, a_h, b_h, a_n, b_n


def simulate(inp: dict) -> dict:
    p = inp["parameters"]
    h = float(inp["resolution"])
    n_steps = int(round(float(inp["duration"]) / h))

    current = np.zeros(n_steps + 1)
    for cur in inp["currents"]:
        level = np.zeros(n_steps + 1)
        for k, amp in zip(np.round(np.asarray(cur["times"], float) / h).astype(int), cur["amplitudes"]):
            if k <= n_steps:
                level[k:] = amp
        current += level
    kick = np.zeros(n_steps + 1)
    for sp in inp["spikes"]:
        for k, w in zip(np.round(np.asarray(sp["times"], float) / h).astype(int), sp["weights"]):
            if 0 < k <= n_steps:
                kick[k] += w
    breaks = sorted(set(np.flatnonzero(kick)) | set(np.flatnonzero(np.diff(current)) + 1) | {n_steps})

    C_m, g_Na, g_K, g_L = p["C_m"], p["g_Na"], p["g_K"], p["g_L"]
    E_Na, E_K, E_L, I_e, tau_syn = p["E_Na"], p["E_K"], p["E_L"], p["I_e"], p["tau_syn"]

    def rhs(_t: float, y: np.ndarray, I: float) -> list[float]:
        V, m, hh, n, I_syn = y
        a_m, b_m, a_h, b_h, a_n, b_n = _rates(V)
        I_ion = g_Na * m ** 3 * hh * (V - E_Na) + g_K * n ** 4 * (V - E_K) + g_L * (V - E_L)
        return [(-I_ion + I_syn + I_e + I) / C_m,
                a_m * (1 - m) - b_m * m, a_h * (1 - hh) - b_h * hh, a_n * (1 - n) - b_n * n, -I_syn / tau_syn]

    Y = np.zeros((n_steps + 1, 5))
    Y[0] = [p["V_m"], p["Act_m"], p["Inact_h"], p["Act_n"], 0.0]
    k = 0
    for k_next in breaks:
        if k_next <= k:
            continue
        sol = solve_ivp(rhs, (k * h, k_next * h), Y[k], method="DOP853", max_step=h, rtol=RTOL, atol=ATOL,
                        args=(current[k],), dense_output=True)
        grid = np.arange(k + 1, k_next)
        if grid.size:
            Y[grid] = sol.sol(grid * h).T
        Y[k_next] = sol.y[:, -1]
        Y[k_next, 4] += kick[k_next]
        k = k_next

    V = Y[:, 0]
    V_thr = p["V_threshold"]
    up = np.flatnonzero((V[1:] >= V_thr) & (V[:-1] < V_thr)) + 1

    idx = np.round(np.asarray(inp["record"]["times"], float) / h).astype(int)
    out = {"t": np.asarray(inp["record"]["times"], float), "spikes": up * h}
    for name, col in (("V_m", 0), ("Act_m", 1), ("Inact_h", 2), ("Act_n", 3), ("I_syn", 4)):
        if name in inp["record"]["variables"]:
            out[name] = Y[idx, col]
    return out
