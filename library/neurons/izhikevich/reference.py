"""izhikevich (adaptive integration, euler_step = false) by scipy's DOP853 (rtol 1e-12) with exact spike events.

An independent high-accuracy reference for library/neurons/izhikevich with its default euler_step = false:

    dV/dt = 0.04 V^2 + 5 V + 140 - U + I_e + I(t),      dU/dt = a (b V - U)      (mV, ms, pA as numbers)

integrated with ``scipy.integrate.solve_ivp`` (DOP853, rtol 1e-12, atol 1e-12, steps of at most h so that the
values read from the dense output at grid points are as accurate as the steps;). A terminal event locates the time
at which V reaches V_th; there V is set to c and U increases by d, and integration continues within the same step.
The spike is reported at the end of its step (NEST's spike-time convention). A spike of weight w arriving at grid
time t adds w to V at t (then V is bounded below by V_min and checked against V_th); the current I(t) is piecewise
constant on the grid. This reference does not apply to euler_step = true, whose forward-Euler step is checked
against NEST's built-in izhikevich instead.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.integrate import solve_ivp

RTOL = 1e-12
ATOL = 1e-12


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

    a, b, c, d = p["a"], p["b"], p["c"], p["d"]
    V_th, V_min, I_e = p["V_th"], p["V_min"], p["I_e"]

    def rhs(_t: float, y: np.ndarray, I: float) -> list[float]:
        V, U = y
        return [0.04 * V * V + 5.0 * V + 140.0 - U + I_e + I, a * (b * V - U)]

    def reach_threshold(_t: float, y: np.ndarray, *_args) -> float:
        return y[0] - V_th
    reach_threshold.terminal = True
    reach_threshold.direction = 1

    Y = np.zeros((n_steps + 1, 2))
    y = np.array([p["V_m"], p["U_m"]], float)
    Y[0] = y
    spikes: list[float] = []
    t = 0.0
    for kb in breaks:
        t_end = kb * h
        while t < t_end - 1e-12 * h:
            k_now = int(math.floor(t / h + 1e-9))
            sol = solve_ivp(rhs, (t, t_end), y, method="DOP853", max_step=h, rtol=RTOL, atol=ATOL, dense_output=True,
                            args=(current[k_now],), events=reach_threshold)
            if sol.status == -1:
                raise RuntimeError(f"solve_ivp failed at t = {sol.t[-1]} ms: {sol.message}")
            hit = sol.status == 1
            t_piece = sol.t_events[0][0] if hit else t_end
            grid = np.arange(k_now + 1, int(math.ceil(t_piece / h - 1e-9)))
            grid = grid[grid * h < t_piece - 1e-12 * h]
            if grid.size:
                Y[grid] = sol.sol(grid * h).T
            y = (sol.y_events[0][0] if hit else sol.y[:, -1]).copy()
            if hit:
                y[0] = c
                y[1] += d
                spikes.append(math.ceil(t_piece / h - 1e-9) * h)
            t = t_piece
            k_at = int(round(t / h))
            if abs(t / h - k_at) < 1e-9:
                Y[k_at] = y
        t = t_end
        # spike input at the grid point, then the lower bound and the threshold, as in the model
        y[0] += kick[kb]
        y[0] = max(y[0], V_min)
        if y[0] >= V_th:
            y[0] = c
            y[1] += d
            spikes.append(kb * h)
        Y[kb] = y

    idx = np.round(np.asarray(inp["record"]["times"], float) / h).astype(int)
    out = {"t": np.asarray(inp["record"]["times"], float), "spikes": np.asarray(spikes)}
    for name, col in (("V_m", 0), ("U_m", 1)):
        if name in inp["record"]["variables"]:
            out[name] = Y[idx, col]
    return out
