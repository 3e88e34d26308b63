"""Benchmark: 1,000 neurons with 100 plastic STDP synapses each, co-generated vs plain.

Run with ``python compiler/tests/synapses/bench_cogeneration.py [--repeats N]`` (it reuses the module
the synapse tests build). It prints, for both variants, the simulation time (best of N runs) and how
often the postsynaptic trace was updated: by the neurons (co-generated: once per spike) or by the
synapses themselves (plain: once per spike and synapse). Not collected by pytest (no timing
assertions in tests).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1]), str(HERE.parents[2] / "validation")]


def network(nest, neuron: str, synapse: str, n_post: int = 1000, n_in: int = 100, seed: int = 1):
    """Each neuron gets n_in plastic inputs from its own random draw of a pool of Poisson-driven parrots."""
    nest.rng_seed = seed
    pool = nest.Create("parrot_neuron", 2000)
    pg = nest.Create("poisson_generator", params={"rate": 10.0})
    nest.Connect(pg, pool)
    post = nest.Create(neuron, n_post, params={"I_e": 370.0})
    nest.Connect(pool, post, {"rule": "fixed_indegree", "indegree": n_in},
                 syn_spec={"synapse_model": synapse, "weight": 20.0})
    sr = nest.Create("spike_recorder")
    nest.Connect(post, sr)
    return post, sr


def measure(lib, cogen: bool, t_sim: float, repeats: int) -> dict:
    import nest

    best = float("inf")
    out: dict = {}
    for _ in range(repeats):
        nest.ResetKernel()
        lib.install()
        if cogen:
            info = lib.interfaces["stdp_synapse__with_iaf_psc_exp"]
            neuron, synapse = info.cogeneration["neuron_model"], info.registered
        else:
            neuron, synapse = lib.models["iaf_psc_exp"], lib.models["stdp_synapse"]
        post, sr = network(nest, neuron, synapse)
        nest.Simulate(10.0)  # warm-up: first-step preparation is not what we compare
        t0 = time.perf_counter()
        nest.Simulate(t_sim)
        took = time.perf_counter() - t0
        best = min(best, took)
        spikes = len(sr.events["times"])
        neuron_updates = sum(post.get("post_trace_updates")) if cogen else 0
        synapse_updates = nest.GetDefaults(synapse)["post_trace_updates"]
        out = {"time_s": best, "post_spikes": spikes, "neuron_trace_updates": neuron_updates,
               "synapse_trace_updates": synapse_updates,
               "weights_mean": float(sum(nest.GetConnections(synapse_model=synapse).get("weight")) / 100000)}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--t-sim", type=float, default=2000.0)
    args = parser.parse_args(argv)
    import nest

    nest.verbosity = nest.VerbosityLevel.ERROR
    from nmlc.build import build

    from conftest import library_files, library_pairs

    lib = build(library_files(), pairs=library_pairs())
    for cogen in (True, False):
        r = measure(lib, cogen, args.t_sim, args.repeats)
        print(f"{'co-generated' if cogen else 'plain       '}: {r['time_s']:.3f} s for {args.t_sim:g} ms, "
              f"{r['post_spikes']} postsynaptic spikes, trace updates by neurons {r['neuron_trace_updates']}, "
              f"by synapses {r['synapse_trace_updates']}, mean weight {r['weights_mean']:.4f}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    sys.exit(main())
