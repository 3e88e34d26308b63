"""Network benchmarks: generated models against NEST's built-ins, in one process, interleaved.

Each run builds the network in a fresh kernel with either the built-in or the generated model and
times ``nest.Simulate`` only. Runs are interleaved A B B A A B ... so that a machine whose load
drifts (it is shared) hits both sides alike; the report gives each side's minimum (the run least
disturbed by other processes) and median, and the ratios of both.
"""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import nest


@dataclass
class Timing:
    """Wall-clock times of ``nest.Simulate`` and a network statistic (mean rate) per run."""

    label: str
    times: list[float] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def best(self) -> float:
        return min(self.times)


#: Parameters of the Brunel network's neurons (both sides): Brunel (2000) model A, with alpha PSCs.
BRUNEL_NEURON = {"C_m": 250.0, "tau_m": 20.0, "t_ref": 2.0, "E_L": 0.0, "V_reset": 10.0, "V_th": 20.0,
                 "tau_syn_ex": 0.5, "tau_syn_in": 0.5, "V_m": 0.0}


def _kernel(threads: int, seed: int, install: Callable[[], None] | None) -> None:
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.local_num_threads = threads
    nest.rng_seed = seed
    nest.resolution = 0.1
    if install is not None:
        install()


def brunel(neuron_model: str, *, order: int, sim_time: float, threads: int, synapse_model: str | None = None,
           stdp_params: dict | None = None, install: Callable[[], None] | None = None,
           seed: int = 1) -> tuple[float, float]:
    """Brunel's balanced network: NE = 4*order, NI = order, 10 % in-degree, Poisson drive, delay 1.5 ms.

    With ``synapse_model`` the excitatory-to-excitatory connections use it (with ``stdp_params``).
    Returns (wall time of Simulate, mean excitatory rate in Hz).
    """
    _kernel(threads, seed, install)
    NE, NI = 4 * order, order
    CE, CI = NE // 10, NI // 10
    g, eta = 5.0, 2.0
    J = 20.0  # pA, peak of an excitatory alpha PSC (about 0.12 mV PSP)
    # the rate that brings the free membrane to threshold, as in Brunel (2000)
    psp_per_pA = 0.00606  # mV per pA of PSC peak for these parameters (only sets the drive's scale)
    nu_th = BRUNEL_NEURON["V_th"] / (J * psp_per_pA * CE * BRUNEL_NEURON["tau_m"]) * 1000.0
    nodes_e = nest.Create(neuron_model, NE, params=BRUNEL_NEURON)
    nodes_i = nest.Create(neuron_model, NI, params=BRUNEL_NEURON)
    noise = nest.Create("poisson_generator", params={"rate": eta * nu_th * CE})
    spikes = nest.Create("spike_recorder")
    exc_syn = {"synapse_model": "static_synapse", "weight": J, "delay": 1.5}
    if synapse_model is not None:
        nest.CopyModel(synapse_model, "bench_plastic", stdp_params or {})
        ee_syn = {"synapse_model": "bench_plastic", "weight": J, "delay": 1.5}
    else:
        ee_syn = exc_syn
    nest.Connect(noise, nodes_e + nodes_i, syn_spec=exc_syn)
    nest.Connect(nodes_e, nodes_e, {"rule": "fixed_indegree", "indegree": CE}, ee_syn)
    nest.Connect(nodes_e, nodes_i, {"rule": "fixed_indegree", "indegree": CE}, exc_syn)
    nest.Connect(nodes_i, nodes_e + nodes_i, {"rule": "fixed_indegree", "indegree": CI},
                 {"synapse_model": "static_synapse", "weight": -g * J, "delay": 1.5})
    nest.Connect(nodes_e[:200], spikes)
    nest.Prepare()  # connection infrastructure and buffers: not what is compared
    t0 = time.perf_counter()
    nest.Run(sim_time)
    took = time.perf_counter() - t0
    nest.Cleanup()
    rate = spikes.n_events / 200 / (sim_time / 1000.0)
    return took, rate


def hh_network(neuron_model: str, *, n: int, sim_time: float, threads: int, params: dict | None = None,
               install: Callable[[], None] | None = None, seed: int = 1) -> tuple[float, float]:
    """Sparse random network of Hodgkin-Huxley neurons driven by Poisson input (``params`` on every neuron)."""
    _kernel(threads, seed, install)
    nodes = nest.Create(neuron_model, n, params={"I_e": 200.0, **(params or {})})
    noise = nest.Create("poisson_generator", params={"rate": 8000.0})
    spikes = nest.Create("spike_recorder")
    nest.Connect(noise, nodes, syn_spec={"weight": 50.0, "delay": 1.5})
    nest.Connect(nodes, nodes, {"rule": "fixed_indegree", "indegree": 50}, {"weight": 20.0, "delay": 1.5})
    nest.Connect(nodes[:200], spikes)
    nest.Prepare()
    t0 = time.perf_counter()
    nest.Run(sim_time)
    took = time.perf_counter() - t0
    nest.Cleanup()
    return took, spikes.n_events / 200 / (sim_time / 1000.0)


def interleave(runs: int, a: tuple[str, Callable[[], tuple[float, float]]],
               b: tuple[str, Callable[[], tuple[float, float]]], min_seconds: float = 0.0) -> tuple[Timing, Timing]:
    """Run A and B in the order A B, B A, A B, ...: ``runs`` times each, and more until each side has
    been timed for ``min_seconds`` in all (short simulations get more runs, so that every comparison
    samples the machine's drifting load for about as long). Each callable returns (time, rate)."""
    ta, tb = Timing(a[0]), Timing(b[0])
    i = 0
    while i < runs or min(sum(ta.times), sum(tb.times)) < min_seconds:
        pair = ((ta, a[1]), (tb, b[1])) if i % 2 == 0 else ((tb, b[1]), (ta, a[1]))
        for timing, fn in pair:
            took, rate = fn()
            timing.times.append(took)
            timing.rates.append(rate)
        i += 1
    return ta, tb
