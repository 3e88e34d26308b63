"""hh_cond_exp_traub integrated by scipy's DOP853 (rtol 1e-12) between spike arrivals, with NEST's step semantics.

An independent high-accuracy reference for the Traub-Miles Hodgkin-Huxley neuron with exponential conductances
(rates of Traub & Miles 1991 as used by NEST's hh_cond_exp_traub, functions of V - V_T). The six states (V_m, m, h,
n, g_ex, g_in) are integrated with ``scipy.integrate.solve_ivp`` (DOP853, rtol 1e-12, atol 1e-12, steps of at most
h so that the values read from the dense output at grid points are as accurate as the steps; in NEST units),
restarting at every spike arrival and current change: a spike of weight w arriving at grid time t adds w to g_ex (if
w > 0) or -w to g_in (if w < 0) at t. Spikes are local maxima of V_m above V_T + 30 mV on the grid (V(t_k) >= V_T + 30
and V(t_{k-1}) > V(t_k)), not detected again for round(t_ref / h) steps. DOP853 is used because restarting LSODA at
every event costs it accuracy (see iaf_cond_exp/reference.py).
"""
from __future__ import annotations

import math

import numpy as np
from scipy.integrate import solve_ivp

RTOL = 1e-12
ATOL = 1e-12


def _rates(x: float) -> tuple[float, float, float, float, float, float]:
    """alpha_m, beta_m, alpha_h, beta_h, alpha_n, beta_n in 1/ms at x = V - V_T (mV)."""
    a_m = 0.32 * (13.0 - x) / (math.exp((13.0 - x) / 4.0) - 1.0)
    b_m = 0.28 * (x - 40.0) / (math.exp((x - 40.0) / 5.0) - 1.0)
    a_h = 0.128 * math.exp((17.0 - x) / 18.0)
    b_h = 4.0 / (1.0 + math.exp((40.0 - x) / 5.0))
    a_n = 0.032 * (15.0 - x) / (math.exp((15.0 - x) / 5.0) - 1.0)
    b_n = 0.5 * math.exp((10.0 - x) / 40.0)
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
    jump_ex = np.zeros(n_steps + 1)
    jump_in = np.zeros(n_steps + 1)
    for sp in inp["spikes"]:
        for k, w in zip(np.round(np.asarray(sp["times"], float) / h).astype(int), sp["weights"]):
            if 0 < k <= n_steps:
                if w > 0:
                    jump_ex[k] += w
                else:
                    jump_in[k] -= w
    breaks = sorted(set(np.flatnonzero(jump_ex)) | set(np.flatnonzero(jump_in))
                    | set(np.flatnonzero(np.diff(current)) + 1) | {n_steps})

    C_m, g_Na, g_K, g_L = p["C_m"], p["g_Na"], p["g_K"], p["g_L"]
    E_Na, E_K, E_L, V_T = p["E_Na"], p["E_K"], p["E_L"], p["V_T"]
    E_ex, E_in, tau_ex, tau_in, I_e = p["E_ex"], p["E_in"], p["tau_syn_ex"], p["tau_syn_in"], p["I_e"]

    def rhs(_t: float, y: np.ndarray, I: float) -> list[float]:
        V, m, hh, n, g_ex, g_in = y
        a_m, b_m, a_h, b_h, a_n, b_n = _rates(V - V_T)
        I_ion = (g_Na * m ** 3 * hh * (V - E_Na) + g_K * n ** 4 * (V - E_K) + g_L * (V - E_L)
                 + g_ex * (V - E_ex) + g_in * (V - E_in))
        return [(-I_ion + I_e + I) / C_m, a_m - (a_m + b_m) * m, a_h - (a_h + b_h) * hh, a_n - (a_n + b_n) * n,
                -g_ex / tau_ex, -g_in / tau_in]

    Y = np.zeros((n_steps + 1, 6))
    Y[0] = [p["V_m"], p["Act_m"], p["Inact_h"], p["Act_n"], p.get("g_ex", 0.0), p.get("g_in", 0.0)]
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
        Y[k_next, 4] += jump_ex[k_next]
        Y[k_next, 5] += jump_in[k_next]
        k = k_next

    spikes = []
    dead = int(p.get("refr_steps", 0))
    ref_steps = int(round(p["t_ref"] / h))
    V = Y[:, 0]
    for k in range(1, n_steps + 1):
        if dead > 0:
            dead -= 1
        elif V[k] >= V_T + 30.0 and V[k - 1] > V[k]:
            spikes.append(k * h)
            dead = ref_steps

    idx = np.round(np.asarray(inp["record"]["times"], float) / h).astype(int)
    out = {"t": np.asarray(inp["record"]["times"], float), "spikes": np.asarray(spikes)}
    for name, col in (("V_m", 0), ("Act_m", 1), ("Inact_h", 2), ("Act_n", 3), ("g_ex", 4), ("g_in", 5)):
        if name in inp["record"]["variables"]:
            out[name] = Y[idx, col]
    return out
