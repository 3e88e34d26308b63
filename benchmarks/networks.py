"""Network benchmarks: generated models against NEST's built-ins, in one process, A/B alternated.

Each run builds the same network in a fresh kernel with either the built-in or the generated
model and times ``nest.Simulate`` only. Runs alternate A, B, A, B, ... so that drifting load on a
shared machine hits both alike; the report gives the medians and their ratio.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field

import nest


@dataclass
class Timing:
    label: str
    times: list[float] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.times)


def brunel(neuron_model: str, *, order: int, sim_time: float, threads: int, synapse_model: str | None = None,
           stdp_params: dict | None = None, install=None, seed: int = 1) -> tuple[float, float]:
    """Brunel's balanced network (model A/B style): NE = 4*order, NI = order, 10 % in-degree, Poisson
    drive, delay 1.5 ms. Returns (wall time of Simulate, mean excitatory rate in Hz)."""
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.local_num_threads = threads
    nest.rng_seed = seed
    nest.resolution = 0.1
    if install is not None:
        install()
    NE, NI = 4 * order, order
    CE, CI = NE // 10, NI // 10
    g, eta = 5.0, 2.0
    J = 20.0  # pA, peak of an excitatory alpha PSC (about 0.12 mV PSP)
    neuron_params = {"C_m": 250.0, "tau_m": 20.0, "t_ref": 2.0, "E_L": 0.0, "V_reset": 10.0, "V_th": 20.0,
                     "tau_syn_ex": 0.5, "tau_syn_in": 0.5, "V_m": 0.0}
    # the rate that brings the free membrane to threshold, as in Brunel (2000)
    psp_per_pA = 0.00606  # mV per pA of PSC peak for these parameters (measured; only sets the drive scale)
    nu_th = neuron_params["V_th"] / (J * psp_per_pA * CE * neuron_params["tau_m"]) * 1000.0
    nodes_e = nest.Create(neuron_model, NE, params=neuron_params)
    nodes_i = nest.Create(neuron_model, NI, params=neuron_params)
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
    t0 = time.perf_counter()
    nest.Simulate(sim_time)
    took = time.perf_counter() - t0
    rate = spikes.n_events / 200 / (sim_time / 1000.0)
    return took, rate


def hh_network(neuron_model: str, *, n: int, sim_time: float, threads: int, install=None, seed: int = 1):
    """Sparse random network of Hodgkin-Huxley neurons driven by Poisson input."""
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.local_num_threads = threads
    nest.rng_seed = seed
    nest.resolution = 0.1
    if install is not None:
        install()
    nodes = nest.Create(neuron_model, n, params={"I_e": 200.0})
    noise = nest.Create("poisson_generator", params={"rate": 8000.0})
    spikes = nest.Create("spike_recorder")
    nest.Connect(noise, nodes, syn_spec={"weight": 50.0, "delay": 1.5})
    nest.Connect(nodes, nodes, {"rule": "fixed_indegree", "indegree": 50}, {"weight": 20.0, "delay": 1.5})
    nest.Connect(nodes[:200], spikes)
    t0 = time.perf_counter()
    nest.Simulate(sim_time)
    took = time.perf_counter() - t0
    return took, spikes.n_events / 200 / (sim_time / 1000.0)


def alternate(runs: int, a: tuple, b: tuple) -> tuple[Timing, Timing]:
    """Run A and B alternately ``runs`` times each; a and b are (label, callable returning (time, rate))."""
    ta, tb = Timing(a[0]), Timing(b[0])
    for _ in range(runs):
        for timing, (_, fn) in ((ta, a), (tb, b)):
            took, rate = fn()
            timing.times.append(took)
            timing.rates.append(rate)
    return ta, tb
