"""The minimal simulator: populations of generated models, devices, connections with delays, a step loop.

One :class:`Network` owns populations (each a generated model class instantiated for ``n`` neurons,
or a device), projections (static connections, or plastic ones run by a generated synapse class)
and recorders. ``simulate(duration)`` advances every population step by step with NEST's event
semantics: a spike emitted in step ``k`` and sent with a delay of ``D`` steps is applied by its
target in step ``k + D`` (after the target's update block), a current sent in step ``k`` with delay
``D`` is received in step ``k + D`` and acts during step ``k + D + 1``. Plastic synapses run, like
NEST's, only when a presynaptic spike passes: they first replay the postsynaptic spikes that
reached them since their last spike (the whole delay counting as dendritic). As in NEST, a plastic
synapse handles the spikes of one slice (``min_delay`` steps) at the start of the next slice, and a
neuromodulated synapse also runs when its volume transmitter updates it at the end of a slice.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .devices import (
    MS_PER_TIC,
    Multimeter,
    Parrot,
    SpikeGenerator,
    SpikeRecorder,
    StepCurrentGenerator,
    VolumeTransmitter,
    WeightRecorder,
    steps_to_ms,
)

STDP_EPS = 1.0e-6  # ms; NEST's tolerance when comparing spike times in plastic synapses


class SimulationError(Exception):
    """A problem with the network or its use (bad connection, unknown port or variable, ...)."""


@dataclass
class Population:
    """``n`` neurons of one model (or one device) in a network."""

    net: Network
    model: Any
    index: int
    label: str

    @property
    def n(self) -> int:
        return self.model.n

    def __len__(self) -> int:
        return self.n

    def set(self, values: dict | None = None, index=None, **kwargs) -> None:
        """Set parameters or state of all neurons (or those in ``index``): scalars or arrays."""
        try:
            self.model.set({**(values or {}), **kwargs}, index)
        except (KeyError, ValueError) as exc:
            raise SimulationError(str(exc.args[0]) if exc.args else str(exc)) from None

    def get(self, name: str) -> np.ndarray:
        try:
            return self.model.get(name)
        except KeyError as exc:
            raise SimulationError(str(exc.args[0])) from None


@dataclass
class Projection:
    """Connections from ``source`` to ``target``: per connection source index, target index, weight,
    delay (steps) and receptor; ``synapse`` is a generated synapse instance for plastic ones."""

    source: Population
    target: Population
    src: np.ndarray
    tgt: np.ndarray
    weight: np.ndarray
    delay: np.ndarray
    receptor: np.ndarray
    synapse: Any = None
    weight_recorder: WeightRecorder | None = None
    is_current: bool = False
    volume_transmitter: Population | None = None
    by_source: list = field(default_factory=list)

    def __post_init__(self) -> None:
        order = np.argsort(self.src, kind="stable")
        bounds = np.searchsorted(self.src[order], np.arange(self.source.n + 1))
        self.by_source = [order[bounds[i]:bounds[i + 1]] for i in range(self.source.n)]

    def __len__(self) -> int:
        return len(self.src)

    def get(self, name: str) -> np.ndarray:
        """``weight``, ``delay`` (ms) or a synapse parameter/state, one entry per connection."""
        tps = self.source.net.tics_per_step
        if name == "delay":
            return steps_to_ms(self.delay, tps)
        if self.synapse is not None:
            try:
                return self.synapse.get(name)
            except KeyError as exc:
                raise SimulationError(str(exc.args[0])) from None
        if name == "weight":
            return self.weight.copy()
        raise SimulationError(f"static connections have only weight and delay, not {name!r}")


class Network:
    """A network simulated with the resolution ``resolution`` (ms)."""

    def __init__(self, resolution: float = 0.1, seed: int = 0):
        tps = int(round(float(resolution) * 1000.0))
        if tps <= 0 or abs(tps * MS_PER_TIC - float(resolution)) > 1e-12:
            raise SimulationError(f"the resolution must be a positive multiple of 0.001 ms, got {resolution}")
        self.tics_per_step = tps
        self.resolution = MS_PER_TIC * tps
        self.seed = int(seed)
        self.populations: list[Population] = []
        self.projections: list[Projection] = []
        self.multimeters: list[Multimeter] = []
        self.spike_recorders: list[SpikeRecorder] = []
        self.step = 0  # the next step to simulate
        self._ring = 0  # ring-buffer length in steps (1 + the longest delay)
        self._spk: dict[int, np.ndarray] = {}
        self._cnt: dict[int, np.ndarray] = {}
        self._cur: dict[int, np.ndarray] = {}
        self._history: dict[int, list[list[int]]] = {}  # post spike stamps of targets of plastic synapses
        # per such target and quantity a synapse reads: the value at each of those spikes, per neuron
        self._history_values: dict[int, dict[str, list[list[float]]]] = {}
        self._pending: list[tuple] = []  # plastic synapses' spikes waiting for the next slice

    @property
    def time(self) -> float:
        return float(steps_to_ms(self.step, self.tics_per_step))

    # ------------------------------------------------------------------ building
    def create(self, model, n: int = 1, params: dict | None = None, label: str | None = None) -> Population:
        """``n`` neurons of a generated model class (or a built-in name: ``parrot_neuron``)."""
        if isinstance(model, str):
            if model != "parrot_neuron":
                raise SimulationError(f"unknown built-in model {model!r}; pass a generated model class")
            inst = Parrot(n)
        else:
            if getattr(model, "kind", None) != "neuron":
                raise SimulationError(f"{getattr(model, 'name', model)!r} is not a neuron model")
            try:
                inst = model(n, self.resolution, seed=self.seed + 7919 * len(self.populations))
            except ValueError as exc:
                raise SimulationError(str(exc)) from None
        pop = Population(self, inst, len(self.populations), label or getattr(inst, "name", str(model)))
        self.populations.append(pop)
        if params:
            pop.set(params)
        return pop

    def spike_generator(self, times, weights=None) -> Population:
        pop = Population(self, SpikeGenerator(times, weights, self.tics_per_step), len(self.populations),
                         "spike_generator")
        self.populations.append(pop)
        return pop

    def step_current_generator(self, times, amplitudes) -> Population:
        pop = Population(self, StepCurrentGenerator(times, amplitudes, self.tics_per_step), len(self.populations),
                         "step_current_generator")
        self.populations.append(pop)
        return pop

    def volume_transmitter(self, deliver_interval: int = 1) -> Population:
        """A volume transmitter: connect neuromodulatory spike sources to it and pass it to ``connect``
        (``volume_transmitter=``) for synapses with a neuromodulatory port."""
        try:
            vt = VolumeTransmitter(deliver_interval, self.tics_per_step)
        except ValueError as exc:
            raise SimulationError(str(exc)) from None
        pop = Population(self, vt, len(self.populations), "volume_transmitter")
        self.populations.append(pop)
        return pop

    def dc_generator(self, amplitude: float) -> Population:
        return self.step_current_generator([self.resolution], [amplitude])

    def multimeter(self, target: Population, variables: list[str], interval: float | None = None) -> Multimeter:
        interval = self.resolution if interval is None else float(interval)
        steps = int(round(interval / self.resolution))
        if steps < 1 or abs(steps * self.resolution - interval) > 1e-9:
            raise SimulationError(f"multimeter interval {interval} ms is not a multiple of the resolution")
        known = set(getattr(target.model, "recordables", []))
        for v in variables:
            if v not in known:
                raise SimulationError(f"{target.label} has no recordable {v!r} (recordables: "
                                      f"{', '.join(sorted(known)) or 'none'})")
        mm = Multimeter(target, list(variables), steps, self.tics_per_step)
        self.multimeters.append(mm)
        return mm

    def spike_recorder(self, target: Population) -> SpikeRecorder:
        rec = SpikeRecorder(target, self.tics_per_step)
        self.spike_recorders.append(rec)
        return rec

    def _receptor(self, target: Population, port: str | None, receptor: int | None, current: bool) -> int:
        ports = target.model.continuous_ports if current else target.model.spike_ports
        kind = "current" if current else "spike"
        if port is not None:
            if port not in ports:
                raise SimulationError(f"{target.label} has no {kind} port {port!r} ({kind} ports: "
                                      f"{', '.join(ports) or 'none'})")
            return int(ports[port]["receptor"])
        r = 0 if receptor is None else int(receptor)
        if r not in {p["receptor"] for p in ports.values()}:
            raise SimulationError(f"{target.label} has no {kind} receptor {r} ({kind} ports: "
                                  + (", ".join(f"{k}={p['receptor']}" for k, p in ports.items()) or "none") + ")")
        return r

    def connect(self, source: Population, target: Population, *, weight=None, delay=None, port: str | None = None,
                receptor: int | None = None, rule: str = "one_to_one", synapse=None,
                synapse_params: dict | None = None, weight_recorder: WeightRecorder | None = None,
                targets=None, volume_transmitter: Population | None = None) -> Projection:
        """Connect ``source`` to ``target`` (``one_to_one`` or ``all_to_all``), static or with a generated
        synapse class. ``delay`` is in ms (at least one step); ``port`` names the target port. Without
        ``weight``/``delay`` a static connection has weight 1 and delay 1 ms, a synapse model its defaults.
        ``targets`` (indices into ``target``) connects a single source to those neurons only. A synapse
        with a neuromodulatory port needs ``volume_transmitter`` (see :meth:`volume_transmitter`)."""
        current = isinstance(source.model, StepCurrentGenerator)
        if targets is not None:
            tgt = np.asarray(targets, dtype=np.int64).ravel()
            if source.n != 1:
                raise SimulationError("targets=... needs a source of size 1")
            if tgt.size and (tgt.min() < 0 or tgt.max() >= target.n):
                raise SimulationError(f"target indices must lie in [0, {target.n})")
            src = np.zeros(tgt.size, dtype=np.int64)
        elif rule == "one_to_one":
            if source.n != target.n and source.n != 1:
                raise SimulationError(f"one_to_one needs equal sizes, got {source.n} and {target.n}")
            tgt = np.arange(target.n)
            src = np.zeros(target.n, dtype=np.int64) if source.n == 1 else np.arange(source.n)
        elif rule == "all_to_all":
            src = np.repeat(np.arange(source.n), target.n)
            tgt = np.tile(np.arange(target.n), source.n)
        else:
            raise SimulationError(f"unknown connection rule {rule!r} (one_to_one, all_to_all)")
        m = len(src)
        values = dict(synapse_params or {})
        if delay is None:
            delay = values.pop("delay", None)
        if delay is None:
            delay = float(synapse(1, self.resolution).get("delay")[0]) if synapse is not None else 1.0
        values.pop("delay", None)
        if weight is None:
            weight = values.pop("weight", None)
        d = np.broadcast_to(np.asarray(delay, dtype=float), (m,))
        dsteps = np.round(d / self.resolution).astype(np.int64)
        if np.any(dsteps < 1):
            raise SimulationError(f"delays must be at least one step ({self.resolution} ms)")
        rec = self._receptor(target, port, receptor, current)
        w = np.array(np.broadcast_to(np.asarray(1.0 if weight is None else weight, dtype=float), (m,)))
        syn = None
        if synapse is not None:
            if current:
                raise SimulationError("currents cannot pass through a synapse model")
            if getattr(synapse, "kind", None) != "synapse":
                raise SimulationError(f"{getattr(synapse, 'name', synapse)!r} is not a synapse model")
            syn = synapse(m, self.resolution)
            if weight is not None:
                values["weight"] = w
            try:
                syn.set(values)
            except (KeyError, ValueError) as exc:
                raise SimulationError(str(exc.args[0]) if exc.args else str(exc)) from None
            syn.set_delays(steps_to_ms(dsteps, self.tics_per_step))
            self._neuromodulation(syn, volume_transmitter)
            reads = list(getattr(syn, "continuous_ports", []))
            if reads:
                self._snapshots(target, reads, syn.name)
            if syn.has_post:
                self._history.setdefault(target.index, [[] for _ in range(target.n)])
        elif volume_transmitter is not None:
            raise SimulationError("volume_transmitter= applies to synapse models with a neuromodulatory port")
        if syn is not None:
            w = syn.get("weight")
        elif values:
            raise SimulationError(f"static connections take no parameters {sorted(values)}")
        proj = Projection(source, target, src, tgt, w, dsteps, np.full(m, rec), syn, weight_recorder, current,
                          volume_transmitter if syn is not None and syn.has_mod else None)
        self.projections.append(proj)
        return proj

    @staticmethod
    def _neuromodulation(syn, vt: Population | None) -> None:
        if getattr(syn, "has_mod", False) and vt is None:
            raise SimulationError(f"{syn.name} has a neuromodulatory port: give it a volume transmitter "
                                  "(connect(..., volume_transmitter=net.volume_transmitter()))")
        if vt is not None and not getattr(syn, "has_mod", False):
            raise SimulationError(f"{syn.name} has no neuromodulatory port, so it takes no volume transmitter")
        if vt is not None and not isinstance(vt.model, VolumeTransmitter):
            raise SimulationError("volume_transmitter= must be a population made by net.volume_transmitter()")

    def _snapshots(self, target: Population, names: list[str], synapse: str) -> None:
        """Make ``target`` record ``names`` at its spikes: a synapse's continuous inputs read them."""
        model = target.model
        if not hasattr(model, "snapshot_at_spikes"):
            raise SimulationError(f"{synapse} reads {', '.join(names)} from its postsynaptic neuron, which "
                                  f"{target.label} does not provide")
        wanted = list(dict.fromkeys([*model.snapshots(), *names]))
        try:
            model.snapshot_at_spikes(wanted)
        except KeyError as exc:
            raise SimulationError(f"{synapse} reads the continuous input(s) {', '.join(names)} from its "
                                  f"postsynaptic neuron: {exc.args[0]}") from None
        self._history.setdefault(target.index, [[] for _ in range(target.n)])
        values = self._history_values.setdefault(target.index, {})
        for name in wanted:
            if name not in values:
                # spikes recorded before the snapshot was requested read NaN
                values[name] = [[np.nan] * len(h) for h in self._history[target.index]]

    # ------------------------------------------------------------------ running
    def _buffers(self) -> None:
        ring = 1 + max([int(p.delay.max()) for p in self.projections if len(p)] or [1])
        if ring <= self._ring:
            return
        old = self._ring
        for pop in self.populations:
            m = pop.model
            nsp, ncp = len(getattr(m, "spike_ports", {})), len(getattr(m, "continuous_ports", {}))
            new_spk = np.zeros((ring, nsp, pop.n))
            new_cnt = np.zeros((ring, nsp, pop.n))
            new_cur = np.zeros((ring, ncp, pop.n))
            if old and pop.index in self._spk:  # keep what is already due, by absolute step
                for k in range(self.step, self.step + old):
                    new_spk[k % ring] = self._spk[pop.index][k % old]
                    new_cnt[k % ring] = self._cnt[pop.index][k % old]
                    new_cur[k % ring] = self._cur[pop.index][k % old]
            self._spk[pop.index], self._cnt[pop.index], self._cur[pop.index] = new_spk, new_cnt, new_cur
        self._ring = ring

    def _route(self, target: Population, receptor: np.ndarray, w: np.ndarray) -> np.ndarray:
        """The spike port index of each event, as the NEST target's handle() routes it (-1: dropped)."""
        out = np.full(len(w), -1, dtype=np.int64)
        for p in target.model.spike_ports.values():
            ok = (out < 0) & (receptor == p["receptor"])
            if p.get("sign") == "excitatory":
                ok &= w >= 0.0
            elif p.get("sign") == "inhibitory":
                ok &= w < 0.0
            out[ok] = p["index"]
        return out

    def _deliver(self, target: Population, slots: np.ndarray, receptor: np.ndarray, tgt: np.ndarray,
                 w: np.ndarray, count: np.ndarray) -> None:
        """Add total weights ``w`` and spike counts to the targets' buffers for the given steps."""
        port = self._route(target, receptor, w)
        ok = port >= 0
        if not ok.all():
            slots, port, tgt, w, count = slots[ok], port[ok], tgt[ok], w[ok], count[ok]
        inhibitory = [p["index"] for p in target.model.spike_ports.values() if p.get("sign") == "inhibitory"]
        if inhibitory:
            # NESTML's convention: an inhibitory port holds the (non-negative) magnitude -w of its weights
            w = np.where(np.isin(port, inhibitory), -w, w)
        np.add.at(self._spk[target.index], (slots, port, tgt), w)
        np.add.at(self._cnt[target.index], (slots, port, tgt), count)

    def simulate(self, duration: float) -> None:
        """Advance the network by ``duration`` ms (a multiple of the resolution)."""
        steps = int(round(float(duration) / self.resolution))
        if steps < 0 or abs(steps * self.resolution - float(duration)) > 1e-9 * max(1.0, abs(float(duration))):
            raise SimulationError(f"simulate({duration}): the duration must be a non-negative multiple of the "
                                  f"resolution {self.resolution} ms")
        self._buffers()
        for pop in self.populations:
            pop.model.prepare()
        for mm in self.multimeters:  # samples of the previous call's last slice
            for sample in mm.pending:
                mm.store(sample)
            mm.pending = []
        # NEST hands a multimeter the samples of one slice (min_delay steps) at the start of the next:
        # the samples of the last slice of a call appear only when the simulation continues
        delays = [int(p.delay.min()) for p in self.projections if len(p)]
        min_delay = min(delays) if delays else int(round(1.0 / self.resolution)) or 1
        sources = {}
        for proj in self.projections:
            sources.setdefault(proj.source.index, []).append(proj)
        end = self.step + steps
        with np.errstate(all="ignore"):  # once for the loop, not once per model and step
            self._run(self.step, end, sources, min_delay)
        self.step = end

    def _run(self, start: int, end: int, sources: dict, min_delay: int) -> None:
        """The step loop of :meth:`simulate` (steps ``start`` to ``end - 1``)."""
        ring = self._ring
        # what each population does per step, decided once: emit, send a current, update, or collect
        kinds = []
        for pop in self.populations:
            m = pop.model
            if isinstance(m, SpikeGenerator):
                kinds.append((pop, 0, m.emitted))
            elif isinstance(m, StepCurrentGenerator):
                kinds.append((pop, 1, m.value))
            elif isinstance(m, VolumeTransmitter):
                kinds.append((pop, 3, [p for p in self.projections if p.volume_transmitter is pop]))
            else:
                i = pop.index
                # the population's input buffers, and whether they have any ports to clear
                bufs = (self._spk[i], self._cnt[i], self._cur[i])
                kinds.append((pop, 2, (getattr(m, "update_unguarded", m.update), bufs,
                                       bufs[0].shape[1] > 0, bufs[2].shape[1] > 0)))
        for k in range(start, end):
            slot = k % ring
            if self._pending:  # NEST delivers a slice's spikes to plastic synapses at the start of the next one
                self._flush(k, min_delay)
            spiked: dict[int, tuple[np.ndarray, np.ndarray]] = {}
            currents: dict[int, float] = {}
            for pop, kind, step_fn in kinds:
                if kind == 0:
                    w, c = step_fn(k)
                    if c[0]:
                        spiked[pop.index] = (np.array([True]), w, c.astype(float))
                    continue
                if kind == 1:
                    currents[pop.index] = step_fn(k)
                    continue
                i = pop.index
                if kind == 3:
                    vt = pop.model
                    vt.record(k, float(self._cnt[i][slot][0, 0]))
                    self._spk[i][slot] = 0.0
                    self._cnt[i][slot] = 0.0
                    if (k + 1) % (vt.deliver_interval * min_delay) == 0:
                        t_trig = float(steps_to_ms(k + 1, self.tics_per_step))
                        for proj in step_fn:
                            self._trigger(proj, t_trig)
                        vt.restart(t_trig)
                    continue
                update, (spk, cnt, cur), has_spikes, has_currents = step_fn
                spk, cnt, cur = spk[slot], cnt[slot], cur[slot]
                try:
                    n_spikes = update(k, spk, cnt, cur)
                except Exception as exc:
                    # a model's own run-time error (NaN at the minimum step, a vector index out of range)
                    if getattr(exc, "nmlc_runtime_error", False):
                        raise SimulationError(f"{pop.label} in the step ending at "
                                              f"{float(steps_to_ms(k + 1, self.tics_per_step))} ms: {exc}") from None
                    raise
                if has_spikes:
                    spk.fill(0.0)
                    cnt.fill(0.0)
                if has_currents:
                    cur.fill(0.0)
                if n_spikes.any():  # several spikes of one neuron in one step count as multiplicity
                    spiked[i] = (n_spikes > 0, None, n_spikes.astype(float))
            for i, (fired, _, count) in spiked.items():
                idx = np.repeat(np.nonzero(fired)[0], count[fired].astype(np.int64))
                for rec in self.spike_recorders:
                    if rec.target.index == i:
                        rec.senders.extend(idx.tolist())
                        rec.stamps.extend([k + 1] * len(idx))
                if i in self._history:
                    for j in idx.tolist():
                        self._history[i][j].append(k + 1)
                    snaps = self._history_values.get(i)
                    if snaps:
                        now = self.populations[i].model.snapshots()
                        for name, per_neuron in snaps.items():
                            for j in idx.tolist():
                                per_neuron[j].append(float(now[name][j]))
            for i, value in currents.items():
                for proj in sources.get(i, []):
                    slots = (k + proj.delay) % ring
                    np.add.at(self._cur[proj.target.index], (slots, proj.receptor, proj.tgt), proj.weight * value)
            for i, (fired, wsum, count) in spiked.items():
                for proj in sources.get(i, []):
                    if proj.synapse is None:
                        self._send(proj, k, fired, wsum, count)
                    else:
                        self._pending.append((proj, k, fired, wsum, count))
            stamp = k + 1
            for mm in self.multimeters:
                if stamp % mm.interval_steps == 0:
                    sample = mm.sample(stamp)
                    if stamp > end - min_delay:
                        mm.pending.append(sample)
                    else:
                        mm.store(sample)

    def _flush(self, k: int, min_delay: int) -> None:
        """Run the plastic synapses' spikes of slices that ended before step ``k``."""
        due = [p for p in self._pending if p[1] // min_delay < k // min_delay]
        if due:
            self._pending = [p for p in self._pending if p[1] // min_delay >= k // min_delay]
            for proj, k_emit, fired, wsum, count in due:
                self._send(proj, k_emit, fired, wsum, count)

    def _post_events(self, proj: Projection, active: np.ndarray, t_until: float):
        """Per connection: the postsynaptic spikes that reached it since it last ran (arrival times) and
        their snapshots of the quantities the synapse reads, and those quantities' current values."""
        syn = proj.synapse
        reads = list(getattr(syn, "continuous_ports", []))
        now = None
        if reads:
            model = proj.target.model
            now = {name: model.quantity(name)[proj.tgt[active]] for name in reads}
        if not syn.has_post:
            return None, None, now
        hist = self._history[proj.target.index]
        snaps = self._history_values.get(proj.target.index, {})
        d = steps_to_ms(proj.delay[active], self.tics_per_step)
        t_last = syn.last_times(active)
        post, values = [], ([] if reads else None)
        for c, conn in enumerate(active.tolist()):
            j = proj.tgt[conn]
            times = steps_to_ms(np.asarray(hist[j], dtype=np.int64), self.tics_per_step)
            lo, hi = t_last[c] - d[c] + STDP_EPS, t_until - d[c] + STDP_EPS
            sel = (times >= lo) & (times < hi)
            post.append(times[sel] + d[c])
            if reads:
                values.append({name: np.asarray(snaps[name][j], dtype=float)[sel] for name in reads})
        return post, values, now

    def _mod_batch(self, proj: Projection):
        return proj.volume_transmitter.model.batch() if proj.volume_transmitter is not None else None

    def _trigger(self, proj: Projection, t_trig: float) -> None:
        """The volume transmitter's update of every connection of ``proj`` at ``t_trig``."""
        active = np.arange(len(proj))
        if active.size == 0:
            return
        post, values, now = self._post_events(proj, active, t_trig)
        proj.synapse.trigger(active, t_trig, post, self._mod_batch(proj), values, now, STDP_EPS)

    def _send(self, proj: Projection, k: int, fired: np.ndarray, wsum: np.ndarray | None, count: np.ndarray) -> None:
        """Deliver the spikes of ``fired`` sources; ``wsum`` are a generator's summed spike weights
        (None for neurons, whose connection weight counts once per spike) and ``count`` the number
        of spikes (NEST's multiplicity)."""
        active = np.concatenate([proj.by_source[j] for j in np.nonzero(fired)[0]]) if fired.any() else np.empty(0, int)
        if active.size == 0:
            return
        ring = self._ring
        n_spikes = count[proj.src[active]]
        if proj.synapse is None:
            factor = n_spikes if wsum is None else wsum[proj.src[active]]
            w = proj.weight[active] * factor
            self._deliver(proj.target, (k + proj.delay[active]) % ring, proj.receptor[active], proj.tgt[active], w,
                          n_spikes)
            return
        # a plastic synapse: replay the neuromodulatory and postsynaptic spikes that reached it, then the
        # presynaptic spike; a spike of multiplicity m passes once and acts m times at the target (NEST)
        t_spike = float(steps_to_ms(k + 1, self.tics_per_step))
        post, values, now = self._post_events(proj, active, t_spike)
        weights, sent = proj.synapse.send(active, t_spike, post, self._mod_batch(proj), values, now, STDP_EPS)
        if proj.weight_recorder is not None:
            wr = proj.weight_recorder
            wr.connections.extend(active[sent].tolist())
            wr.stamps.extend([k + 1] * int(sent.sum()))
            wr.weights.extend(weights[sent].tolist())
            wr.projections.extend([proj] * int(sent.sum()))
        if sent.any():
            a = active[sent]
            mult = n_spikes[sent]
            self._deliver(proj.target, (k + proj.delay[a]) % ring, proj.receptor[a], proj.tgt[a],
                          weights[sent] * mult, mult)
