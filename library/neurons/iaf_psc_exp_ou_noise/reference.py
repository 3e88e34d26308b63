"""Independent numpy/scipy simulation of iaf_psc_exp_ou_noise driven by current input: single trials
(``simulate``) and the ensemble spike statistics of many trials (``ensemble``).

The Ornstein-Uhlenbeck current is generated with the exact one-step update
I_{k+1} = mu + (I_k - mu) exp(-h/tau_noise) + sigma sqrt(1 - exp(-2h/tau_noise)) xi_k, xi_k ~ N(0, 1)
(numpy's generator, seeded from the case seed and the trial number), as a first-order IIR filter
(``scipy.signal.lfilter``). The membrane sees the current of each step as constant, so between spikes
V_{k+1} = P V_k + (1 - P) V_inf,k with P = exp(-h/tau_m) and V_inf,k = E_L + tau_m / C_m I_k (another
lfilter, restarted after every spike); a spike at the end of the step in which V >= V_th resets V to
V_reset and clamps it for steps(t_ref) steps. Currents reach the neuron as in NEST (an amplitude that
arrives at t acts in the step starting at t). Synaptic spike input is not modelled here.

``ensemble`` runs TRIALS independent trials of the case and returns a deterministic spike train that
carries their pooled statistics (the harness compares statistics of spike trains): alternating interspike
intervals m (1 - c) and m (1 + c), where m is the pooled mean interval and c the pooled coefficient of
variation, so that its rate and ISI CV are the ensemble estimates.
"""
from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

TRIALS = 16
_CHUNK = 4096  # steps integrated per lfilter call while looking for the next threshold crossing


def _drive(inp: dict, n_steps: int) -> np.ndarray:
    """I_e plus the input current acting in each step (pA)."""
    h = inp["resolution"]
    current = np.full(n_steps, float(inp["parameters"]["I_e"]))
    starts = np.arange(n_steps) * h
    for cur in inp["currents"]:
        for t_on, amp, t_next in zip(cur["times"], cur["amplitudes"], list(cur["times"][1:]) + [np.inf]):
            current[(starts >= t_on - h / 2) & (starts < t_next - h / 2)] += amp
    return current


def _noise(p: dict, h: float, n_steps: int, rng: np.random.Generator | None) -> np.ndarray:
    """The OU current in force during steps 0 .. n_steps (one more than simulated: the value drawn at the
    end of the last step), starting from the state's initial value."""
    decay = np.exp(-h / p["tau_noise"])
    amplitude = p["sigma_noise"] * np.sqrt(1.0 - decay ** 2)
    kicks = np.zeros(n_steps + 1)
    if rng is not None and amplitude > 0:
        kicks[1:] = amplitude * rng.standard_normal(n_steps)
    first = p.get("I_noise", p["mu_noise"]) - p["mu_noise"]
    kicks[0] = first
    return p["mu_noise"] + lfilter([1.0], [1.0, -decay], kicks)


def _trial(p: dict, h: float, current: np.ndarray) -> tuple[np.ndarray, list[float]]:
    """Membrane potential after each step and the spike times for the per-step total current."""
    n_steps = len(current)
    decay = np.exp(-h / p["tau_m"])
    v_inf = p["E_L"] + p["tau_m"] / p["C_m"] * current
    refractory = round(p["t_ref"] / h)
    v_trace = np.empty(n_steps)
    spikes: list[float] = []
    v, k = float(p.get("V_m", p["E_L"])), 0
    while k < n_steps:
        end = min(n_steps, k + _CHUNK)
        y, _ = lfilter([1.0 - decay], [1.0, -decay], v_inf[k:end], zi=[decay * v])
        above = np.flatnonzero(y >= p["V_th"])
        if len(above) == 0:
            v_trace[k:end] = y
            v, k = float(y[-1]), end
            continue
        j = int(above[0])
        v_trace[k:k + j] = y[:j]
        spikes.append((k + j + 1) * h)
        v = p["V_reset"]
        clamp_end = min(n_steps, k + j + 1 + refractory)
        v_trace[k + j:clamp_end] = v
        k = clamp_end
    return v_trace, spikes


def simulate(inp: dict) -> dict:
    """One trial with the case seed: V_m and I_noise at the record times, and the spikes."""
    if any(len(s["times"]) for s in inp["spikes"]):
        raise ValueError("this reference models current input only, not synaptic spikes")
    p, h = inp["parameters"], inp["resolution"]
    n_steps = round(inp["duration"] / h)
    rng = np.random.default_rng(inp["seed"]) if p["sigma_noise"] > 0 else None
    noise = _noise(p, h, n_steps, rng)
    v_trace, spikes = _trial(p, h, _drive(inp, n_steps) + noise[:-1])
    t = np.asarray(inp["record"]["times"], float)
    idx = np.clip(np.round(t / h).astype(int) - 1, 0, n_steps - 1)
    out: dict = {"t": t, "spikes": np.asarray(spikes)}
    if "V_m" in inp["record"]["variables"]:
        out["V_m"] = v_trace[idx]
    if "I_noise" in inp["record"]["variables"]:
        out["I_noise"] = noise[1:][idx]  # the value drawn at the end of each step
    return out


def ensemble(inp: dict) -> dict:
    """Pooled rate and ISI CV of independent trials, returned as a spike train with exactly those
    statistics (see the module docstring). Statistics use the spikes after the first tenth of the case,
    so that the noise has forgotten its initial value."""
    if any(len(s["times"]) for s in inp["spikes"]):
        raise ValueError("this reference models current input only, not synaptic spikes")
    p, h = inp["parameters"], inp["resolution"]
    n_steps = round(inp["duration"] / h)
    start = inp["duration"] / 10.0
    drive = _drive(inp, n_steps)
    intervals = []
    for trial in range(TRIALS):
        rng = np.random.default_rng([inp["seed"], trial, 20240601])
        noise = _noise(p, h, n_steps, rng)
        _, spikes = _trial(p, h, drive + noise[:-1])
        s = np.asarray(spikes)
        intervals.append(np.diff(s[s >= start]))
    pooled = np.concatenate(intervals)
    mean, cv = float(np.mean(pooled)), float(np.std(pooled) / np.mean(pooled))
    n_out = int(inp["duration"] / mean) + 2
    isi = np.where(np.arange(n_out) % 2 == 0, mean * (1.0 - cv), mean * (1.0 + cv))
    train = np.cumsum(isi)
    return {"t": np.asarray(inp["record"]["times"], float), "spikes": train[train <= inp["duration"]]}
