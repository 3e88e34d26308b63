"""Stimulation and recording devices of the minimal simulator, with NEST's timing rules.

Time is counted in steps of the resolution ``h``; an event emitted during step ``k`` carries the
stamp ``k + 1`` (the end of the step, which is its time in ms) and, sent with a delay of ``D``
steps, is applied by its target in step ``k + D``. Times in ms are computed from tics exactly as
NEST does (``0.001 * (steps * tics_per_step)``), so spike and sample times are the same doubles
on both targets.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MS_PER_TIC = 1.0 / 1000.0


def ms_to_stamp_steps(times, tics_per_step: int) -> np.ndarray:
    """Time stamps in ms -> steps: rounded to tics, then up to the step grid (NEST's ``ms_stamp``)."""
    tics = np.round(np.asarray(times, dtype=float) * 1000.0).astype(np.int64)
    return -((-tics) // tics_per_step)


def steps_to_ms(steps, tics_per_step: int) -> np.ndarray:
    return MS_PER_TIC * (np.asarray(steps, dtype=np.int64) * tics_per_step)


class SpikeGenerator:
    """Emits spikes at given times (one source); ``weights`` scale the connection weight per spike."""

    kind = "device"
    spike_ports: dict = {}
    continuous_ports: dict = {}

    def __init__(self, times, weights=None, tics_per_step: int = 100):
        times = np.asarray(times, dtype=float).ravel()
        if times.size and (not np.all(np.isfinite(times)) or np.any(times <= 0.0)):
            raise ValueError("spike_generator: spike times must be finite and > 0 ms")
        if times.size and np.any(np.diff(times) < 0.0):
            raise ValueError("spike_generator: spike times must be sorted")
        w = np.ones_like(times) if weights is None else np.asarray(weights, dtype=float).ravel()
        if w.shape != times.shape:
            raise ValueError(f"spike_generator: {w.size} weights for {times.size} spike times")
        self.n = 1
        self._stamps = ms_to_stamp_steps(times, tics_per_step)
        self._weights = w
        self._next = 0

    def prepare(self) -> None:
        pass

    def emitted(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        """(weights, multiplicities) of the spikes emitted during ``step`` (stamp ``step + 1``)."""
        out_w, out_c = 0.0, 0
        while self._next < self._stamps.size and self._stamps[self._next] <= step + 1:
            if self._stamps[self._next] == step + 1:
                out_w += self._weights[self._next]
                out_c += 1
            self._next += 1
        return np.array([out_w]), np.array([out_c])


class StepCurrentGenerator:
    """A piecewise-constant current: ``amplitudes[i]`` from ``times[i]`` (ms, on the grid) on."""

    kind = "current_device"

    def __init__(self, times, amplitudes, tics_per_step: int = 100):
        times = np.asarray(times, dtype=float).ravel()
        amps = np.asarray(amplitudes, dtype=float).ravel()
        if times.shape != amps.shape:
            raise ValueError(f"step_current_generator: {amps.size} amplitudes for {times.size} times")
        if times.size and np.any(np.diff(times) <= 0.0):
            raise ValueError("step_current_generator: times must be strictly increasing")
        self.n = 1
        self._stamps = ms_to_stamp_steps(times, tics_per_step)
        self._amps = amps
        self._idx = 0
        self._value = 0.0

    def prepare(self) -> None:
        pass

    def value(self, step: int) -> float:
        """The current sent during ``step``: the amplitude that changed at stamp ``step + 1`` or before."""
        while self._idx < self._stamps.size and self._stamps[self._idx] <= step + 1:
            self._value = float(self._amps[self._idx])
            self._idx += 1
        return self._value


class Parrot:
    """Repeats every spike it receives, in the step it receives it (NEST's parrot_neuron)."""

    kind = "neuron"
    name = "parrot_neuron"
    spike_ports = {"spikes": {"receptor": 0, "sign": None, "index": 0}}
    continuous_ports: dict = {}
    recordables: list = []

    def __init__(self, n: int = 1):
        self.n = int(n)

    def prepare(self) -> None:
        pass

    def update(self, step, spikes, counts, currents) -> np.ndarray:
        return np.asarray(counts[0]).astype(np.int64)


class VolumeTransmitter:
    """Collects neuromodulatory spikes for the synapses assigned to it (NEST's volume_transmitter).

    A spike arriving in step ``k`` is recorded with the time ``(k + 1) h`` and its multiplicity. Every
    ``deliver_interval`` slices (of ``min_delay`` steps) the transmitter updates all its synapses up to
    the end of the slice; its next batch then starts with an empty entry at that time, as NEST's does."""

    kind = "device"
    name = "volume_transmitter"
    spike_ports = {"spikes": {"receptor": 0, "sign": None, "index": 0}}
    continuous_ports: dict = {}
    recordables: list = []

    def __init__(self, deliver_interval: int = 1, tics_per_step: int = 100):
        if int(deliver_interval) != deliver_interval or int(deliver_interval) < 1:
            raise ValueError(f"volume_transmitter: deliver_interval must be a positive integer, got "
                             f"{deliver_interval!r}")
        self.n = 1
        self.deliver_interval = int(deliver_interval)
        self.tics_per_step = tics_per_step
        self.times = [0.0]
        self.counts = [0.0]

    def prepare(self) -> None:
        pass

    def record(self, step: int, multiplicity: float) -> None:
        if multiplicity > 0.0:
            self.times.append(float(steps_to_ms(step + 1, self.tics_per_step)))
            self.counts.append(float(multiplicity))

    def batch(self) -> tuple[np.ndarray, np.ndarray]:
        """The spikes since the last update: (times, multiplicities), entry 0 the batch's start."""
        return np.asarray(self.times), np.asarray(self.counts)

    def restart(self, t_trig: float) -> None:
        self.times, self.counts = [t_trig], [0.0]


@dataclass
class Multimeter:
    """Samples variables of a population every ``interval`` ms; a sample at t is the state after the
    step ending at t. Like NEST's multimeter, the samples of the last ``min_delay`` steps of a
    ``simulate()`` call appear only once the simulation continues."""

    target: object
    variables: list[str]
    interval_steps: int
    tics_per_step: int
    times: list = field(default_factory=list)
    data: dict = field(default_factory=dict)
    pending: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self.data = {v: [] for v in self.variables}

    def sample(self, stamp: int) -> tuple:
        return stamp, {v: self.target.get(v) for v in self.variables}

    def store(self, sample: tuple) -> None:
        stamp, values = sample
        self.times.append(stamp)
        for v in self.variables:
            self.data[v].append(values[v])

    @property
    def events(self) -> dict:
        """``times`` (ms, one per sample) and one array (samples x neurons) per variable."""
        out = {"times": steps_to_ms(np.asarray(self.times, dtype=np.int64), self.tics_per_step)}
        for v in self.variables:
            out[v] = np.asarray(self.data[v], dtype=float).reshape(len(self.times), -1)
        return out


@dataclass
class SpikeRecorder:
    """Collects the spikes of a population: sender index (within the population) and time in ms."""

    target: object
    tics_per_step: int
    senders: list = field(default_factory=list)
    stamps: list = field(default_factory=list)

    @property
    def events(self) -> dict:
        return {"senders": np.asarray(self.senders, dtype=np.int64),
                "times": steps_to_ms(np.asarray(self.stamps, dtype=np.int64), self.tics_per_step)}


@dataclass
class WeightRecorder:
    """Collects the weight each plastic connection sends with every spike, at the spike's time."""

    tics_per_step: int
    connections: list = field(default_factory=list)  # index of the connection within its projection
    stamps: list = field(default_factory=list)
    weights: list = field(default_factory=list)
    projections: list = field(default_factory=list)  # the projection of each event (one recorder may serve several)

    @property
    def events(self) -> dict:
        return {"connections": np.asarray(self.connections, dtype=np.int64),
                "times": steps_to_ms(np.asarray(self.stamps, dtype=np.int64), self.tics_per_step),
                "weights": np.asarray(self.weights, dtype=float)}
