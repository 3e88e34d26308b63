"""Step-by-step solution of the input-noise rate model tau dr/dt = -lambda r + mu + phi(h) + sqrt(tau) sigma xi,
phi(h) = g / (1 + exp(-beta (h - theta))), written from Hahne et al. (2017), doi:10.3389/fninf.2017.00034.

For piecewise-constant input the deterministic part is solved exactly over each step,
r <- P1 r + P2 (mu + phi(h)) with P1 = exp(-lambda dt / tau) and P2 = (1 - P1) / lambda (dt / tau for
lambda = 0); the noise adds sqrt((1 - P1^2) / (2 lambda)) sigma N(0, 1) per step (sqrt(dt / tau) for
lambda = 0), drawn here with numpy from the case seed, so with sigma > 0 the trace is an independent
realisation. The input h_ext that reaches the neuron at t acts in the step starting at t (NEST's
current timing).
"""
from __future__ import annotations

import numpy as np


def simulate(inp: dict) -> dict:
    p, dt = inp["parameters"], inp["resolution"]
    n_steps = round(inp["duration"] / dt)
    starts = np.arange(n_steps) * dt
    h_ext = np.zeros(n_steps)
    for cur in inp["currents"]:
        for t_on, amp, t_next in zip(cur["times"], cur["amplitudes"], list(cur["times"][1:]) + [np.inf]):
            h_ext[(starts >= t_on - dt / 2) & (starts < t_next - dt / 2)] += amp
    lam, tau = p["lambda"], p["tau"]
    if lam > 0:
        p1 = np.exp(-lam * dt / tau)
        p2 = -np.expm1(-lam * dt / tau) / lam
        noise_factor = np.sqrt(-0.5 / lam * np.expm1(-2.0 * lam * dt / tau))
    else:
        p1, p2, noise_factor = 1.0, dt / tau, np.sqrt(dt / tau)
    drive = p["mu"] + p["g"] / (1.0 + np.exp(-p["beta"] * (h_ext - p["theta"])))
    rng = np.random.default_rng(inp["seed"])
    noise = p["sigma"] * rng.standard_normal(n_steps) if p["sigma"] > 0 else np.zeros(n_steps)
    rate = np.empty(n_steps)
    r = float(p.get("rate", 0.0))
    for k in range(n_steps):
        r = p1 * r + p2 * drive[k] + noise_factor * noise[k]
        rate[k] = r
    t = np.asarray(inp["record"]["times"], float)
    idx = np.clip(np.round(t / dt).astype(int) - 1, 0, n_steps - 1)
    out: dict = {"t": t}
    if "rate" in inp["record"]["variables"]:
        out["rate"] = rate[idx]
    if "noise_sample" in inp["record"]["variables"]:
        out["noise_sample"] = noise[idx]
    return out
