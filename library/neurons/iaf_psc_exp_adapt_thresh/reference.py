"""Exact grid simulation of iaf_psc_exp_adapt_thresh with scipy's matrix exponential, and the analytic
period of its adapted state under a constant current.

``simulate`` propagates the linear state (V_m, I_syn_ex, I_syn_in, V_th_adapt, plus a constant 1 that
carries the drive) over each step with ``scipy.linalg.expm`` of the system matrix, a route independent of
nmlc's symbolic propagators. Event timing follows NEST: a current that reaches the neuron at t acts in
the step starting at t; a spike arriving at t is added at the end of the step ending at t; the threshold
is checked at the end of each step; V_m is clamped for steps(t_ref) steps after a spike.

``periodic_state`` solves the continuous-time self-consistency of periodic firing under a constant
current I: after a spike at 0 the membrane stays at V_reset for t_ref and then relaxes to
V_inf = E_L + I tau_m / C_m, while the threshold is V_th + Delta_V_th exp(-t/tau_V_th) /
(1 - exp(-T/tau_V_th)) (all earlier spikes of a period-T train). T is the root of
V(T) = threshold(T), found with scipy's brentq. It returns a periodic spike train with that period.
"""
from __future__ import annotations

import numpy as np
from scipy.linalg import expm
from scipy.optimize import brentq

_VARS = ("V_m", "I_syn_ex", "I_syn_in", "V_th_adapt")


def _matrix(p: dict, drive: float, clamped: bool) -> np.ndarray:
    """Generator of the augmented linear system z' = M z with z = (V_m, I_ex, I_in, theta, 1)."""
    m = np.zeros((5, 5))
    if not clamped:
        m[0, 0] = -1.0 / p["tau_m"]
        m[0, 1] = m[0, 2] = 1.0 / p["C_m"]
        m[0, 4] = p["E_L"] / p["tau_m"] + drive / p["C_m"]
    m[1, 1] = -1.0 / p["tau_syn_ex"]
    m[2, 2] = -1.0 / p["tau_syn_in"]
    m[3, 3] = -1.0 / p["tau_V_th"]
    return m


def _step_schedules(inp: dict, n_steps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Current acting in each step; excitatory and inhibitory weight arriving at the end of each step."""
    h = inp["resolution"]
    current = np.zeros(n_steps)
    starts = np.arange(n_steps) * h
    for cur in inp["currents"]:
        for t_on, amp, t_next in zip(cur["times"], cur["amplitudes"], list(cur["times"][1:]) + [np.inf]):
            current[(starts >= t_on - h / 2) & (starts < t_next - h / 2)] += amp
    w_ex, w_in = np.zeros(n_steps), np.zeros(n_steps)
    for sp in inp["spikes"]:
        for t, w in zip(sp["times"], sp["weights"]):
            k = round(t / h) - 1
            if 0 <= k < n_steps:
                (w_ex if w >= 0 else w_in)[k] += w
    return current, w_ex, w_in


def simulate(inp: dict) -> dict:
    p = inp["parameters"]
    h = inp["resolution"]
    n_steps = round(inp["duration"] / h)
    current, w_ex, w_in = _step_schedules(inp, n_steps)
    refractory_counts = round(p["t_ref"] / h)
    cache: dict[tuple[float, bool], np.ndarray] = {}

    def propagator(drive: float, clamped: bool) -> np.ndarray:
        key = (drive, clamped)
        if key not in cache:
            cache[key] = expm(_matrix(p, drive, clamped) * h)
        return cache[key]

    z = np.array([p.get("V_m", p["E_L"]), p.get("I_syn_ex", 0.0), p.get("I_syn_in", 0.0),
                  p.get("V_th_adapt", 0.0), 1.0])
    refr = 0
    trace = np.empty((n_steps, 4))
    spikes = []
    for k in range(n_steps):
        clamped = refr > 0
        if clamped:
            refr -= 1
        z = propagator(p["I_e"] + current[k], clamped) @ z
        z[1] += w_ex[k]
        z[2] += w_in[k]
        if z[0] >= p["V_th"] + z[3]:
            spikes.append((k + 1) * h)
            refr = refractory_counts
            z[0] = p["V_reset"]
            z[3] += p["Delta_V_th"]
        trace[k] = z[:4]
    t = np.asarray(inp["record"]["times"], float)
    idx = np.clip(np.round(t / h).astype(int) - 1, 0, n_steps - 1)
    out: dict = {"t": t, "spikes": np.asarray(spikes)}
    for i, name in enumerate(_VARS):
        if name in inp["record"]["variables"]:
            out[name] = trace[idx, i]
    return out


def adapted_period(p: dict, current: float) -> float:
    """Period (ms) of the periodic firing of the continuous-time model under a constant current."""
    v_inf = p["E_L"] + current * p["tau_m"] / p["C_m"]

    def v(t: float) -> float:
        return v_inf + (p["V_reset"] - v_inf) * np.exp(-max(t - p["t_ref"], 0.0) / p["tau_m"])

    def mismatch(period: float) -> float:
        jumps = p["Delta_V_th"] * np.exp(-period / p["tau_V_th"]) / (1.0 - np.exp(-period / p["tau_V_th"]))
        return v(period) - (p["V_th"] + jumps)

    if v_inf <= p["V_th"]:
        return float("inf")  # below rheobase the neuron settles without firing
    # mismatch grows with the period (the membrane rises, the accumulated threshold falls)
    return brentq(mismatch, p["t_ref"] + 1e-9, 1e5, xtol=1e-12)


def periodic_state(inp: dict) -> dict:
    """A spike train with the analytic adapted period for the constant current of the case (I_e plus the
    last amplitude of each current input)."""
    p = inp["parameters"]
    drive = p["I_e"] + sum(cur["amplitudes"][-1] for cur in inp["currents"] if len(cur["amplitudes"]))
    period = adapted_period(p, drive)
    spikes = np.arange(period, inp["duration"], period) if np.isfinite(period) else np.empty(0)
    return {"t": np.asarray(inp["record"]["times"], float), "spikes": spikes}
