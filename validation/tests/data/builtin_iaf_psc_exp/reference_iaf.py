"""Leaky integrate-and-fire neuron with exponential post-synaptic currents, integrated with scipy's solve_ivp.

Written from the model equations (C_m dV/dt = -C_m (V - E_L)/tau_m + I_ex + I_in + I_e + I_stim,
dI_x/dt = -I_x/tau_syn_x; spike arrivals add their weight to I_ex (w > 0) or I_in (w < 0)), independent of
NEST and nmlc. Threshold crossings are located by event detection and, like a time-driven simulator,
emitted at the end of the simulation step in which they occur; V is then held at V_reset for t_ref.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.integrate import solve_ivp

RTOL, ATOL = 1e-11, 1e-11


def simulate(inp: dict) -> dict:
    p = inp["parameters"]
    h, T = inp["resolution"], inp["duration"]
    E_L, C_m, tau_m = p["E_L"], p["C_m"], p["tau_m"]
    tau_ex, tau_in, I_e = p["tau_syn_ex"], p["tau_syn_in"], p["I_e"]
    V_th, V_reset, t_ref = p["V_th"], p["V_reset"], p["t_ref"]

    def i_ext(t: float) -> float:
        total = I_e
        for cur in inp["currents"]:
            k = np.searchsorted(cur["times"], t, side="right") - 1
            if k >= 0:
                total += cur["amplitudes"][k]
        return total

    arrivals: dict[float, list[float]] = {}
    for sp in inp["spikes"]:
        for t, w in zip(sp["times"], sp["weights"]):
            arrivals.setdefault(round(float(t), 9), []).append(float(w))
    breaks = sorted({round(float(t), 9) for cur in inp["currents"] for t in cur["times"]} | set(arrivals) | {T})

    def rhs(t, y, I):
        V, ex, inh = y
        return [-(V - E_L) / tau_m + (ex + inh + I) / C_m, -ex / tau_ex, -inh / tau_in]

    def crossing(t, y, I):
        return y[0] - V_th
    crossing.terminal, crossing.direction = True, 1

    pieces = []  # (t0, t1, function of t -> (V, I_ex, I_in))
    y = np.array([p["V_m"], 0.0, 0.0])
    t, ref_end, spike_at, spikes = 0.0, -math.inf, None, []
    while t < T - 1e-12:
        t_break = next(b for b in breaks if b > t + 1e-12)
        if t < ref_end - 1e-12:  # refractory: V clamped, currents decay
            t1 = min(ref_end, t_break)
            V0, ex0, in0 = y

            def piece(tt, t0=t, ex0=ex0, in0=in0):
                return np.array([V_reset, ex0 * np.exp(-(tt - t0) / tau_ex), in0 * np.exp(-(tt - t0) / tau_in)])
            if t1 > t:
                pieces.append((t, t1, piece))
            y, t = piece(t1), t1
        else:
            t1 = min(t_break, spike_at) if spike_at is not None else t_break
            I = i_ext(t)
            sol = solve_ivp(rhs, (t, t1), y, args=(I,), method="DOP853", rtol=RTOL, atol=ATOL, dense_output=True,
                            events=None if spike_at is not None else crossing)
            if spike_at is None and sol.status == 1:  # crossed: the spike belongs to the end of this step
                tc = float(sol.t_events[0][0])
                spike_at = math.ceil(tc / h - 1e-9) * h
                if spike_at <= tc + 1e-12:
                    spike_at = tc
                if tc > t:
                    pieces.append((t, tc, sol.sol))
                y, t = sol.y_events[0][0], tc
                continue
            if t1 > t:
                pieces.append((t, t1, sol.sol))
            y, t = sol.y[:, -1].copy(), t1
        if spike_at is not None and abs(t - spike_at) < 1e-9:
            spikes.append(spike_at)
            y = np.array([V_reset, y[1], y[2]])
            ref_end, spike_at = t + t_ref, None
        for w in arrivals.pop(round(t, 9), []):
            y[1 if w >= 0 else 2] += w

    # a sample at time t shows the state after everything that happened at t: take the piece starting there
    times = np.asarray(inp["record"]["times"], float)
    starts = np.array([pc[0] for pc in pieces])
    out = np.empty((len(times), 3))
    for i, tt in enumerate(times):
        if tt >= T - 1e-9:
            out[i] = y
            continue
        k = int(np.searchsorted(starts, tt + 1e-9, side="right") - 1)
        t0, t1, f = pieces[k]
        out[i] = np.asarray(f(tt), float)
    return {"t": times, "V_m": out[:, 0], "I_syn_ex": out[:, 1], "I_syn_in": out[:, 2],
            "spikes": np.asarray(spikes)}
