"""Expand spec stimuli into concrete, deterministic inputs: piecewise-constant currents and spike lists.

Random input (Poisson, noise) is drawn here with numpy from the seed in the spec, so the model, every
NEST reference and every Python reference receive exactly the same input.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .spec import MOD_PORT, PRE_PORT, CaseSpec, ExpectationSpec, StimulusSpec


@dataclass
class CurrentInput:
    """A current on ``port``: ``amplitudes[i]`` (pA) from ``times[i]`` (ms) until the next time."""

    port: str
    times: np.ndarray
    amplitudes: np.ndarray


@dataclass
class SpikeInput:
    """Spikes sent at ``times`` (ms) into ``port`` with per-spike ``weights`` and ``delays``.

    ``weights``/``delays`` are None for presynaptic spikes of a synapse spec (port ``pre``): those travel
    through the synapse under test, which has its own weight and delay. Neuromodulator spikes (port ``mod``)
    have no delay and carry their multiplicity (spikes at the same time) in ``weights``.
    """

    port: str
    times: np.ndarray
    weights: np.ndarray | None
    delays: np.ndarray | None


@dataclass
class Variant:
    """One independent copy of the network within a case: the case's own stimuli (``main``) or one point
    of an f-I curve / STDP window, simulated side by side in the same kernel."""

    id: str
    currents: list[CurrentInput]
    spikes: list[SpikeInput]
    variables: list[str]
    interval: float | None


NEST_DEFAULT_DELAY = 1.0  # ms, what NEST uses when a connection gives no delay; documented in specs/README.md
# a neuromodulator spike at t reaches the volume transmitter at t + 2 steps: generator -> parrot -> transmitter,
# one step each (NEST's volume transmitter stamps a spike with the end of the step it arrives in)
MOD_ARRIVAL_STEPS = 2


def _grid_up(times: np.ndarray, h: float) -> np.ndarray:
    """Round times up onto the simulation grid, never below one step (spike generators need t > 0)."""
    steps = np.maximum(np.ceil(np.round(times / h, 9)), 1.0)
    return steps * h


def generator_schedule(cur: CurrentInput, h: float) -> tuple[np.ndarray, np.ndarray]:
    """Amplitude change times as NEST's current generators can realise them: on the grid and at least one
    step (a generator starting at 0 acts exactly like one starting at ``h``); a later change at the same
    time wins. The neuron sees each change one connection delay (= ``h``) later."""
    steps = np.maximum(np.round(cur.times / h), 1).astype(np.int64)
    keep = np.append(steps[1:] != steps[:-1], True)
    return steps[keep] * h, cur.amplitudes[keep].astype(float)


def _per_spike(value: Any, n: int, default: float | None) -> np.ndarray | None:
    if value is None:
        return None if default is None else np.full(n, float(default))
    if isinstance(value, list):
        return np.asarray(value, dtype=float)
    return np.full(n, float(value))


def _multiplicities(times: np.ndarray, h: float) -> SpikeInput:
    """Neuromodulator spikes: one entry per grid step, with the number of spikes in it."""
    steps, counts = np.unique(np.round(times / h).astype(np.int64), return_counts=True)
    return SpikeInput(MOD_PORT, steps * h, counts.astype(float), None)


def expand_stimulus(stim: StimulusSpec, case: CaseSpec) -> CurrentInput | SpikeInput:
    """Turn one spec stimulus into a concrete input for ``case`` (grid, duration and seeds applied)."""
    p = stim.params
    h, T = case.resolution, case.duration
    port = p["port"]
    pre = port == PRE_PORT
    mod = port == MOD_PORT and case.synapse
    if stim.kind == "dc":
        start, stop = float(p.get("start", 0.0)), float(p.get("stop", T))
        times, amps = [start], [float(p["amplitude"])]
        if stop < T:
            times.append(stop)
            amps.append(0.0)
        return CurrentInput(port, np.asarray(times), np.asarray(amps))
    if stim.kind == "step_current":
        return CurrentInput(port, np.asarray(p["times"], float), np.asarray(p["amplitudes"], float))
    if stim.kind == "pulses":
        times, amps = [], []
        period = float(p.get("period", 0.0))
        for k in range(int(p.get("count", 1))):
            on = float(p["start"]) + k * period
            times += [on, on + float(p["width"])]
            amps += [float(p["amplitude"]), 0.0]
        return CurrentInput(port, np.asarray(times), np.asarray(amps))
    if stim.kind == "noise":
        start, stop = float(p.get("start", 0.0)), float(p.get("stop", T))
        n = int(math.ceil(round((stop - start) / p["dt"], 9)))
        rng = np.random.default_rng(int(p["seed"]))
        times = start + np.arange(n) * float(p["dt"])
        amps = float(p["mean"]) + float(p["std"]) * rng.standard_normal(n)
        if stop < T:
            times, amps = np.append(times, stop), np.append(amps, 0.0)
        return CurrentInput(port, times, amps)
    if stim.kind == "spike_train":
        times = np.asarray(p["times"], float)
        if mod:
            return _multiplicities(times, h)
        return SpikeInput(port, times, None if pre else _per_spike(p.get("weight"), len(times), None),
                          None if pre else _per_spike(p.get("delay"), len(times), NEST_DEFAULT_DELAY))
    if stim.kind == "poisson":
        start, stop = float(p.get("start", 0.0)), float(p.get("stop", T))
        rng = np.random.default_rng(int(p["seed"]))
        n = rng.poisson(float(p["rate"]) * (stop - start) / 1000.0)
        raw = np.sort(rng.uniform(start, stop, n))
        times = _grid_up(raw, h)
        times = times[times <= T]
        # spikes landing on the same step are merged into one spike of summed weight: identical for every
        # linear synapse and avoids relying on how each generator handles duplicate times
        if mod:
            return _multiplicities(times, h)
        uniq, counts = np.unique(np.round(times / h).astype(np.int64), return_counts=True)
        times = uniq * h
        if pre:
            return SpikeInput(port, times, None, None)
        weights = float(p["weight"]) * counts
        return SpikeInput(port, times, weights, np.full(len(times), float(p.get("delay", NEST_DEFAULT_DELAY))))
    raise ValueError(f"unknown stimulus kind {stim.kind!r}")


def case_variants(case: CaseSpec) -> list[Variant]:
    """The ``main`` variant plus one per f-I point and STDP-window point of the case's expectations."""
    inputs = [expand_stimulus(s, case) for s in case.stimuli]
    variants = [Variant(
        "main",
        [i for i in inputs if isinstance(i, CurrentInput)],
        [i for i in inputs if isinstance(i, SpikeInput)],
        list(case.record.variables),
        case.record.interval,
    )]
    for exp in case.expectations:
        variants.extend(expectation_variants(exp, case))
    return variants


def variant_id(exp: ExpectationSpec, point: int) -> str:
    return f"expect{exp.index}_{exp.kind}_{point}"


def stdp_protocol(exp: ExpectationSpec, dt: float, h: float) -> tuple[np.ndarray, np.ndarray]:
    """Pre spike times (pairings plus one final read-out spike) and post drive times for one window point.

    The read-out spike comes one period after the last pairing, so facilitation from the last post spike,
    which pair-based STDP applies only at the next presynaptic spike, shows up in the final weight.
    """
    p = exp.params
    period, repeats = float(p["period"]), int(p["repeats"])
    t0 = 10.0 + max(0.0, -dt)
    pre = _grid_up(t0 + period * np.arange(repeats + 1), h)
    drive = _grid_up(t0 + dt + period * np.arange(repeats), h)
    return pre, drive


def expectation_variants(exp: ExpectationSpec, case: CaseSpec) -> list[Variant]:
    """Extra variants an expectation needs (empty for most kinds)."""
    out = []
    if exp.kind == "fi_curve":
        for k, point in enumerate(exp.params["points"]):
            cur = CurrentInput(exp.params["port"], np.asarray([0.0]), np.asarray([float(point["current"])]))
            out.append(Variant(variant_id(exp, k), [cur], [], [], None))
    if exp.kind == "stdp_window":
        h = case.resolution
        for k, point in enumerate(exp.params["points"]):
            pre, drive = stdp_protocol(exp, float(point["dt"]), h)
            spikes = [
                SpikeInput(PRE_PORT, pre, None, None),
                SpikeInput(exp.params["drive_port"], drive, np.full(len(drive), float(exp.params["drive_weight"])),
                           np.full(len(drive), h)),
            ]
            out.append(Variant(variant_id(exp, k), [], spikes, [], None))
    return out
